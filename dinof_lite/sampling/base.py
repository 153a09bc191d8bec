"""What every sampler shares: the score-function type, the result, NFE counting, time checks.

- :data:`ScoreFn` — ``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``, an estimate of
  ``∇_x log p_t(x)`` (the score of Song et al. 2021, Eq. 6).
- :class:`SampleResult` — what every ``*_sample_result`` function returns: samples, score
  evaluations (NFE), an optional trajectory with its times, and the wall-clock time.
- :class:`CountingScoreFn` — wraps a score function and counts its calls.
- :class:`Trajectory` — the one recorder of the states a sampler passes through, shared by
  every sampler (the ``trajectory`` and ``times`` of a :class:`SampleResult`).
- :func:`check_times`, :func:`check_steps`, :func:`initial_state` — the checks and the start
  state of a reverse-time integration from ``t_start`` down to ``eps``; :func:`steps` the loop's
  range, with an optional progress bar.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "ScoreFn",
    "SampleResult",
    "CountingScoreFn",
    "Trajectory",
    "check_times",
    "check_steps",
    "steps",
    "initial_state",
    "is_int",
    "synchronize",
]

ScoreFn = Callable[[Tensor, Tensor], Tensor]
"""``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``, an estimate of ∇_x log p_t(x)."""


@dataclass
class SampleResult:
    """What a ``*_sample_result`` sampler returns (always this type, whatever its arguments).

    Attributes:
        x: (B, *dims) final samples (the last predictor ``x_mean`` if ``denoise``).
        nfe: number of score-function calls (each call evaluates the whole batch once).
        trajectory: (k+1, B, *dims) recorded states in sampling order, first = start state,
            last = the final state; None unless a trajectory was asked for.
        times: (k+1,) the time of each trajectory entry (None without a trajectory).
        wall_time_s: wall-clock seconds the sampler took.
    """

    x: Tensor
    nfe: int
    trajectory: Tensor | None = None
    times: Tensor | None = None
    wall_time_s: float = 0.0


class CountingScoreFn:
    """Wrap ``score_fn(x, t)`` and count its calls in ``.nfe`` (network function evaluations)."""

    def __init__(self, score_fn: ScoreFn) -> None:
        self.score_fn = score_fn
        self.nfe = 0

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        self.nfe += 1
        return self.score_fn(x, t)


class Trajectory:
    """The states a sampler passes through, with their times: the trajectory hook of every sampler.

    A sampler of ``n_steps`` steps calls :meth:`record` with its state after each step ``i``
    (``i = 0``: the start state) and :meth:`finish` with its output. Kept: the start state,
    the state after every ``every``-th step before the last, and the output in place of the last
    step's state (the output may be the last step's ``x_mean``, see ``denoise``). With
    ``every=None`` nothing is recorded and :meth:`finish` returns ``(None, None)``.

    Args:
        every: keep every ``every``-th step (an integer >= 1), or None for no trajectory.
        n_steps: the sampler's number of steps.
        name: the sampler's argument that gave ``every``, for the error message.
    """

    def __init__(self, every: int | None, n_steps: int, name: str = "trajectory_every") -> None:
        if every is not None and (not is_int(every) or every < 1):
            raise ValueError(f"{name} must be None or an integer >= 1; got {every!r}")
        self.every = None if every is None else int(every)
        self.n_steps = int(n_steps)
        self.states: list[Tensor] = []
        self.times: list[float] = []

    def record(self, i: int, x: Tensor, t: float | Tensor) -> None:
        """Keep ``x`` (B, *dims), the state at time ``t`` after step ``i``, if ``i`` is a multiple
        of ``every`` and not the last step (the output takes that place)."""
        if self.every is not None and i % self.every == 0 and i < self.n_steps:
            self.states.append(x)
            self.times.append(float(t))

    def finish(self, x_out: Tensor, t_end: float | Tensor) -> tuple[Tensor | None, Tensor | None]:
        """``(trajectory (k+1, B, *dims), times (k+1,))`` ending with the output ``x_out`` at
        ``t_end`` (times on ``x_out``'s device and dtype), or ``(None, None)``."""
        if self.every is None:
            return None, None
        times = torch.tensor([*self.times, float(t_end)], dtype=x_out.dtype, device=x_out.device)
        return torch.stack([*self.states, x_out]), times


def is_int(v) -> bool:
    """An integral number (3, 3.0, numpy.int64(3)), not a bool."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real) and float(v).is_integer()


def synchronize(device: str | torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (so wall-clock times measure the computation)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_times(sde, t_start: float | None, eps: float | None) -> tuple[float, float]:
    """Fill defaults (``t_start = T``, ``eps = sde.sample_eps``, the sampler's last time) and
    check ``0 < eps < t_start <= T``."""
    T = float(sde.T)
    t_start = T if t_start is None else float(t_start)
    eps = float(sde.sample_eps) if eps is None else float(eps)
    if not (0.0 < t_start <= T):
        raise ValueError(f"t_start must lie in (0, T] = (0, {T}]; got t_start={t_start}")
    if not (0.0 < eps < t_start):
        raise ValueError(f"eps must satisfy 0 < eps < t_start = {t_start}; got eps={eps}")
    return t_start, eps


def check_steps(n_steps, name: str = "n_steps") -> int:
    """``n_steps`` as an int, or a ValueError unless it is an integer >= 1."""
    if not is_int(n_steps) or n_steps < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {n_steps!r}")
    return int(n_steps)


def steps(n_steps: int, progress: bool = False, desc: str = "") -> Iterable[int]:
    """``range(n_steps)``, wrapped in a ``tqdm.auto`` progress bar if ``progress``."""
    if not progress:
        return range(n_steps)
    from tqdm.auto import tqdm

    return tqdm(range(n_steps), desc=desc, leave=False)


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
    if len(shape) < 2 or not all(is_int(s) and s >= 1 for s in shape):
        raise ValueError(f"shape must be (B, *dims) with positive integers, len >= 2; got {shape}")
    if not math.isclose(t_start, float(sde.T), rel_tol=0.0, abs_tol=1e-9):
        raise ValueError(
            f"got a shape, so the start state would be drawn from the SDE prior p_T, but "
            f"t_start={t_start} < T={sde.T}; pass x_start, a sample of p_t_start (e.g. a "
            "DiNof flow sample flow.inverse(z)), instead of a shape"
        )
    return sde.prior_sampling(tuple(int(s) for s in shape), generator=generator, device=device)
