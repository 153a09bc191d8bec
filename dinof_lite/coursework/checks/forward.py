"""Checks for exercise (a): the VP / VE marginals and the forward sampler (Song et al. 2021, Eqs. 29 and 33).

The student writes ``vp_marginal(x0, t, beta_min, beta_max) -> (mean (B, D), std (B,))``,
``ve_marginal(x0, t, sigma_min, sigma_max) -> (mean, std)`` and
``forward_sample(x0, t, z, sde) -> x_t (B, D)``; each is compared with :mod:`dinof_lite.sde`
(Song et al. 2021, Eqs. 29 and 33) and, when wrong, with the usual mistakes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dinof_lite.coursework.checks._core import (
    CheckResult,
    Failed,
    close,
    diagnose,
    expect_tensor,
    fmt,
    run_check,
)
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sde import SDE, VESDE, VPSDE, subVPSDE

__all__ = ["check_vp_marginal", "check_ve_marginal", "check_forward_sample"]

_B, _D = 6, 3
_SHAPE_HINT = (
    "Per-example scalars such as std are (B,); broadcast them against (B, D) with "
    "`std[:, None]` (or dinof_lite.sde.batch_view) only where you use them."
)


def _inputs() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(_B, _D, generator=g) * 2
    t = torch.tensor([1e-3, 0.05, 0.2, 0.45, 0.7, 1.0])
    return x0, t


def _split(out: object, name: str) -> tuple[Tensor, Tensor]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Failed(f"{name} must return a pair (mean, std), got {type(out).__name__}.")
    mean, std = out
    if (
        isinstance(mean, Tensor)
        and isinstance(std, Tensor)
        and mean.shape == (_B,)
        and std.shape == (_B, _D)
    ):
        raise Failed("mean and std swapped: return (mean (B, D), std (B,)) in that order.")
    return (
        expect_tensor(mean, (_B, _D), "mean", "The mean a(t)·x0 has the shape of x0."),
        expect_tensor(std, (_B,), "std", _SHAPE_HINT, finite=False),
    )


def _log_a_mistakes(t: Tensor, b0: float, b1: float) -> dict[str, Tensor]:
    """``log a(t)`` of the usual schedule mistakes, by the start of their diagnosis."""
    beta_t = b0 + t * (b1 - b0)
    return {
        "wrong sign in the exponent: a(t) = exp(−½∫β) must decay from 1, yours grows.": (
            0.25 * t**2 * (b1 - b0) + 0.5 * t * b0
        ),
        "mean coefficient missing the ½: a(t) = exp(−½∫β), you used exp(−∫β).": (
            -0.5 * t**2 * (b1 - b0) - t * b0
        ),
        "β(t)·t instead of ∫β: β(t) = β0 + t(β1 − β0) grows with t, so ∫_0^t β = β0·t + "
        "½t²(β1 − β0), not β(t)·t (the same as −½t²(β1 − β0) for the t² term: its "
        "coefficient is −¼).": -0.5 * beta_t * t,
        "missing the t² term: ∫_0^t β = β0·t + ½t²(β1 − β0); you kept only β0·t (a constant "
        "β = β0).": -0.5 * t * b0,
        "missing the β0·t term: ∫_0^t β = β0·t + ½t²(β1 − β0); you kept only the t² part.": (
            -0.25 * t**2 * (b1 - b0)
        ),
        "reversed schedule (or β_min and β_max swapped): β(t) = β0 + t(β1 − β0) goes from "
        "β_min = β0 at t = 0 to β_max at t = 1; yours runs from β_max down to β_min.": -0.5
        * (b1 * t - 0.5 * t**2 * (b1 - b0)),
        "β1 instead of β1 − β0 in the t² term: log a = −¼t²(β1 − β0) − ½tβ0.": (
            -0.25 * t**2 * b1 - 0.5 * t * b0
        ),
        "log a(t) = −½β(t) instead of −½∫_0^t β(u) du: integrate the schedule over [0, t].": (
            -0.5 * beta_t
        ),
    }


def _implied_a(mean: Tensor, x0: Tensor) -> Tensor:
    """The per-example factor ``a`` with ``mean ≈ a·x0`` (least squares), ``(B,)``."""
    mean, x0 = mean.detach().double(), x0.double()
    return (mean * x0).sum(1) / (x0 * x0).sum(1)


def _values(t: Tensor, got: Tensor, want: Tensor, what: str) -> str:
    """``" at t = 0.2: yours a = 0.7, expected 0.8; at t = 0.7: …"`` for two telling times."""
    parts = [
        f"t = {fmt(t[i])}: your {what} = {fmt(got[i])}, expected {fmt(want[i])}" for i in (2, 4)
    ]
    return " (" + "; ".join(parts) + ")"


def check_vp_marginal(
    vp_marginal: Callable, beta_min: float = 0.1, beta_max: float = 20.0
) -> CheckResult:
    """Grade ``vp_marginal`` against :meth:`VPSDE.marginal_prob` (Song et al. 2021, Eq. 33).

    A wrong mean is compared with the mean coefficients ``a(t)`` of the usual schedule mistakes
    (β(t)·t for ∫β, a missing term, a reversed or swapped schedule, …); the message shows the
    student's ``a(t)`` beside the right one.
    """
    sde = VPSDE(beta_min, beta_max)

    def grade() -> str:
        x0, t = _inputs()
        mean, std = _split(vp_marginal(x0.clone(), t.clone(), beta_min, beta_max), "vp_marginal")
        ref_mean, ref_std = sde.marginal_prob(x0, t)
        log_a = sde.log_mean_coeff(t)
        a = log_a.exp()
        if not close(mean, ref_mean):
            if close(mean, x0):
                raise Failed(
                    "the mean must be a(t)·x0, you returned x0 unchanged (that is the VE marginal)."
                )
            a_got = _implied_a(mean, x0)
            values = _values(t, a_got, a, "a")
            for message, wrong in _log_a_mistakes(t, beta_min, beta_max).items():
                if close(mean, wrong.exp()[:, None] * x0, 1e-4):
                    raise Failed(message.rstrip(".") + values + ".")
            if close(mean, a_got.float()[:, None] * x0, 1e-4):
                raise Failed(
                    "mean coefficient a(t) is wrong: log a(t) = −½∫_0^t β = −¼t²(β1 − β0) − "
                    "½tβ0" + values + "."
                )
            raise Failed(
                f"mean is wrong: it is not a(t)·x0 with one number a(t) per example; at "
                f"t = {fmt(t[3])} expected a(t) = {fmt(a[3])} times x0, max error "
                f"{fmt((mean - ref_mean).abs().max())}."
            )
        if not close(std, ref_std):
            values = _values(t, std.detach(), ref_std, "std")
            candidates = {
                "missing sqrt: you returned the variance 1 − a(t)², the std is its square "
                "root.": ref_std**2,
                "std should be sqrt(1 − a(t)²), you used 1 − a(t) (a not squared, no sqrt).": 1 - a,
                "std should be sqrt(1 − a(t)²), you used sqrt(1 − a(t)) (a not squared).": (
                    1 - a
                ).sqrt(),
                "std should be sqrt(1 − a(t)²), you used 1 − a(t)² (the sub-VP std, or a "
                "missing sqrt).": 1 - a**2,
                "std and mean coefficient swapped: std = sqrt(1 − a²), not a.": a,
            }
            for message, wrong in _log_a_mistakes(t, beta_min, beta_max).items():
                candidates.setdefault(
                    "std uses a wrong a(t): " + message, (-torch.expm1(2 * wrong)).sqrt()
                )
            for message, wrong in candidates.items():
                if close(std, wrong):
                    raise Failed(message.rstrip(".") + values + ".")
            raise Failed(f"std is wrong: s(t) = sqrt(1 − a(t)²){values}.")
        return "mean and std match VPSDE.marginal_prob at 6 times in [1e-3, 1]."

    return run_check("vp_marginal", "(a)", grade, hint=_SHAPE_HINT)


def check_ve_marginal(
    ve_marginal: Callable, sigma_min: float = 0.01, sigma_max: float = 50.0
) -> CheckResult:
    """Grade ``ve_marginal`` against :meth:`VESDE.marginal_prob` (exact marginal, Eq. 29)."""
    sde = VESDE(sigma_min, sigma_max)

    def grade() -> str:
        x0, t = _inputs()
        mean, std = _split(ve_marginal(x0.clone(), t.clone(), sigma_min, sigma_max), "ve_marginal")
        ref_mean, ref_std = sde.marginal_prob(x0, t)
        sigma = sde.sigma(t)
        if not close(mean, ref_mean):
            raise Failed(
                "VE mean scaled: the VE SDE has no drift (f = 0), so the mean of x(t) "
                "is x0 itself, unscaled"
                + _values(t, _implied_a(mean, x0), torch.ones_like(t), "a")
                + "."
            )
        if not close(std, ref_std, 1e-4):
            if torch.isnan(std).any():
                i = int(torch.isnan(std).nonzero()[0])
                raise Failed(
                    f"std is NaN at t = {fmt(t[i])}: the number under your square root is "
                    "negative there (σ_min not squared? The exact variance σ(t)² − σ_min² is "
                    "≥ 0 for every t ≥ 0)."
                )
            diagnose(
                std,
                {
                    "std = σ(t) is score_sde's approximation; the exact marginal std is "
                    "sqrt(σ(t)² − σ_min²) (the noise added since t = 0).": sigma,
                    "missing sqrt: you returned the variance σ(t)² − σ_min².": ref_std**2,
                    "missing sqrt: you returned σ(t)², the std is sqrt(σ(t)² − σ_min²).": sigma**2,
                    "σ(t) = σ_min (σ_max/σ_min)^t must grow with t; yours shrinks.": (
                        sde.sigma(1 - t) ** 2 - sigma_min**2
                    )
                    .clamp(min=0)
                    .sqrt(),
                    "σ_min not squared: the std is sqrt(σ(t)² − σ_min²), you subtracted σ_min.": (
                        sigma**2 - sigma_min
                    ).sqrt(),
                    "sign inside the sqrt: the noise added since t = 0 has variance σ(t)² − "
                    "σ_min², not σ(t)² + σ_min².": (sigma**2 + sigma_min**2).sqrt(),
                    "σ(t) is geometric, σ_min (σ_max/σ_min)^t, not the linear σ_min + "
                    "t(σ_max − σ_min).": (
                        (sigma_min + t * (sigma_max - sigma_min)) ** 2 - sigma_min**2
                    ).sqrt(),
                    "std = σ(t) − σ_min: stds do not subtract, variances do: sqrt(σ(t)² − "
                    "σ_min²).": sigma - sigma_min,
                },
                tol=1e-4,
            )
            raise Failed(
                f"std is wrong: s(t) = sqrt(σ(t)² − σ_min²){_values(t, std, ref_std, 'std')}."
            )
        return "mean and std match VESDE.marginal_prob (exact marginal) at 6 times in [1e-3, 1]."

    return run_check("ve_marginal", "(a)", grade, hint=_SHAPE_HINT)


def _forward_mistakes(sde: SDE, x0: Tensor, t: Tensor, z: Tensor) -> dict[str, Tensor]:
    """What ``forward_sample`` with each usual mistake returns on ``sde``."""
    a, s = (c[:, None] for c in sde.marginal_coeffs(t))
    mean = a * x0
    vp = VPSDE()
    a_vp, s_vp = (c[:, None] for c in vp.marginal_coeffs(t))
    name = sde.name.upper()
    out = {}
    if type(sde) is not VPSDE:
        out[
            f"VP formula hard-coded: on the {name} SDE your x_t is the VP x_t = a_VP(t)·x0 + "
            "s_VP(t)·z. forward_sample must work for any SDE: take a(t), s(t) from the sde "
            "argument (sde.marginal_prob(x0, t) or sde.marginal_coeffs(t))."
        ] = a_vp * x0 + s_vp * z
        out[
            f"VP std hard-coded: on the {name} SDE your noise scale is the VP s(t) = "
            "sqrt(1 − a(t)²); take the std from the sde argument (sde.marginal_prob)."
        ] = mean + (1 - a**2).clamp(min=0).sqrt() * z
    out.update(
        {
            "the noise is scaled by the variance s(t)², use the std s(t) (missing sqrt).": mean
            + s**2 * z,
            "the noise is scaled by sqrt(s(t)): s(t) is already the std, no extra sqrt.": mean
            + s.sqrt() * z,
            "x0 is ignored: x_t = a(t)·x0 + s(t)·z starts from the data.": s * z,
            "missing the mean coefficient: x_t = a(t)·x0 + s(t)·z, you used x0 + s(t)·z.": x0
            + s * z,
            "the noise z is not scaled: multiply it by the std s(t).": mean + z,
            "mean and std swapped: x_t = a(t)·x0 + s(t)·z.": s * x0 + a * z,
            "sign of the noise: x_t = a(t)·x0 + s(t)·z; you subtracted s(t)·z (z and −z have "
            "the same law, but the check passes a fixed z).": mean - s * z,
            "missing noise: x_t = a(t)·x0 + s(t)·z; you returned the mean.": mean,
            "the time is reversed: x_t uses a(1 − t), s(1 − t); t = 0 is the data.": (
                sde.marginal_coeffs(1 - t)[0][:, None] * x0
                + sde.marginal_coeffs(1 - t)[1][:, None] * z
            ),
        }
    )
    return out


def check_forward_sample(forward_sample: Callable, sde: SDE | None = None) -> CheckResult:
    """Grade ``forward_sample(x0, t, z, sde)`` against :meth:`SDE.perturb` with the same noise on
    the VP, VE and sub-VP SDEs (it must work for any SDE), then against the Gaussian-mixture
    oracle: samples of 8 Gaussians pushed to ``t = 0.5`` must have the oracle marginal's mean and
    covariance. ``sde`` replaces the VP SDE of the list."""
    sdes = [VPSDE() if sde is None else sde, VESDE(sigma_max=10.0), subVPSDE()]

    def grade() -> str:
        x0, t = _inputs()
        z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
        for k, sde_k in enumerate(sdes):
            got = expect_tensor(
                forward_sample(x0.clone(), t.clone(), z.clone(), sde_k),
                (_B, _D),
                "x_t",
                "x_t = mean + std·z has the shape of x0.",
            )
            ref = sde_k.perturb(x0, t, z)
            if close(got, ref):
                continue
            name = sde_k.name.upper()
            diagnose(got, _forward_mistakes(sde_k, x0, t, z))
            passed_before = ", ".join(s.name.upper() for s in sdes[:k])
            before = f" (it is right on {passed_before})" if passed_before else ""
            raise Failed(
                f"on the {name} SDE x_t differs from sde.perturb(x0, t, z){before}: max error "
                f"{fmt((got - ref).abs().max())}; x_t = a(t)·x0 + s(t)·z with a, s from "
                "sde.marginal_prob(x0, t)."
            )
        gmm = GaussianMixture.preset("8gaussians")
        for sde_k in sdes[:2]:
            g = torch.Generator().manual_seed(2)
            xs = gmm.sample(4000, g)
            zs = torch.randn(xs.shape, generator=g)
            xt = torch.as_tensor(forward_sample(xs, torch.full((4000,), 0.5), zs, sde_k))
            xt = xt.detach().double()
            oracle = gmm.marginal(sde_k, 0.5)
            o_mean = (oracle.weights[:, None] * oracle.means).sum(0)
            o_var = (
                oracle.weights[:, None] * (oracle.covs.diagonal(dim1=1, dim2=2) + oracle.means**2)
            ).sum(0) - o_mean**2
            if (
                xt.shape != xs.shape
                or not torch.allclose(xt.var(0), o_var, rtol=0.1)
                or (xt.mean(0) - o_mean).abs().max() > 0.1 * o_var.sqrt().max()
            ):
                raise Failed(
                    "x_t matches sde.perturb on the test batch but not the oracle p_t on "
                    "8 Gaussians: does it depend on the batch size?"
                )
        return (
            "x_t matches sde.perturb(x0, t, z) exactly on VP, VE and sub-VP, and the oracle "
            "p_t's moments."
        )

    return run_check("forward_sample", "(a)", grade, hint=_SHAPE_HINT)
