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
from dinof_lite.sde import SDE, VESDE, VPSDE

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


def check_vp_marginal(
    vp_marginal: Callable, beta_min: float = 0.1, beta_max: float = 20.0
) -> CheckResult:
    """Grade ``vp_marginal`` against :meth:`VPSDE.marginal_prob` (Song et al. 2021, Eq. 33)."""
    sde = VPSDE(beta_min, beta_max)

    def grade() -> str:
        x0, t = _inputs()
        mean, std = _split(vp_marginal(x0.clone(), t.clone(), beta_min, beta_max), "vp_marginal")
        ref_mean, ref_std = sde.marginal_prob(x0, t)
        log_a = sde.log_mean_coeff(t)
        if not close(mean, ref_mean):
            diagnose(
                mean,
                {
                    "wrong sign in the exponent: a(t) = exp(−¼t²(β1−β0) − ½tβ0) must decay from 1, "
                    "yours grows.": (-log_a).exp()[:, None] * x0,
                    "mean coefficient missing the ½: a(t) = exp(−½∫β), you used exp(−∫β).": (
                        2 * log_a
                    ).exp()[:, None]
                    * x0,
                    "the mean must be a(t)·x0, you returned x0 unchanged (that is the VE "
                    "marginal).": x0,
                },
            )
            raise Failed(
                f"mean is wrong: at t = {fmt(t[3])} expected a(t) = {fmt(log_a[3].exp())}"
                f" times x0, got max error {fmt((mean - ref_mean).abs().max())}."
            )
        if not close(std, ref_std):
            a = log_a.exp()
            diagnose(
                std,
                {
                    "missing sqrt: you returned the variance 1 − a(t)², the std is its square "
                    "root.": ref_std**2,
                    "std should be sqrt(1 − a(t)²), you used 1 − a(t) (a not squared, no sqrt).": 1
                    - a,
                    "std should be sqrt(1 − a(t)²), you used sqrt(1 − a(t)) (a not squared).": (
                        1 - a
                    ).sqrt(),
                    "std and mean coefficient swapped: std = sqrt(1 − a²), not a.": a,
                },
            )
            raise Failed(
                f"std is wrong: at t = {fmt(t[3])} expected {fmt(ref_std[3])}, got {fmt(std[3])}."
            )
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
                "is x0 itself, unscaled."
            )
        if not close(std, ref_std, 1e-4):
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
                },
                tol=1e-4,
            )
            raise Failed(
                f"std is wrong: at t = {fmt(t[3])} expected {fmt(ref_std[3])}, got {fmt(std[3])}."
            )
        return "mean and std match VESDE.marginal_prob (exact marginal) at 6 times in [1e-3, 1]."

    return run_check("ve_marginal", "(a)", grade, hint=_SHAPE_HINT)


def check_forward_sample(forward_sample: Callable, sde: SDE | None = None) -> CheckResult:
    """Grade ``forward_sample(x0, t, z, sde)`` against :meth:`SDE.perturb` with the same noise,
    then against the Gaussian-mixture oracle: samples of 8 Gaussians pushed to ``t = 0.5`` must
    have the oracle marginal's mean and covariance."""
    sde = VPSDE() if sde is None else sde

    def grade() -> str:
        x0, t = _inputs()
        z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
        got = expect_tensor(
            forward_sample(x0.clone(), t.clone(), z.clone(), sde),
            (_B, _D),
            "x_t",
            "x_t = mean + std·z has the shape of x0.",
        )
        ref = sde.perturb(x0, t, z)
        a, std = (c[:, None] for c in sde.marginal_coeffs(t))
        mean, s = a * x0, std
        if not close(got, ref):
            diagnose(
                got,
                {
                    "the noise is scaled by the variance s(t)², use the std s(t) (missing sqrt).": mean
                    + s**2 * z,
                    "x0 is ignored: x_t = a(t)·x0 + s(t)·z starts from the data.": s * z,
                    "missing the mean coefficient: x_t = a(t)·x0 + s(t)·z, you used x0 + s(t)·z.": x0
                    + s * z,
                    "the noise z is not scaled: multiply it by the std s(t).": mean + z,
                    "mean and std swapped: x_t = a(t)·x0 + s(t)·z.": s * x0 + a * z,
                },
            )
            raise Failed(
                f"x_t differs from sde.perturb(x0, t, z): max error {fmt((got - ref).abs().max())}."
            )
        gmm = GaussianMixture.preset("8gaussians")
        g = torch.Generator().manual_seed(2)
        xs = gmm.sample(4000, g)
        zs = torch.randn(xs.shape, generator=g)
        xt = forward_sample(xs, torch.full((4000,), 0.5), zs, sde).double()
        oracle = gmm.marginal(sde, 0.5)
        o_mean = (oracle.weights[:, None] * oracle.means).sum(0)
        o_var = (
            oracle.weights[:, None] * (oracle.covs.diagonal(dim1=1, dim2=2) + oracle.means**2)
        ).sum(0) - o_mean**2
        if (
            not torch.allclose(xt.var(0), o_var, rtol=0.1)
            or (xt.mean(0) - o_mean).abs().max() > 0.1
        ):
            raise Failed(
                "x_t matches sde.perturb on the test batch but not the oracle p_t on "
                "8 Gaussians: does it depend on the batch size?"
            )
        return "x_t matches sde.perturb(x0, t, z) exactly, and the oracle p_t's moments."

    return run_check("forward_sample", "(a)", grade, hint=_SHAPE_HINT)
