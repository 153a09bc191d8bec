"""Out-of-kernel graders: each exercise's rules and the checks it runs on a sandboxed answer.

An :class:`Exercise` names the solution cell(s) that hold the answer, the test cell it scores,
what the answer may not use (the implementation it asks for) and its ``grade`` function, which
calls the sandboxed answer through a proxy (:class:`~dinof_lite.coursework.sandbox.Sandbox`)
from the grader's own process: the same ``check_*`` the student ran in class, once at the
defaults and once at parameters drawn at grading time, then a comparison with the library on
inputs drawn at grading time. Only numbers cross the process boundary; the references are
computed here. :func:`grade_answer` is the whole verdict of one test cell, without nbgrader.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks import CheckResult
from dinof_lite.coursework.checks._core import close, fmt
from dinof_lite.coursework.sandbox import Sandbox, SandboxError, refusal
from dinof_lite.sde import VESDE, VPSDE, subVPSDE

__all__ = ["Exercise", "EXERCISES", "answer_source", "grade_answer"]

_LIBRARY = "the library's {} is the answer to this exercise; write it yourself."


@dataclass(frozen=True)
class Exercise:
    """One graded exercise. ``grade(call, rng)`` returns the :class:`CheckResult`; ``call(*args)``
    runs the answer's function in the sandbox."""

    function: str
    test: str
    label: str
    grade: Callable[[Callable, torch.Generator], CheckResult]
    forbidden: dict[str, str] = field(default_factory=dict)
    forbidden_attributes: dict[str, str] = field(default_factory=dict)
    cells: tuple[str, ...] = ()
    sdes: bool = False

    @property
    def solution_cells(self) -> tuple[str, ...]:
        return self.cells or (self.function,)


def _quiet(check: Callable, *args) -> CheckResult:
    with contextlib.redirect_stdout(io.StringIO()):
        return check(*args)


def _uniform(rng: torch.Generator, low: float, high: float) -> float:
    return round(low + (high - low) * float(torch.rand((), generator=rng)), 3)


def _batch(rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    b, d = (int(torch.randint(lo, hi, (), generator=rng)) for lo, hi in ((3, 10), (1, 6)))
    x0 = torch.randn(b, d, generator=rng) * 3
    t = torch.rand(b, generator=rng) * 0.999 + 1e-3
    return x0, t


def _combined(name: str, at_default: CheckResult, secret: CheckResult, where: str) -> CheckResult:
    """The default check's result unless it passed; then the secret one's, said where."""
    if not at_default.passed:
        return at_default
    if not secret.passed:
        return CheckResult(
            name, secret.status, f"{where} (drawn at grading time): {secret.message}"
        )
    return CheckResult(name, "passed", f"{at_default.message} Also right {where} and on inputs "
                       "drawn at grading time.")  # fmt: skip


def _compare_pairs(name: str, got, want: tuple, what: str) -> CheckResult:
    def grade() -> str:
        if not isinstance(got, tuple) or len(got) != len(want):
            raise checks._core.Failed(f"{name} must return {len(want)} values.")
        for g, w, label in zip(got, want, what.split()):
            if not isinstance(g, torch.Tensor) or g.shape != w.shape:
                raise checks._core.Failed(f"{label} has the wrong type or shape on new inputs.")
            if not close(g, w, 1e-4):
                error = fmt((g.double() - w.double()).abs().max())
                raise checks._core.Failed(
                    f"{label} is wrong on new inputs (max error {error}): does it use every "
                    "argument?"
                )
        return "right."

    return checks.run_check(name, "", grade, show=False)


def _grade_vp(call: Callable, rng: torch.Generator) -> CheckResult:
    b0, b1 = _uniform(rng, 0.05, 0.5), _uniform(rng, 5.0, 30.0)
    x0, t = _batch(rng)
    default = _quiet(checks.check_vp_marginal, call)
    secret = _quiet(checks.check_vp_marginal, call, b0, b1)
    if secret.passed:
        secret = _compare_pairs("vp_marginal", _try(call, x0, t, b0, b1),
                                VPSDE(b0, b1).marginal_prob(x0, t), "mean std")  # fmt: skip
    return _combined("vp_marginal", default, secret, f"at β_min = {b0}, β_max = {b1}")


def _grade_ve(call: Callable, rng: torch.Generator) -> CheckResult:
    s0, s1 = _uniform(rng, 0.005, 0.1), _uniform(rng, 5.0, 80.0)
    x0, t = _batch(rng)
    default = _quiet(checks.check_ve_marginal, call)
    secret = _quiet(checks.check_ve_marginal, call, s0, s1)
    if secret.passed:
        secret = _compare_pairs("ve_marginal", _try(call, x0, t, s0, s1),
                                VESDE(s0, s1).marginal_prob(x0, t), "mean std")  # fmt: skip
    return _combined("ve_marginal", default, secret, f"at σ_min = {s0}, σ_max = {s1}")


def _grade_forward(call: Callable, rng: torch.Generator) -> CheckResult:
    b0, b1 = _uniform(rng, 0.05, 0.5), _uniform(rng, 5.0, 30.0)
    s0, s1 = _uniform(rng, 0.005, 0.1), _uniform(rng, 5.0, 80.0)
    default = _quiet(checks.check_forward_sample, call)
    secret = _quiet(checks.check_forward_sample, call, VPSDE(b0, b1))
    for sde in (VESDE(s0, s1), subVPSDE(b0, b1)):
        if not secret.passed:
            break
        x0, t = _batch(rng)
        z = torch.randn(x0.shape, generator=rng)
        secret = _compare_pairs("forward_sample", (_try(call, x0, t, z, sde),),
                                (sde.perturb(x0, t, z),), "x_t")  # fmt: skip
    where = f"on VP(β {b0}, {b1}), VE(σ {s0}, {s1}) and sub-VP(β {b0}, {b1})"
    return _combined("forward_sample", default, secret, where)


def _try(call: Callable, *args):
    try:
        return call(*args)
    except (SandboxError, NotImplementedError) as err:
        return err


_SDE_CLASSES = {name: _LIBRARY.format(name) for name in ("VPSDE", "VESDE", "subVPSDE", "SDE")}
_MARGINALS = {
    "marginal_prob": _LIBRARY.format("marginal_prob"),
    "marginal_coeffs": _LIBRARY.format("marginal_coeffs"),
    "log_mean_coeff": _LIBRARY.format("log_mean_coeff"),
    "sigma": _LIBRARY.format("VESDE.sigma"),
    "perturb": _LIBRARY.format("perturb"),
}

#: test cell grade id → its exercise (A1 so far; other test cells keep the kernel's verdict)
EXERCISES: dict[str, Exercise] = {
    e.test: e
    for e in (
        Exercise("vp_marginal", "check_vp_marginal", "(a.1)", _grade_vp, _SDE_CLASSES, _MARGINALS),
        Exercise("ve_marginal", "check_ve_marginal", "(a.2)", _grade_ve, _SDE_CLASSES, _MARGINALS),
        Exercise(
            "forward_sample",
            "check_forward_sample",
            "(a.3)",
            _grade_forward,
            _SDE_CLASSES,
            {
                "perturb": "(a.3) asks you to write x_t = a(t)·x0 + s(t)·z yourself; "
                "sde.perturb is the library's answer (sde.marginal_prob is allowed).",
            },
            sdes=True,
        ),
    )
}


def answer_source(nb, exercise: Exercise) -> str:
    """The code of ``exercise``'s solution cells in the submitted notebook ``nb``."""
    parts = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in exercise.solution_cells:
            parts.append(cell.source)
    return "\n\n".join(parts)


def grade_answer(
    exercise: Exercise, source: str, seed: int, *, time_limit: float = 60.0, memory_mb: int = 4096
) -> CheckResult:
    """The verdict on ``source`` for ``exercise``: refused by the static rules, or run in a
    sandbox and checked here at the defaults and at values drawn from ``seed``."""
    name = exercise.function
    rule = refusal(source, exercise.forbidden, exercise.forbidden_attributes)
    if rule is not None:
        return CheckResult(
            name, "failed", f"refused by the grader's rules for {exercise.label}: {rule}"
        )
    rng = torch.Generator().manual_seed(seed)
    try:
        with Sandbox(source, time_limit=time_limit, memory_mb=memory_mb, sdes=exercise.sdes) as box:
            result = exercise.grade(lambda *args: box.call(name, *args), rng)
    except SandboxError as err:
        return CheckResult(name, "error", f"Exercise {exercise.label} `{name}`: {err}")
    if result.status == "error" and "SandboxError" in result.message:
        result = CheckResult(name, "error", result.message.replace("raised SandboxError: ", ""))
    return result
