"""FIR resampling by a factor of 2 (StyleGAN2's ``upfirdn2d``, as NCSN++ uses it), pure PyTorch.

NCSN++ (Song et al. 2021, App. H) resamples with the separable low-pass filter ``k = [1, 3, 3, 1]``
instead of nearest-neighbour / average pooling. Everything here is built on one primitive,

``upfirdn2d(x, K, up, down, pad)``: insert ``up − 1`` zeros after every pixel (each axis), pad
``pad = (before, after)`` zeros on each side, convolve with the 2-D filter ``K`` (a true
convolution, ``K`` flipped), keep every ``down``-th pixel.

The filter is normalised like the reference: ``K = k kᵀ / Σ k kᵀ`` times ``gain · up²`` when
upsampling (so a constant image keeps its value: each output pixel sees ``1/up²`` of the taps) or
times ``gain`` when downsampling. With ``k`` of length 4 and a factor 2 the padding puts the
filter's centre between the two pixels it interpolates, so ``upsample_2d`` maps ``(H, W)`` to
``(2H, 2W)`` and ``downsample_2d`` maps it to ``(H/2, W/2)``, both with zeros outside the image.

``upsample_conv_2d`` / ``conv_downsample_2d`` fuse resampling with a 3×3 convolution ``w`` the
way the reference does (padding once, on the outside): this is *not* the same as ``upsample_2d``
followed by a "same"-padded convolution — the two differ on the border pixels — so a checkpoint
trained with the fused form needs the fused form.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "fir_filter",
    "upfirdn2d",
    "upsample_2d",
    "downsample_2d",
    "upsample_conv_2d",
    "conv_downsample_2d",
]


def fir_filter(k: Sequence[float], gain: float = 1.0) -> Tensor:
    """The 2-D filter ``gain · k kᵀ / Σ k kᵀ`` (float32) of a 1-D kernel ``k`` (a 2-D one is used
    as given, then normalised)."""
    k = torch.as_tensor(k, dtype=torch.float32)
    if k.dim() == 1:
        k = torch.outer(k, k)
    if k.dim() != 2 or k.shape[0] != k.shape[1] or k.sum() == 0:
        raise ValueError(f"FIR kernel must be 1-D or square 2-D with a non-zero sum, got {k}")
    return k * (gain / k.sum())


def upfirdn2d(
    x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> Tensor:
    """Zero-stuff by ``up``, zero-pad by ``pad`` (same on both axes), convolve every channel with
    ``kernel (kh, kw)``, subsample by ``down``: ``(B, C, H, W) → (B, C, H', W')`` with
    ``H' = (H·up + pad[0] + pad[1] − kh) // down + 1``."""
    B, C, H, W = x.shape
    if up > 1:
        x = F.pad(x.reshape(B, C, H, 1, W, 1), (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(B, C, H * up, W * up)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    # conv2d correlates; flipping the kernel makes it a convolution (depthwise: one per channel)
    weight = kernel.flip(0, 1).to(x)[None, None].repeat(C, 1, 1, 1)
    return F.conv2d(x, weight, stride=down, groups=C)


def upsample_2d(x: Tensor, k: Sequence[float] = (1, 3, 3, 1), factor: int = 2) -> Tensor:
    """``(B, C, H, W) → (B, C, factor·H, factor·W)``: zero-stuff, then low-pass with ``k``."""
    K = fir_filter(k, gain=factor**2)
    p = K.shape[0] - factor
    return upfirdn2d(x, K, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x: Tensor, k: Sequence[float] = (1, 3, 3, 1), factor: int = 2) -> Tensor:
    """``(B, C, H, W) → (B, C, H/factor, W/factor)``: low-pass with ``k``, then subsample."""
    K = fir_filter(k)
    p = K.shape[0] - factor
    return upfirdn2d(x, K, down=factor, pad=((p + 1) // 2, p // 2))


def upsample_conv_2d(
    x: Tensor, w: Tensor, k: Sequence[float] = (1, 3, 3, 1), factor: int = 2
) -> Tensor:
    """Upsample by ``factor`` and convolve with ``w (C_out, C_in, n, n)``, fused (no bias).

    A stride-``factor`` transposed convolution with the spatially flipped ``w`` correlates the
    zero-stuffed input with ``w`` over its full support (``(H−1)·factor + n`` pixels); the
    low-pass ``k`` then brings it back to ``factor·H``.
    """
    n = w.shape[-1]
    K = fir_filter(k, gain=factor**2)
    p = (K.shape[0] - factor) - (n - 1)
    x = F.conv_transpose2d(x, w.flip(2, 3).transpose(0, 1), stride=factor)
    return upfirdn2d(x, K, pad=((p + 1) // 2 + factor - 1, p // 2 + 1))


def conv_downsample_2d(
    x: Tensor, w: Tensor, k: Sequence[float] = (1, 3, 3, 1), factor: int = 2
) -> Tensor:
    """Low-pass with ``k`` (padded for both filters at once), then a stride-``factor``
    convolution with ``w (C_out, C_in, n, n)`` (no bias): ``(B, C_in, H, W) → (B, C_out, H/f, W/f)``."""
    n = w.shape[-1]
    K = fir_filter(k)
    p = (K.shape[0] - factor) + (n - 1)
    return F.conv2d(upfirdn2d(x, K, pad=((p + 1) // 2, p // 2)), w, stride=factor)
