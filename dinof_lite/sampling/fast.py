"""Sampling with a fast solver from any start time: the probability-flow ODE solvers of
:mod:`.solvers` and the stochastic samplers of :mod:`.stochastic`, one registry.

``fast_sample`` runs one registered solver on a fixed grid of ``n_steps`` steps from ``t_start``
down to ``eps``; like :func:`~dinof_lite.sampling.pc.pc_sample` it starts from the SDE prior
``p_T`` (a shape) or from a given state at ``t_start < T`` — DiNof's flow sample at ``T_m``::

    x0 = fast_sample(sde, score_fn, (512, 2), solver="dpm_solver_pp_2m", n_steps=10)
    x0 = fast_sample(sde, score_fn, flow_sample, t_start=0.5, solver="heun", n_steps=5)
    x0 = fast_sample(sde, score_fn, flow_sample, t_start=0.5, solver="edm_sde", n_steps=10,
                     options={"S_churn": 20.0}, generator=g)        # a stochastic sampler
    res = fast_sample_result(sde, score_fn, (512, 2), trajectory=True)   # SampleResult, NFE

NFE is counted by :class:`~dinof_lite.sampling.base.CountingScoreFn`, as for every sampler:
``n_steps × nfe_per_step`` of the solver.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence

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
    synchronize,
)
from dinof_lite.sampling.solvers import get_solver, time_grid
from dinof_lite.sde import times_checked

__all__ = ["fast_sample", "fast_sample_result", "check_options", "DEFAULT_SOLVER"]

#: The solver of the frontier's fastest matching runs (one evaluation per step).
DEFAULT_SOLVER = "dpm_solver_pp_2m"


def check_options(fn: Callable, options: dict | None) -> dict:
    """``options`` as a dict of ``fn``'s own keyword options (a stochastic sampler's noise
    settings, e.g. ``{"S_churn": 20.0}``), or a ValueError naming the unknown ones and the
    valid ones; the values are checked by the solver itself, once, before its first step."""
    options = dict(options or {})
    params = inspect.signature(fn).parameters
    valid = [k for k, p in params.items() if p.kind is p.KEYWORD_ONLY and k != "generator"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"solver {fn.name!r} has no option {', '.join(map(repr, unknown))}; valid: "
            + (", ".join(valid) if valid else "none (a deterministic ODE solver)")
        )
    return options


@torch.no_grad()
def fast_sample_result(
    sde,
    score_fn: ScoreFn,
    x_start_or_shape: Tensor | Sequence[int],
    *,
    solver: str = DEFAULT_SOLVER,
    n_steps: int = 10,
    t_start: float | None = None,
    eps: float | None = None,
    grid: str | None = None,
    options: dict | None = None,
    trajectory: bool = False,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> SampleResult:
    """Run ``solver`` from ``t_start`` (default T) to ``eps`` (default ``sde.sample_eps``) in
    ``n_steps`` steps: the probability-flow ODE, or the reverse SDE for a stochastic sampler.

    Args:
        sde, score_fn: the SDE and ``score_fn(x (B, *dims), t (B,))``.
        x_start_or_shape: start state ``x(t_start)`` (B, *dims), or a shape to sample the prior
            (only when ``t_start == T``). The first score evaluation is at ``t_start`` exactly.
        solver: a name of :data:`~dinof_lite.sampling.solvers.SOLVERS`.
        n_steps: solver steps (>= 1); NFE = ``n_steps × nfe_per_step``.
        grid: ``"time"``, ``"log_snr"`` or ``"edm"`` (default: the solver's own, see
            :func:`~dinof_lite.sampling.solvers.time_grid`).
        options: the solver's own keyword options (a stochastic sampler's ``S_churn``, ``eta``
            …; see :mod:`~dinof_lite.sampling.stochastic`); None: its defaults.
        trajectory: record the state at every grid time in ``result.trajectory``
            (n_steps + 1, B, *dims) with ``result.times``.
        generator: the prior draw and a stochastic sampler's noise. device: where to sample.

    Returns:
        A :class:`~dinof_lite.sampling.base.SampleResult`.
    """
    fn = get_solver(solver)
    options = check_options(fn, options)
    if fn.stochastic:
        options["generator"] = generator
    n_steps = check_steps(n_steps)
    t_start, eps = check_times(sde, t_start, eps)
    times = time_grid(sde, t_start, eps, n_steps, fn.grid if grid is None else grid)
    x = initial_state(sde, x_start_or_shape, t_start, generator=generator, device=device)
    counting = CountingScoreFn(score_fn)
    traj = Trajectory(1 if trajectory else None, n_steps)
    traj.record(0, x, times[0])

    def on_step(i: int, state: Tensor) -> None:
        traj.record(i + 1, state, times[i + 1])

    synchronize(x.device)
    start = time.perf_counter()
    with times_checked():  # the grid lies in [eps, t_start], checked once above
        out = fn(sde, counting, x, times, on_step, **options)
    synchronize(out.device)
    wall = time.perf_counter() - start
    return SampleResult(out, counting.nfe, *traj.finish(out, times[-1]), wall)


def fast_sample(
    sde,
    score_fn: ScoreFn,
    x_start_or_shape: Tensor | Sequence[int],
    *,
    solver: str = DEFAULT_SOLVER,
    n_steps: int = 10,
    t_start: float | None = None,
    eps: float | None = None,
    grid: str | None = None,
    options: dict | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> Tensor:
    """Samples ``x(eps)`` (B, *dims): :func:`fast_sample_result`'s ``x`` (no trajectory)."""
    return fast_sample_result(
        sde,
        score_fn,
        x_start_or_shape,
        solver=solver,
        n_steps=n_steps,
        t_start=t_start,
        eps=eps,
        grid=grid,
        options=options,
        generator=generator,
        device=device,
    ).x
