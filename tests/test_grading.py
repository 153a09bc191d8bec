"""The teacher's pipeline with nbgrader on one temporary course folder, for A1–A6.

What a teacher types (notebooks/assignments/README.md): ``python -m dinof_lite assignments
--course DIR``, then in DIR ``nbgrader generate_assignment``, ``nbgrader zip_collect``,
``nbgrader autograde``, ``nbgrader generate_feedback`` and ``nbgrader export``. The module
fixture runs exactly those commands once on submissions built from the released notebooks:

- ``solution``: every solution cell filled in with the solution → full marks;
- ``unchanged``: the released notebook as handed out → zero, and no error but the checks';
- ``mistake<k>``: the solution with the typical mistake of exercise k (table :data:`MISTAKES`)
  → the points of the checks that still pass, and the check's message in the feedback.
"""

from __future__ import annotations

import csv
import html
import re
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from dinof_lite.cli import main
from dinof_lite.coursework.course import CODE_STUB, assignments, nbgrader
from dinof_lite.coursework.student_notebooks import stale_students

pytestmark = pytest.mark.slow  # nbgrader: a course folder, release, autograde, feedback

ROOT = Path(__file__).resolve().parents[1]

#: assignment → [(solution cell, line as solved, line with the mistake, score of the submission,
#: start of the check's message)], one typical mistake per exercise
MISTAKES: dict[str, list[tuple[str, str, str, float, str]]] = {
    "A1": [
        ("vp_marginal", "std = torch.sqrt(1.0 - torch.exp(2.0 * log_a))",
         "std = 1.0 - torch.exp(2.0 * log_a)", 2, "missing sqrt: you returned the variance"),
        ("ve_marginal", "return x0, torch.sqrt(sigma**2 - sigma_min**2)", "return x0, sigma", 3,
         "std = σ(t) is score_sde's approximation"),
        ("forward_sample", "return mean + std[:, None] * z", "return mean - std[:, None] * z", 3,
         "sign of the noise: x_t = a(t)·x0 + s(t)·z"),
    ],
    "A2": [
        ("dsm_loss", "return ((s[:, None] * score_fn(x_t, t) + z) ** 2).mean()",
         "return ((score_fn(x_t, t) + z / s[:, None]) ** 2).mean()", 4,
         "missing the λ(t) = s(t)² weighting"),
        ("em_step", "return x_mean + g[:, None] * math.sqrt(-dt) * z",
         "return x_mean + g[:, None] * z", 4, "noise not scaled by √|dt|"),
        ("langevin_step", "eps = (2 * alpha * (snr * ratio) ** 2)[:, None]",
         "eps = (alpha * (snr * ratio) ** 2)[:, None]", 4, "missing the 2 in ε = 2α"),
    ],
    "A3": [
        ("coupling_forward", "return torch.cat([x_a, y_b], dim=1), log_s.sum(dim=1)",
         "return torch.cat([x_a, y_b], dim=1), -log_s.sum(dim=1)", 2,
         "log-det sign: the forward map scales by s"),
        ("coupling_inverse", "return torch.cat([y_a, x_b], dim=1), -log_s.sum(dim=1)",
         "return torch.cat([y_a, x_b], dim=1), log_s.sum(dim=1)", 2,
         "log-det sign: the inverse's log-det is −Σ log_s"),
    ],
    "A4": [
        ("dinof_sample", "n_steps = round(sde.N * T_m)", "n_steps = int(sde.N * T_m)", 3,
         "wrong number of steps: 28 score evaluations, expected round(N·T_m)"),
    ],
    "A5": [  # dinof_log_likelihood calls the student's pf_drift and divergence
        ("pf_drift", "return f - 0.5 * g[:, None] ** 2 * score_fn(x, t)",
         "return f - g[:, None] ** 2 * score_fn(x, t)", 2,
         "missing ½: you returned the reverse SDE's drift"),
        ("divergence", "[0][:, i]", "[0].sum(1)", 1, "you summed the whole Jacobian"),
        ("dinof_log_likelihood", "model.context(T_m, x.shape[0])) + delta",
         "model.context(T_m, x.shape[0])) - delta", 3, "sign of the divergence integral"),
    ],
    "A6": [
        ("measure", '"nfe": res.nfe}', '"nfe": model.sde.N}', 1,
         "NFE counted as N = 200: DiNof runs only round(N·T_m)"),
        ("sweep", '"floor": noise_floor(gmm, n)["mmd"]', '"floor": mmd(data, data)', 3,
         "did you compare a set with itself?"),
        ("smallest_matching_T_m", 'limit = result["baseline"]["mmd"] + result["floor"]',
         'limit = result["baseline"]["mmd"]', 4, "matching criterion without the noise floor"),
    ],
}  # fmt: skip
FULL = {"A1": 4, "A2": 6, "A3": 4, "A4": 4, "A5": 6, "A6": 5}
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def _solved(released, source, mistake: tuple | None = None):
    """The released notebook with every solution cell filled in from ``source`` (as a student
    would type it: no markers) and, with ``mistake``, one line changed."""
    nb = nbformat.from_dict(released)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: _MARKER.sub("", c.source)
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id]
            if mistake and mistake[0] == grade_id:
                assert mistake[1] in cell.source, mistake
                cell.source = cell.source.replace(mistake[1], mistake[2])
    return nb


def _submissions(course: Path) -> dict[tuple[str, str], object]:
    """(assignment, student) → submitted notebook, built from release/ and source/."""
    subs = {}
    for a in assignments(ROOT):
        released = nbformat.read(course / "release" / a.id / f"{a.notebook}.ipynb", as_version=4)
        source = nbformat.read(course / "source" / a.id / f"{a.notebook}.ipynb", as_version=4)
        subs[a.id, "solution"] = _solved(released, source)
        subs[a.id, "unchanged"] = released
        for k, mistake in enumerate(MISTAKES[a.id], 1):
            subs[a.id, f"mistake{k}"] = _solved(released, source, mistake)
    return subs


@pytest.fixture(scope="module")
def course(tmp_path_factory, monkeypatch_module):
    """Run the whole pipeline once; returns (course folder, grades, seconds per step)."""
    course = tmp_path_factory.mktemp("course")
    times = {}
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    assert main(["assignments", "--course", str(course), "--root", str(ROOT)]) == 0
    nbgrader(course, "generate_assignment", "*", "--create")
    times["setup + generate_assignment"] = time.perf_counter() - t0
    ids = [a.id for a in assignments(ROOT)]
    names = {a.id: a.notebook for a in assignments(ROOT)}
    for (aid, student), nb in _submissions(course).items():  # what the LMS download holds
        archive = course / "downloaded" / aid / "archive"
        archive.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, archive / f"{student}_{names[aid]}.ipynb")

    def run_all(*commands: tuple[str, ...]) -> list[str]:
        with ThreadPoolExecutor(2) as pool:  # two nbgrader processes on the two cores
            return list(pool.map(lambda args: nbgrader(course, *args), commands))

    for step, commands in (
        ("zip_collect", [("zip_collect", aid) for aid in ids]),
        # one process each: two nbgrader processes writing one SQLite gradebook can fail
        ("autograde", [("autograde", "*")]),
        ("generate_feedback", [("generate_feedback", "*")]),
        ("export", [("export", "--to", "grades.csv")]),
    ):
        t0 = time.perf_counter()
        logs = run_all(*commands)
        times[step] = time.perf_counter() - t0
        for log in logs:
            assert "[ERROR]" not in log and "CRITICAL" not in log, log[-3000:]
    with open(course / "grades.csv", newline="") as f:
        grades = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}
    print("pipeline seconds:", {k: round(v, 1) for k, v in times.items()})
    print(f"pipeline CPU seconds (nbgrader and its kernels): {_cpu_seconds() - cpu0:.1f}")
    return course, grades, names


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("OMP_NUM_THREADS", "1")  # two kernels at a time share the two cores
    yield mp
    mp.undo()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _feedback(course: Path, student: str, aid: str, names: dict) -> str:
    path = course / "feedback" / student / aid / f"{names[aid]}.html"
    return html.unescape(path.read_text(encoding="utf-8"))


def _errors(course: Path, student: str, aid: str, names: dict) -> list[str]:
    nb = nbformat.read(course / "autograded" / student / aid / f"{names[aid]}.ipynb", 4)
    return [o.ename for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("aid", list(FULL))
def test_solution_scores_full_marks(course, aid):
    course_dir, grades, names = course
    row = grades[aid, "solution"]
    assert float(row["max_score"]) == FULL[aid]
    assert float(row["score"]) == FULL[aid], row
    assert _errors(course_dir, "solution", aid, names) == []
    assert "not attempted" not in _feedback(course_dir, "solution", aid, names)


@pytest.mark.parametrize("aid", list(FULL))
def test_unchanged_handout_scores_zero_without_grader_error(course, aid):
    course_dir, grades, names = course
    assert float(grades[aid, "unchanged"]["score"]) == 0.0
    errors = _errors(course_dir, "unchanged", aid, names)
    released = nbformat.read(course_dir / "release" / aid / f"{names[aid]}.ipynb", 4)
    tests = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert errors == ["CheckNotPassed"] * len(tests), errors  # each test cell fails, no crash
    feedback = _feedback(course_dir, "unchanged", aid, names)
    assert "not attempted" in feedback and CODE_STUB.split('"')[1] in feedback


@pytest.mark.parametrize(
    ("aid", "k"), [(aid, k) for aid, ms in MISTAKES.items() for k in range(1, len(ms) + 1)]
)
def test_typical_mistake_scores_partial_marks_and_its_message_reaches_feedback(course, aid, k):
    course_dir, grades, names = course
    grade_id, _, _, points, message = MISTAKES[aid][k - 1]
    score = float(grades[aid, f"mistake{k}"]["score"])
    assert 0 < score < FULL[aid] and score == points, (grade_id, score)
    assert set(_errors(course_dir, f"mistake{k}", aid, names)) == {"CheckNotPassed"}
    assert message in _feedback(course_dir, f"mistake{k}", aid, names), grade_id


def test_committed_student_notebooks_are_nbgraders_release(course):
    course_dir, _, names = course
    released = {
        a: nbformat.read(course_dir / "release" / a.id / f"{a.notebook}.ipynb", as_version=4)
        for a in assignments(ROOT)
    }
    assert stale_students(ROOT, released) == [], "run `python -m dinof_lite assignments`"


def test_exported_grades_list_every_submission(course):
    course_dir, grades, _ = course
    submitted = {
        (p.parent.name, p.parent.parent.name)
        for p in (course_dir / "submitted").glob("*/*/*.ipynb")
    }
    assert len(submitted) == sum(2 + len(m) for m in MISTAKES.values())
    assert submitted <= set(grades)
    for key in submitted:
        assert grades[key]["timestamp"] is not None and grades[key]["max_score"], key


def test_require_is_silent_for_a_student_and_fails_the_cell_under_the_grader(monkeypatch):
    from dinof_lite.coursework.checks import CheckResult
    from dinof_lite.coursework.grading import GRADER_VARIABLE, CheckNotPassed, require

    failed = CheckResult("vp_marginal", "failed", "missing sqrt: you returned the variance.")
    passed = CheckResult("vp_marginal", "passed", "matches.")
    monkeypatch.delenv(GRADER_VARIABLE, raising=False)
    assert require(failed) is None and require(passed) is None
    for mode in ("autograde", "validate"):
        monkeypatch.setenv(GRADER_VARIABLE, mode)
        assert require(passed) is None
        with pytest.raises(CheckNotPassed, match="❌ vp_marginal: failed. missing sqrt"):
            require(failed)
    with pytest.raises(TypeError, match=r"grading.require\(checks.check_vp_marginal"):
        require("vp_marginal")
