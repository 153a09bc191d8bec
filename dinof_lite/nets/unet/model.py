"""The UNet score network (NCSN++ / DDPM++ family) and its configuration presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dinof_lite.nets.embeddings import GaussianFourierEmbedding, SinusoidalEmbedding
from dinof_lite.nets.unet.layers import (
    AttnBlock,
    Downsample,
    ResnetBlock,
    Upsample,
    conv,
    group_norm,
    init_layer,
)
from dinof_lite.sde import SDE

__all__ = ["UNet", "UNetConfig"]

_EMBEDDINGS = ("fourier", "sinusoidal")


@dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of :class:`UNet` (names follow score_sde's ``config.model``).

    ``embedding="fourier"`` (VE: Gaussian Fourier features of ``log σ``, ``2·nf`` wide) or
    ``"sinusoidal"`` (VP / sub-VP: DDPM embedding of ``999 t``, ``nf`` wide). ``init_scale = 0``
    zero-initialises the last layer of every residual branch and the output conv, as in score_sde,
    so a fresh network outputs exactly 0; any ``init_scale > 0`` scales the default init instead.
    """

    nf: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 4
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    image_size: int = 32
    in_channels: int = 3
    embedding: str = "fourier"
    fourier_scale: float = 16.0
    resblock: str = "biggan"
    resamp_with_conv: bool = True
    skip_rescale: bool = True
    init_scale: float = 0.0

    def __post_init__(self) -> None:
        for name in ("ch_mult", "attn_resolutions"):  # lists from YAML / JSON → hashable tuples
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.embedding not in _EMBEDDINGS:
            raise ValueError(
                f"unknown embedding {self.embedding!r}; valid: {', '.join(_EMBEDDINGS)}"
            )
        if self.resblock not in ("biggan", "ddpm"):
            raise ValueError(f"unknown resblock {self.resblock!r}; valid: biggan, ddpm")
        if self.nf < 4 or self.nf % 4 or self.num_res_blocks < 1 or not self.ch_mult:
            raise ValueError("need nf a multiple of 4, num_res_blocks >= 1 and a non-empty ch_mult")
        factor = 2 ** (len(self.ch_mult) - 1)
        if self.image_size < factor or self.image_size % factor:
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2^(levels-1) = "
                f"{factor} for ch_mult {self.ch_mult}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    def replace(self, **overrides) -> UNetConfig:
        """A copy with some fields changed (e.g. ``cfg.replace(image_size=16, nf=16)``)."""
        return dataclasses.replace(self, **overrides)

    def num_parameters(self) -> int:
        """Trainable-parameter count of ``UNet(self)``, built on the meta device (no memory used)."""
        with torch.device("meta"):
            return UNet(self).num_parameters()

    # ----- presets (score_sde configs; FIR and progressive paths not implemented) ------------
    @classmethod
    def ncsnpp_cifar10(cls, **overrides) -> UNetConfig:
        """NCSN++ cont. (VE), CIFAR-10: Fourier embedding, BigGAN blocks, nf 128, 4 blocks/level."""
        return cls(**overrides)

    @classmethod
    def ncsnpp_cifar10_deep(cls, **overrides) -> UNetConfig:
        """NCSN++ cont. (deep, VE), CIFAR-10: as :meth:`ncsnpp_cifar10` with 8 blocks per level."""
        return cls(**{"num_res_blocks": 8, **overrides})

    @classmethod
    def ddpmpp_cifar10(cls, **overrides) -> UNetConfig:
        """DDPM++ cont. (VP / sub-VP), CIFAR-10: sinusoidal embedding of ``999 t``, BigGAN blocks.

        (score_sde's DDPM++ uses BigGAN-style residual blocks too; ``resblock="ddpm"`` gives the
        original DDPM block with separate resampling layers.)
        """
        return cls(**{"embedding": "sinusoidal", **overrides})

    @classmethod
    def ddpmpp_cifar10_deep(cls, **overrides) -> UNetConfig:
        """DDPM++ cont. (deep, VP / sub-VP), CIFAR-10: 8 blocks per level."""
        return cls(**{"embedding": "sinusoidal", "num_res_blocks": 8, **overrides})

    @classmethod
    def ncsnpp_celebahq256(cls, **overrides) -> UNetConfig:
        """NCSN++ (VE), CelebA-HQ 256²: ch_mult (1,1,2,2,2,2,2), 2 blocks, attention at 16²."""
        return cls(
            **{
                "ch_mult": (1, 1, 2, 2, 2, 2, 2),
                "num_res_blocks": 2,
                "image_size": 256,
                **overrides,
            }
        )

    @classmethod
    def tiny(cls, image_size: int = 8, in_channels: int = 1, **overrides) -> UNetConfig:
        """A CPU-sized UNet for tests / 8×8 digits: nf 16, ch_mult (1, 2), 1 block, attention at
        the lowest resolution (``image_size // 2``), no dropout."""
        return cls(
            **{
                "nf": 16,
                "ch_mult": (1, 2),
                "num_res_blocks": 1,
                "dropout": 0.0,
                "attn_resolutions": (image_size // 2,),
                "image_size": image_size,
                "in_channels": in_channels,
                **overrides,
            }
        )


class UNet(nn.Module):
    """``net(x, label)``: ``x (B, C, H, W)``, ``label (B,)`` → ``(B, C, H, W)``; NCSN++ / DDPM++.

    The raw network in dinof_lite's convention: :func:`dinof_lite.losses.get_score_fn` turns it
    into a score (``label = sde.noise_label(t)``: ``σ(t)`` for VE with ``embedding="fourier"``,
    ``999 t`` for VP / sub-VP with ``"sinusoidal"``). It does **not** divide by σ
    (score_sde's ``scale_by_sigma``): ``get_score_fn`` does. It does not rescale its input
    either: feed it *centred* data (e.g. ``2x − 1`` for images in ``[0, 1]``) — the caller's job.

    Layout (score_sde ``NCSNpp`` with ``progressive = progressive_input = "none"``): conv3x3 →
    per level ``num_res_blocks`` ResnetBlocks (+ attention at ``attn_resolutions``), then a
    downsampling block → middle ResBlock–Attn–ResBlock → per level ``num_res_blocks + 1``
    ResnetBlocks on ``[h, skip]`` (+ one attention), then an upsampling block → GN–SiLU–conv3x3.
    Time embedding: ``Linear(E, 4nf) → SiLU → Linear(4nf, 4nf)``, seen by every ResnetBlock.
    """

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = config or UNetConfig()
        nf, temb_dim = cfg.nf, 4 * cfg.nf
        if cfg.embedding == "fourier":
            self.embed = GaussianFourierEmbedding(2 * nf, scale=cfg.fourier_scale)
            emb_dim = 2 * nf
        else:
            self.embed, emb_dim = SinusoidalEmbedding(nf), nf
        self.temb = nn.Sequential(
            init_layer(nn.Linear(emb_dim, temb_dim)),
            nn.SiLU(),
            init_layer(nn.Linear(temb_dim, temb_dim)),
        )

        def resblock(in_ch: int, out_ch: int | None = None, **kw) -> ResnetBlock:
            return ResnetBlock(
                in_ch,
                out_ch,
                temb_dim,
                cfg.dropout,
                cfg.resblock,
                skip_rescale=cfg.skip_rescale,
                init_scale=cfg.init_scale,
                **kw,
            )

        def attn(ch: int) -> AttnBlock:
            return AttnBlock(ch, skip_rescale=cfg.skip_rescale, init_scale=cfg.init_scale)

        def resample(ch: int, up: bool) -> nn.Module:
            if cfg.resblock == "biggan":
                return resblock(ch, up=up, down=not up)
            return (Upsample if up else Downsample)(ch, with_conv=cfg.resamp_with_conv)

        levels = len(cfg.ch_mult)
        self.conv_in = conv(cfg.in_channels, nf)
        self.down, skips, ch = nn.ModuleList(), [nf], nf
        for i, mult in enumerate(cfg.ch_mult):
            res = cfg.image_size >> i
            for _ in range(cfg.num_res_blocks):
                layers = [resblock(ch, nf * mult)]
                ch = nf * mult
                if res in cfg.attn_resolutions:
                    layers.append(attn(ch))
                self.down.append(nn.ModuleList(layers))
                skips.append(ch)
            if i != levels - 1:
                self.down.append(nn.ModuleList([resample(ch, up=False)]))
                skips.append(ch)
        self.mid = nn.ModuleList([resblock(ch), attn(ch), resblock(ch)])
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            res, out_ch = cfg.image_size >> i, nf * cfg.ch_mult[i]
            layers = []
            for _ in range(cfg.num_res_blocks + 1):
                layers.append(resblock(ch + skips.pop(), out_ch))
                ch = out_ch
            if res in cfg.attn_resolutions:
                layers.append(attn(ch))
            if i != 0:
                layers.append(resample(ch, up=True))
            self.up.append(nn.ModuleList(layers))
        assert not skips
        self.norm_out = group_norm(ch)
        self.conv_out = conv(ch, cfg.in_channels, init_scale=cfg.init_scale)
        self.act = nn.SiLU()

    @classmethod
    def for_sde(cls, sde: SDE, config: UNetConfig | None = None, **overrides) -> UNet:
        """A UNet whose embedding matches the SDE's noise label (``sde.default_embedding``: VE →
        fourier, else sinusoidal), unless ``embedding`` is given explicitly in ``overrides``."""
        overrides.setdefault("embedding", sde.default_embedding)
        return cls((config or UNetConfig()).replace(**overrides))

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _check(self, x: Tensor, label: Tensor) -> None:
        cfg = self.config
        expected = (cfg.in_channels, cfg.image_size, cfg.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x must have shape (batch, {', '.join(map(str, expected))}) "
                f"(in_channels, image_size, image_size), got {tuple(x.shape)}"
            )
        if label.shape != (x.shape[0],):
            raise ValueError(f"label must have shape ({x.shape[0]},), got {tuple(label.shape)}")

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        self._check(x, label)
        temb = self.temb(self.embed(label).to(x.dtype))
        hs = [self.conv_in(x)]
        for layers in self.down:
            h = hs[-1]
            for layer in layers:
                h = layer(h, temb) if isinstance(layer, ResnetBlock) else layer(h)
            hs.append(h)
        h = self.mid[0](hs[-1], temb)
        h = self.mid[2](self.mid[1](h), temb)
        for layers in self.up:
            for layer in layers:
                if isinstance(layer, ResnetBlock) and not layer.up:
                    h = layer(torch.cat([h, hs.pop()], dim=1), temb)
                elif isinstance(layer, ResnetBlock):
                    h = layer(h, temb)
                else:
                    h = layer(h)
        assert not hs
        return self.conv_out(self.act(self.norm_out(h)))
