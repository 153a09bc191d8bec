"""Squeeze (RealNVP §3.6): trade space for channels, ``(B, C, H, W) ↔ (B, 4C, H/2, W/2)``.

A permutation of the entries (log-det 0). Output channel ``4c + 2i + j`` holds input channel
``c`` at the offsets ``(i, j)`` of every 2×2 block.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["squeeze", "unsqueeze"]


def squeeze(x: Tensor) -> Tensor:
    """``(B, C, H, W)`` → ``(B, 4C, H/2, W/2)``; H and W must be even."""
    b, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"squeeze needs even height and width, got {h}×{w}")
    x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """``(B, 4C, H, W)`` → ``(B, C, 2H, 2W)``, the inverse of :func:`squeeze`."""
    b, c4, h, w = x.shape
    if c4 % 4:
        raise ValueError(f"unsqueeze needs a multiple of 4 channels, got {c4}")
    x = x.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c4 // 4, 2 * h, 2 * w)
