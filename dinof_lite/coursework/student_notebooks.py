"""The student notebooks, made by nbgrader's release step (``python -m dinof_lite assignments``,
:mod:`dinof_lite.cli.assignments`).

Without ``--course`` (a teacher without a course database) the command sets up a throwaway
course folder (:func:`~dinof_lite.coursework.course.setup_course`), runs ``nbgrader
generate_assignment`` in it (:func:`~dinof_lite.coursework.course.generate_assignments`: solution
regions replaced by the code stub, outputs cleared, read-only cells locked) and writes the released
notebooks to ``notebooks/assignments/student/A<k>_<topic>.ipynb``, executed so the hand-outs show
every check as "not attempted". Only out-of-date notebooks are rewritten (``--force``: all);
``--check`` writes nothing and exits 1 naming the stale ones. With ``--course DIR`` it writes a
real course folder (``nbgrader_config.py`` and ``source/``) for the nbgrader commands of
``notebooks/assignments/README.md``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dinof_lite.coursework.course import (
    Assignment,
    assignments,
    generate_assignments,
    setup_course,
)

__all__ = ["build_students", "write_students", "stale_students"]

#: nbgrader metadata compared by ``--check`` (its checksums are nbgrader's own business)
_KEYS = ("grade_id", "solution", "grade", "locked", "points")


def build_students(root: str | Path = ".") -> dict[Assignment, object]:
    """Assignment → its released (unexecuted ``nbformat``) student notebook, made by nbgrader in
    a temporary course folder."""
    import nbformat

    found = assignments(root)
    with tempfile.TemporaryDirectory(prefix="dinof_course_") as tmp:
        setup_course(tmp, root)
        released = generate_assignments(tmp)
        return {a: nbformat.read(released[a.id], as_version=4) for a in found}


def _cells(nb) -> list[tuple]:
    def grader(cell) -> tuple:
        meta = cell.metadata.get("nbgrader", {})
        return tuple(meta.get(k) for k in _KEYS)

    return [(c.cell_type, c.source.strip(), grader(c)) for c in nb.cells]


def _executed(nb) -> bool:
    return any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def _execute(nb, cwd: Path, timeout: int) -> None:
    from nbconvert.preprocessors import ExecutePreprocessor

    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(cwd)}}
    )


def write_students(
    root: str | Path = ".", *, execute: bool = True, force: bool = False, timeout: int = 600
) -> list[Path]:
    """Write (and by default execute) the student notebooks that are out of date (all of them
    with ``force``), so unchanged hand-outs keep their bytes; returns the written paths."""
    import nbformat

    written = []
    for a, nb in build_students(root).items():
        path = a.student
        if not force and path.is_file():
            committed = nbformat.read(path, as_version=4)
            if _cells(committed) == _cells(nb) and _executed(committed) == execute:
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if execute:
            _execute(nb, path.parent, timeout)
        nbformat.write(nb, path)
        written.append(path)
    return written


def stale_students(root: str | Path = ".", students: dict | None = None) -> list[str]:
    """Problems that make the committed student notebooks out of date (empty when in sync):
    missing, cells differing from nbgrader's release of the solutions, never executed, or
    without a solution. ``students`` is a :func:`build_students` result to compare against."""
    import nbformat

    students = build_students(root) if students is None else students
    problems = []
    for a, nb in students.items():
        if not a.student.is_file():
            problems.append(f"{a.student}: missing")
            continue
        committed = nbformat.read(a.student, as_version=4)
        if _cells(committed) != _cells(nb):
            problems.append(f"{a.student}: cells differ from {a.solution.name}")
        elif not _executed(committed):
            problems.append(f"{a.student}: not executed (no outputs)")
    expected = {a.student for a in students}
    for extra in sorted((Path(root) / "notebooks" / "assignments" / "student").glob("*.ipynb")):
        if extra not in expected:
            problems.append(f"{extra}: no matching solution notebook")
    return problems
