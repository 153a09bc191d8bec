"""Checks for exercise (c): one predictor–corrector step (Song et al. 2021, Eq. 6 and Alg. 4).

- ``em_step(x, t, dt, z, sde, score_fn) -> x_new`` (B, D): Euler–Maruyama on the reverse SDE,
  ``x_mean = x + (f − g² score) dt`` with ``dt < 0``, ``x_new = x_mean + g sqrt(|dt|) z``;
  reference: :meth:`SDE.reverse` (as :class:`~dinof_lite.sampling.EulerMaruyamaPredictor`).
- ``langevin_step(x, t, z, snr, alpha, score_fn) -> x_new``: ``ε = 2 α (snr ‖z‖ / ‖score‖)²``
  with batch-mean norms, ``x_new = x + ε score + sqrt(2ε) z``; reference:
  :func:`~dinof_lite.sampling.correctors.langevin_step_size`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dinof_lite.coursework.checks._core import (
    CheckResult,
    Failed,
    call_student,
    close,
    diagnose,
    expect_tensor,
    fmt,
    run_check,
)
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sampling.correctors import langevin_step_size
from dinof_lite.sde import VESDE, VPSDE

__all__ = ["check_em_step", "check_langevin_step"]

_B, _D = 6, 2
_HINT = "g(t) and ε are (B,): use `g[:, None]` to broadcast them against x (B, D)."


def _inputs(seed: int) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(_B, _D, generator=g) * 2
    t = torch.tensor([0.1, 0.3, 0.5, 0.6, 0.8, 0.95])
    return x, t, torch.randn(_B, _D, generator=g)


def _em_mistakes(x, t, dt, z, sde, score_fn) -> dict[str, Tensor]:
    """What ``em_step`` with each usual mistake returns (same x, t, dt, z)."""
    f, g = sde.sde(x, t)
    g = g[:, None]
    score = score_fn(x, t)
    rev = f - g**2 * score
    mean = x + rev * dt
    h = abs(dt)
    noise = g * h**0.5 * z
    at = f" (at t = {fmt(t[2])}: g = {fmt(g[2, 0])}, g² = {fmt(g[2, 0] ** 2)}; √|dt| = {fmt(h**0.5)})"
    return {
        "sign of dt: dt is already negative (time runs backwards), so x_mean = x + "
        "(f − g²·score)·dt; you stepped forward in time.": x - rev * dt + noise,
        "missing noise: x_new = x_mean + g·√|dt|·z; you returned x_mean.": mean,
        f"noise not scaled by √|dt|: its std over one step is g·√|dt| = g·{fmt(h**0.5)}, you "
        f"used g·|dt| = g·{fmt(h)}.": mean + g * h * z,
        "noise not scaled by √|dt|: scale z by g·√|dt|, you used g alone" + at + ".": mean + g * z,
        "noise not scaled by g: the noise is g·√|dt|·z, you used √|dt|·z" + at + ".": mean
        + h**0.5 * z,
        "g instead of g² in the drift: the reverse drift is f − g(t)²·score" + at + ".": x
        + (f - g * score) * dt
        + noise,
        "g² instead of g on the noise: the noise is g·√|dt|·z, you used g²·√|dt|·z" + at + ".": (
            mean + g**2 * h**0.5 * z
        ),
        "sign of the score term: the reverse drift is f − g²·score, you added it.": x
        + (f + g**2 * score) * dt
        + noise,
        "the ½ belongs to the probability-flow ODE; the reverse SDE's drift is f − g²·score.": x
        + (f - 0.5 * g**2 * score) * dt
        + noise,
        "missing the forward drift f(x, t) in the reverse drift f − g²·score.": x
        - g**2 * score * dt
        + noise,
        "sign of the forward drift: the reverse drift is f − g²·score (you used −f − g²·score).": x
        + (-f - g**2 * score) * dt
        + noise,
        "the drift is not multiplied by dt: x_mean = x + (f − g²·score)·dt.": x + rev + noise,
        "noise scaled by √(2|dt|): that is the Langevin corrector's √(2ε); Euler–Maruyama adds "
        "g·√|dt|·z.": mean + g * (2 * h) ** 0.5 * z,
    }


def _fit_step(got, x, dt, z, f, g, score, name: str) -> None:
    """Fail naming the coefficients when ``got − x`` is ``c_f·f·dt + c_s·(−g²·score)·dt +
    c_z·g√|dt|·z`` for scalars ``(c_f, c_s, c_z)`` other than ``(1, 1, 1)`` (least squares)."""
    basis = torch.stack(
        [(f * dt).flatten(), (-(g**2) * score * dt).flatten(), (g * abs(dt) ** 0.5 * z).flatten()],
        1,
    ).double()
    target = (got.detach() - x).flatten().double()
    coef = torch.linalg.lstsq(basis, target[:, None]).solution[:, 0]
    resid = (basis @ coef - target).norm() / target.norm().clamp(min=1e-12)
    if float(resid) > 1e-3:
        return
    c_f, c_s, c_z = (fmt(c) for c in coef)
    raise Failed(
        f"on the {name} SDE your step is x + {c_f}·f·dt − {c_s}·g²·score·dt + {c_z}·g·√|dt|·z; "
        "the reverse-SDE Euler–Maruyama step has all three coefficients 1 (x + (f − g²·score)·dt"
        " + g·√|dt|·z)."
    )


def check_em_step(em_step: Callable) -> CheckResult:
    """Grade ``em_step`` against the reverse SDE's drift and diffusion on VP and VE."""

    def grade() -> str:
        x, t, z = _inputs(0)
        gmm = GaussianMixture.preset("8gaussians")
        for sde, dt in ((VPSDE(), -0.01), (VESDE(sigma_max=10.0), -0.02)):
            score_fn = gmm.score_fn(sde)
            got = expect_tensor(
                call_student(em_step, x.clone(), t.clone(), dt, z.clone(), sde, score_fn, dt=dt),
                (_B, _D),
                "x_new",
                "One step keeps the shape of x.",
            )
            f, g = sde.sde(x, t)
            g = g[:, None]
            score = score_fn(x, t)
            ref = x + (f - g**2 * score) * dt + g * (-dt) ** 0.5 * z
            if close(got, ref, 1e-4):
                continue
            diagnose(got, _em_mistakes(x, t, dt, z, sde, score_fn), tol=1e-4)
            _fit_step(got, x, dt, z, f, g, score, sde.name.upper())
            raise Failed(
                f"on the {sde.name.upper()} SDE x_new differs from x + (f − g² score) dt "
                f"+ g √|dt| z by up to {fmt((got - ref).abs().max())}."
            )
        return "matches the reverse-SDE Euler–Maruyama step on VP and VE."

    return run_check("em_step", "(c)", grade, hint=_HINT)


def check_langevin_step(langevin_step: Callable) -> CheckResult:
    """Grade ``langevin_step`` against :func:`langevin_step_size` (snr rule, Song et al. 2021, Alg. 4/5)."""

    def grade() -> str:
        x, t, z = _inputs(1)
        sde = VPSDE()
        score_fn = GaussianMixture.preset("8gaussians").score_fn(sde)
        alpha = sde.discrete_alpha(t, 0.1)  # (B,), far from 1 so a missing α shows
        snr = 0.16
        got = expect_tensor(
            langevin_step(x.clone(), t.clone(), z.clone(), snr, alpha.clone(), score_fn),
            (_B, _D),
            "x_new",
            "A step keeps x's shape.",
        )
        score = score_fn(x, t)
        eps = langevin_step_size(score, z, snr, alpha)[:, None]
        ref = x + eps * score + (2 * eps).sqrt() * z
        if close(got, ref, 1e-4):
            return "matches x + ε·score + sqrt(2ε)·z with ε = 2α(snr‖z‖/‖score‖)²."
        ratio = (z.norm(dim=1).mean() / score.norm(dim=1).mean()) ** 2
        a = alpha[:, None]

        def step(e: Tensor, noise: Tensor | None = None) -> Tensor:
            return x + e * score + ((2 * e).sqrt() if noise is None else noise) * z

        per_example = (
            2 * a * (snr * z.norm(dim=1, keepdim=True) / score.norm(dim=1, keepdim=True)) ** 2
        )
        diagnose(
            got,
            {
                "missing the 2 in ε = 2α(snr‖z‖/‖score‖)².": step(eps / 2),
                "missing α in ε = 2α(snr‖z‖/‖score‖)² (α_i = 1 − β_i for VP).": step(eps / a),
                "snr not squared: ε = 2α(snr·‖z‖/‖score‖)², the whole ratio is squared.": step(
                    2 * a * snr * ratio
                ),
                "ratio not squared: ε = 2α(snr‖z‖/‖score‖)², you used 2α·snr‖z‖/‖score‖.": step(
                    2 * a * snr * ratio.sqrt()
                ),
                "ratio upside down: ε = 2α(snr‖z‖/‖score‖)², the noise norm is on top.": step(
                    2 * a * (snr / ratio.sqrt()) ** 2
                ),
                "per-example norms: average ‖z‖ and ‖score‖ over the batch first (one ε for the "
                "batch, times α_i).": step(per_example),
                "noise scale: the Langevin noise is sqrt(2ε)·z, you used sqrt(ε)·z.": step(
                    eps, eps.sqrt()
                ),
                "noise scale: the Langevin noise is sqrt(2ε)·z, you used 2ε·z (missing sqrt).": step(
                    eps, 2 * eps
                ),
                "noise scale: the Langevin noise is sqrt(2ε)·z, you used ε·z (missing sqrt).": step(
                    eps, eps
                ),
                "missing noise: x_new = x + ε·score + sqrt(2ε)·z.": step(
                    eps, torch.zeros_like(eps)
                ),
                "sign of the score step: Langevin climbs log p, x + ε·score.": x
                - eps * score
                + (2 * eps).sqrt() * z,
            },
            tol=1e-4,
        )
        raise Failed(
            f"x_new differs from x + ε·score + sqrt(2ε)·z by up to {fmt((got - ref).abs().max())}."
        )

    return run_check("langevin_step", "(c)", grade, hint=_HINT)
