"""DiNof's hand-over time ``T_m``: which values a model accepts, and the any-T_m flow context.

A single-T_m model's flow models ``p_{T_m}`` at one time only. An any-T_m model
(``T_m_range=(lo, hi)``) conditions one flow on ``T_m`` through Glow's ``context``: the features
:func:`tm_context` of ``T_m`` enter every coupling and prior, so the flow models ``p_{T_m}`` for
every ``T_m`` in the range (DiNof Eq. 8 with a conditional flow).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn

from dinof_lite.sde import SDE

__all__ = ["CONTEXT_DIM", "tm_context", "TmConditioning"]

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


class TmConditioning:
    """The ``T_m`` methods of :class:`~dinof_lite.dinof.DiNof` (a mixin).

    Reads the model's ``sde``, ``flow``, ``eps``, ``T_m`` and ``T_m_range`` (``None`` for a
    single-T_m model, else ``(lo, hi)``).
    """

    sde: SDE
    flow: nn.Module
    eps: float
    T_m: float
    T_m_range: tuple[float, float] | None

    def _set_T_m(self, T_m: float, T_m_range: tuple[float, float] | None) -> None:
        """Check and store ``T_m`` and ``T_m_range``; the flow must be conditional (``context_dim
        == CONTEXT_DIM``) exactly in any-T_m mode. Needs ``sde``, ``flow`` and ``eps`` set."""
        self.T_m_range = None if T_m_range is None else tuple(float(v) for v in T_m_range)
        if self.T_m_range is not None:
            lo, hi = self.T_m_range
            if len(T_m_range) != 2 or not self.eps < lo < hi <= self.sde.T:
                raise ValueError(
                    f"T_m_range must be (lo, hi) with eps = {self.eps} < lo < hi <= "
                    f"T = {self.sde.T}; got {T_m_range}"
                )
        self.T_m = self._check_T_m(T_m)
        want = CONTEXT_DIM if self.any_T_m else 0
        got = int(getattr(self.flow, "context_dim", 0))
        if got != want:
            raise ValueError(
                f"the flow has context_dim={got} but DiNof needs {want}: "
                + (
                    f"an any-T_m model conditions its flow on tm_context, build it with "
                    f"context_dim=DiNof.CONTEXT_DIM ({CONTEXT_DIM})"
                    if want
                    else "a single-T_m model takes an unconditional flow (or pass T_m_range)"
                )
            )

    @property
    def any_T_m(self) -> bool:
        """True when one conditional flow serves every ``T_m`` in :attr:`T_m_range`."""
        return self.T_m_range is not None

    def _check_T_m(self, T_m: float) -> float:
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
        if not self.eps < T_m <= self.sde.T:
            raise ValueError(f"T_m must lie in (eps, T] = ({self.eps}, {self.sde.T}]; got {T_m}")
        if self.any_T_m:
            lo, hi = self.T_m_range
            if not lo - 1e-9 <= T_m <= hi + 1e-9:
                raise ValueError(
                    f"T_m={T_m} is outside the range this model was trained on, "
                    f"T_m_range=[{lo}, {hi}]"
                )
        return T_m

    def resolve_T_m(self, T_m: float | None) -> float:
        """``T_m`` to use: the model's own if ``None``; otherwise checked against the training.

        Raises ``ValueError`` for ``T_m`` outside ``(eps, T]``, outside ``T_m_range`` (any-T_m
        mode), or different from the one ``T_m`` a single-T_m model was trained at.
        """
        if T_m is None:
            return self.T_m
        T_m = self._check_T_m(T_m)
        if not self.any_T_m and not math.isclose(T_m, self.T_m, abs_tol=1e-9):
            raise ValueError(
                f"this DiNof was trained at T_m={self.T_m} only; its flow models "
                f"p_{{T_m}} at that time. Train with T_m_range=(lo, hi) (any-T_m mode) "
                f"to sample at T_m={T_m}"
            )
        return T_m

    def context(self, T_m: Tensor | float, batch: int) -> Tensor | None:
        """The flow's context ``(B, CONTEXT_DIM)`` for ``T_m`` (scalar or ``(B,)``); ``None`` in
        single-T_m mode."""
        if not self.any_T_m:
            return None
        ref = next(self.flow.parameters())
        T_m = torch.as_tensor(T_m, dtype=ref.dtype, device=ref.device).expand(batch)
        return tm_context(self.sde, T_m, self.T_m_range)
