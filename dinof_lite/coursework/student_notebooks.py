"""Student notebooks generated from the solution notebooks, so the two never drift.

The solution notebooks ``notebooks/assignments/A<k>_<topic>_solution.py`` (jupytext percent
scripts) mark each answer with two comment lines::

    def dsm_loss(score_fn, x0, t, z, sde):
        \"\"\"docstring the student keeps\"\"\"
        # BEGIN SOLUTION
        ...the answer...
        # END SOLUTION

:func:`make_student` replaces every marked region (markers included) by one line,
``raise NotImplementedError("write the body of `dsm_loss` ...")``, at the BEGIN marker's
indentation; the enclosing ``def`` names the exercise. Markers must be alone on their line, come in
BEGIN/END pairs, not nest, and sit at the same indentation. The notebook's Colab badge is pointed at
the student copy ``notebooks/assignments/student/A<k>_<topic>.ipynb``, which
``python -m dinof_lite assignments`` writes and executes when out of date (so the hand-outs show
the "not attempted" reports; ``--force`` rewrites all); ``--check`` only compares cells and exits
non-zero when a student notebook is stale.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

__all__ = [
    "BEGIN",
    "END",
    "make_student",
    "solution_notebooks",
    "student_path",
    "build_student",
    "write_students",
    "stale_students",
    "cli_arguments",
    "cli_run",
]

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
SUFFIX = "_solution"
ASSIGNMENTS = Path("notebooks") / "assignments"
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(")


def make_student(source_text: str) -> str:
    """The student version of a solution script: each BEGIN/END SOLUTION region becomes a
    ``raise NotImplementedError(...)`` line. Raises ``ValueError`` (with line numbers) for
    unbalanced, nested, misindented or inline markers."""
    out: list[str] = []
    start: int | None = None
    indent = name = ""
    for no, line in enumerate(source_text.splitlines(keepends=True), 1):
        stripped = line.strip()
        if (BEGIN in line or END in line) and stripped not in (BEGIN, END):
            raise ValueError(
                f"line {no}: a solution marker must be alone on its line, got {stripped!r}"
            )
        if stripped == BEGIN:
            if start is not None:
                raise ValueError(
                    f"line {no}: {BEGIN!r} inside the region opened on line {start} "
                    "(regions cannot nest)"
                )
            start, indent = no, line[: len(line) - len(line.lstrip())]
            name = next((m.group(1) for m in map(_DEF.match, reversed(out)) if m), "")
            continue
        if stripped == END:
            if start is None:
                raise ValueError(f"line {no}: {END!r} without a matching {BEGIN!r}")
            if not line.startswith(indent) or line[len(indent)] in " \t":
                raise ValueError(
                    f"line {no}: {END!r} is not indented like its {BEGIN!r} on line {start}"
                )
            what = f"write the body of `{name}`" if name else "write this part"
            out.append(f'{indent}raise NotImplementedError("{what}, then run its check")\n')
            start = None
            continue
        if start is None:
            out.append(line)
    if start is not None:
        raise ValueError(f"line {start}: {BEGIN!r} is never closed by {END!r}")
    return "".join(out)


def solution_notebooks(root: str | Path = ".") -> list[Path]:
    """The solution scripts ``notebooks/assignments/A*_solution.py`` under ``root``, sorted."""
    return sorted((Path(root) / ASSIGNMENTS).glob(f"A*{SUFFIX}.py"))


def student_path(solution: str | Path) -> Path:
    """``…/assignments/A1_x_solution.py`` → ``…/assignments/student/A1_x.ipynb``."""
    solution = Path(solution)
    if not solution.stem.endswith(SUFFIX):
        raise ValueError(f"a solution notebook's name ends in {SUFFIX}.py, got {solution.name}")
    return solution.parent / "student" / f"{solution.stem.removesuffix(SUFFIX)}.ipynb"


def build_student(solution: str | Path):
    """The student notebook (an unexecuted ``nbformat`` notebook) for a solution script."""
    import jupytext

    solution = Path(solution)
    text = make_student(solution.read_text(encoding="utf-8"))
    student = student_path(solution)
    text = text.replace(f"assignments/{solution.stem}.ipynb", f"assignments/student/{student.name}")
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata.pop("jupytext", None)  # a hand-out, not a jupytext pair
    return nb


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def _execute(nb, cwd: Path, timeout: int) -> None:
    from nbconvert.preprocessors import ExecutePreprocessor

    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(cwd)}}
    )


def _in_sync(nb, path: Path, execute: bool) -> bool:
    """The committed notebook at ``path`` has ``nb``'s cells (and outputs, if ``execute``)."""
    import nbformat

    if not path.is_file():
        return False
    committed = nbformat.read(path, as_version=4)
    executed = any(c.get("outputs") for c in committed.cells if c.cell_type == "code")
    return _cells(committed) == _cells(nb) and executed == execute


def write_students(
    root: str | Path = ".", *, execute: bool = True, force: bool = False, timeout: int = 600
) -> list[Path]:
    """Generate (and by default execute) the student notebooks that are out of date (all of them
    with ``force``), so unchanged hand-outs keep their bytes; returns the written paths."""
    import nbformat

    written = []
    for solution in solution_notebooks(root):
        nb, path = build_student(solution), student_path(solution)
        if not force and _in_sync(nb, path, execute):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if execute:
            _execute(nb, path.parent, timeout)
        nbformat.write(nb, path)
        written.append(path)
    return written


def stale_students(root: str | Path = ".") -> list[str]:
    """Problems that make the committed student notebooks out of date (empty when in sync):
    missing, cells differing from the solutions, never executed, or without a solution."""
    import nbformat

    problems, expected = [], set()
    for solution in solution_notebooks(root):
        path = student_path(solution)
        expected.add(path)
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        committed = nbformat.read(path, as_version=4)
        if _cells(committed) != _cells(build_student(solution)):
            problems.append(f"{path}: cells differ from {solution.name}")
        elif not any(c.get("outputs") for c in committed.cells if c.cell_type == "code"):
            problems.append(f"{path}: not executed (no outputs)")
    for extra in sorted((Path(root) / ASSIGNMENTS / "student").glob("*.ipynb")):
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
        help="rewrite every student notebook, not only the out-of-date ones",
    )
    p.add_argument("--root", default=".", help="repository root (default: the current directory)")


def cli_run(args: argparse.Namespace) -> int:
    """Generate (or with ``--check`` verify) the student notebooks; returns the exit code."""
    if not solution_notebooks(args.root):
        raise SystemExit(f"error: no {ASSIGNMENTS}/A*{SUFFIX}.py under {Path(args.root).resolve()}")
    if args.check:
        problems = stale_students(args.root)
        for problem in problems:
            print(f"out of date: {problem}")
        if problems:
            print("regenerate with `python -m dinof_lite assignments`")
            return 1
        print(f"{len(solution_notebooks(args.root))} student notebooks are up to date")
        return 0
    written = write_students(args.root, execute=not args.no_execute, force=args.force)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("all student notebooks are up to date (--force rewrites them)")
    return 0
