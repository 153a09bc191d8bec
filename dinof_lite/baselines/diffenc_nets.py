"""DiffEnc's two networks, both conditioned on the log-SNR variable γ (Nielsen et al. 2024, §2).

- :class:`VNetMLP`: the v-prediction network ``v̂(z_t, γ_t)``, the library's residual
  :class:`~dinof_lite.nets.ScoreMLP` fed the label ``999 · (γ − γ_min)/(γ_max − γ_min)`` (the
  DDPM sinusoidal embedding, as VP nets use ``999 t``).
- :class:`EncoderMLP`: the inner encoder ``y_φ(x, γ) = tanh(net(x, γ))`` of DiffEnc Eq. 15, whose
  last layer starts at zero so ``y_φ ≡ 0`` at initialisation (the non-trainable encoder, Eq. 16).
  It takes γ as a plain input (normalised to [−1, 1]) so ``∂y_φ/∂γ`` is smooth and cheap by
  forward-mode JVP.
- :class:`VNetUNet` / :class:`EncoderConv`: the same two roles for images ``(B, C, H, W)``: the
  library's :class:`~dinof_lite.nets.unet.UNet` (``UNetConfig.tiny``, sinusoidal embedding) and a
  small convolutional encoder (the authors use a second UNet; a few 3×3 convolutions suffice for
  8×8 digits).

:func:`build_nets` makes the pair a :class:`~dinof_lite.baselines.diffenc.DiffEncConfig` asks for.

The authors' 2D network (VDM's colab) concatenates base-2 Fourier features of ``z``, meant to
resolve 8-bit data near ``t = 0``; continuous toy data need no such features (noted deviation).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dinof_lite.nets.mlp import ScoreMLP
from dinof_lite.nets.unet import UNet, UNetConfig

__all__ = ["VNetMLP", "EncoderMLP", "VNetUNet", "EncoderConv", "build_nets"]


def _check(x: Tensor, gamma: Tensor, shape: tuple[int, ...]) -> None:
    if x.dim() != 1 + len(shape) or tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"input must have shape (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}"
        )
    if gamma.shape != (x.shape[0],):
        raise ValueError(f"gamma must have shape ({x.shape[0]},), got {tuple(gamma.shape)}")


def _unit(gamma: Tensor, gamma_min: float, gamma_max: float) -> Tensor:
    """``(γ − γ_min)/(γ_max − γ_min)``: ``[0, 1]`` over the schedule."""
    return (gamma - gamma_min) / (gamma_max - gamma_min)


def _zero_init(layer: nn.Module) -> nn.Module:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class VNetMLP(nn.Module):
    """``v̂ = net(z, γ)``: ``z (B, dim)``, ``γ (B,)`` → ``(B, dim)`` (v-prediction, DiffEnc Eq. 19)."""

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        n_layers: int = 3,
        emb_dim: int = 64,
        gamma_min: float = -13.3,
        gamma_max: float = 5.0,
    ) -> None:
        super().__init__()
        if not gamma_max > gamma_min:
            raise ValueError(f"need gamma_max > gamma_min; got {gamma_min}, {gamma_max}")
        self.dim, self.gamma_min, self.gamma_max = dim, gamma_min, gamma_max
        self.net = ScoreMLP(dim, hidden, n_layers, embedding="sinusoidal", emb_dim=emb_dim)

    def forward(self, z: Tensor, gamma: Tensor) -> Tensor:
        _check(z, gamma, (self.dim,))
        return self.net(z, 999.0 * _unit(gamma, self.gamma_min, self.gamma_max))


class EncoderMLP(nn.Module):
    """``y_φ = tanh(net([x, γ̃]))`` with ``γ̃ ∈ [−1, 1]``: ``x (B, dim)``, ``γ (B,)`` → ``(B, dim)``.

    ``n_layers`` hidden SiLU layers of width ``hidden``; the output layer is zero-initialised
    (DiffEnc §4: the trainable encoder starts as the non-trainable one).
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 64,
        n_layers: int = 2,
        gamma_min: float = -13.3,
        gamma_max: float = 5.0,
    ) -> None:
        super().__init__()
        if dim < 1 or hidden < 1 or n_layers < 1:
            raise ValueError(
                f"dim, hidden and n_layers must be >= 1, got {dim}, {hidden}, {n_layers}"
            )
        if not gamma_max > gamma_min:
            raise ValueError(f"need gamma_max > gamma_min; got {gamma_min}, {gamma_max}")
        self.dim, self.gamma_min, self.gamma_max = dim, gamma_min, gamma_max
        layers: list[nn.Module] = []
        width = dim + 1
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, _zero_init(nn.Linear(width, dim)))

    def forward(self, x: Tensor, gamma: Tensor) -> Tensor:
        _check(x, gamma, (self.dim,))
        g = 2.0 * _unit(gamma, self.gamma_min, self.gamma_max) - 1.0
        return self.net(torch.cat([x, g[:, None].to(x.dtype)], dim=1)).tanh()


class VNetUNet(nn.Module):
    """``v̂ = UNet(z, 999·(γ − γ_min)/(γ_max − γ_min))``: ``z (B, C, H, W)``, ``γ (B,)``."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        nf: int = 16,
        gamma_min: float = -13.3,
        gamma_max: float = 5.0,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if h != w:
            raise ValueError(f"images must be square; got image_shape {image_shape}")
        self.shape, self.gamma_min, self.gamma_max = (c, h, w), gamma_min, gamma_max
        self.net = UNet(UNetConfig.tiny(image_size=h, in_channels=c, nf=nf, embedding="sinusoidal"))

    def forward(self, z: Tensor, gamma: Tensor) -> Tensor:
        _check(z, gamma, self.shape)
        return self.net(z, 999.0 * _unit(gamma, self.gamma_min, self.gamma_max))


class EncoderConv(nn.Module):
    """``y_φ = tanh(conv([x, γ̃]))`` on images: ``n_layers`` 3×3 conv + SiLU layers of ``hidden``
    channels on the image with ``γ̃ ∈ [−1, 1]`` as an extra channel, then a zero-initialised 3×3
    conv: ``x (B, C, H, W)``, ``γ (B,)`` → ``(B, C, H, W)``."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        hidden: int = 32,
        n_layers: int = 2,
        gamma_min: float = -13.3,
        gamma_max: float = 5.0,
    ) -> None:
        super().__init__()
        if hidden < 1 or n_layers < 1:
            raise ValueError(f"hidden and n_layers must be >= 1, got {hidden}, {n_layers}")
        self.shape, self.gamma_min, self.gamma_max = tuple(image_shape), gamma_min, gamma_max
        layers: list[nn.Module] = []
        width = image_shape[0] + 1
        for _ in range(n_layers):
            layers += [nn.Conv2d(width, hidden, 3, padding=1), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(
            *layers, _zero_init(nn.Conv2d(width, image_shape[0], 3, padding=1))
        )

    def forward(self, x: Tensor, gamma: Tensor) -> Tensor:
        _check(x, gamma, self.shape)
        g = 2.0 * _unit(gamma, self.gamma_min, self.gamma_max) - 1.0
        g = g.to(x.dtype)[:, None, None, None].expand(-1, 1, *x.shape[2:])
        return self.net(torch.cat([x, g], dim=1)).tanh()


def build_nets(config) -> tuple[nn.Module, nn.Module | None]:
    """``(v_net, encoder)`` for a ``DiffEncConfig``: MLPs for vectors, UNet + convs for images;
    ``encoder`` is ``None`` for the non-trainable encoder."""
    g = {"gamma_min": config.gamma_min, "gamma_max": config.gamma_max}
    image = config.image_shape is not None
    if image:
        v_net = VNetUNet(config.image_shape, config.hidden, **g)
    else:
        v_net = VNetMLP(config.dim, config.hidden, config.n_layers, config.emb_dim, **g)
    if not config.trainable_encoder:
        return v_net, None
    enc_cls, first = (EncoderConv, config.image_shape) if image else (EncoderMLP, config.dim)
    return v_net, enc_cls(first, config.enc_hidden, config.enc_layers, **g)
