"""``python -m dinof_lite assignments``: the student notebooks, made by nbgrader's release step.

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

import argparse
import tempfile
from pathlib import Path

from dinof_lite.coursework.course import (
    Assignment,
    assignments,
    generate_assignments,
    setup_course,
)

__all__ = ["build_students", "write_students", "stale_students", "cli_arguments", "cli_run"]

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


def cli_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite assignments``."""
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the student notebooks that are out of date",
    )
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="write the student notebooks without running them (no outputs)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="rewrite every student notebook (with --course: every source notebook and the config)",
    )
    p.add_argument(
        "--course",
        metavar="DIR",
        default=None,
        help="set up an nbgrader course folder in DIR (nbgrader_config.py, source/A1..) instead",
    )
    p.add_argument("--root", default=".", help="repository root (default: the current directory)")


def _course_run(args: argparse.Namespace) -> int:
    written = setup_course(args.course, args.root, force=args.force)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.course} is already set up (--force overwrites its config and sources)")
    print(f"next: cd {args.course} && nbgrader generate_assignment A1 --create  (see the guide)")
    return 0


def cli_run(args: argparse.Namespace) -> int:
    """Generate (or with ``--check`` verify) the student notebooks, or set up a course folder;
    returns the exit code."""
    try:
        if args.course is not None:
            return _course_run(args)
        if args.check:
            problems = stale_students(args.root)
            for problem in problems:
                print(f"out of date: {problem}")
            if problems:
                print("regenerate with `python -m dinof_lite assignments`")
                return 1
            print(f"{len(assignments(args.root))} student notebooks are up to date")
            return 0
        written = write_students(args.root, execute=not args.no_execute, force=args.force)
    except (ModuleNotFoundError, RuntimeError) as err:  # nbgrader missing, or it failed
        raise SystemExit(f"error: {err}") from None
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("all student notebooks are up to date (--force rewrites them)")
    return 0
