"""Small building blocks shared by Glow's couplings and priors."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ZeroConv2d", "ZeroLinear", "soft_clamp", "broadcast_context"]


class ZeroConv2d(nn.Conv2d):
    """A 3×3 "same" convolution whose weight and bias start at zero (Glow's ``Conv2dZeros``):
    the layer it feeds starts as a fixed function, so every flow step starts near the identity."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class ZeroLinear(nn.Linear):
    """A linear layer whose weight and bias start at zero (vector counterpart of ZeroConv2d)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


def soft_clamp(x: Tensor, bound: float) -> Tensor:
    """``bound · tanh(x / bound)``: identity near 0, smoothly limited to ``(−bound, bound)``.

    Bounding the raw log-scales keeps every inverse step finite: without it a coupling scale
    ``sigmoid(raw + 2) → 0`` makes the inverse divide by ~0 and sampling overflows
    (docs/design.md §Flow numerics).
    """
    return bound * torch.tanh(x / bound)


def broadcast_context(c: Tensor, like: Tensor) -> Tensor:
    """``(B, K)`` → ``(B, K)`` for vector ``like``, ``(B, K, 1, 1)`` for image ``like``."""
    return c.view(*c.shape, *([1] * (like.dim() - 2)))
