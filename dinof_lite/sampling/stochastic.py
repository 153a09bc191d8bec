"""Fast stochastic samplers: the reverse SDE's noise, a high order, a few network evaluations.

A probability-flow ODE is a bijection: started from DiNof's flow at ``T_m`` it carries the
flow's error at ``T_m`` into the samples unchanged. The reverse SDE's noise contracts that error
(the distance between two laws shrinks along the reverse SDE), and these samplers keep that
contraction while taking high-order steps. Each is the paper's algorithm as one flat function
with the ODE solvers' signature (:mod:`~dinof_lite.sampling.solvers`), plus the ``generator``
that draws its noise and the options of its paper; they share the registry
:data:`~dinof_lite.sampling.solvers.SOLVERS` (``stochastic = True``), so
:func:`~dinof_lite.sampling.fast.fast_sample`, ``DiNof.sample(solver=…)`` and the sliders run
them by name:

========================  ======  ====  ==========================================================
name                      order   NFE   algorithm
========================  ======  ====  ==========================================================
``edm_sde``               2       2     Karras et al. 2022, Alg. 2 (Heun with ``S_churn``)
``dpm_solver_pp_2m_sde``  2       1     Lu et al. 2022b, SDE-DPM-Solver++(2M), noise scale ``η``
========================  ======  ====  ==========================================================

*Order* is the weak order measured on the mixture oracle (``tests/sampling/test_stochastic_solvers.py``:
the error of the samples' mean, covariance and mean log-density against the exact ``p_eps``).
With no noise (``S_churn = 0``, ``η = 0``) each is its deterministic counterpart, ``heun`` and
``dpm_solver_pp_2m``, to the bit. Neither asks the score above ``times[0]``: DiNof's score network
is trained only below ``T_m`` (see :func:`edm_sde`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dinof_lite.sampling.base import ScoreFn
from dinof_lite.sampling.predictors import noise_like
from dinof_lite.sampling.solvers import (
    OnStep,
    coefficients_at,
    grid_coefficients,
    register_solver,
    report_step,
)

__all__ = ["edm_sde", "dpm_solver_pp_2m_sde"]


def _check(name: str, value, low: float = 0.0) -> float:
    """``value`` as a float, or a ValueError naming the option unless it is finite and >= low."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if not (ok and math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be a finite number >= {low:g}; got {value!r}")
    return float(value)


@register_solver("edm_sde", order=2, nfe_per_step=2, grid="edm", stochastic=True)
def edm_sde(
    sde,
    score_fn: ScoreFn,
    x: Tensor,
    times: Tensor,
    on_step: OnStep = None,
    *,
    generator: torch.Generator | None = None,
    S_churn: float = 10.0,
    S_tmin: float = 0.0,
    S_tmax: float = math.inf,
    S_noise: float = 1.0,
) -> Tensor:
    """Karras et al. 2022, Alg. 2: Heun's method with "churn" on the scaled state ``x̂ = x / a``.

    ``x̂ = x_0 + σ z`` with ``σ = s / a = e^{−λ}`` for every linear SDE (as
    :func:`~dinof_lite.sampling.solvers.heun`). Per step of ``n``, with
    ``γ_i = min(S_churn / n, √2 − 1)`` where ``S_tmin <= σ_i <= S_tmax`` (else 0)::

        σ̂ = σ_i (1 + γ_i),   x̂ ← x̂ + √(σ̂² − σ_i²) S_noise z        # back up the noise level
        d  = ε(a(t̂) x̂, t̂),  x̂' = x̂ + (σ_{i+1} − σ̂) d              # Euler from σ̂ = σ(t̂)
        d' = ε(a_{i+1} x̂', t_{i+1}),  x̂ ← x̂ + (σ_{i+1} − σ̂)(d + d') / 2

    ``ε = −s · score``. Adding ``N(0, σ̂² − σ²)`` to ``x̂`` maps the marginal at ``σ`` onto the one
    at ``σ̂`` exactly, so the noise costs no accuracy and only the ODE steps err (weak order 2).
    One deviation: ``σ̂`` is capped at ``σ(times[0])``, so the score is never asked above the
    start time (DiNof's score network is trained below ``T_m``); the first step has no churn.

    Options: ``S_churn >= 0`` (0: :func:`~dinof_lite.sampling.solvers.heun` to the bit),
    ``S_tmin``, ``S_tmax`` (in ``σ``) and ``S_noise >= 0``.
    """
    S_churn, S_noise = _check("S_churn", S_churn), _check("S_noise", S_noise)
    S_tmin, S_tmax = _check("S_tmin", S_tmin), float(S_tmax)
    if not S_tmax >= S_tmin:
        raise ValueError(f"S_tmax must be >= S_tmin = {S_tmin:g}; got {S_tmax!r}")
    n = len(times) - 1
    gamma_max = min(S_churn / n, math.sqrt(2) - 1)
    a, s, _, t = grid_coefficients(sde, times, x)
    sigma_start = s[0] / a[0]
    x_hat = x / a[0]
    for i in range(n):
        a0, s0, t_hat = a[i], s[i], t[i]
        sigma = s0 / a0
        gamma = gamma_max if S_tmin <= sigma <= S_tmax else 0.0
        sigma_hat = min(sigma * (1 + gamma), sigma_start)
        if sigma_hat > sigma:
            z = noise_like(x_hat, generator)
            x_hat = x_hat + math.sqrt(sigma_hat**2 - sigma**2) * S_noise * z
            lam_hat = torch.tensor(-math.log(sigma_hat), dtype=torch.float64)
            # t(σ̂) at σ̂ = σ_start may round a hair above t_start: clamp it there
            t_hat = sde.time_from_log_snr_half(lam_hat).clamp(max=times[0])
            a0, s0 = coefficients_at(sde, t_hat)
            t_hat = t_hat.to(device=x.device, dtype=x.dtype).expand(x.shape[0])
        step = s[i + 1] / a[i + 1] - s0 / a0
        d = -s0 * score_fn(a0 * x_hat, t_hat)
        x_euler = x_hat + step * d
        d_prime = -s[i + 1] * score_fn(a[i + 1] * x_euler, t[i + 1])
        x_hat = x_hat + step * 0.5 * (d + d_prime)
        report_step(on_step, i, a[i + 1] * x_hat)
    return a[-1] * x_hat


@register_solver("dpm_solver_pp_2m_sde", order=2, nfe_per_step=1, grid="log_snr", stochastic=True)
def dpm_solver_pp_2m_sde(
    sde,
    score_fn: ScoreFn,
    x: Tensor,
    times: Tensor,
    on_step: OnStep = None,
    *,
    generator: torch.Generator | None = None,
    eta: float = 1.0,
) -> Tensor:
    """SDE-DPM-Solver++(2M) (Lu et al. 2022b): the reverse SDE solved exactly in its linear part
    and its noise, with the data prediction ``x̂_0 = (x + s² score) / a`` extrapolated linearly in
    ``λ`` from the last two steps, as DPM-Solver++(2M). Per step, ``h_i = λ_{i+1} − λ_i``::

        D_i     = x̂_0(x_i, t_i)                                   (first step)
        D_i     = (1 + 1/(2 r)) x̂_0(x_i, t_i) − 1/(2 r) x̂_0(x_{i−1}, t_{i−1}),  r = h_{i−1}/h_i
        x_{i+1} = (s_{i+1}/s_i) e^{−η h_i} x_i + a_{i+1} (1 − e^{−(1+η) h_i}) D_i
                  + s_{i+1} √(1 − e^{−2η h_i}) z

    ``η = 1`` is Lu et al.'s SDE solver (the reverse SDE of Song et al. 2021, Eq. 6); ``η = 0``
    adds no noise and is :func:`~dinof_lite.sampling.solvers.dpm_solver_pp_2m` to the bit; in
    between, the noise variance scales as ``1 − e^{−2ηh}`` and every ``η`` keeps the marginals of
    a point mass exact. Lu et al. build it as a second-order multistep method without proving a
    weak order; on the mixture oracle the error of the samples' law falls as ``h²`` (measured).

    Options: ``eta >= 0``.
    """
    eta = _check("eta", eta)
    a, s, lam, t = grid_coefficients(sde, times, x)
    x0_prev, h_prev = None, None
    for i in range(len(times) - 1):
        h = lam[i + 1] - lam[i]
        x0 = (x + s[i] ** 2 * score_fn(x, t[i])) / a[i]
        if x0_prev is None:
            d = x0
        else:
            r = h_prev / h
            d = (1 + 1 / (2 * r)) * x0 - x0_prev / (2 * r)
        x = (s[i + 1] / s[i] * math.exp(-eta * h)) * x + (
            a[i + 1] * -math.expm1(-(1 + eta) * h)
        ) * d
        if eta > 0:
            x = x + (s[i + 1] * math.sqrt(-math.expm1(-2 * eta * h))) * noise_like(x, generator)
        x0_prev, h_prev = x0, h
        report_step(on_step, i, x)
    return x
