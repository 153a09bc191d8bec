"""A2, exercises (b) and (c): the DSM loss and one predictor–corrector step, graded outside the
kernel.

The score functions stay in the grader's process; the answer calls them back (and
differentiates through them: (b) must return a loss whose gradient reaches the score's
trainable weight). Secret parts: an SDE of a drawn kind and parameters, a drawn step ``dt``,
``snr`` and ``α``, against :func:`dinof_lite.losses.dsm_loss`, the reverse SDE and
:func:`~dinof_lite.sampling.correctors.langevin_step_size` computed here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dinof_lite import losses
from dinof_lite.coursework import checks
from dinof_lite.coursework.checks._core import Failed, close, fmt
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
from dinof_lite.sampling.correctors import langevin_step_size

__all__ = ["EXERCISES"]

_NAMES = {"math": "math", "torch": "torch"}
_SOLVERS = {
    name: LIBRARY.format(name)
    for name in ("library_dsm_loss", "dsm_loss_fn", "EulerMaruyamaPredictor",
                 "LangevinCorrector", "langevin_step_size", "VPSDE", "GaussianMixture")
}  # fmt: skip


def _gmm() -> GaussianMixture:
    return GaussianMixture.preset("8gaussians")


def grade_dsm(answer: Callable, rng: torch.Generator):
    sde, text = drawn_sde(rng)
    x0, t = batch(rng, dim=2)
    z = torch.randn(x0.shape, generator=rng)
    w = torch.nn.Parameter(torch.tensor(uniform(rng, -0.5, 0.5)))
    gmm = _gmm()

    def score_fn(x, s):  # an imperfect score with a trainable weight, as in the check
        return 0.8 * gmm.score(x, s, sde) + w * x

    def grade() -> str:
        got = answer(score_fn, x0, t, z, sde)
        ref = losses.dsm_loss(sde, score_fn, x0, t=t, z=z, reduce_mean=True)
        if not torch.is_tensor(got) or got.shape != ():
            raise Failed("the loss must be a scalar tensor of shape ().")
        if not close(got, ref, 1e-4):
            raise Failed(f"the loss is {fmt(got)}, expected {fmt(ref)}.")
        if not got.requires_grad:
            raise Failed("the loss is detached from the score function's weight.")
        grad, want = torch.autograd.grad(got, w)[0], torch.autograd.grad(ref, w)[0]
        if not close(grad, want, 1e-4):
            raise Failed(f"the loss's gradient is {fmt(grad)}, expected {fmt(want)}.")
        return "right."

    default = checks.check_dsm_loss(answer)
    drawn = secret("dsm_loss", "(b)", grade) if default.passed else default
    return combined(default, drawn, f"on {text} with {x0.shape[0]} drawn points")


def grade_em(answer: Callable, rng: torch.Generator):
    sde, text = drawn_sde(rng)
    dt = -uniform(rng, 0.002, 0.05)
    x, t = batch(rng, dim=2)
    t = t.clamp(min=0.05)
    z = torch.randn(x.shape, generator=rng)
    score_fn = _gmm().score_fn(sde)

    def grade() -> str:
        f, g = sde.sde(x, t)
        g = g[:, None]
        want = x + (f - g**2 * score_fn(x, t)) * dt + g * (-dt) ** 0.5 * z
        expect_close(answer(x, t, dt, z, sde, score_fn), want, "x_new")
        return "right."

    default = checks.check_em_step(answer)
    drawn = secret("em_step", "(c)", grade) if default.passed else default
    return combined(default, drawn, f"on {text} with dt = {dt}")


def grade_langevin(answer: Callable, rng: torch.Generator):
    sde, text = drawn_sde(rng)
    snr = uniform(rng, 0.05, 0.3)
    x, t = batch(rng, dim=2)
    z = torch.randn(x.shape, generator=rng)
    alpha = 0.5 + 0.5 * torch.rand(x.shape[0], generator=rng)
    score_fn = _gmm().score_fn(sde)

    def grade() -> str:
        score = score_fn(x, t)
        eps = langevin_step_size(score, z, snr, alpha)[:, None]
        want = x + eps * score + (2 * eps).sqrt() * z
        expect_close(answer(x, t, z, snr, alpha, score_fn), want, "x_new")
        return "right."

    default = checks.check_langevin_step(answer)
    drawn = secret("langevin_step", "(c)", grade) if default.passed else default
    return combined(default, drawn, f"with snr = {snr}, drawn α and the score of {text}")


EXERCISES = [
    Exercise(
        "dsm_loss", "check_dsm_loss", "(b)", grade_dsm, _SOLVERS,
        {"dsm_loss": LIBRARY.format("dsm_loss"), "losses": LIBRARY.format("dsm_loss")},
        names=_NAMES,
    ),
    Exercise(
        "em_step", "check_em_step", "(c.1)", grade_em, _SOLVERS,
        {name: LIBRARY.format(f"sde.{name}") for name in ("reverse", "discretize", "update")},
        names=_NAMES,
    ),
    Exercise(
        "langevin_step", "check_langevin_step", "(c.2)", grade_langevin, _SOLVERS,
        {"update": LIBRARY.format("LangevinCorrector.update")}, names=_NAMES,
    ),
]  # fmt: skip
