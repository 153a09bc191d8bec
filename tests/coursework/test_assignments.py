"""Coursework: the student notebooks made by nbgrader's release step (``python -m dinof_lite
assignments``, staleness, ``--course``; that the committed ones are in sync is tested on the
course folder of tests/coursework/test_grading.py) and the stored outputs of the solution notebooks (every
check passed) and student notebooks (every exercise "not attempted", no errors)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from dinof_lite.cli import main
from dinof_lite.coursework.course import CODE_STUB, SKIP_TAG, assignments, config_text

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = assignments(ROOT)
SOLUTIONS = [a.solution.with_suffix(".py") for a in ASSIGNMENTS]


def test_at_least_four_assignments_cover_exercises_a_to_e():
    assert len(SOLUTIONS) >= 4
    text = "".join(p.read_text(encoding="utf-8") for p in SOLUTIONS)
    for label in "abcde":
        assert f"Exercise ({label}" in text or f"Exercises ({label}" in text, label


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=[a.id for a in ASSIGNMENTS])
def test_sources_are_nbgrader_notebooks(a):
    """Every exercise: a solution cell with nbgrader's markers, then a read-only test cell with
    points that calls its check through grading.require; demonstrations skipped by the grader."""
    nb = nbformat.read(a.solution, as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    solutions = [m["grade_id"] for m in meta if m.get("solution")]
    tests = [(c, m) for c, m in zip(nb.cells, meta) if m.get("grade")]
    assert solutions and len(tests) >= len(solutions)
    for c, m in tests:
        assert m["locked"] and m["points"] > 0 and "grading.require(checks.check_" in c.source
    for name in solutions:
        assert any(f"check_{name}(" in c.source for c, _ in tests), name
    for c, m in zip(nb.cells, meta):
        if m.get("solution"):
            lines = [line.strip() for line in c.source.splitlines()]
            assert lines.count("### BEGIN SOLUTION") == lines.count("### END SOLUTION") == 1
            assert not m["locked"]
        elif not m:  # neither graded nor read-only: a demonstration the grader skips
            assert c.cell_type == "code" and SKIP_TAG in c.metadata.get("tags", []), c.source
        else:
            assert m["locked"], m["grade_id"]
    ids = [m["grade_id"] for m in meta if m]
    assert len(ids) == len(set(ids)), "grade_id must be unique in a notebook"


def _copy(tmp_path: Path, student: bool = True) -> Path:
    root = tmp_path / "repo"
    ignore = None if student else shutil.ignore_patterns("student")
    shutil.copytree(ROOT / "notebooks" / "assignments", root / "notebooks" / "assignments",
                    ignore=ignore)  # fmt: skip
    return root


@pytest.mark.slow  # nbgrader
def test_check_command_names_stale_and_missing_notebooks(tmp_path, capsys):
    root = _copy(tmp_path)
    first, second, third = assignments(root)[:3]
    nb = nbformat.read(first.solution, as_version=4)  # a change inside a region: still in sync
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = cell.source.replace("### END SOLUTION", "pass\n    ### END SOLUTION", 1)
    nbformat.write(nb, first.solution)
    nb = nbformat.read(second.solution, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(nb, second.solution)
    third.student.unlink()
    assert main(["assignments", "--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert first.student.name not in out
    assert f"{second.student.name}: cells differ from {second.solution.name}" in out
    assert f"{third.student.name}: missing" in out
    assert "python -m dinof_lite assignments" in out


@pytest.mark.slow  # nbgrader
def test_generate_without_execution_writes_the_released_notebooks(tmp_path):
    root = _copy(tmp_path, student=False)
    assert main(["assignments", "--no-execute", "--root", str(root)]) == 0
    written = sorted((root / "notebooks" / "assignments" / "student").glob("*.ipynb"))
    assert [p.name for p in written] == [a.student.name for a in ASSIGNMENTS]
    nb = nbformat.read(written[0], as_version=4)
    text = "".join(c.source for c in nb.cells)
    assert CODE_STUB in text and "BEGIN SOLUTION" not in text
    assert "assignments/student/A1_forward_sde.ipynb" in text  # the Colab badge
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    locked = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("locked")]
    assert locked and all(c.metadata["editable"] is False for c in locked)


@pytest.mark.slow  # nbgrader
def test_course_option_sets_up_a_course_folder_and_keeps_edits(tmp_path, capsys):
    course = tmp_path / "course"
    assert main(["assignments", "--course", str(course), "--root", str(ROOT)]) == 0
    config = course / "nbgrader_config.py"
    assert config.read_text(encoding="utf-8") == config_text()
    sources = sorted(p.relative_to(course).as_posix() for p in course.glob("source/*/*.ipynb"))
    assert sources == [f"source/{a.id}/{a.notebook}.ipynb" for a in ASSIGNMENTS]
    config.write_text("# edited\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["assignments", "--course", str(course), "--root", str(ROOT)]) == 0
    assert "already set up" in capsys.readouterr().out
    assert config.read_text(encoding="utf-8") == "# edited\n"


@pytest.mark.slow  # nbgrader
def test_course_errors_are_one_line(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(SystemExit, match="error: --course .* is a file"):
        main(["assignments", "--course", str(afile), "--root", str(ROOT)])
    with pytest.raises(SystemExit, match="no notebooks/assignments/A"):
        main(["assignments", "--check", "--root", str(tmp_path)])
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(SystemExit, match=r"nbgrader is not installed.*\[teach\]"):
        main(["assignments", "--root", str(ROOT)])


def _texts(path: Path) -> tuple[list[str], list[str]]:
    """(text of every output, names of error outputs) of a stored notebook."""
    nb = nbformat.read(path, as_version=4)
    texts, errors = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(out.ename)
            texts.append(out.get("text", "") + out.get("data", {}).get("text/plain", ""))
    return texts, errors


def _student(solution: Path) -> Path:
    return next(a.student for a in ASSIGNMENTS if a.solution.with_suffix(".py") == solution)


def _exercises(solution: Path) -> list[str]:
    text = solution.read_text(encoding="utf-8")
    names = re.findall(r"^def (\w+)\(.*\n(?:.*\n)*?\s+### BEGIN SOLUTION", text, re.M)
    assert names, solution
    return names


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_notebook_outputs_report_every_check_passed(solution):
    texts, errors = _texts(solution.with_suffix(".ipynb"))
    assert not errors
    names = _exercises(solution)
    for name in names:
        assert any(t.startswith(f"✅ {name}: passed.") for t in texts), name
    assert not any(re.search(r"(failed|not attempted|error)\.", t) for t in texts)
    assert any(f"{len(names)}/{len(names)} checks passed." in t for t in texts)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_student_notebook_outputs_report_every_exercise_not_attempted(solution):
    texts, errors = _texts(_student(solution))
    assert not errors, f"{_student(solution).name} has error outputs: {errors}"
    names = _exercises(solution)
    for name in names:
        assert any(t.startswith(f"⏳ {name}: not attempted. Exercise (") for t in texts), name
    assert not any(re.search(r"(passed|failed|error)\.$", t.split("\n")[0]) for t in texts)
    assert any(f"0/{len(names)} checks passed." in t for t in texts)
