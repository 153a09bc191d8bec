"""An nbgrader course folder for the assignments: configuration, source notebooks, release step.

The solution notebooks ``notebooks/assignments/A<k>_<topic>_solution.ipynb`` are nbgrader source
notebooks: their solution cells hold ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions, their
autograder test cells (``grading.require(checks.check_…(…))``) carry points, the cells a grade
depends on are read-only, and the demonstrations are tagged :data:`SKIP_TAG` so the autograder
skips what it does not grade. A course folder (docs: ``notebooks/assignments/README.md``) is::

    nbgrader_config.py       written by :func:`setup_course` (course id, code stub, skip tag,
                             the out-of-kernel grader of :mod:`~dinof_lite.coursework.verdict`, …)
    source/A1/A1_forward_sde.ipynb  …  source/A6/A6_tm_tradeoff.ipynb
    release/ submitted/ autograded/ feedback/ gradebook.db   made by nbgrader itself

:func:`generate_assignments` runs nbgrader's own release step (``nbgrader generate_assignment``);
``python -m dinof_lite assignments`` uses it in a throwaway course folder to write the student
notebooks of the repository. nbgrader is the optional ``[teach]`` extra: this module imports it
only by running it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COURSE_ID",
    "SKIP_TAG",
    "CODE_STUB",
    "Assignment",
    "assignments",
    "config_text",
    "source_notebook",
    "setup_course",
    "nbgrader",
    "generate_assignments",
]

COURSE_ID = "dinof_lite"
#: cells with this tag only illustrate; nbgrader's autograder and validator skip them
SKIP_TAG = "grader-skip"
#: what nbgrader writes in place of each solution region, at the region's indentation
CODE_STUB = 'raise NotImplementedError("replace this line with your code, then run its check")'
SUFFIX = "_solution"
ASSIGNMENTS = Path("notebooks") / "assignments"
_NAME = re.compile(r"^(A\d+)_\w+$")


@dataclass(frozen=True)
class Assignment:
    """One assignment: its solution notebook, nbgrader id (``A1``) and notebook name
    (``A1_forward_sde``)."""

    solution: Path

    @property
    def notebook(self) -> str:
        return self.solution.stem.removesuffix(SUFFIX)

    @property
    def id(self) -> str:
        return self.notebook.split("_", 1)[0]

    @property
    def student(self) -> Path:
        """The student copy in the repository: ``…/assignments/student/A1_forward_sde.ipynb``."""
        return self.solution.parent / "student" / f"{self.notebook}.ipynb"


def assignments(root: str | Path = ".") -> list[Assignment]:
    """The assignments under ``root`` (``notebooks/assignments/A*_solution.ipynb``), by number.
    Raises ``FileNotFoundError`` when there are none and ``ValueError`` for a misnamed one."""
    folder = Path(root) / ASSIGNMENTS
    found = [Assignment(p) for p in folder.glob(f"A*{SUFFIX}.ipynb")]
    if not found:
        raise FileNotFoundError(
            f"no {ASSIGNMENTS}/A*{SUFFIX}.ipynb under {Path(root).resolve()} "
            "(--root must be the repository root)"
        )
    for a in found:
        if not a.solution.stem.endswith(SUFFIX) or not _NAME.match(a.notebook):
            raise ValueError(
                f"{a.solution.name}: an assignment is named A<number>_<topic>{SUFFIX}.ipynb"
            )
    return sorted(found, key=lambda a: int(a.id[1:]))


def config_text(course_id: str = COURSE_ID, time_limit: float = 60.0) -> str:
    """The ``nbgrader_config.py`` of a course folder; ``time_limit``: seconds per exercise."""
    return f'''"""nbgrader configuration of the dinof_lite course (written by `python -m dinof_lite
assignments --course`; edit freely). Run every nbgrader command from this folder."""

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = "."
# a solution region becomes this line (the check then reports "not attempted")
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
# demonstrations are tagged {SKIP_TAG!r}: the autograder runs only what it grades
c.Execute.skip_cells_with_tag = {SKIP_TAG!r}
# Grades are decided outside the student's kernel (notebooks/assignments/README.md, "How a
# grade is decided"): OutsideVerdict grades each answer of A1-A6 in a limited subprocess on
# inputs drawn at grading time and sets the test cells' outcome; KernelRun executes the
# notebook in a kernel only for test cells without such a grader (ones you add), with this
# timeout per cell.
c.Execute.timeout = 600
# (Named by their import paths: nbgrader imports them when it autogrades, and fails loudly if
# it cannot, instead of skipping this file and grading in the kernel.)
c.Autograde.autograde_preprocessors = [
    "dinof_lite.coursework.verdict.KernelRun",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "dinof_lite.coursework.verdict.OutsideVerdict",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.OutsideVerdict.time_limit = {time_limit!r}  # seconds per exercise (a hung answer scores 0)
c.OutsideVerdict.memory_mb = 4096  # address space of an answer's process, MiB
c.OutsideVerdict.workers = 3  # exercises graded at the same time
# `nbgrader zip_collect A1` collects downloaded/A1/archive/<student>_<notebook>.ipynb (e.g.
# alice_A1_forward_sde.ipynb; a student id without "_"); match your LMS's file names here
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^_/]+)_(?P<file_id>A\\d+_\\w+)\\.ipynb$"
'''


def source_notebook(assignment: Assignment):
    """The nbgrader source notebook of ``assignment``: the solution notebook, its Colab badge
    pointed at the student copy and its jupytext pairing dropped."""
    import nbformat

    nb = nbformat.read(assignment.solution, as_version=4)
    nb.metadata.pop("jupytext", None)
    link = f"assignments/{assignment.solution.name}"
    for cell in nb.cells:
        for key in ("execution", "lines_to_next_cell"):  # run times, jupytext layout
            cell.metadata.pop(key, None)
        if cell.cell_type == "markdown" and link in cell.source:
            cell.source = cell.source.replace(
                link, f"assignments/student/{assignment.notebook}.ipynb"
            )
    return nb


def setup_course(
    course_dir: str | Path,
    root: str | Path = ".",
    *,
    course_id: str = COURSE_ID,
    force: bool = False,
) -> list[Path]:
    """Write ``nbgrader_config.py`` and ``source/A<k>/<notebook>.ipynb`` into ``course_dir``.

    Files that exist are kept (a teacher's edits survive) unless ``force``; returns the paths
    written. Raises ``NotADirectoryError`` when ``course_dir`` is a file, before writing.
    """
    import nbformat

    course_dir = Path(course_dir)
    if course_dir.exists() and not course_dir.is_dir():
        raise NotADirectoryError(
            f"--course {course_dir} is a file; give a folder (new or a course)"
        )
    found = assignments(root)
    written = []
    config = course_dir / "nbgrader_config.py"
    if force or not config.exists():
        course_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(config_text(course_id), encoding="utf-8")
        written.append(config)
    for a in found:
        path = course_dir / "source" / a.id / f"{a.notebook}.ipynb"
        if force or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(source_notebook(a), path)
            written.append(path)
    return written


def nbgrader(course_dir: str | Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``nbgrader ARGS`` in ``course_dir`` with this Python; returns its log. Raises
    ``RuntimeError`` with the end of the log when it fails (or ``ModuleNotFoundError`` when
    nbgrader is not installed: ``pip install -e ".[teach]"``)."""
    import importlib.util

    if importlib.util.find_spec("nbgrader") is None:
        raise ModuleNotFoundError(
            "nbgrader is not installed; the teacher's tools are the [teach] extra: "
            'pip install -e ".[teach]"'
        )
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_dir,
        capture_output=True,
        text=True,
        env=env,
    )
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        lines = log.strip().splitlines()
        starts = [i for i, line in enumerate(lines) if "Traceback" in line]
        shown = lines[starts[0] : starts[0] + 40] if starts else []  # the first error, whole
        tail = "\n".join([*shown, *lines[-15:]])
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed in {course_dir}:\n{tail}")
    return log


def generate_assignments(course_dir: str | Path, ids: str = "*") -> dict[str, Path]:
    """nbgrader's release step for the assignments matching ``ids`` (a glob; all by default):
    ``nbgrader generate_assignment IDS --create --force`` writes ``release/<id>/<nb>.ipynb``
    (solutions replaced by :data:`CODE_STUB`, outputs cleared, read-only cells locked) and records
    the assignment and its test cells in the course's gradebook. Returns id → released notebook."""
    course_dir = Path(course_dir)
    nbgrader(course_dir, "generate_assignment", ids, "--create", "--force")
    return {p.parent.name: p for p in sorted((course_dir / "release").glob(f"{ids}/*.ipynb"))}
