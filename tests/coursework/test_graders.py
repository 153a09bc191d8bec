"""The out-of-kernel graders (dinof_lite.coursework.graders) on answers, without nbgrader.

The A1 tests are quick. The others run every test cell of A1–A6 on its solution and on answers
that pass at the notebook's defaults but ignore an argument (minutes: marked slow); the whole
nbgrader pipeline is tests/coursework/test_grading.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from dinof_lite.coursework.graders import EXERCISES, answer_source, grade_answer
from tests._answers import CORRECT, TRICKS

ROOT = Path(__file__).resolve().parents[2]
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def _solutions() -> dict[str, object]:
    """Test cell → the solution notebook it is in (markers removed, as a student types it)."""
    found = {}
    for path in sorted((ROOT / "notebooks" / "assignments").glob("A*_solution.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            cell.source = _MARKER.sub("", cell.source)
            if cell.metadata.get("nbgrader", {}).get("grade"):
                found[cell.metadata["nbgrader"]["grade_id"]] = nb
    return found


SOLUTIONS = _solutions()


def _grade(test: str, source: str, seed: int = 11):
    return grade_answer(EXERCISES[test], source, seed, time_limit=60).result


def test_every_test_cell_of_the_assignments_has_an_out_of_kernel_grader():
    assert set(SOLUTIONS) == set(EXERCISES)
    for test, nb in SOLUTIONS.items():
        source = answer_source(nb, EXERCISES[test])
        assert f"def {EXERCISES[test].function}(" in source, test


@pytest.mark.parametrize("variant", ["numpy", "row_loop"])
def test_a1_answers_written_otherwise_pass(variant):
    for test in ("check_vp_marginal", "check_ve_marginal", "check_forward_sample"):
        result = _grade(test, CORRECT[variant][EXERCISES[test].function])
        assert result.passed and "drawn at grading time" in result.message, result


def test_a1_answers_that_ignore_their_arguments_fail_at_drawn_parameters():
    for test in ("check_vp_marginal", "check_ve_marginal"):
        source = TRICKS["ignores_arguments"][EXERCISES[test].function]
        a, b = _grade(test, source, seed=1), _grade(test, source, seed=2)
        assert not a.passed and "(drawn at grading time)" in a.message, a
        assert a.message != b.message  # other seeds, other parameters


def test_a1_library_answers_are_refused_naming_the_rule():
    result = _grade("check_forward_sample", TRICKS["library_function"]["forward_sample"])
    assert result.status == "failed"
    assert result.message.startswith("refused by the grader's rules for (a.3): `.perturb`")


@pytest.mark.slow
@pytest.mark.parametrize("test", sorted(EXERCISES))
def test_every_solution_passes_at_the_defaults_and_at_drawn_parameters(test):
    result = _grade(test, answer_source(SOLUTIONS[test], EXERCISES[test]))
    assert result.passed and "drawn at grading time" in result.message, result


#: test cell → (line of the solution, the same line ignoring an argument); each passes the
#: class check at the notebook's defaults
IGNORED = {
    "check_langevin_step": (
        "eps = (2 * alpha * (snr * ratio) ** 2)[:, None]",
        "eps = (2 * alpha * (0.16 * ratio) ** 2)[:, None]",
    ),
    "check_coupling_forward": ("k = x.shape[1] - x.shape[1] // 2", "k = 3"),
    "check_dinof_sample": (
        "times = torch.linspace(T_m, eps, n_steps + 1, dtype=torch.float64)",
        "eps = 1e-3\n    times = torch.linspace(T_m, eps, n_steps + 1, dtype=torch.float64)",
    ),
    "check_divergence": ("for i in range(x.shape[1]):", "for i in range(2):"),
    "check_dinof_log_likelihood": (
        "dt = (T_m - model.train_eps) / n_steps",
        "T_m = model.T_m\n    dt = (T_m - model.train_eps) / n_steps",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("test", sorted(IGNORED))
def test_answers_that_ignore_an_argument_fail_at_drawn_parameters(test):
    right, wrong = IGNORED[test]
    source = answer_source(SOLUTIONS[test], EXERCISES[test])
    assert right in source
    result = _grade(test, source.replace(right, wrong))
    assert not result.passed and "(drawn at grading time)" in result.message, result


@pytest.mark.slow
def test_the_installed_package_carries_no_solution(tmp_path):
    """A plain install holds ``dinof_lite/`` only, and no file of it holds the code of a
    solution region: the sandbox may read the package, so it must hold no answer."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("dinof_lite-*.whl")
    regions = []
    for path in (ROOT / "notebooks" / "assignments").glob("A*_solution.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            found = re.search(
                r"### BEGIN SOLUTION\n(.*?)\n[ \t]*### END SOLUTION", cell.source, re.S
            )
            if found:
                regions.append("\n".join(line.strip() for line in found.group(1).splitlines()))
    assert len(regions) == 15  # A4 grades its one function in two test cells
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert all(n.split("/")[0].startswith("dinof_lite") for n in names), names
        for name in names:
            text = zf.read(name).decode("utf-8", errors="ignore")
            flat = "\n".join(line.strip() for line in text.splitlines())
            assert not any(region in flat for region in regions), name


def test_the_course_config_names_the_graders_by_import_path():
    """``nbgrader_config.py`` imports nothing: nbgrader imports the preprocessors when it
    autogrades and stops with an error if it cannot (a config that fails to load would be
    skipped, and the notebooks graded in the kernel)."""
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item

    from dinof_lite.coursework.course import config_text
    from dinof_lite.coursework.verdict import KernelRun, OutsideVerdict

    text = config_text(time_limit=12.5)
    assert "\nimport " not in text and "\nfrom " not in text
    config = Config()
    exec(compile(text, "nbgrader_config.py", "exec"), {"get_config": lambda: config})  # noqa: S102
    paths = config.Autograde.autograde_preprocessors
    classes = [import_item(p) for p in paths]
    assert classes.index(KernelRun) == 0
    assert classes.index(OutsideVerdict) == paths.index("nbgrader.preprocessors.SaveAutoGrades") - 1
    assert config.OutsideVerdict.time_limit == 12.5
