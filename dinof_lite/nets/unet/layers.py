"""Building blocks of the NCSN++ / DDPM++ UNet (Song et al. 2021, ``layerspp.py``), pure PyTorch.

Every block maps ``(B, C, H, W)`` feature maps; residual blocks also see the time embedding
``temb (B, temb_dim)``. Conventions follow the reference implementation:

- GroupNorm with ``min(C // 4, 32)`` groups (eps ``1e-6``) and SiLU ("swish") activations;
- weights initialised with variance scaling (``fan_avg``, uniform: Xavier-uniform with gain
  ``√scale``), biases at zero; the last convolution of each residual branch and the output
  projection of attention use ``init_scale`` (``0`` → zero-init, so each block starts as the
  identity map up to the skip rescaling);
- ``skip_rescale``: a residual sum is divided by ``√2`` so activations keep unit scale.

Resampling is *naive* (nearest-neighbour upsampling, 2×2 average pooling) or, with ``fir=True``,
NCSN++'s FIR filter ``fir_kernel`` (default ``[1, 3, 3, 1]``; :mod:`~dinof_lite.nets.unet.fir`),
with or without a 3×3 convolution (fused with the filter, as in the reference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dinof_lite.nets.unet.fir import (
    conv_downsample_2d,
    downsample_2d,
    upsample_2d,
    upsample_conv_2d,
)

__all__ = [
    "AttnBlock",
    "Combine",
    "Downsample",
    "ResnetBlock",
    "Upsample",
    "group_norm",
    "init_layer",
]

_RESBLOCKS = ("biggan", "ddpm")


def init_layer(layer: nn.Conv2d | nn.Linear, scale: float = 1.0) -> nn.Module:
    """Variance-scaling init (``fan_avg``, uniform) of ``layer``'s weight; zero bias.

    ``scale = 0`` gives an all-zero weight (the reference code uses 1e-10, numerically the same).
    """
    if scale == 0:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.xavier_uniform_(layer.weight, gain=math.sqrt(scale))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def conv(
    in_ch: int,
    out_ch: int,
    kernel: int = 3,
    stride: int = 1,
    padding: int | None = None,
    init_scale: float = 1.0,
) -> nn.Conv2d:
    """A ``kernel × kernel`` convolution (``same`` padding by default) with variance-scaling init."""
    padding = kernel // 2 if padding is None else padding
    return init_layer(nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding), init_scale)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with ``min(channels // 4, 32)`` groups, as in NCSN++ / DDPM++."""
    return nn.GroupNorm(max(min(channels // 4, 32), 1), channels, eps=1e-6)


def _upsample(x: Tensor, fir_kernel: Sequence[float] | None = None) -> Tensor:
    """×2: nearest-neighbour, or FIR with ``fir_kernel`` when one is given."""
    if fir_kernel is not None:
        return upsample_2d(x, fir_kernel)
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def _downsample(x: Tensor, fir_kernel: Sequence[float] | None = None) -> Tensor:
    """÷2: 2×2 average pooling, or FIR with ``fir_kernel`` when one is given."""
    if fir_kernel is not None:
        return downsample_2d(x, fir_kernel)
    return F.avg_pool2d(x, 2)


class Upsample(nn.Module):
    """``(B, C, H, W) -> (B, C_out, 2H, 2W)``: ×2 (nearest, or FIR if ``fir``), then a 3×3 conv if
    ``with_conv`` (with ``fir`` the conv is fused with the upsampling, as in the reference)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        with_conv: bool = True,
        fir: bool = False,
        fir_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        out_ch = out_ch or in_ch
        if not with_conv and out_ch != in_ch:
            raise ValueError("Upsample without a conv cannot change the number of channels")
        self.conv = conv(in_ch, out_ch) if with_conv else None
        self.fir_kernel = tuple(fir_kernel) if fir else None

    def forward(self, x: Tensor) -> Tensor:
        if self.conv is None:
            return _upsample(x, self.fir_kernel)
        if self.fir_kernel is None:
            return self.conv(_upsample(x))
        h = upsample_conv_2d(x, self.conv.weight, self.fir_kernel)
        return h + self.conv.bias[:, None, None]


class Downsample(nn.Module):
    """``(B, C, H, W) -> (B, C_out, H/2, W/2)``: strided 3×3 conv if ``with_conv``, else 2×2 avg-pool;
    with ``fir``, the FIR low-pass first (fused with the strided conv, or on its own).

    The naive strided conv pads one pixel at the bottom/right only, like the reference (TF "SAME").
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        with_conv: bool = True,
        fir: bool = False,
        fir_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        out_ch = out_ch or in_ch
        if not with_conv and out_ch != in_ch:
            raise ValueError("Downsample without a conv cannot change the number of channels")
        self.conv = conv(in_ch, out_ch, stride=2, padding=0) if with_conv else None
        self.fir_kernel = tuple(fir_kernel) if fir else None

    def forward(self, x: Tensor) -> Tensor:
        if self.conv is None:
            return _downsample(x, self.fir_kernel)
        if self.fir_kernel is None:
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        h = conv_downsample_2d(x, self.conv.weight, self.fir_kernel)
        return h + self.conv.bias[:, None, None]


class Combine(nn.Module):
    """``(pyramid (B, C_in, H, W), h (B, C, H, W)) -> (B, C or 2C, H, W)``: NCSN++'s
    ``input_skip`` merge of the downsampled image into the features: a 1×1 conv of the pyramid to
    ``C`` channels, then added to ``h`` (``method="sum"``) or concatenated before it (``"cat"``)."""

    def __init__(self, in_ch: int, out_ch: int, method: str = "sum") -> None:
        super().__init__()
        if method not in ("sum", "cat"):
            raise ValueError(f"unknown combine method {method!r}; valid: sum, cat")
        self.conv = conv(in_ch, out_ch, kernel=1)
        self.method = method

    def forward(self, pyramid: Tensor, h: Tensor) -> Tensor:
        p = self.conv(pyramid)
        return p + h if self.method == "sum" else torch.cat([p, h], dim=1)


class ResnetBlock(nn.Module):
    """``(B, in_ch, H, W), temb (B, temb_dim) -> (B, out_ch, H', W')``: a time-conditioned residual block.

    Branch: ``GN → SiLU → [up/down] → conv3x3 → + Dense(SiLU(temb)) → GN → SiLU → dropout →
    conv3x3`` (last conv at ``init_scale``). Skip: the input, resampled like the branch, through a
    1×1 conv when the shape changes. Output ``(skip + branch) / √2`` if ``skip_rescale``.

    - ``kind="biggan"`` (BigGAN-style, used by NCSN++ *and* DDPM++ in score_sde): may resample
      *inside* the block (``up`` / ``down``: nearest / average-pool, or FIR if ``fir``).
    - ``kind="ddpm"`` (Ho et al. 2020): no resampling inside; the UNet uses separate
      :class:`Upsample` / :class:`Downsample` layers.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        temb_dim: int | None = None,
        dropout: float = 0.1,
        kind: str = "biggan",
        up: bool = False,
        down: bool = False,
        skip_rescale: bool = True,
        init_scale: float = 0.0,
        fir: bool = False,
        fir_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        if kind not in _RESBLOCKS:
            raise ValueError(f"unknown resblock {kind!r}; valid: {', '.join(_RESBLOCKS)}")
        if up and down:
            raise ValueError("a ResnetBlock cannot both upsample and downsample")
        if kind == "ddpm" and (up or down):
            raise ValueError("DDPM-style blocks do not resample; use Upsample / Downsample")
        out_ch = out_ch or in_ch
        self.kind, self.up, self.down, self.skip_rescale = kind, up, down, skip_rescale
        self.fir_kernel = tuple(fir_kernel) if fir else None
        self.norm0 = group_norm(in_ch)
        self.conv0 = conv(in_ch, out_ch)
        self.temb = init_layer(nn.Linear(temb_dim, out_ch)) if temb_dim else None
        self.norm1 = group_norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = conv(out_ch, out_ch, init_scale=init_scale)
        needs_skip = in_ch != out_ch or up or down
        self.skip = conv(in_ch, out_ch, kernel=1) if needs_skip else None
        self.act = nn.SiLU()

    def _resample(self, x: Tensor) -> Tensor:
        if self.up:
            return _upsample(x, self.fir_kernel)
        return _downsample(x, self.fir_kernel) if self.down else x

    def forward(self, x: Tensor, temb: Tensor | None = None) -> Tensor:
        h = self._resample(self.act(self.norm0(x)))
        x = self._resample(x)
        h = self.conv0(h)
        if self.temb is not None and temb is not None:
            h = h + self.temb(self.act(temb))[:, :, None, None]
        h = self.conv1(self.dropout(self.act(self.norm1(h))))
        if self.skip is not None:
            x = self.skip(x)
        out = x + h
        return out / math.sqrt(2.0) if self.skip_rescale else out


class AttnBlock(nn.Module):
    """``(B, C, H, W) -> (B, C, H, W)``: single-head self-attention over the ``H·W`` positions.

    ``q, k, v`` and the output projection are 1×1 convolutions (the reference's ``NIN`` layers);
    the output projection starts at ``init_scale`` (0: the block starts as the identity, up to
    the ``1/√2`` of ``skip_rescale``).
    """

    def __init__(self, channels: int, skip_rescale: bool = True, init_scale: float = 0.0) -> None:
        super().__init__()
        self.norm = group_norm(channels)
        self.q, self.k, self.v = (conv(channels, channels, kernel=1) for _ in range(3))
        self.out = conv(channels, channels, kernel=1, init_scale=init_scale)
        self.skip_rescale = skip_rescale

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        h = self.norm(x)
        q, k, v = (f(h).reshape(B, C, H * W).transpose(1, 2) for f in (self.q, self.k, self.v))
        a = F.scaled_dot_product_attention(q, k, v)  # (B, HW, C), softmax(q kᵀ / √C) v
        h = self.out(a.transpose(1, 2).reshape(B, C, H, W))
        out = x + h
        return out / math.sqrt(2.0) if self.skip_rescale else out
