"""Glow's learned Gaussian priors, written as standardising bijections.

Glow models each factored-out half ``h ~ N(μ, e^{2·logσ})`` with ``(μ, logσ)`` predicted by a
zero-initialised convolution of the half that stays (Glow's ``split2d``), and the top level's
latent with learned per-channel ``(μ, logσ)`` (``learntop``). Writing the prior as the bijection
``z = (h − μ) · e^{−logσ}`` with log-det ``−Σ logσ`` turns every latent into a standard normal, so
``log p(x) = log N(z; 0, I) + Σ log-dets`` and sampling is ``inverse(ε)`` with ``ε ~ N(0, T² I)``
(temperature T scales every prior's spread, as in Glow). With a context vector, a zero-initialised
linear map of it is added to ``(μ, logσ)``. ``logσ`` is soft-clamped to ``±clamp``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dinof_lite.flows.base import FlowLayer
from dinof_lite.flows.layers import ZeroConv2d, ZeroLinear, broadcast_context, soft_clamp

__all__ = ["GaussianPrior", "Split"]


class GaussianPrior(FlowLayer):
    """``forward(h, context, cond) -> (z, logdet (B,))`` with ``z = (h − μ) e^{−logσ}``.

    Args:
        num_channels: channels ``C`` of ``h``.
        image: ``h`` is ``(B, C, H, W)`` (else ``(B, C)``).
        cond_channels: channels of the conditioning tensor (0: learned per-channel ``μ, logσ``).
        context_dim: size of the optional context vector.
        clamp: bound on ``|logσ|``.
    """

    def __init__(
        self,
        num_channels: int,
        *,
        image: bool,
        cond_channels: int = 0,
        context_dim: int = 0,
        clamp: float = 6.0,
    ) -> None:
        super().__init__()
        out = 2 * num_channels
        if cond_channels:
            self.cond = ZeroConv2d(cond_channels, out) if image else ZeroLinear(cond_channels, out)
            self.bias = None
        else:
            self.cond, self.bias = None, nn.Parameter(torch.zeros(out))
        self.context = ZeroLinear(context_dim, out) if context_dim else None
        self.clamp = clamp

    def mean_and_log_std(
        self, like: Tensor, context: Tensor | None = None, cond: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(μ, logσ)``, each shaped like ``like`` (the tensor being standardised)."""
        if self.cond is not None:
            h = self.cond(cond)
        else:
            h = self.bias.view(1, -1, *([1] * (like.dim() - 2)))
        if self.context is not None:
            h = h + broadcast_context(self.context(context), like)
        mean, log_std = h.chunk(2, dim=1)
        return mean.expand_as(like), soft_clamp(log_std, self.clamp).expand_as(like)

    def forward(
        self, h: Tensor, context: Tensor | None = None, cond: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        mean, log_std = self.mean_and_log_std(h, context, cond)
        return (h - mean) * torch.exp(-log_std), -log_std.flatten(1).sum(1)

    def inverse(
        self, z: Tensor, context: Tensor | None = None, cond: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        mean, log_std = self.mean_and_log_std(z, context, cond)
        return mean + z * log_std.exp(), log_std.flatten(1).sum(1)


class Split(nn.Module):
    """Factor out the last ``C//2`` channels (Glow's multi-scale split, RealNVP §3.6).

    ``forward(h) -> (kept (B, C − C//2, …), z (B, C//2, …), logdet (B,))``: ``z`` is the
    split-off half standardised by a Gaussian whose ``(μ, logσ)`` depend on ``kept`` (and the
    context). ``inverse(kept, z) -> (h, logdet)``. Not a :class:`~dinof_lite.flows.base.FlowLayer`
    (it has two outputs), but the same bijection ``h ↔ [kept, z]`` with the same log-det signs.
    """

    def __init__(
        self, num_channels: int, *, image: bool, context_dim: int = 0, clamp: float = 6.0
    ) -> None:
        super().__init__()
        self.n_keep = num_channels - num_channels // 2
        self.prior = GaussianPrior(
            num_channels // 2,
            image=image,
            cond_channels=self.n_keep,
            context_dim=context_dim,
            clamp=clamp,
        )

    def forward(self, h: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        kept, gone = h[:, : self.n_keep], h[:, self.n_keep :]
        z, logdet = self.prior(gone, context, cond=kept)
        return kept, z, logdet

    def inverse(
        self, kept: Tensor, z: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        gone, logdet = self.prior.inverse(z, context, cond=kept)
        return torch.cat([kept, gone], dim=1), logdet
