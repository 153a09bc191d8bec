"""Predictor–corrector (PC) sampling (Song et al. 2021, Alg. 1; SPEC §2, §4).

``pc_sample`` integrates the reverse-time SDE from ``t_start`` down to ``eps``. With
``t_start = T`` the start state is drawn from the SDE prior ``p_T``; DiNof instead starts at an
intermediate ``t_start = T_m`` from a normalizing-flow sample ``x(T_m) = flow.inverse(z)``::

    x0 = pc_sample(sde, score_fn, (512, 2))                          # plain diffusion, from p_T
    x0 = pc_sample(sde, score_fn, flow_sample, t_start=0.5)          # DiNof, round(N·0.5) steps
    res = pc_sample(sde, score_fn, (512, 2), return_info=True)       # SampleResult with .nfe

Return value: ``x`` (B, *dims); ``(x, trajectory)`` if ``return_trajectory``; a
:class:`SampleResult` (samples, NFE, trajectory, times) if ``return_info`` — the one way to get
the number of score evaluations.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from dinof_lite.sampling.correctors import Corrector, get_corrector
from dinof_lite.sampling.predictors import Predictor, ScoreFn, get_predictor

__all__ = ["SampleResult", "CountingScoreFn", "pc_sample", "initial_state", "check_times"]


@dataclass
class SampleResult:
    """What a sampler returns with ``return_info=True``.

    Attributes:
        x: (B, *dims) final samples (the last predictor ``x_mean`` if ``denoise``).
        nfe: number of score-function calls (each call evaluates the whole batch once).
        trajectory: (k+1, B, *dims) recorded states, first = start state, last = ``x``; or None.
        times: (k+1,) the time of each trajectory entry (None without a trajectory).
    """

    x: Tensor
    nfe: int
    trajectory: Tensor | None = None
    times: Tensor | None = None


class CountingScoreFn:
    """Wrap ``score_fn(x, t)`` and count its calls in ``.nfe`` (network function evaluations)."""

    def __init__(self, score_fn: ScoreFn) -> None:
        self.score_fn = score_fn
        self.nfe = 0

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        self.nfe += 1
        return self.score_fn(x, t)


def _is_int(v) -> bool:
    """An integral number (3, 3.0, numpy.int64(3)), not a bool."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real) and float(v).is_integer()


def check_times(sde, t_start: float | None, eps: float | None) -> tuple[float, float]:
    """Fill defaults (``t_start = T``, ``eps = sde.eps``) and check ``0 < eps < t_start <= T``."""
    T = float(sde.T)
    t_start = T if t_start is None else float(t_start)
    eps = float(sde.eps) if eps is None else float(eps)
    if not (0.0 < t_start <= T):
        raise ValueError(f"t_start must lie in (0, T] = (0, {T}]; got t_start={t_start}")
    if not (0.0 < eps < t_start):
        raise ValueError(f"eps must satisfy 0 < eps < t_start = {t_start}; got eps={eps}")
    return t_start, eps


def initial_state(
    sde,
    x_start_or_shape: Tensor | Sequence[int],
    t_start: float,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
) -> Tensor:
    """The sampler's start state ``x(t_start)``, shape (B, *dims).

    A tensor is used as given (moved to ``device`` if one is passed). A shape tuple means "sample
    the SDE prior ``p_T``", which is only right when ``t_start == T``: at ``t_start < T`` the
    state must come from ``p_{t_start}`` — in DiNof, the normalizing flow.
    """
    if isinstance(x_start_or_shape, Tensor):
        x = x_start_or_shape
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(
                f"x_start must have shape (B, *dims) with B >= 1; got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"x_start must be a floating-point tensor; got dtype {x.dtype}")
        if not torch.isfinite(x).all():
            raise ValueError("x_start contains NaN or inf")
        return x if device is None else x.to(device)
    try:
        shape = tuple(x_start_or_shape)
    except TypeError:
        raise ValueError(
            "x_start_or_shape must be a start tensor (B, *dims) or a shape tuple; "
            f"got {type(x_start_or_shape).__name__}"
        ) from None
    if len(shape) < 2 or not all(_is_int(s) and s >= 1 for s in shape):
        raise ValueError(f"shape must be (B, *dims) with positive integers, len >= 2; got {shape}")
    if not math.isclose(t_start, float(sde.T), rel_tol=0.0, abs_tol=1e-9):
        raise ValueError(
            f"got a shape, so the start state would be drawn from the SDE prior p_T, but "
            f"t_start={t_start} < T={sde.T}; pass x_start, a sample of p_t_start (e.g. a "
            "DiNof flow sample flow.inverse(z)), instead of a shape"
        )
    return sde.prior_sampling(tuple(int(s) for s in shape), generator=generator, device=device)


@torch.no_grad()
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
    return_trajectory: bool = False,
    trajectory_every: int = 1,
    return_info: bool = False,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
):
    """Predictor–corrector sampling of the reverse SDE from ``t_start`` down to ``eps``.

    Time grid ``t_i = linspace(t_start, eps, n_steps + 1)``, constant ``dt = (eps - t_start) /
    n_steps < 0``. Step ``i`` runs the corrector at ``t_i`` and then the predictor from ``t_i`` to
    ``t_{i+1}`` (Song et al. 2021, Alg. 1). With ``denoise`` the last predictor's ``x_mean`` is
    returned (no noise added at the final step).

    Args:
        sde: a :class:`dinof_lite.sde.SDE`.
        score_fn: ``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``.
        x_start_or_shape: start state ``x(t_start)`` (B, *dims), or a shape to sample the prior
            (only when ``t_start == T``).
        t_start: start time in (0, T]; default T. DiNof uses ``T_m``.
        n_steps: predictor steps; default ``max(1, round(N · t_start / T))``.
        predictor, corrector: registry names (see ``PREDICTORS`` / ``CORRECTORS``) or classes.
        snr, n_corrector_steps: Langevin signal-to-noise ratio and iterations per time step.
        probability_flow: let the predictor step the probability-flow ODE (no noise).
        eps: last time (default ``sde.eps``), ``0 < eps < t_start``.
        return_trajectory: also return the states every ``trajectory_every`` steps, a tensor
            (k+1, B, *dims) that always includes the start state and the final output.
        return_info: return a :class:`SampleResult` (x, nfe, trajectory, times) instead.
        generator: source of all the noise (prior draw, predictor, corrector).
        device: where to sample (default: the start tensor's device, else CPU).
        progress: show a ``tqdm.auto`` progress bar.

    NFE: ``n_steps · (p + n_corrector_steps)`` score calls, ``p = 1`` (0 for predictor "none";
    no corrector calls for corrector "none"); the denoising step costs nothing extra.
    """
    t_start, eps = check_times(sde, t_start, eps)
    if n_steps is None:
        n_steps = max(1, round(sde.N * t_start / float(sde.T)))
    if not _is_int(n_steps) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1; got {n_steps!r}")
    if not _is_int(trajectory_every) or trajectory_every < 1:
        raise ValueError(f"trajectory_every must be an integer >= 1; got {trajectory_every!r}")
    n_steps, trajectory_every = int(n_steps), int(trajectory_every)
    counting = CountingScoreFn(score_fn)
    pred = get_predictor(predictor)(sde, counting, probability_flow=probability_flow)
    corr = get_corrector(corrector)(sde, counting, snr=snr, n_steps=n_corrector_steps)
    x = initial_state(sde, x_start_or_shape, t_start, generator=generator, device=device)

    grid = torch.linspace(t_start, eps, n_steps + 1, dtype=torch.float64)
    dt = (eps - t_start) / n_steps
    record = bool(return_trajectory)
    states, times = ([x], [t_start]) if record else ([], [])
    x_mean = x
    steps = range(n_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"PC {pred.name}+{corr.name}", leave=False)
    for i in steps:
        t = torch.full((x.shape[0],), float(grid[i]), device=x.device, dtype=x.dtype)
        x, x_mean = corr.update(x, t, dt, generator)
        x, x_mean = pred.update(x, t, dt, generator)
        if record and i + 1 < n_steps and (i + 1) % trajectory_every == 0:
            states.append(x)
            times.append(float(grid[i + 1]))
    out = x_mean if denoise else x
    trajectory = time_tensor = None
    if record:
        states.append(out)
        times.append(eps)
        trajectory = torch.stack(states)
        time_tensor = torch.tensor(times, dtype=out.dtype, device=out.device)
    if return_info:
        return SampleResult(out, counting.nfe, trajectory, time_tensor)
    return (out, trajectory) if record else out
