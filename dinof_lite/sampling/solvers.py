"""Fast solvers: a few network evaluations from any start time; the probability-flow ODE here.

Each solver is the paper's algorithm written as one flat function
``solver(sde, score_fn, x, times, on_step=None) -> x`` that integrates the probability-flow ODE (Song et al.
2021, Eq. 13) from ``x`` at ``times[0]`` down the decreasing grid ``times`` (float64, ``(n+1,)``)
and returns the state at ``times[-1]``. The fast *stochastic* samplers
(:mod:`~dinof_lite.sampling.stochastic`) share the registry :data:`SOLVERS` and the signature,
plus a ``generator`` and their own noise options. They are written in the two variables every linear SDE
shares, ``x_t = a(t) x_0 + s(t) z``:

- ``λ(t) = log(a / s)`` (:meth:`~dinof_lite.sde.SDE.log_snr_half`, Lu et al. 2022a) and its
  inverse ``t(λ)``;
- the noise prediction ``ε(x, t) = −s(t) · score(x, t)`` and the data prediction (Tweedie)
  ``x̂_0 = (x − s ε) / a``.

So each works for VE, VP and sub-VP alike, and from any ``t_start``: DiNof starts them at
``T_m`` from the flow's sample. Registry :data:`SOLVERS` (like the PC predictors), the
deterministic ones:

======================  ==========  ============  ===============================================
name                    order       NFE per step  algorithm
======================  ==========  ============  ===============================================
``ddim``                1           1             DDIM = DPM-Solver-1 (Lu et al. 2022a, Eq. 3.7)
``heun``                2           2             Karras et al. 2022, Alg. 1 (in ``x / a``, ``σ = e^{−λ}``)
``dpm_solver_2``        2           2             Lu et al. 2022a, Alg. 1 (DPM-Solver-2, r₁ = ½)
``dpm_solver_pp_2m``    2           1             Lu et al. 2022b, Alg. 2 (DPM-Solver++(2M))
======================  ==========  ============  ===============================================

:func:`time_grid` builds the grid: uniform in ``t``, uniform in ``λ`` (``"log_snr"``), or
Karras et al.'s ``ρ = 7`` grid in ``σ = e^{−λ}`` (``"edm"``, Eq. 5).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from dinof_lite.registry import Registry
from dinof_lite.sampling.base import ScoreFn

__all__ = [
    "SOLVERS",
    "GRIDS",
    "register_solver",
    "get_solver",
    "time_grid",
    "grid_coefficients",
    "coefficients_at",
    "report_step",
]

SOLVERS: Registry = Registry("fast solver")
"""Registered solver functions by name; each has ``order``, ``nfe_per_step``, ``grid`` and
``stochastic`` (False: a probability-flow ODE solver; True: it draws noise from a generator)."""

GRIDS = ("time", "log_snr", "edm")


def register_solver(name: str, *, order: int, nfe_per_step: int, grid: str, stochastic=False):
    """Decorator: add a solver function to :data:`SOLVERS` with its order (for the stochastic
    ones, the weak order measured on the mixture oracle), cost per step, default grid and
    whether it draws noise."""

    def decorator(fn: Callable) -> Callable:
        fn.order, fn.nfe_per_step, fn.grid, fn.stochastic = order, nfe_per_step, grid, stochastic
        return SOLVERS.register(name)(fn)

    return decorator


def get_solver(name: str) -> Callable:
    """The solver function registered as ``name``; unknown names list the valid ones."""
    return SOLVERS.lookup(name)


def time_grid(
    sde, t_start: float, eps: float, n_steps: int, kind: str = "log_snr", rho: float = 7.0
) -> Tensor:
    """Decreasing times ``(n_steps + 1,)`` float64 from ``t_start`` to ``eps`` (both exact).

    ``"time"``: uniform in ``t``; ``"log_snr"``: uniform in ``λ = log(a/s)`` (Lu et al. 2022a,
    §3.4); ``"edm"``: ``σ_i = (σ_0^{1/ρ} + i/n (σ_n^{1/ρ} − σ_0^{1/ρ}))^ρ`` in ``σ = e^{−λ}``
    (Karras et al. 2022, Eq. 5, ``ρ = 7``).
    """
    if kind not in GRIDS:
        raise ValueError(f"unknown grid {kind!r}; valid: {', '.join(GRIDS)}")
    ends = torch.tensor([t_start, eps], dtype=torch.float64)
    if kind == "time":
        times = torch.linspace(t_start, eps, n_steps + 1, dtype=torch.float64)
    else:
        lam0, lam1 = sde.log_snr_half(ends).tolist()
        u = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64)
        if kind == "log_snr":
            lam = lam0 + u * (lam1 - lam0)
        else:
            s0, s1 = math.exp(-lam0 / rho), math.exp(-lam1 / rho)
            lam = -rho * torch.log(s0 + u * (s1 - s0))
        times = sde.time_from_log_snr_half(lam)
    times[0], times[-1] = t_start, eps
    return times


OnStep = Callable[[int, Tensor], None] | None
"""``on_step(i, x)``: called with the state at ``times[i + 1]`` after step ``i`` (trajectories)."""


def report_step(on_step: OnStep, i: int, x: Tensor) -> None:
    """Hand the state after step ``i`` to ``on_step`` (if any): a solver's trajectory hook."""
    if on_step is not None:
        on_step(i, x)


def grid_coefficients(sde, times: Tensor, x: Tensor) -> tuple[list, list, list, list]:
    """The grid's ``a``, ``s`` and ``λ`` as lists of Python floats, and its times as the
    ``(B,)`` tensors a score function takes: computed once, before the first step."""
    a, s = sde.marginal_coeffs(times)
    lam = sde.log_snr_half(times)
    tb = [v.expand(x.shape[0]) for v in times.to(device=x.device, dtype=x.dtype)]
    return a.tolist(), s.tolist(), lam.tolist(), tb


def coefficients_at(sde, t: Tensor) -> tuple[float, float]:
    """``a(t)``, ``s(t)`` at one float64 time off the grid, as Python floats."""
    a, s = sde.marginal_coeffs(t)
    return float(a), float(s)


@register_solver("ddim", order=1, nfe_per_step=1, grid="log_snr")
def ddim(sde, score_fn: ScoreFn, x: Tensor, times: Tensor, on_step: OnStep = None) -> Tensor:
    """DDIM, i.e. DPM-Solver-1 (Song et al. 2021b; Lu et al. 2022a, Eq. 3.7): per step
    ``x ← (a_{i+1}/a_i) x − s_{i+1} (e^h − 1) ε(x, t_i)``, ``h = λ_{i+1} − λ_i``."""
    a, s, lam, t = grid_coefficients(sde, times, x)
    for i in range(len(times) - 1):
        eps_pred = -s[i] * score_fn(x, t[i])
        x = (a[i + 1] / a[i]) * x - s[i + 1] * math.expm1(lam[i + 1] - lam[i]) * eps_pred
        report_step(on_step, i, x)
    return x


@register_solver("heun", order=2, nfe_per_step=2, grid="edm")
def heun(sde, score_fn: ScoreFn, x: Tensor, times: Tensor, on_step: OnStep = None) -> Tensor:
    """Karras et al. 2022, Alg. 1 (Heun's 2nd-order method), on the scaled state ``x̂ = x / a``.

    ``x̂ = x_0 + σ z`` with ``σ = s / a = e^{−λ}`` for every linear SDE, and the probability-flow
    ODE is ``dx̂/dσ = (x̂ − D(x̂; σ)) / σ = ε(x, t)`` (Karras et al. 2022, Eqs. 3–4). Per step::

        d  = ε(x_i, t_i),    x̂' = x̂_i + (σ_{i+1} − σ_i) d                  # Euler
        d' = ε(a_{i+1} x̂', t_{i+1}),   x̂_{i+1} = x̂_i + (σ_{i+1} − σ_i)(d + d') / 2
    """
    a, s, _, t = grid_coefficients(sde, times, x)
    x_hat = x / a[0]
    for i in range(len(times) - 1):
        step = s[i + 1] / a[i + 1] - s[i] / a[i]
        d = -s[i] * score_fn(a[i] * x_hat, t[i])
        x_euler = x_hat + step * d
        d_prime = -s[i + 1] * score_fn(a[i + 1] * x_euler, t[i + 1])
        x_hat = x_hat + step * 0.5 * (d + d_prime)
        report_step(on_step, i, a[i + 1] * x_hat)
    return a[-1] * x_hat


@register_solver("dpm_solver_2", order=2, nfe_per_step=2, grid="log_snr")
def dpm_solver_2(
    sde, score_fn: ScoreFn, x: Tensor, times: Tensor, on_step: OnStep = None
) -> Tensor:
    """DPM-Solver-2 (Lu et al. 2022a, Alg. 1 with ``r₁ = ½``). Per step, ``h = λ_{i+1} − λ_i``
    and the midpoint ``s = t(λ_i + h/2)``::

        u       = (a_s / a_i) x_i − s_s (e^{h/2} − 1) ε(x_i, t_i)
        x_{i+1} = (a_{i+1} / a_i) x_i − s_{i+1} (e^h − 1) ε(u, s)
    """
    a, s, lam, t = grid_coefficients(sde, times, x)
    lam_t = torch.tensor(lam, dtype=torch.float64)
    mid = sde.time_from_log_snr_half(lam_t[:-1] + lam_t.diff() / 2)
    a_m, s_m, _, t_m = grid_coefficients(sde, mid, x)
    for i in range(len(times) - 1):
        h = lam[i + 1] - lam[i]
        eps0 = -s[i] * score_fn(x, t[i])
        u = (a_m[i] / a[i]) * x - s_m[i] * math.expm1(h / 2) * eps0
        eps_mid = -s_m[i] * score_fn(u, t_m[i])
        x = (a[i + 1] / a[i]) * x - s[i + 1] * math.expm1(h) * eps_mid
        report_step(on_step, i, x)
    return x


@register_solver("dpm_solver_pp_2m", order=2, nfe_per_step=1, grid="log_snr")
def dpm_solver_pp_2m(
    sde, score_fn: ScoreFn, x: Tensor, times: Tensor, on_step: OnStep = None
) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022b, Alg. 2): multistep, one evaluation per step, on the
    data prediction ``x̂_0(x, t) = (x + s² score) / a``. Per step, ``h_i = λ_{i+1} − λ_i``::

        D_i     = x̂_0(x_i, t_i)                                   (first step)
        D_i     = (1 + 1/(2 r)) x̂_0(x_i, t_i) − 1/(2 r) x̂_0(x_{i−1}, t_{i−1}),  r = h_{i−1}/h_i
        x_{i+1} = (s_{i+1} / s_i) x_i − a_{i+1} (e^{−h_i} − 1) D_i
    """
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
        x = (s[i + 1] / s[i]) * x - a[i + 1] * math.expm1(-h) * d
        x0_prev, h_prev = x0, h
        report_step(on_step, i, x)
    return x
