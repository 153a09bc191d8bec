"""nbgrader preprocessors that decide grades outside the student's kernel.

``nbgrader_config.py`` (written by ``python -m dinof_lite assignments --course``) puts them into
``nbgrader autograde``'s own process::

    c.Autograde.autograde_preprocessors = [KernelRun, IgnorePattern, ClearMetadataPreprocessor,
                                           LimitOutput, OutsideVerdict, SaveAutoGrades, …]

- :class:`OutsideVerdict` — for each test cell with an
  ``graders.EXERCISES`` entry (all of A1–A6), takes the answer from
  the submitted solution cells, grades it in a sandbox
  (:func:`~dinof_lite.coursework.graders.grade_answer`) on a seed drawn now, and writes the
  verdict as the cell's only output: a ✅ line, or a ``CheckNotPassed`` error that scores zero.
  ``SaveAutoGrades`` (next) turns that output into the gradebook's points, and the feedback
  shows the same text: they cannot disagree.
- :class:`KernelRun` — nbgrader's ``Execute``, run only when some test cell has no such grader
  (a cell a teacher added), and never fatal: a kernel that dies
  (``os._exit``) or hangs past the cell timeout leaves the outputs so far and a note, instead of
  a notebook without a grade. Those cells keep the kernel's verdict, which the student's code
  can forge; the notes say so.

Notes for the teacher (the seed, each exercise's verdict and time, refused answers, time limits,
dead kernels) go to ``grading_notes/<assignment>/<student>.txt`` under the course folder and, for
the ones that need a look, to nbgrader's log.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Integer, Unicode

from dinof_lite.coursework.graders import EXERCISES, answer_source, grade_answer

__all__ = ["KernelRun", "OutsideVerdict", "test_cells", "NOTES"]

#: the folder (under the course) of the teacher's notes
NOTES = "grading_notes"


def test_cells(nb) -> list:
    """The autograder test cells of ``nb`` (code cells with points)."""
    return [
        c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    ]


def _kernel_graded(nb) -> list[str]:
    return [
        c.metadata.nbgrader.grade_id
        for c in test_cells(nb)
        if c.metadata.nbgrader.get("grade_id") not in EXERCISES
    ]


def _notes(resources: dict) -> list[str]:
    return resources.setdefault("dinof_lite_notes", [])


class KernelRun(Execute):
    """nbgrader's ``Execute``, skipped when every test cell is graded outside the kernel, and
    tolerant of a kernel that dies or hangs."""

    def preprocess(self, nb, resources):
        if not _kernel_graded(nb):
            return nb, resources
        try:
            return super().preprocess(nb, resources)
        except Exception as err:  # noqa: BLE001 - a dead or stuck kernel must not drop the grade
            note = f"the notebook's kernel stopped early ({type(err).__name__}: {err})"
            self.log.warning(note)
            _notes(resources).append(note)
            return nb, resources


class OutsideVerdict(NbGraderPreprocessor):
    """Sets each test cell's outcome from a sandboxed run of its answer (see the module doc)."""

    time_limit = Float(60.0, help="seconds per exercise for the answer (A4–A6 get a multiple)").tag(
        config=True
    )
    memory_mb = Integer(4096, help="address-space limit of an answer's process, MiB").tag(
        config=True
    )
    workers = Integer(3, help="exercises graded at the same time").tag(config=True)
    notes_dir = Unicode(NOTES, help="folder (under the course) for the teacher's notes").tag(
        config=True
    )

    def preprocess(self, nb, resources):
        seed = secrets.randbits(63)
        cells = [c for c in test_cells(nb) if c.metadata.nbgrader.grade_id in EXERCISES]
        notes = _notes(resources)

        def verdict(cell):
            exercise = EXERCISES[cell.metadata.nbgrader.grade_id]
            return grade_answer(
                exercise,
                answer_source(nb, exercise),
                seed,
                time_limit=self.time_limit,
                memory_mb=self.memory_mb,
            )

        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            graded = list(pool.map(verdict, cells))
        lines = []
        for cell, g in zip(cells, graded):
            result = g.result
            if result.passed:
                output = NotebookNode(output_type="stream", name="stdout", text=f"{result}\n")
            else:
                output = NotebookNode(
                    output_type="error",
                    ename="CheckNotPassed",
                    evalue=str(result),
                    traceback=[f"CheckNotPassed: {result}"],
                )
            cell.outputs = [output]
            grade_id = cell.metadata.nbgrader.grade_id
            lines.append(f"{grade_id}: {result.status} in {g.seconds:.1f} s (network: {g.network})")
            if result.status == "error" or "refused by the grader" in result.message:
                notes.append(f"{grade_id}: {result}")
        kernel = _kernel_graded(nb)
        if kernel:
            notes.append("graded in the student's kernel (forgeable): " + ", ".join(kernel))
        self._write_notes(resources, seed, lines, notes)
        return nb, resources

    def _write_notes(self, resources: dict, seed: int, lines: list[str], notes: list[str]):
        info = resources.get("nbgrader", {})
        student, assignment = info.get("student", "student"), info.get("assignment", "assignment")
        folder = Path(self.notes_dir) / str(assignment)
        folder.mkdir(parents=True, exist_ok=True)
        text = [f"{assignment} / {student}: grading seed {seed}", *lines]
        if notes:
            text += ["", "to look at:", *notes]
        (folder / f"{student}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
        for note in notes:
            self.log.warning("%s %s: %s", assignment, student, note)
