"""What every out-of-kernel grader shares: :class:`Exercise`, secret draws, :func:`grade_answer`.

An exercise's ``grade(answer, rng)`` runs in the grader's own process. ``answer(*args)`` calls
the student's function in its sandbox (:class:`~dinof_lite.coursework.sandbox.Sandbox`); the
grade first runs the same ``check_*`` the student ran in class (at the defaults), then checks
the answer at parameters and on inputs drawn from ``rng``, whose seed the student never sees,
against references computed here. :func:`combined` joins the two into one
:class:`~dinof_lite.coursework.checks.CheckResult`, the cell's verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dinof_lite.coursework.checks import CheckResult, run_check
from dinof_lite.coursework.checks._core import Failed, close, fmt, quiet
from dinof_lite.coursework.rules import refusal
from dinof_lite.coursework.sandbox import Sandbox, SandboxError
from dinof_lite.sde import VESDE, VPSDE, subVPSDE

__all__ = [
    "BASIC",
    "LIBRARY",
    "Exercise",
    "Graded",
    "answer_source",
    "grade_answer",
    "combined",
    "secret",
    "uniform",
    "drawn_sde",
    "expect_close",
]

#: what every answer finds defined (each notebook imports them)
BASIC = {"math": "math", "torch": "torch"}
#: the reason shown for a forbidden name: "the library's X is the answer to this exercise; …"
LIBRARY = "the library's {} is the answer to this exercise; write it yourself."


@dataclass(frozen=True)
class Exercise:
    """One graded test cell.

    Attributes:
        function: the answer's function (its solution cell has this grade id).
        test: the test cell's grade id (``check_vp_marginal``).
        label: the exercise's label in the notebook (``(a.1)``).
        grade: ``grade(answer, rng) -> CheckResult``; ``answer(*args)`` calls the function.
        forbidden: names the answer may not use anywhere → the reason shown.
        forbidden_attributes: attributes it may not use (``.perturb``) → the reason.
        cells: the solution cells that make up the answer (default: ``(function,)``; (h) uses
            the student's own (f) and (g)).
        names: what the answer finds defined, name → ``"module"`` / ``"module:attribute"``:
            the notebook's imports that the exercise allows.
        time_factor: the course's time limit per exercise, times this.
    """

    function: str
    test: str
    label: str
    grade: Callable[[Callable, torch.Generator], CheckResult]
    forbidden: dict[str, str] = field(default_factory=dict)
    forbidden_attributes: dict[str, str] = field(default_factory=dict)
    cells: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=lambda: dict(BASIC))
    time_factor: float = 1.0

    @property
    def solution_cells(self) -> tuple[str, ...]:
        return self.cells or (self.function,)


@dataclass(frozen=True)
class Graded:
    """:func:`grade_answer`'s outcome: the verdict, the seconds it took and how the answer's
    process was cut off from the network."""

    result: CheckResult
    seconds: float
    network: str


# --------------------------------------------------------------------------- secret draws
def uniform(rng: torch.Generator, low: float, high: float, digits: int = 3) -> float:
    """A number in ``[low, high]`` from ``rng``, rounded (so messages stay short)."""
    return round(low + (high - low) * float(torch.rand((), generator=rng)), digits)


def drawn_sde(rng: torch.Generator, kinds: tuple[str, ...] = ("vp", "ve", "subvp")):
    """``(sde, description)``: one of ``kinds`` with parameters drawn from ``rng``."""
    kind = kinds[int(torch.randint(len(kinds), (), generator=rng))]
    if kind == "ve":
        s0, s1 = uniform(rng, 0.005, 0.1), uniform(rng, 5.0, 60.0)
        return VESDE(s0, s1), f"VE(σ_min = {s0}, σ_max = {s1})"
    b0, b1 = uniform(rng, 0.05, 0.5), uniform(rng, 5.0, 30.0)
    cls = VPSDE if kind == "vp" else subVPSDE
    return cls(b0, b1), f"{'VP' if kind == 'vp' else 'sub-VP'}(β_min = {b0}, β_max = {b1})"


def expect_close(got, want: torch.Tensor, what: str, tol: float = 1e-4) -> None:
    """Fail unless ``got`` is a tensor of ``want``'s shape within ``tol`` (relative)."""
    if not torch.is_tensor(got) or tuple(got.shape) != tuple(want.shape):
        shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
        raise Failed(f"{what}: expected a tensor of shape {tuple(want.shape)}, got {shape}.")
    if not close(got, want, tol):
        error = (got.detach().double() - want.detach().double()).abs().max()
        raise Failed(f"{what} is wrong (max error {fmt(error)}): does it use every argument?")


def secret(name: str, label: str, grade: Callable[[], str]) -> CheckResult:
    """``run_check`` of the secret part, quietly."""
    with quiet():
        return run_check(name, label, grade, show=False)


def combined(default: CheckResult, secret_result: CheckResult, where: str) -> CheckResult:
    """The default check's result unless it passed; then the secret part's, saying where."""
    if not default.passed:
        return default
    name = default.name
    if not secret_result.passed:
        return CheckResult(
            name,
            "failed" if secret_result.status == "not attempted" else secret_result.status,
            f"{where} (drawn at grading time): {secret_result.message}",
        )
    return CheckResult(
        name, "passed", f"{default.message} Also right {where}, drawn at grading time."
    )


# --------------------------------------------------------------------------- the verdict
def answer_source(nb, exercise: Exercise) -> str:
    """The code of ``exercise``'s solution cells in the submitted notebook ``nb``, in order."""
    parts = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        solution = cell.cell_type == "code" and meta.get("solution")
        if solution and meta.get("grade_id") in exercise.solution_cells:
            parts.append(cell.source)
    return "\n\n".join(parts)


def grade_answer(
    exercise: Exercise,
    source: str,
    seed: int,
    *,
    time_limit: float = 60.0,
    memory_mb: int = 4096,
) -> Graded:
    """The verdict on ``source`` for ``exercise``: refused by the static rules, or run in a
    sandbox and checked here at the defaults and at values drawn from ``seed``."""
    t0 = time.perf_counter()
    name = exercise.function
    rule = refusal(source, exercise.forbidden, exercise.forbidden_attributes)
    if rule is not None:
        message = f"refused by the grader's rules for {exercise.label}: {rule}"
        return Graded(CheckResult(name, "failed", message), time.perf_counter() - t0, "none")
    rng = torch.Generator().manual_seed(seed)
    limit = time_limit * exercise.time_factor
    network = "not started"
    try:
        with Sandbox(source, exercise.names, time_limit=limit, memory_mb=memory_mb) as box:
            network = box.network
            with quiet():
                result = exercise.grade(lambda *a, **k: box.call(name, *a, **k), rng)
    except SandboxError as err:
        result = CheckResult(name, "error", f"Exercise {exercise.label} `{name}`: {err}")
    if result.status == "error" and "` raised SandboxError: " in result.message:
        message = result.message.replace("` raised SandboxError: ", "`: ").split("\nHint:")[0]
        result = CheckResult(name, "error", message)
    return Graded(result, time.perf_counter() - t0, network)
