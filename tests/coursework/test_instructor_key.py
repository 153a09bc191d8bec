"""The instructor answer key: it answers every predict question and exercise of notebooks 01–06
and of the going-further notebooks beside them (01b, …),
and nothing a student receives carries it — not the course site, not an nbgrader course folder,
not the committed student hand-outs, not the package."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from dinof_lite.cli.site import SITE_DIR
from dinof_lite.cli.site_sources import stage_sources
from dinof_lite.coursework.course import setup_course

ROOT = Path(__file__).resolve().parents[2]
KEY = ROOT / "notebooks" / "assignments" / "instructor" / "answer_key.md"
MARKER = "<!-- dinof_lite instructor answer key: for teachers, never for students -->"
#: "01" -> "01_forward_and_reverse_sdes", "01b" -> "01b_…": notebooks 01–06 and their going
#: further twins (07 and 08 are GPU sessions without questions)
NOTEBOOKS = {
    p.stem.split("_")[0]: p.stem for p in sorted((ROOT / "notebooks").glob("0[1-6]*_*.ipynb"))
}


def _questions_and_exercises(name: str) -> tuple[int, int]:
    """A notebook's predict questions (a **Predict** paragraph that asks something) and its
    numbered end-of-notebook exercises."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    questions = exercises = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for para in re.split(r"\n\s*\n", cell.source):
            if re.match(r"^\s*>?\s*\*\*Predict", para) and "?" in para:
                questions += 1
        if "## Exercises" in cell.source:
            section = cell.source.split("## Exercises", 1)[1].split("\n## ", 1)[0]
            exercises += len(re.findall(r"^\d+\.\s", section, flags=re.M))
    return questions, exercises


def _key_items(number: str) -> tuple[int, int]:
    """The numbered answers under the key's "Predict questions" and "Exercises" of notebook
    ``number``."""
    text = KEY.read_text(encoding="utf-8")
    part = re.split(rf"^## Notebook {number}\b", text, flags=re.M)[1].split("\n## ", 1)[0]
    predicts = part.split("### Predict questions", 1)[1].split("### Exercises", 1)[0]
    exercises = part.split("### Exercises", 1)[1]
    count = lambda block: len(re.findall(r"^\d+\.\s", block, flags=re.M))  # noqa: E731
    return count(predicts), count(exercises)


def test_the_key_is_marked_and_lives_beside_the_solutions():
    assert KEY.read_text(encoding="utf-8").startswith(MARKER)
    assert sorted(KEY.parent.parent.glob("A*_solution.ipynb")), "the solutions sit one folder up"
    assert ROOT / "dinof_lite" not in KEY.parents  # never package data


@pytest.mark.parametrize("number", sorted(NOTEBOOKS))
def test_the_key_answers_every_predict_question_and_exercise(number):
    in_notebook = _questions_and_exercises(NOTEBOOKS[number])
    least = 4 if number.isdigit() else 1  # a going-further notebook is shorter
    assert in_notebook[0] >= least and in_notebook[1] >= least, in_notebook
    assert _key_items(number) == in_notebook, (
        f"notebook {number} has {in_notebook[0]} predict questions and {in_notebook[1]} "
        f"exercises; the key answers {_key_items(number)}: update {KEY.relative_to(ROOT)}"
    )


def test_the_key_answers_every_assignment_exercise():
    text = KEY.read_text(encoding="utf-8")
    for solution in sorted((ROOT / "notebooks" / "assignments").glob("A*_solution.py")):
        source = solution.read_text(encoding="utf-8")
        number = solution.name.split("_")[0]
        for label, name in re.findall(r"### Exercise \(([a-z.0-9]+)\): `(\w+)`", source):
            assert f"| {number} ({label}) `{name}` |" in text, f"{number} ({label}) {name}"


def _carries_the_key(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and (
            "instructor" in path.relative_to(folder).parts or MARKER.encode() in path.read_bytes()
        ):
            found.append(str(path.relative_to(folder)))
    return found


def test_the_site_never_stages_the_key(tmp_path):
    stage_sources(ROOT, SITE_DIR, tmp_path / "src")
    assert (tmp_path / "src" / "docs" / "syllabus.md").is_file()  # the teacher's plan is there
    assert not _carries_the_key(tmp_path / "src")


def test_an_nbgrader_course_folder_never_holds_the_key(tmp_path):
    written = setup_course(tmp_path / "course", ROOT)
    assert written and not _carries_the_key(tmp_path / "course")


def test_the_student_handouts_never_hold_the_key():
    student = ROOT / "notebooks" / "assignments" / "student"
    assert sorted(student.glob("*.ipynb")) and not _carries_the_key(student)


def test_the_leak_check_sees_a_copy_of_the_key(tmp_path):
    """The three checks above would see a leak: a renamed copy anywhere is found by its marker."""
    (tmp_path / "handout").mkdir()
    (tmp_path / "handout" / "notes.md").write_bytes(KEY.read_bytes())
    assert _carries_the_key(tmp_path) == [str(Path("handout") / "notes.md")]
