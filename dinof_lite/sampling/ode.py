"""Probability-flow ODE sampling (Song et al. 2021, Eq. 13).

The ODE ``dx/dt = f̃(x, t) = f(x, t) - ½ g(t)² ∇log p_t(x)`` has the same marginals ``p_t`` as
the SDE but deterministic trajectories. ``ode_sample`` integrates it backwards from ``t_start``
to ``eps`` with an adaptive solver from ``torchdiffeq``; the number of score evaluations (NFE)
is then chosen by the solver's error control (``rtol``, ``atol``), not fixed in advance.

As for :func:`~dinof_lite.sampling.pc.pc_sample`: ``ode_sample`` returns the samples ``x``;
``ode_sample_result`` always a :class:`~dinof_lite.sampling.base.SampleResult` (with ``nfe`` and,
given ``trajectory_times``, the states at those times).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import Tensor

from dinof_lite.sampling.base import (
    CountingScoreFn,
    SampleResult,
    ScoreFn,
    Trajectory,
    check_times,
    initial_state,
    is_int,
    synchronize,
)

__all__ = [
    "check_tolerances",
    "ode_sample",
    "ode_sample_result",
    "probability_flow_drift",
    "solver_options",
]

#: torchdiffeq's adaptive Runge–Kutta solvers: they may step past the last output time and
#: interpolate back, which would evaluate the score outside [0, T]; ``step_t`` prevents that.
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")


def check_tolerances(rtol: float, atol: float) -> None:
    """Raise ``ValueError`` unless the solver's tolerances are finite numbers > 0."""
    for name, value, what in (("rtol", rtol, "relative"), ("atol", atol, "absolute")):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (ok and 0 < value < math.inf):
            raise ValueError(
                f"{name} must be a finite number > 0 (the ODE solver's {what} tolerance, "
                f"e.g. 1e-5); got {value!r}"
            )


def solver_options(method: str, times: Tensor, options: dict | None) -> dict | None:
    """``options`` for ``odeint``; adaptive methods get ``step_t = times`` so that every step
    lands exactly on the output times and no stage is evaluated beyond the interval's ends."""
    if method not in ADAPTIVE_METHODS:
        return options
    return {"step_t": times, **(options or {})}


def probability_flow_drift(sde, score_fn: ScoreFn, t_min: float = 0.0, t_max: float | None = None):
    """``func(t, x) -> f̃(x, t)`` in ``torchdiffeq``'s convention: ``t`` a 0-d tensor, ``x`` (B, *dims).

    ``f̃ = f - ½ g² score`` (Song et al. 2021, Eq. 13), via ``sde.reverse(score_fn, True)``.
    ``t`` is clamped to ``[t_min, t_max]`` (default ``[0, T]``): ``odeint``'s initial step-size
    heuristic probes a point that may lie outside the integration interval.
    """
    rsde = sde.reverse(score_fn, probability_flow=True)
    t_max = float(sde.T) if t_max is None else t_max

    def func(t: Tensor, x: Tensor) -> Tensor:
        tb = t.to(device=x.device, dtype=x.dtype).clamp(t_min, t_max).expand(x.shape[0])
        return rsde.sde(x, tb)[0]

    return func


def _output_times(t_start: float, eps: float, trajectory_times) -> list[float]:
    """Decreasing times ``t_start = τ_0 > ... > τ_k = eps`` at which the solver reports states.

    ``None``: just the two ends (no trajectory); an int ``k >= 2``: ``k`` evenly spaced times;
    a sequence: those times, plus the two ends.
    """
    if trajectory_times is None:
        return [t_start, eps]
    if is_int(trajectory_times):
        if int(trajectory_times) < 2:
            raise ValueError(
                f"trajectory_times as a count must be >= 2 (both ends); got {trajectory_times}"
            )
        return torch.linspace(t_start, eps, int(trajectory_times), dtype=torch.float64).tolist()
    tol = 1e-6  # float32 times (e.g. 1e-3 stored as 0.0010000000474) count as the end points
    inner = sorted({float(v) for v in torch.as_tensor(trajectory_times).flatten()}, reverse=True)
    bad = [v for v in inner if not eps - tol <= v <= t_start + tol]
    if bad:
        raise ValueError(
            f"trajectory_times must lie in [eps, t_start] = [{eps}, {t_start}]; got {bad}"
        )
    times = [t_start]
    for v in inner:
        if eps + tol < v < times[-1] - tol:
            times.append(v)
    return [*times, eps]


@torch.no_grad()
def ode_sample_result(
    sde,
    score_fn: ScoreFn,
    x_start_or_shape: Tensor | Sequence[int],
    *,
    t_start: float | None = None,
    eps: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    options: dict | None = None,
    trajectory_times: int | Sequence[float] | Tensor | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> SampleResult:
    """Sample by integrating the probability-flow ODE (Song et al. 2021, Eq. 13) from
    ``t_start`` down to ``eps``.

    Args:
        sde: a :class:`dinof_lite.sde.SDE`.
        score_fn: ``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``.
        x_start_or_shape: start state ``x(t_start)`` (B, *dims) (DiNof: the flow's sample), or a
            shape to sample the prior (only when ``t_start == T``).
        t_start: start time in (0, T] (default T); eps: end time, ``0 < eps < t_start``.
        rtol, atol, method, options: passed to ``torchdiffeq.odeint`` (e.g. ``method="rk4",
            options={"step_size": 0.01}`` for a fixed grid).
        trajectory_times: record the states at these times in ``result.trajectory``
            (k+1, B, *dims), ``t_start`` and ``eps`` always included; an int ``k`` means ``k``
            evenly spaced times (e.g. 11). None (default): no trajectory. The solver's steps land
            on every output time, so a trajectory can change the samples slightly.
        generator: used only to draw the prior sample. device: where to sample.

    Returns:
        A :class:`~dinof_lite.sampling.base.SampleResult`: ``x = x(eps)`` (B, *dims), ``nfe``
        (score calls by the solver), ``trajectory`` and ``times`` (None without
        ``trajectory_times``), ``wall_time_s``.
    """
    t_start, eps = check_times(sde, t_start, eps)
    check_tolerances(rtol, atol)
    x = initial_state(sde, x_start_or_shape, t_start, generator=generator, device=device)
    counting = CountingScoreFn(score_fn)
    times = _output_times(t_start, eps, trajectory_times)
    synchronize(x.device)
    from torchdiffeq import odeint  # lazily (it imports scipy), before the clock

    start = time.perf_counter()
    time_tensor = torch.tensor(times, dtype=x.dtype, device=x.device)
    sol = odeint(
        probability_flow_drift(sde, counting, eps, t_start),
        x,
        time_tensor,
        rtol=rtol,
        atol=atol,
        method=method,
        options=solver_options(method, time_tensor, options),
    )
    out = sol[-1]
    synchronize(out.device)
    wall = time.perf_counter() - start
    traj = Trajectory(None if trajectory_times is None else 1, len(times) - 1)
    for k, t in enumerate(times):
        traj.record(k, sol[k], t)
    return SampleResult(out, counting.nfe, *traj.finish(out, times[-1]), wall)


def ode_sample(
    sde,
    score_fn: ScoreFn,
    x_start_or_shape: Tensor | Sequence[int],
    *,
    t_start: float | None = None,
    eps: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "dopri5",
    options: dict | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> Tensor:
    """Samples ``x(eps)`` (B, *dims) of the probability-flow ODE (Song et al. 2021, Eq. 13):
    :func:`ode_sample_result`'s ``x``, same arguments but no trajectory."""
    return ode_sample_result(
        sde,
        score_fn,
        x_start_or_shape,
        t_start=t_start,
        eps=eps,
        rtol=rtol,
        atol=atol,
        method=method,
        options=options,
        generator=generator,
        device=device,
    ).x
