"""Coursework: the solution → student generator (marker grammar, CLI, staleness) and the stored
outputs of the solution notebooks (every check passed) and student notebooks (every exercise
"not attempted", no errors)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dinof_lite.cli import main
from dinof_lite.coursework.student_notebooks import (
    make_student,
    solution_notebooks,
    stale_students,
    student_path,
)

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = solution_notebooks(ROOT)

SOURCE = '''\
import torch


def f(x):
    """Double x."""
    # BEGIN SOLUTION
    y = 2 * x
    return y
    # END SOLUTION


print(f)
'''


def test_make_student_replaces_each_region_with_a_named_raise():
    out = make_student(SOURCE)
    assert "2 * x" not in out and "BEGIN SOLUTION" not in out and "END SOLUTION" not in out
    assert (
        '    """Double x."""\n    raise NotImplementedError("write the body of `f`, then run' in out
    )
    assert out.startswith("import torch\n") and out.endswith("\n\nprint(f)\n")
    namespace: dict = {}
    exec(compile(out.replace("import torch\n", ""), "student", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="`f`"):
        namespace["f"](1)


def test_make_student_leaves_text_without_markers_alone():
    assert make_student("a = 1\n# a comment\n") == "a = 1\n# a comment\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("# BEGIN SOLUTION\nx = 1\n", r"line 1: '# BEGIN SOLUTION' is never closed"),
        ("x = 1\n# END SOLUTION\n", r"line 2: '# END SOLUTION' without a matching"),
        (
            "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
            r"line 2: .* inside the region opened "
            r"on line 1 \(regions cannot nest\)",
        ),
        ("x = 1  # BEGIN SOLUTION\n", r"line 1: a solution marker must be alone on its line"),
        (
            "def f():\n    # BEGIN SOLUTION\n    return 1\n# END SOLUTION\n",
            r"line 4: .* not indented",
        ),
    ],
    ids=["unclosed", "unopened", "nested", "inline", "misindented"],
)
def test_make_student_rejects_bad_markers(text, error):
    with pytest.raises(ValueError, match=error):
        make_student(text)


def test_student_path_and_bad_names():
    sol = ROOT / "notebooks/assignments/A1_forward_sde_solution.py"
    assert student_path(sol) == ROOT / "notebooks/assignments/student/A1_forward_sde.ipynb"
    with pytest.raises(ValueError, match="_solution.py"):
        student_path("notebooks/assignments/A1_forward_sde.py")


def test_at_least_four_assignments_cover_exercises_a_to_e():
    assert len(SOLUTIONS) >= 4
    text = "".join(p.read_text(encoding="utf-8") for p in SOLUTIONS)
    for label in "abcde":
        assert f"Exercise ({label}" in text or f"Exercises ({label}" in text, label


def test_committed_student_notebooks_are_in_sync():
    assert stale_students(ROOT) == [], "run `python -m dinof_lite assignments`"


def test_check_command_names_stale_and_missing_notebooks(tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "notebooks" / "assignments", root / "notebooks" / "assignments")
    assert main(["assignments", "--check", "--root", str(root)]) == 0
    first, second = solution_notebooks(root)[:2]
    solution_only = first.read_text(encoding="utf-8").replace(
        "# END SOLUTION", "    pass\n    # END SOLUTION", 1
    )
    first.write_text(solution_only, encoding="utf-8")  # a change inside a region: still in sync
    assert main(["assignments", "--check", "--root", str(root)]) == 0
    first.write_text(solution_only + "\n# %%\nx = 1\n", encoding="utf-8")
    student_path(second).unlink()
    capsys.readouterr()
    assert main(["assignments", "--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{student_path(first).name}: cells differ from {first.name}" in out
    assert f"{student_path(second).name}: missing" in out
    assert "python -m dinof_lite assignments" in out


def test_generate_without_execution_writes_in_sync_notebooks(tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(
        ROOT / "notebooks" / "assignments",
        root / "notebooks" / "assignments",
        ignore=shutil.ignore_patterns("student"),
    )
    assert main(["assignments", "--no-execute", "--root", str(root)]) == 0
    problems = stale_students(root)
    assert len(problems) == len(SOLUTIONS), problems
    assert all(p.endswith("not executed (no outputs)") for p in problems), problems
    capsys.readouterr()
    assert main(["assignments", "--no-execute", "--root", str(root)]) == 0  # nothing to redo
    assert "up to date" in capsys.readouterr().out


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


def _exercises(solution: Path) -> list[str]:
    text = solution.read_text(encoding="utf-8")
    names = re.findall(r"^def (\w+)\(.*\n(?:.*\n)*?\s+# BEGIN SOLUTION", text, re.M)
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
    texts, errors = _texts(student_path(solution))
    assert not errors, f"{student_path(solution).name} has error outputs: {errors}"
    names = _exercises(solution)
    for name in names:
        assert any(t.startswith(f"⏳ {name}: not attempted. Exercise (") for t in texts), name
    assert not any(re.search(r"(passed|failed|error)\.$", t.split("\n")[0]) for t in texts)
    assert any(f"0/{len(names)} checks passed." in t for t in texts)
