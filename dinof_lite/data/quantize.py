r"""Uniform dequantisation and bits per dimension for discrete (e.g. 8-bit) data.

A model density ``p`` on continuous values bounds the probability of the discrete data: with
:math:`x = \mathrm{lo} + (\mathrm{hi} - \mathrm{lo})\,(k + u)/n_\mathrm{bins}`,
:math:`u \sim U[0, 1)^D` (Theis et al. 2016),

.. math::

    -\log_2 P(k) \le \mathbb{E}_u\left[-\log_2 p(x)\right]
    - D \log_2(\mathrm{hi} - \mathrm{lo}) + D \log_2 n_\mathrm{bins},

so ``bpd = −log p(x)/(D ln 2) − log2(hi − lo) + log2(n_bins)``: the familiar offsets 8 for 8-bit
data on [0, 1] and 7 on [−1, 1] (score_sde's ``bpd_offset``; docs/design.md §Bits per dimension).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dinof_lite.utils import rand

__all__ = ["dequantize", "bits_per_dim"]


def _check_range(data_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in data_range)
    if not hi > lo:
        raise ValueError(f"data_range must be (lo, hi) with hi > lo, got {data_range}")
    return lo, hi


def dequantize(
    x: Tensor,
    *,
    n_bins: int = 256,
    data_range: tuple[float, float] = (0.0, 1.0),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Spread grid values uniformly over their bins.

    Args:
        x: ``(B, *dims)`` values on the grid ``lo + (hi − lo)·k/(n_bins − 1)``, ``k = 0 … n_bins−1``
            (8-bit images scaled with ``/255``, or further to [−1, 1]).
        n_bins: number of levels (256 for 8-bit data, 17 for sklearn's digits).
        data_range: ``(lo, hi)``, the values of ``k = 0`` and ``k = n_bins − 1``.
        generator: for the uniform noise.

    Returns:
        ``lo + (hi − lo)·(k + u)/n_bins``, ``u ~ U[0, 1)``, same shape and dtype as ``x``.
    """
    lo, hi = _check_range(data_range)
    if not x.is_floating_point():
        raise TypeError(
            f"dequantize expects a floating tensor scaled to {data_range}, got "
            f"{x.dtype}; for 8-bit images use x.float() / 255"
        )
    levels = (x - lo) / (hi - lo) * (n_bins - 1)
    k = torch.round(levels)
    if (k < 0).any() or (k > n_bins - 1).any():
        raise ValueError(
            f"x has values outside data_range={data_range} "
            f"(min {x.min().item():.4g}, max {x.max().item():.4g})"
        )
    off = (levels - k).abs().max().item() if x.numel() else 0.0
    if off > 1e-3:
        raise ValueError(
            f"x is not on the {n_bins}-level grid of data_range={data_range} (off by "
            f"up to {off:.3g} levels); for continuous data skip dequantisation "
            f"(Glow.bits_per_dim(..., dequantize_data=False))"
        )
    u = rand(x.shape, generator, device=x.device, dtype=x.dtype)
    return lo + (hi - lo) * (k + u) / n_bins


def bits_per_dim(
    log_prob: Tensor,
    n_dims: int,
    *,
    n_bins: int = 256,
    data_range: tuple[float, float] = (0.0, 1.0),
) -> Tensor:
    """Bits per dimension of discrete data from ``log p`` (nats) of its dequantised version.

    Args:
        log_prob: ``(B,)`` log-density (nats) of the dequantised data in model scale.
        n_dims: ``D``, the number of dimensions per example.
        n_bins, data_range: as in :func:`dequantize`.

    Returns:
        ``(B,)`` bits per dimension (lower is better).
    """
    lo, hi = _check_range(data_range)
    offset = math.log2(n_bins) - math.log2(hi - lo)
    return -log_prob / (n_dims * math.log(2.0)) + offset
