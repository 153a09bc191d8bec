"""A5, exercises (f)–(h): DiNof's exact likelihood, graded outside the kernel.

Score functions, test drifts and models stay in the grader's process; the answer calls them
back and differentiates through them (the backward passes are vector-Jacobian products computed
here). (h) is the student's own (f), (g) and (h) cells together. Secret parts: an SDE of a drawn
kind and parameters for (f); a drift with a drawn dimension and weights, whose divergence is
computed here by autograd, for (g); for (h) the oracle model with drawn ``train_eps``, ``T_m``
and ``β``'s, whose exact ``log p_eps`` is the mixture's own.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks._core import Failed, expect_tensor, fmt
from dinof_lite.coursework.checks.likelihood import (
    LIKELIHOOD_TOL,
    OracleDiNof,
    check_structure,
    probe_points,
)
from dinof_lite.coursework.graders._core import (
    LIBRARY,
    Exercise,
    combined,
    drawn_sde,
    expect_close,
    secret,
    uniform,
)
from dinof_lite.coursework.graders.forward import batch
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sampling.likelihood import divergence_exact
from dinof_lite.sde import VPSDE

__all__ = ["EXERCISES"]

_NAMES = {"torch": "torch", "math": "math"}
_FORBIDDEN = {
    name: LIBRARY.format(name)
    for name in ("GaussianMixture", "load_dinof", "divergence_exact", "divergence_hutchinson",
                 "ode_likelihood", "OracleDiNof", "reference_log_likelihood")
}  # fmt: skip
_ATTRIBUTES = {
    name: LIBRARY.format(f".{name}")
    for name in ("reverse", "log_likelihood", "ode_likelihood", "marginal", "marginal_log_prob",
                 "divergence_exact", "prior_logp")
}  # fmt: skip


def grade_pf_drift(answer: Callable, rng: torch.Generator):
    sde, text = drawn_sde(rng)
    x, t = batch(rng, dim=2)
    x, t = x.double(), t.double().clamp(min=0.02)
    score_fn = GaussianMixture.preset("8gaussians").score_fn(sde)

    def grade() -> str:
        f, g = sde.sde(x, t)
        want = f - 0.5 * g[:, None] ** 2 * score_fn(x, t)
        with torch.no_grad():
            expect_close(answer(sde, score_fn, x, t), want, "the drift", 1e-5)
        return "right."

    default = checks.check_pf_drift(answer)
    drawn = secret("pf_drift", "(f)", grade) if default.passed else default
    return combined(default, drawn, f"on {text}")


def grade_divergence(answer: Callable, rng: torch.Generator):
    dim = int(torch.randint(3, 5, (), generator=rng))  # the check's drift has 2
    weights = torch.randn(dim, dim, generator=rng, dtype=torch.float64)
    shift = torch.randn(dim, generator=rng, dtype=torch.float64)
    x, t = batch(rng, dim=dim)
    x, t = x.double(), t.double()

    def drift(y, s):  # a non-symmetric Jacobian that depends on y and s
        return torch.tanh(y @ weights.T + shift) + s[:, None] * y**2

    def grade() -> str:
        with torch.enable_grad():
            xr = x.clone().requires_grad_(True)
            want = divergence_exact(drift(xr, t), xr).detach()
        expect_close(answer(drift, x, t), want, "the divergence", 1e-5)
        return "right."

    default = checks.check_divergence(answer)
    drawn = secret("divergence", "(g)", grade) if default.passed else default
    return combined(default, drawn, f"on a drift in {dim} dimensions with drawn weights")


def grade_log_likelihood(answer: Callable, rng: torch.Generator):
    b0, b1 = uniform(rng, 0.05, 0.3), uniform(rng, 10.0, 25.0)
    train_eps, T_m = uniform(rng, 0.01, 0.04), uniform(rng, 0.3, 0.5, 2)  # the model's is 0.6
    sample_eps = round(train_eps + 0.03, 3)
    gmm, sde = GaussianMixture.preset("8gaussians"), VPSDE(b0, b1)
    x = probe_points(gmm, 6, int(torch.randint(1, 10_000, (), generator=rng)))

    def grade() -> str:
        oracle = OracleDiNof(gmm, sde, train_eps=train_eps, T_m=0.6, sample_eps=sample_eps)
        truth = gmm.marginal(sde, train_eps).log_prob(x)
        got = answer(oracle, x.clone(), T_m)
        got = expect_tensor(got, (x.shape[0],), "log p_eps(x)").detach().double()
        check_structure(oracle, T_m)
        err = float((got - truth).abs().max())
        if err > LIKELIHOOD_TOL:
            raise Failed(f"log p_eps(x) is off the exact density by up to {fmt(err)} nats.")
        return "right."

    default = checks.check_dinof_log_likelihood(answer)
    drawn = secret("dinof_log_likelihood", "(h)", grade) if default.passed else default
    where = f"with β = ({b0}, {b1}), train_eps = {train_eps} and T_m = {T_m}"
    return combined(default, drawn, where)


EXERCISES = [
    Exercise("pf_drift", "check_pf_drift", "(f)", grade_pf_drift, _FORBIDDEN, _ATTRIBUTES,
             names=_NAMES),
    Exercise("divergence", "check_divergence", "(g)", grade_divergence, _FORBIDDEN, _ATTRIBUTES,
             names=_NAMES),
    Exercise(
        "dinof_log_likelihood", "check_dinof_log_likelihood", "(h)", grade_log_likelihood,
        _FORBIDDEN, _ATTRIBUTES, cells=("pf_drift", "divergence", "dinof_log_likelihood"),
        names=_NAMES, time_factor=3.0,
    ),
]  # fmt: skip
