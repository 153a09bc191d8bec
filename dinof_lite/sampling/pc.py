"""Predictor–corrector (PC) sampling (Song et al. 2021, Alg. 1 and Eq. 6).

``pc_sample`` integrates the reverse-time SDE from ``t_start`` down to ``eps``. With
``t_start = T`` the start state is drawn from the SDE prior ``p_T``; DiNof instead starts at an
intermediate ``t_start = T_m`` from a normalizing-flow sample ``x(T_m) = flow.inverse(z)``::

    x0 = pc_sample(sde, score_fn, (512, 2))                          # plain diffusion, from p_T
    x0 = pc_sample(sde, score_fn, flow_sample, t_start=0.5)          # DiNof, round(N·0.5) steps
    res = pc_sample_result(sde, score_fn, (512, 2), trajectory_every=10)  # SampleResult

``pc_sample`` returns the samples ``x`` (B, *dims); ``pc_sample_result`` takes the same
arguments and always returns a :class:`~dinof_lite.sampling.base.SampleResult` (samples, NFE,
trajectory or None, times or None, wall time) — the one way to get the number of score
evaluations. ``pc_sample(...)`` is ``pc_sample_result(...).x``: the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor

from dinof_lite.sampling.base import (
    CountingScoreFn,
    SampleResult,
    ScoreFn,
    Trajectory,
    check_steps,
    check_times,
    initial_state,
    steps,
    synchronize,
)
from dinof_lite.sampling.correctors import Corrector, get_corrector
from dinof_lite.sampling.predictors import Predictor, get_predictor
from dinof_lite.sde import times_checked

__all__ = ["pc_sample", "pc_sample_result"]


def _check_args(sde, t_start, eps, n_steps) -> tuple[float, float, int]:
    """``(t_start, eps, n_steps)`` with their defaults (``T``, ``sde.sample_eps``,
    :meth:`~dinof_lite.sde.SDE.n_steps_from`), or a ValueError naming the bad one."""
    t_start, eps = check_times(sde, t_start, eps)
    n_steps = sde.n_steps_from(t_start) if n_steps is None else check_steps(n_steps)
    return t_start, eps, n_steps


@torch.no_grad()
def pc_sample_result(
    sde,
    score_fn: ScoreFn,
    x_start_or_shape: Tensor | Sequence[int],
    *,
    t_start: float | None = None,
    n_steps: int | None = None,
    predictor: str | type[Predictor] = "reverse_diffusion",
    corrector: str | type[Corrector] = "langevin",
    snr: float = 0.16,
    n_corrector_steps: int = 1,
    probability_flow: bool = False,
    eps: float | None = None,
    denoise: bool = True,
    trajectory_every: int | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> SampleResult:
    """Predictor–corrector sampling of the reverse SDE from ``t_start`` down to ``eps``
    (Song et al. 2021, Alg. 1).

    Time grid ``t_i = linspace(t_start, eps, n_steps + 1)``, constant ``dt = (eps - t_start) /
    n_steps < 0``. Step ``i`` runs the corrector at ``t_i`` and then the predictor from ``t_i`` to
    ``t_{i+1}`` (the order of score_sde's sampler). With ``denoise`` the last predictor's
    ``x_mean`` is returned (no noise added at the final step).

    Args:
        sde: a :class:`dinof_lite.sde.SDE`.
        score_fn: ``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``.
        x_start_or_shape: start state ``x(t_start)`` (B, *dims), or a shape to sample the prior
            (only when ``t_start == T``).
        t_start: start time in (0, T]; default T. DiNof uses ``T_m``.
        n_steps: predictor steps; default ``sde.n_steps_from(t_start)`` =
            ``max(1, round(N · t_start / T))``.
        predictor, corrector: registry names (see ``PREDICTORS`` / ``CORRECTORS``) or classes.
        snr, n_corrector_steps: Langevin signal-to-noise ratio and iterations per time step.
        probability_flow: let the predictor step the probability-flow ODE (no noise).
        eps: last time (default ``sde.sample_eps``), ``0 < eps < t_start``.
        trajectory_every: record the state every ``trajectory_every`` steps in
            ``result.trajectory`` (k+1, B, *dims), which always includes the start state and the
            final output, with their times in ``result.times``; None (default): no trajectory.
        generator: source of all the noise (prior draw, predictor, corrector).
        device: where to sample (default: the start tensor's device, else CPU).
        progress: show a ``tqdm.auto`` progress bar.

    Returns:
        A :class:`~dinof_lite.sampling.base.SampleResult`: ``x``, ``nfe``, ``trajectory`` and
        ``times`` (None without ``trajectory_every``), ``wall_time_s``.

    NFE: ``n_steps · (p + n_corrector_steps)`` score calls, ``p = 1`` (0 for predictor "none";
    no corrector calls for corrector "none"); the denoising step costs nothing extra.
    """
    t_start, eps, n_steps = _check_args(sde, t_start, eps, n_steps)
    traj = Trajectory(trajectory_every, n_steps)
    score = CountingScoreFn(score_fn)
    pred = get_predictor(predictor)(sde, score, probability_flow=probability_flow)
    corr = get_corrector(corrector)(sde, score, snr=snr, n_steps=n_corrector_steps)
    x = initial_state(sde, x_start_or_shape, t_start, generator=generator, device=device)
    synchronize(x.device)
    start = time.perf_counter()

    grid = torch.linspace(t_start, eps, n_steps + 1, dtype=torch.float64).tolist()  # decreasing
    dt = (eps - t_start) / n_steps
    x_mean = x
    traj.record(0, x, t_start)
    with times_checked():  # the grid lies in [eps, t_start], checked once above
        for i in steps(n_steps, progress, f"PC {pred.name}+{corr.name}"):
            t = torch.full((x.shape[0],), grid[i], device=x.device, dtype=x.dtype)
            x, x_mean = corr.update(x, t, dt, generator)  # Langevin MCMC at t_i
            x, x_mean = pred.update(x, t, dt, generator)  # reverse-SDE step t_i → t_{i+1}
            traj.record(i + 1, x, grid[i + 1])
    out = x_mean if denoise else x

    trajectory, times = traj.finish(out, eps)
    synchronize(out.device)
    return SampleResult(out, score.nfe, trajectory, times, time.perf_counter() - start)


def pc_sample(
    sde,
    score_fn: ScoreFn,
    x_start_or_shape: Tensor | Sequence[int],
    *,
    t_start: float | None = None,
    n_steps: int | None = None,
    predictor: str | type[Predictor] = "reverse_diffusion",
    corrector: str | type[Corrector] = "langevin",
    snr: float = 0.16,
    n_corrector_steps: int = 1,
    probability_flow: bool = False,
    eps: float | None = None,
    denoise: bool = True,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> Tensor:
    """Samples ``x(eps)`` (B, *dims) of the reverse SDE from ``t_start`` (Song et al. 2021,
    Alg. 1): :func:`pc_sample_result`'s ``x``, same arguments but no trajectory."""
    return pc_sample_result(
        sde,
        score_fn,
        x_start_or_shape,
        t_start=t_start,
        n_steps=n_steps,
        predictor=predictor,
        corrector=corrector,
        snr=snr,
        n_corrector_steps=n_corrector_steps,
        probability_flow=probability_flow,
        eps=eps,
        denoise=denoise,
        generator=generator,
        device=device,
        progress=progress,
    ).x
