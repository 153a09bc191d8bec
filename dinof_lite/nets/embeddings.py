"""Noise-level embeddings for time-conditioned networks.

- :class:`SinusoidalEmbedding`: the Transformer / DDPM positional embedding of a scalar label
  (VP / sub-VP nets are conditioned on ``999 t``; Ho et al. 2020).
- :class:`GaussianFourierEmbedding`: random Fourier features of ``log σ`` (VE nets are conditioned
  on ``σ(t)``; Tancik et al. 2020, as used by NCSN++ in Song et al. 2021).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["SinusoidalEmbedding", "GaussianFourierEmbedding", "make_embedding", "EMBEDDINGS"]


def _check_label(label: Tensor) -> None:
    if label.dim() != 1:
        raise ValueError(f"noise label must have shape (batch,), got {tuple(label.shape)}")


class SinusoidalEmbedding(nn.Module):
    """``(B,) -> (B, dim)``: ``[sin(l ω_j), cos(l ω_j)]`` with ``ω_j = max_positions^(−j/(dim/2−1))``."""

    def __init__(self, dim: int, max_positions: int = 10_000) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise ValueError(f"embedding dim must be an even number >= 4, got {dim}")
        half = dim // 2
        freqs = torch.exp(-math.log(max_positions) * torch.arange(half) / (half - 1))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, label: Tensor) -> Tensor:
        _check_label(label)
        args = label.float()[:, None] * self.freqs
        return torch.cat([args.sin(), args.cos()], dim=1)


class GaussianFourierEmbedding(nn.Module):
    """``(B,) -> (B, dim)``: ``[sin(2π x W), cos(2π x W)]``, ``W ~ N(0, scale²)`` fixed, ``x = log l``."""

    def __init__(self, dim: int, scale: float = 16.0, log_input: bool = True) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"embedding dim must be a positive even number, got {dim}")
        self.log_input = log_input
        gen = torch.Generator().manual_seed(0)  # fixed features: same network for the same seed
        self.register_buffer("W", torch.randn(dim // 2, generator=gen) * scale)

    def forward(self, label: Tensor) -> Tensor:
        _check_label(label)
        x = label.float().log() if self.log_input else label.float()
        args = 2 * math.pi * x[:, None] * self.W
        return torch.cat([args.sin(), args.cos()], dim=1)


EMBEDDINGS = {"sinusoidal": SinusoidalEmbedding, "fourier": GaussianFourierEmbedding}


def make_embedding(kind: str, dim: int) -> nn.Module:
    """Build an embedding by name (``"sinusoidal"`` or ``"fourier"``)."""
    if kind not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {kind!r}; valid: {', '.join(EMBEDDINGS)}")
    return EMBEDDINGS[kind](dim)
