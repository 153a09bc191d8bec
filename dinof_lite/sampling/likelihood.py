"""Exact log-likelihoods through the probability-flow ODE (Song et al. 2021, Eq. 39).

Along a trajectory of the ODE ``dx/dt = f̃(x, t) = f - ½ g² score``, the instantaneous
change-of-variables formula (Chen et al. 2018) gives ``d log p_t(x(t)) / dt = -div f̃(x(t), t)``.
Integrating ``[x, Δ]`` with ``dΔ/dt = +div f̃`` from ``t_start`` (data side) to ``t_end``::

    log p_{t_start}(x) = prior_logp(x(t_end)) + Δ,   Δ = ∫_{t_start}^{t_end} div f̃ dt

With ``t_end = T`` the prior is the SDE's Gaussian; DiNof stops at ``t_end = T_m`` and uses the
flow's exact density there: ``prior_logp = flow.log_prob``.

The divergence is exact (one backward pass per dimension; default when ``prod(dims) <= 16``)
or Hutchinson's unbiased estimate ``E_v[vᵀ (∂f̃/∂x) v]`` with Rademacher or Gaussian probes ``v``
drawn once and held fixed for the whole solve (Grathwohl et al. 2019, FFJORD).

``ode_log_likelihood`` returns ``log p`` (B,); ``ode_log_likelihood_result`` takes the same
arguments and returns a :class:`LikelihoodResult` (with the latent ``x(t_end)``, both parts of
the log-density and the NFE).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from dinof_lite.sampling.base import CountingScoreFn, ScoreFn, synchronize
from dinof_lite.sampling.ode import check_tolerances, probability_flow_drift, solver_options
from dinof_lite.trained_on import check_data_range
from dinof_lite.utils import check_batch

__all__ = [
    "LikelihoodResult",
    "ode_log_likelihood",
    "ode_log_likelihood_result",
    "divergence_exact",
    "divergence_hutchinson",
]

PROBES = ("rademacher", "gaussian")


@dataclass
class LikelihoodResult:
    """Everything :func:`ode_log_likelihood_result` computes.

    Attributes:
        logp: (B,) ``log p_{t_start}(x)`` in nats.
        latent: (B, *dims) ``x(t_end)``.
        prior_logp: (B,) ``prior_logp(x(t_end))``.
        delta_logp: (B,) ``Δ = ∫ div f̃ dt``, so ``logp = prior_logp + delta_logp``.
        nfe: score-function calls made by the solver (each also costs the divergence's backward
            passes: ``prod(dims)`` exact, ``n_probes`` Hutchinson).
        wall_time_s: wall-clock seconds of the solve.
    """

    logp: Tensor
    latent: Tensor
    prior_logp: Tensor
    delta_logp: Tensor
    nfe: int
    wall_time_s: float = 0.0


def _grad(out: Tensor, x: Tensor) -> Tensor:
    g = torch.autograd.grad(out, x, retain_graph=True, allow_unused=True)[0]
    return torch.zeros_like(x) if g is None else g


def divergence_exact(f: Tensor, x: Tensor) -> Tensor:
    """``div f = Σ_i ∂f_i/∂x_i`` for ``f = F(x)`` (B, *dims), ``x`` requiring grad: (B,).

    One backward pass per dimension, so only for small ``prod(dims)``. Assumes samples are
    independent (``f[b]`` depends on ``x[b]`` only), as for any score network without batch norm.
    """
    batch = x.shape[0]
    flat = f.reshape(batch, -1)
    div = torch.zeros(batch, dtype=f.dtype, device=f.device)
    for i in range(flat.shape[1]):
        div = div + _grad(flat[:, i].sum(), x).reshape(batch, -1)[:, i]
    return div


def divergence_hutchinson(f: Tensor, x: Tensor, probes: Tensor) -> Tensor:
    """Hutchinson's estimate ``mean_j v_jᵀ (∂f/∂x) v_j`` with ``probes`` (P, B, *dims): (B,)."""
    batch = x.shape[0]
    div = torch.zeros(batch, dtype=f.dtype, device=f.device)
    for v in probes:
        div = div + (_grad((f * v).sum(), x) * v).reshape(batch, -1).sum(-1)
    return div / probes.shape[0]


def _draw_probes(probe: str, n_probes: int, x: Tensor, generator) -> Tensor:
    shape = (n_probes, *x.shape)
    device = generator.device if generator is not None else x.device
    if probe == "gaussian":
        v = torch.randn(shape, generator=generator, device=device, dtype=x.dtype)
    else:  # Rademacher: ±1 with probability ½ each
        v = torch.randint(0, 2, shape, generator=generator, device=device).to(x.dtype) * 2 - 1
    return v.to(x.device)


def ode_log_likelihood_result(
    sde,
    score_fn: ScoreFn,
    x: Tensor,
    *,
    t_start: float | None = None,
    t_end: float | None = None,
    prior_logp: Callable[[Tensor], Tensor] | None = None,
    exact_divergence: bool | None = None,
    n_probes: int = 1,
    probe: str = "rademacher",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    options: dict | None = None,
    generator: torch.Generator | None = None,
) -> LikelihoodResult:
    """``log p_{t_start}(x)`` (B,) in nats via the probability-flow ODE (Song et al. 2021,
    Eq. 39), with the latent ``x(t_end)`` and both parts of the log-density.

    Args:
        sde: a :class:`dinof_lite.sde.SDE`; score_fn: ``(x, t) -> score``, differentiable in x.
        x: (B, *dims) points whose log-density is wanted.
        t_start: data-side time (default ``sde.train_eps`` = 1e-5, score_sde's likelihood eps;
            the sampler stops at ``sde.sample_eps``); t_end: prior-side time (default T);
            ``0 < t_start < t_end <= T``.
        prior_logp: ``z (B, *dims) -> (B,)`` log-density at ``t_end``; default ``sde.prior_logp``
            (correct only for ``t_end = T``). DiNof: the flow's ``log_prob`` at ``T_m``.
        exact_divergence: exact (True) or Hutchinson (False); None: exact iff prod(dims) <= 16.
        n_probes, probe: Hutchinson probes (``"rademacher"`` or ``"gaussian"``), drawn once from
            ``generator`` and fixed for the whole solve; the estimate averages over them.
        rtol, atol, method, options: passed to ``torchdiffeq.odeint``.

    Returns:
        A :class:`LikelihoodResult` (``logp``, ``latent``, ``prior_logp``, ``delta_logp``,
        ``nfe``, ``wall_time_s``). Works under an outer ``torch.no_grad()``; the result carries
        no autograd graph.
    """
    if not isinstance(x, Tensor) or x.ndim < 2 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a floating-point tensor of shape (B, *dims); got {got}")
    check_batch(x, "x", "ode_log_likelihood")
    check_data_range(score_fn, x, "x", "ode_log_likelihood")  # against the network's record
    check_tolerances(rtol, atol)
    t_start = float(sde.train_eps) if t_start is None else float(t_start)
    t_end = float(sde.T) if t_end is None else float(t_end)
    if not 0.0 < t_start < t_end <= float(sde.T):
        raise ValueError(
            f"need 0 < t_start < t_end <= T = {sde.T}; got t_start={t_start}, t_end={t_end}"
        )
    n_dims = math.prod(x.shape[1:])
    use_exact = n_dims <= 16 if exact_divergence is None else bool(exact_divergence)
    probes = None
    if not use_exact:
        if probe not in PROBES:
            raise ValueError(f"unknown probe {probe!r}; valid: {', '.join(PROBES)}")
        if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
            raise ValueError(f"n_probes must be an integer >= 1; got {n_probes!r}")
        probes = _draw_probes(probe, n_probes, x, generator)
    prior_logp = sde.prior_logp if prior_logp is None else prior_logp

    counting = CountingScoreFn(score_fn)
    drift_fn = probability_flow_drift(sde, counting, t_start, t_end)

    def func(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            xt = state[0].detach().requires_grad_(True)
            drift = drift_fn(t, xt)
            if use_exact:
                div = divergence_exact(drift, xt)
            else:
                div = divergence_hutchinson(drift, xt, probes)
        return drift.detach(), div.detach()

    synchronize(x.device)
    from torchdiffeq import odeint  # lazily (it imports scipy), before the clock

    start = time.perf_counter()
    times = torch.tensor([t_start, t_end], dtype=x.dtype, device=x.device)
    state0 = (x.detach(), torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
    with torch.no_grad():
        xs, deltas = odeint(
            func,
            state0,
            times,
            rtol=rtol,
            atol=atol,
            method=method,
            options=solver_options(method, times, options),
        )
        latent, delta = xs[-1], deltas[-1]
        prior = prior_logp(latent).reshape(-1)
    if prior.shape != (x.shape[0],):
        raise ValueError(f"prior_logp must return shape ({x.shape[0]},); got {tuple(prior.shape)}")
    logp = prior + delta
    synchronize(logp.device)
    wall = time.perf_counter() - start
    return LikelihoodResult(logp, latent, prior, delta, counting.nfe, wall)


def ode_log_likelihood(
    sde,
    score_fn: ScoreFn,
    x: Tensor,
    *,
    t_start: float | None = None,
    t_end: float | None = None,
    prior_logp: Callable[[Tensor], Tensor] | None = None,
    exact_divergence: bool | None = None,
    n_probes: int = 1,
    probe: str = "rademacher",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    options: dict | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``log p_{t_start}(x)`` (B,) in nats via the probability-flow ODE (Song et al. 2021,
    Eq. 39): :func:`ode_log_likelihood_result`'s ``logp``, same arguments."""
    return ode_log_likelihood_result(
        sde,
        score_fn,
        x,
        t_start=t_start,
        t_end=t_end,
        prior_logp=prior_logp,
        exact_divergence=exact_divergence,
        n_probes=n_probes,
        probe=probe,
        rtol=rtol,
        atol=atol,
        method=method,
        options=options,
        generator=generator,
    ).logp
