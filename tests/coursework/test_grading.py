"""The teacher's pipeline with nbgrader on one temporary course folder, for A1–A6.

What a teacher types (notebooks/assignments/README.md): ``python -m dinof_lite assignments
--course DIR``, then in DIR ``nbgrader generate_assignment``, ``nbgrader zip_collect``,
``nbgrader autograde``, ``nbgrader generate_feedback`` and ``nbgrader export``. The module
fixture runs exactly those commands once on submissions built from the released notebooks:

- ``solution``: every solution cell filled in with the solution → full marks;
- ``unchanged``: the released notebook as handed out → zero, and no error but the checks';
- ``mistake<k>``: the solution with the typical mistake of exercise k (table :data:`MISTAKES`)
  → the points of the checks that still pass, and the check's message in the feedback.

The verdicts come from outside the student's kernel (``OutsideVerdict``). A second course runs
A1 alone on the catalogue of tests/_answers.py in one ``nbgrader autograde``: correct answers in
six styles (full marks), tricks that try to forge the grade (zero), answers that hang or end
their process (the rest of the notebook scored, within the time limit), and the feedback and
the gradebook agree for every submission.
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
from tests._answers import BREAKERS, CELL_EDITS, CORRECT, TRICKS
from tests._answers import FULL as FULL_A1

pytestmark = pytest.mark.slow  # nbgrader: a course folder, release, autograde, feedback

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # nbgrader pipelines: minutes of kernels and sandboxes

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
    mp.setenv("PYTHONPATH", str(ROOT))  # nbgrader_config.py imports this dinof_lite
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


# --------------------------------------------------------------------------- A1: forged grades
A1_POINTS = {"check_vp_marginal": 2, "check_ve_marginal": 1, "check_forward_sample": 1}
A1_TIME_LIMIT = 8  # seconds per exercise in the test course
A1_STUDENTS = {
    **{f"correct-{k}": v for k, v in CORRECT.items()},
    **{f"trick-{k}": v for k, v in TRICKS.items()},
    **{f"breaks-{k}": v for k, (v, _) in BREAKERS.items()},
}


def _a1_submission(released, student: str):
    """The released A1 with ``student``'s answers in its solution cells (and its edits of
    locked cells, which nbgrader restores)."""
    answers = A1_STUDENTS[student]
    edits = CELL_EDITS.get(student.split("-", 1)[1], {})
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
        if grade_id in edits:
            cell.source = edits[grade_id]
    return nb


@pytest.fixture(scope="module")
def a1_course(tmp_path_factory, monkeypatch_module):
    """One A1 course, every submission of tests/_answers.py autograded by one nbgrader process;
    returns (course, grades, seconds of autograde per submission)."""
    course = tmp_path_factory.mktemp("a1_course")
    assert main(["assignments", "--course", str(course), "--root", str(ROOT)]) == 0
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as f:
        f.write(f"c.OutsideVerdict.time_limit = {A1_TIME_LIMIT}\n")
    nbgrader(course, "generate_assignment", "A1", "--create")
    released = nbformat.read(course / "release" / "A1" / "A1_forward_sde.ipynb", as_version=4)
    for student in A1_STUDENTS:
        folder = course / "submitted" / student / "A1"
        folder.mkdir(parents=True)
        nbformat.write(_a1_submission(released, student), folder / "A1_forward_sde.ipynb")
    t0 = time.perf_counter()
    log = nbgrader(course, "autograde", "A1")
    per_submission = (time.perf_counter() - t0) / len(A1_STUDENTS)
    assert "[ERROR]" not in log and "CRITICAL" not in log, log[-3000:]
    nbgrader(course, "generate_feedback", "A1")
    nbgrader(course, "export", "--to", "grades.csv")
    with open(course / "grades.csv", newline="") as f:
        grades = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    print(f"A1 autograde: {per_submission:.1f} s per submission, {len(A1_STUDENTS)} submissions")
    return course, grades, per_submission


def _a1_cells(course: Path, student: str) -> dict[str, tuple[bool, str]]:
    """Test cell → (passed, its text) as the autograded notebook records them."""
    nb = nbformat.read(course / "autograded" / student / "A1" / "A1_forward_sde.ipynb", 4)
    cells = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in A1_POINTS:
            errors = [o for o in cell.outputs if o.output_type == "error"]
            text = errors[0].evalue if errors else "".join(o.get("text", "") for o in cell.outputs)
            cells[grade_id] = (not errors, text)
    return cells


def _agree(course: Path, grades: dict, student: str) -> dict[str, tuple[bool, str]]:
    """The autograded cells, after asserting the gradebook's score is their points and the
    feedback shows each cell's verdict."""
    cells = _a1_cells(course, student)
    assert set(cells) == set(A1_POINTS), cells
    assert grades[student] == sum(A1_POINTS[g] for g, (ok, _) in cells.items() if ok), cells
    feedback = html.unescape(
        (course / "feedback" / student / "A1" / "A1_forward_sde.html").read_text("utf-8")
    )
    for ok, text in cells.values():
        assert text.startswith("✅" if ok else ("❌", "💥", "⏳")), text
        assert text.strip().splitlines()[0][:60] in feedback
    return cells


def _notes(course: Path, student: str) -> str:
    return (course / "grading_notes" / "A1" / f"{student}.txt").read_text("utf-8")


@pytest.mark.parametrize("variant", list(CORRECT))
def test_a1_correct_answers_in_any_style_score_full_marks(a1_course, variant):
    course, grades, _ = a1_course
    cells = _agree(course, grades, f"correct-{variant}")
    assert grades[f"correct-{variant}"] == FULL_A1, cells
    assert all("drawn at grading time" in text for _, text in cells.values()), cells


@pytest.mark.parametrize("trick", list(TRICKS))
def test_a1_forged_answers_score_zero(a1_course, trick):
    course, grades, _ = a1_course
    cells = _agree(course, grades, f"trick-{trick}")
    assert grades[f"trick-{trick}"] == 0, cells
    if trick.startswith("library"):
        assert all("not allowed" in text for _, text in cells.values()), cells
    if trick == "ignores_arguments":
        for grade_id in ("check_vp_marginal", "check_ve_marginal"):
            assert "(drawn at grading time)" in cells[grade_id][1], cells


def test_a1_the_gradebook_holds_no_score_an_answer_wrote(a1_course):
    import sqlite3

    course, _, _ = a1_course
    with sqlite3.connect(course / "gradebook.db") as db:
        assert (
            db.execute("select count(*) from grade where manual_score is not null").fetchone()[0]
            == 0
        )


@pytest.mark.parametrize("breaker", list(BREAKERS))
def test_a1_hanging_or_exiting_answer_scores_the_rest_within_the_time_limit(a1_course, breaker):
    course, grades, _ = a1_course
    cells = _agree(course, grades, f"breaks-{breaker}")
    assert grades[f"breaks-{breaker}"] == BREAKERS[breaker][1], cells
    notes = _notes(course, f"breaks-{breaker}")
    assert "grading seed" in notes and "to look at:" in notes, notes
    seconds = [float(s) for s in re.findall(r": \w[\w ]* in ([\d.]+) s", notes)]
    assert len(seconds) == 3 and max(seconds) < A1_TIME_LIMIT + 30, notes  # + process start


def test_a1_notes_name_the_seed_and_every_exercise(a1_course):
    course, _, per_submission = a1_course
    seeds = set()
    for student in A1_STUDENTS:
        notes = _notes(course, student)
        seeds.add(re.search(r"grading seed (\d+)", notes).group(1))
        assert all(f"{grade_id}: " in notes for grade_id in A1_POINTS), notes
    assert len(seeds) == len(A1_STUDENTS)  # a fresh seed for every notebook
    assert per_submission < 3 * A1_TIME_LIMIT
