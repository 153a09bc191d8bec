"""Affine coupling (Glow §3.3; RealNVP): half the channels, scaled and shifted by the other half.

Data → latent: split ``x = [x_a, x_b]`` along channels, ``(shift, raw) = NN(x_a, context)``,

    y_b = (x_b + shift) · sigmoid(raw + 2),      log|det| = Σ log sigmoid(raw + 2),

and ``y_a = x_a``. The inverse is ``x_b = y_b / sigmoid(raw + 2) − shift`` with the same ``NN(y_a)``.
``NN``'s last layer is zero-initialised, so a fresh coupling is the fixed map
``y_b = sigmoid(2)·x_b ≈ 0.88·x_b``; ``raw`` is soft-clamped to ``±clamp`` so the scale stays in
``[sigmoid(2 − clamp), sigmoid(2 + clamp)]`` and sampling cannot overflow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dinof_lite.flows.base import FlowLayer
from dinof_lite.flows.layers import ZeroConv2d, ZeroLinear, broadcast_context, soft_clamp

__all__ = ["AffineCoupling", "ConvCouplingNet", "MLPCouplingNet", "CHANNELS_LAST_FROM"]

#: The coupling CNN convolves in channels-last from this many positions (H·W) on: oneDNN's CPU
#: convolutions take 0.5–0.75× their NCHW time on it at 16×16, 0.77–0.94× at 8×8, but
#: 1.05–1.12× at 4×4 and below (one thread, hidden 64 and 256; docs/design.md §Flow numerics).
CHANNELS_LAST_FROM = 64


class ConvCouplingNet(nn.Module):
    """Glow's coupling CNN: 3×3 conv → ReLU → 1×1 conv → ReLU → zero-initialised 3×3 conv.

    ``(B, in_ch, H, W)`` (and context ``(B, K)``, added as a per-channel bias after the first
    conv) → ``(B, out_ch, H, W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, hidden: int, context_dim: int = 0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.out = ZeroConv2d(hidden, out_ch)
        self.context = nn.Linear(context_dim, hidden) if context_dim else None

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if x[0, 0].numel() >= CHANNELS_LAST_FROM:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.conv1(x)
        if self.context is not None:
            h = h + broadcast_context(self.context(context), h)
        # in place: a convolution's output is not needed for its backward, ReLU's own output is
        h = F.relu(self.conv2(F.relu(h, inplace=True)), inplace=True)
        return self.out(h).contiguous()  # NCHW whatever the layout inside


class MLPCouplingNet(nn.Module):
    """Vector coupling network: ``[x_a, context] → hidden → hidden → zero-initialised output``
    with SiLU activations (smooth, so the 2D densities it shapes are smooth too)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, context_dim: int = 0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim + context_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            ZeroLinear(hidden, out_dim),
        )

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        return self.net(x if context is None else torch.cat([x, context], dim=1))


class AffineCoupling(FlowLayer):
    """``forward(x) -> (y, logdet (B,))``, ``inverse(y) -> (x, −logdet)``; see module docstring.

    Args:
        num_channels: ``C ≥ 2``; the first ``C − C//2`` channels condition, the last ``C//2`` move.
        hidden: width of the coupling network.
        image: convolutional network for ``(B, C, H, W)`` inputs, else an MLP for ``(B, C)``.
        context_dim: size of the optional context vector the network also sees.
        clamp: bound on the raw log-scale (see :func:`~dinof_lite.flows.layers.soft_clamp`).
    """

    def __init__(
        self,
        num_channels: int,
        hidden: int,
        *,
        image: bool,
        context_dim: int = 0,
        clamp: float = 6.0,
    ) -> None:
        super().__init__()
        if num_channels < 2:
            raise ValueError(f"an affine coupling needs at least 2 channels, got {num_channels}")
        self.n_cond = num_channels - num_channels // 2
        n_move = num_channels // 2
        net = ConvCouplingNet if image else MLPCouplingNet
        self.net = net(self.n_cond, 2 * n_move, hidden, context_dim)
        self.clamp = clamp

    def _shift_and_log_scale(self, x_a: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        shift, raw = self.net(x_a, context).chunk(2, dim=1)
        return shift, F.logsigmoid(soft_clamp(raw, self.clamp) + 2.0)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_a, x_b = x[:, : self.n_cond], x[:, self.n_cond :]
        shift, log_scale = self._shift_and_log_scale(x_a, context)
        y_b = (x_b + shift) * log_scale.exp()
        return torch.cat([x_a, y_b], dim=1), log_scale.flatten(1).sum(1)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y_a, y_b = y[:, : self.n_cond], y[:, self.n_cond :]
        shift, log_scale = self._shift_and_log_scale(y_a, context)
        x_b = y_b * torch.exp(-log_scale) - shift
        return torch.cat([y_a, x_b], dim=1), -log_scale.flatten(1).sum(1)
