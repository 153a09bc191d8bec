"""A1, exercise (a): the forward SDE's marginals and sampler, graded outside the kernel.

Each answer runs its check at the notebook's defaults, then at drawn parameters (β's, σ's) on a
drawn batch, against :meth:`~dinof_lite.sde.SDE.marginal_prob` / ``perturb`` computed here. The
answers may use ``math`` and ``torch``; (a.3) may use ``sde.marginal_prob`` but not
``sde.perturb``, and none may use the library's SDE classes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks._core import Failed
from dinof_lite.coursework.graders._core import (
    LIBRARY,
    Exercise,
    combined,
    drawn_sde,
    expect_close,
    secret,
    uniform,
)
from dinof_lite.sde import VESDE, VPSDE

__all__ = ["EXERCISES", "batch"]

_CLASSES = {name: LIBRARY.format(name) for name in ("VPSDE", "VESDE", "subVPSDE", "SDE")}
_MARGINALS = {
    name: LIBRARY.format(name)
    for name in ("marginal_prob", "marginal_coeffs", "log_mean_coeff", "sigma", "perturb")
}


def batch(rng: torch.Generator, dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A drawn ``(x0 (B, D), t (B,))``: B in 3…9, D in 1…5 (or ``dim``), t in (1e-3, 1]."""
    b = int(torch.randint(3, 10, (), generator=rng))
    d = int(torch.randint(1, 6, (), generator=rng)) if dim is None else dim
    x0 = torch.randn(b, d, generator=rng) * 3
    return x0, torch.rand(b, generator=rng) * 0.999 + 1e-3


def _pair(answer: Callable, args: tuple, want: tuple, name: str) -> str:
    got = answer(*args)
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise Failed(f"{name} must return (mean, std), got {type(got).__name__}.")
    expect_close(got[0], want[0], "the mean")
    expect_close(got[1], want[1], "the std")
    return "right."


def grade_vp(answer: Callable, rng: torch.Generator):
    b0, b1 = uniform(rng, 0.05, 0.5), uniform(rng, 5.0, 30.0)
    x0, t = batch(rng)
    default = checks.check_vp_marginal(answer)
    drawn = checks.check_vp_marginal(answer, b0, b1)
    if drawn.passed:
        want = VPSDE(b0, b1).marginal_prob(x0, t)
        drawn = secret(
            "vp_marginal", "(a.1)", lambda: _pair(answer, (x0, t, b0, b1), want, "vp_marginal")
        )
    return combined(default, drawn, f"at β_min = {b0}, β_max = {b1}")


def grade_ve(answer: Callable, rng: torch.Generator):
    s0, s1 = uniform(rng, 0.005, 0.1), uniform(rng, 5.0, 80.0)
    x0, t = batch(rng)
    default = checks.check_ve_marginal(answer)
    drawn = checks.check_ve_marginal(answer, s0, s1)
    if drawn.passed:
        want = VESDE(s0, s1).marginal_prob(x0, t)
        drawn = secret(
            "ve_marginal", "(a.2)", lambda: _pair(answer, (x0, t, s0, s1), want, "ve_marginal")
        )
    return combined(default, drawn, f"at σ_min = {s0}, σ_max = {s1}")


def grade_forward(answer: Callable, rng: torch.Generator):
    vp, vp_text = drawn_sde(rng, ("vp",))
    others = [drawn_sde(rng, (kind,)) for kind in ("ve", "subvp")]
    default = checks.check_forward_sample(answer)
    drawn = checks.check_forward_sample(answer, vp)

    def grade() -> str:
        for sde, text in others:
            x0, t = batch(rng)
            z = torch.randn(x0.shape, generator=rng)
            expect_close(answer(x0, t, z, sde), sde.perturb(x0, t, z), f"x_t on {text}")
        return "right."

    if drawn.passed:
        drawn = secret("forward_sample", "(a.3)", grade)
    where = "on " + ", ".join([vp_text, *(text for _, text in others)])
    return combined(default, drawn, where)


EXERCISES = [
    Exercise("vp_marginal", "check_vp_marginal", "(a.1)", grade_vp, _CLASSES, _MARGINALS),
    Exercise("ve_marginal", "check_ve_marginal", "(a.2)", grade_ve, _CLASSES, _MARGINALS),
    Exercise(
        "forward_sample",
        "check_forward_sample",
        "(a.3)",
        grade_forward,
        _CLASSES,
        {
            "perturb": "(a.3) asks you to write x_t = a(t)·x0 + s(t)·z yourself; sde.perturb is "
            "the library's answer (sde.marginal_prob is allowed).",
        },
    ),
]
