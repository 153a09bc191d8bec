"""DiNof's hand-over time ``T_m``: which values a model accepts (:class:`TmSpec`), how training
draws them, and the any-T_m flow context (:func:`tm_context`).

A single-T_m model's flow models ``p_{T_m}`` at one time only. An any-T_m model
(``T_m_range=(lo, hi)``) conditions one flow on ``T_m`` through Glow's ``context``: the features
:func:`tm_context` of ``T_m`` enter every coupling and prior, so the flow models ``p_{T_m}`` for
every ``T_m`` in the range (DiNof Eq. 8 with a conditional flow).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor

from dinof_lite.sde import SDE
from dinof_lite.utils import rand

__all__ = ["CONTEXT_DIM", "tm_context", "TmSpec"]

#: Size of the ``T_m`` feature vector :func:`tm_context` gives a conditional flow.
CONTEXT_DIM = 9


def tm_context(sde: SDE, T_m: Tensor, T_m_range: tuple[float, float]) -> Tensor:
    """Features ``(B, 9)`` of ``T_m (B,)`` that condition the any-T_m flow.

    With ``u = (T_m − lo)/(hi − lo) ∈ [0, 1]``: ``[2u − 1, sin(2^k π u), cos(2^k π u) for k < 3,
    a(T_m), log s(T_m)]``. The marginal coefficients let the flow's conditional priors read the
    scale of ``p_{T_m}`` (``x(T_m) = a·x0 + s·z``) off a linear map.
    """
    lo, hi = T_m_range
    u = (T_m - lo) / (hi - lo) if hi > lo else torch.zeros_like(T_m)
    a, s = sde.marginal_coeffs(T_m)
    feats = [2 * u - 1]
    for k in range(3):
        feats += [torch.sin(2**k * math.pi * u), torch.cos(2**k * math.pi * u)]
    feats += [a, s.clamp_min(1e-12).log()]
    return torch.stack(feats, dim=-1)


@dataclass(frozen=True)
class TmSpec:
    """The hand-over times a :class:`~dinof_lite.dinof.DiNof` accepts; build it with
    :meth:`build`, which checks every field.

    Attributes:
        T_m: the model's own ``T_m`` (the default of sampling and likelihoods).
        T_m_range: ``(lo, hi)`` for an any-T_m model (one conditional flow for every ``T_m`` in
            the range), ``None`` for a single-T_m model.
        eps: the smallest ``T_m`` is above it: ``max(train_eps, sample_eps)``, so that both the
            training times ``[train_eps, T_m)`` and the sampler's ``T_m → sample_eps`` exist.
        T: the SDE's end time, the largest ``T_m``.
    """

    T_m: float
    T_m_range: tuple[float, float] | None
    eps: float
    T: float

    @classmethod
    def build(
        cls, T_m: float, T_m_range: tuple[float, float] | None, *, eps: float, T: float
    ) -> TmSpec:
        """The checked spec; ``ValueError`` / ``TypeError`` name the argument and the range."""
        if T_m_range is not None:
            lo_hi = tuple(float(v) for v in T_m_range)
            if len(lo_hi) != 2 or not eps < lo_hi[0] < lo_hi[1] <= T:
                raise ValueError(
                    f"T_m_range must be (lo, hi) with eps = {eps} < lo < hi <= T = {T} "
                    f"(eps = max(train_eps, sample_eps)); got {T_m_range}"
                )
            T_m_range = lo_hi
        spec = cls(0.0, T_m_range, float(eps), float(T))
        return cls(spec.check(T_m), T_m_range, float(eps), float(T))

    @property
    def any_T_m(self) -> bool:
        """True when one conditional flow serves every ``T_m`` in :attr:`T_m_range`."""
        return self.T_m_range is not None

    def check(self, T_m: float | Tensor) -> float:
        """``T_m`` as a float, checked: one number in ``(eps, T]`` and, any-T_m, in the range."""
        if isinstance(T_m, Tensor):
            if T_m.numel() != 1:
                raise ValueError(
                    f"T_m must be one number (a float or a 1-element tensor); got a tensor of "
                    f"shape {tuple(T_m.shape)}: one model (or one call) uses one T_m"
                )
            T_m = T_m.item()
        if isinstance(T_m, bool) or not isinstance(T_m, numbers.Real):
            raise TypeError(f"T_m must be a number in (eps, T]; got {type(T_m).__name__} {T_m!r}")
        T_m = float(T_m)
        if not self.eps < T_m <= self.T:
            raise ValueError(
                f"T_m must lie in (eps, T] = ({self.eps}, {self.T}] (eps = max(train_eps, "
                f"sample_eps)); got {T_m}"
            )
        if self.any_T_m:
            lo, hi = self.T_m_range
            if not lo - 1e-9 <= T_m <= hi + 1e-9:
                raise ValueError(
                    f"T_m={T_m} is outside the range this model was trained on, "
                    f"T_m_range=[{lo}, {hi}]"
                )
        return T_m

    def resolve(self, T_m: float | Tensor | None) -> float:
        """``T_m`` to use: :attr:`T_m` if ``None``; otherwise :meth:`check` ed, and for a
        single-T_m model equal to :attr:`T_m` (its flow models ``p_{T_m}`` at that time only)."""
        if T_m is None:
            return self.T_m
        T_m = self.check(T_m)
        if not self.any_T_m and not math.isclose(T_m, self.T_m, abs_tol=1e-9):
            raise ValueError(
                f"this DiNof was trained at T_m={self.T_m} only; its flow models "
                f"p_{{T_m}} at that time. Train with T_m_range=(lo, hi) (any-T_m mode) "
                f"to sample at T_m={T_m}"
            )
        return T_m

    def draw(
        self, batch: int, generator: torch.Generator | None, device, dtype
    ) -> tuple[Tensor, float]:
        """Training's ``(T_m (batch,), t_max)``: :attr:`T_m` and ``t_max = T_m`` for a single-T_m
        model; ``T_m ~ U(lo, hi)`` per example and ``t_max = hi`` for an any-T_m model (its
        score network is trained on ``[train_eps, hi)``). Draws from ``generator`` only any-T_m."""
        if self.any_T_m:
            lo, hi = self.T_m_range
            return lo + (hi - lo) * rand((batch,), generator, device, dtype), hi
        return torch.full((batch,), self.T_m, device=device, dtype=dtype), self.T_m
