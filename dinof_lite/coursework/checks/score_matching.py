"""Check for exercise (b): the denoising score matching loss (Song et al. 2021, Eq. 7).

The student writes ``dsm_loss(score_fn, x0, t, z, sde) -> scalar``::

    x_t  = a(t) x0 + s(t) z
    loss = mean over batch and dimensions of (s(t) · score_fn(x_t, t) + z)²

i.e. ``λ(t) = s(t)²`` times ``‖score + z / s‖²``, averaged over dimensions. It is compared with
:func:`dinof_lite.losses.dsm_loss` (``reduce_mean=True``) on a VP and a VE SDE, with a score
function that is the Gaussian-mixture oracle's, deliberately detuned so no term cancels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dinof_lite import losses
from dinof_lite.coursework.checks._core import CheckResult, Failed, close, diagnose, fmt, run_check
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sde import SDE, VESDE, VPSDE

__all__ = ["check_dsm_loss"]

_HINT = (
    "per-example numbers such as s(t) are (B,): use `s[:, None]` to broadcast them "
    "against x0 (B, D), and return a scalar tensor."
)


def _score_fn(sde: SDE) -> tuple[Callable[[Tensor, Tensor], Tensor], torch.nn.Parameter]:
    """An imperfect score: 0.8 × the oracle's plus a trainable linear term ``w·x``."""
    gmm = GaussianMixture.preset("8gaussians")
    w = torch.nn.Parameter(torch.tensor(0.3))
    return (lambda x, t: 0.8 * gmm.score(x, t, sde) + w * x), w


def _wrong_answers(sde: SDE, score_fn, x0: Tensor, t: Tensor, z: Tensor) -> dict[str, Tensor]:
    a, s = (c[:, None] for c in sde.marginal_coeffs(t))
    x_t = a * x0 + s * z
    score = score_fn(x_t, t)
    D = x0.shape[1]
    return {
        "sign of the target: the score of N(a·x0, s²) at x_t is −z/s, so the residual is "
        "s·score + z (you have s·score − z).": ((s * score - z) ** 2).mean(),
        "missing the λ(t) = s(t)² weighting: ‖score + z/s‖² blows up as t → 0; multiply by "
        "s(t)² (i.e. use (s·score + z)²).": ((score + z / s) ** 2).mean(),
        "weighted by λ(t) = s(t) instead of s(t)²: use (s·score + z)² = s²·‖score + z/s‖².": (
            s * (score + z / s) ** 2
        ).mean(),
        "summed over dimensions: take the mean over dimensions as well as over the batch "
        f"(yours is {D}× too large).": ((s * score + z) ** 2).sum(1).mean(),
        "½ × the sum over dimensions is the VE convention; here average over dimensions.": 0.5
        * ((s * score + z) ** 2).sum(1).mean(),
        "x_t uses the variance s(t)² as the noise scale (missing sqrt): x_t = a·x0 + s·z.": (
            (s * score_fn(a * x0 + s**2 * z, t) + z) ** 2
        ).mean(),
        "x_t forgets the mean coefficient: x_t = a(t)·x0 + s(t)·z, not x0 + s(t)·z.": (
            (s * score_fn(x0 + s * z, t) + z) ** 2
        ).mean(),
        "the score is evaluated at x0; evaluate it at the noisy x_t.": (
            (s * score_fn(x0, t) + z) ** 2
        ).mean(),
    }


def check_dsm_loss(dsm_loss: Callable) -> CheckResult:
    """Grade ``dsm_loss(score_fn, x0, t, z, sde)`` against :func:`dinof_lite.losses.dsm_loss`."""

    def grade() -> str:
        g = torch.Generator().manual_seed(0)
        gmm = GaussianMixture.preset("8gaussians")
        for sde in (VPSDE(), VESDE(sigma_max=10.0)):
            x0 = gmm.sample(8, g)
            t = torch.linspace(0.05, 0.95, 8)
            z = torch.randn(x0.shape, generator=g)
            score_fn, w = _score_fn(sde)
            got = dsm_loss(score_fn, x0.clone(), t.clone(), z.clone(), sde)
            if not isinstance(got, Tensor):
                raise Failed(
                    f"return a torch scalar tensor (keep it differentiable, no .item()), "
                    f"got {type(got).__name__}."
                )
            if got.shape == (8,):
                raise Failed(
                    "wrong shape: you returned one loss per example (8,); return their "
                    "mean, a scalar of shape ()."
                )
            if got.shape != ():
                raise Failed(
                    f"wrong shape: the loss must be a scalar of shape (), got {tuple(got.shape)}."
                )
            if not got.requires_grad:
                raise Failed(
                    "the loss is detached from the score function's parameters (did you "
                    "call .item(), .detach() or torch.no_grad()?): training needs its "
                    "gradient."
                )
            ref = losses.dsm_loss(sde, score_fn, x0, t=t, z=z, reduce_mean=True)
            if not close(got, ref, 1e-4):
                with torch.no_grad():
                    diagnose(got, _wrong_answers(sde, score_fn, x0, t, z), tol=1e-4)
                raise Failed(
                    f"on the {sde.name.upper()} SDE the loss is {fmt(got)}, expected "
                    f"{fmt(ref)} (dinof_lite.losses.dsm_loss)."
                )
            grad = torch.autograd.grad(got, w)[0]
            if not close(grad, torch.autograd.grad(ref, w)[0], 1e-4):
                raise Failed(
                    "the loss value is right but its gradient is not: is part of the "
                    "computation detached?"
                )
        return "matches dinof_lite.losses.dsm_loss (value and gradient) on VP and VE."

    return run_check("dsm_loss", "(b)", grade, hint=_HINT)
