"""The UNet score network (NCSN++ / DDPM++ family) and its configuration presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dinof_lite.nets.embeddings import GaussianFourierEmbedding, SinusoidalEmbedding
from dinof_lite.nets.unet.fir import fir_filter
from dinof_lite.nets.unet.layers import (
    AttnBlock,
    Combine,
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
_PROGRESSIVE = ("none", "output_skip", "residual")
_PROGRESSIVE_INPUT = ("none", "input_skip", "residual")
_COMBINE = ("sum", "cat")


def _one_of(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of :class:`UNet` (names follow score_sde's ``config.model``).

    ``embedding="fourier"`` (VE: Gaussian Fourier features of ``log σ``, ``2·nf`` wide) or
    ``"sinusoidal"`` (VP / sub-VP: DDPM embedding of ``999 t``, ``nf`` wide; score_sde calls it
    ``"positional"``). ``init_scale = 0`` zero-initialises the last layer of every residual
    branch and the output conv, as in score_sde, so a fresh network outputs exactly 0; any
    ``init_scale > 0`` scales the default init instead. ``resblock`` is score_sde's
    ``resblock_type``.

    NCSN++'s additions (Song et al. 2021, App. H), all off by default:

    - ``fir``: resample with the FIR filter ``fir_kernel`` instead of nearest / average pooling.
    - ``progressive_input``: feed the image into every resolution of the encoder, either
      downsampled and merged by a 1×1 conv (``"input_skip"``; ``progressive_combine`` ``"sum"`` or
      ``"cat"``) or through a chain of strided convs added to the features (``"residual"``).
    - ``progressive``: build the output as a pyramid, one 3×3 conv head per resolution, upsampled
      and summed (``"output_skip"``), or a chain of upsampling convs added to the features
      (``"residual"``).
    - ``conditional=False``: no time embedding (the residual blocks keep their, unused, dense
      layer, as in score_sde). ``centered=False``: the input is data on ``[0, 1]``, mapped to
      ``2x − 1`` first (score_sde's ``data.centered``).
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
    fir: bool = False
    fir_kernel: tuple[float, ...] = (1, 3, 3, 1)
    progressive: str = "none"
    progressive_input: str = "none"
    progressive_combine: str = "sum"
    conditional: bool = True
    centered: bool = True

    def __post_init__(self) -> None:
        for name in ("ch_mult", "attn_resolutions", "fir_kernel"):  # YAML / JSON lists → tuples
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _one_of("embedding", self.embedding, _EMBEDDINGS)
        _one_of("resblock", self.resblock, ("biggan", "ddpm"))
        _one_of("progressive", self.progressive, _PROGRESSIVE)
        _one_of("progressive_input", self.progressive_input, _PROGRESSIVE_INPUT)
        _one_of("progressive_combine", self.progressive_combine, _COMBINE)
        if len(self.fir_kernel) < 2:
            raise ValueError(f"fir_kernel must hold at least 2 taps, got {self.fir_kernel}")
        fir_filter(self.fir_kernel)  # a non-zero sum
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

    # ----- presets: score_sde's configs (configs/ve/*, configs/vp/*) ----------------------
    @classmethod
    def ncsnpp_cifar10(cls, **overrides) -> UNetConfig:
        """NCSN++ cont. (VE), CIFAR-10: Fourier embedding, BigGAN blocks, nf 128, 4 blocks/level,
        FIR resampling, residual input pyramid, data on ``[0, 1]``."""
        return cls(**{"fir": True, "progressive_input": "residual", "centered": False, **overrides})

    @classmethod
    def ncsnpp_cifar10_deep(cls, **overrides) -> UNetConfig:
        """NCSN++ cont. (deep, VE), CIFAR-10: as :meth:`ncsnpp_cifar10` with 8 blocks per level."""
        return cls.ncsnpp_cifar10(**{"num_res_blocks": 8, **overrides})

    @classmethod
    def ddpmpp_cifar10(cls, **overrides) -> UNetConfig:
        """DDPM++ cont. (VP / sub-VP), CIFAR-10: sinusoidal embedding of ``999 t``, BigGAN blocks,
        naive resampling, no pyramids, centred data.

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
        """NCSN++ (VE), CelebA-HQ 256²: ch_mult (1,1,2,2,2,2,2), 2 blocks, attention at 16², FIR,
        ``input_skip`` input pyramid and ``output_skip`` output pyramid, data on ``[0, 1]``."""
        return cls(
            **{
                "ch_mult": (1, 1, 2, 2, 2, 2, 2),
                "num_res_blocks": 2,
                "image_size": 256,
                "fir": True,
                "progressive": "output_skip",
                "progressive_input": "input_skip",
                "centered": False,
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
    (score_sde's ``scale_by_sigma``): ``get_score_fn`` does. Its input is centred data unless
    ``config.centered`` is False (then it maps ``[0, 1]`` data to ``2x − 1`` itself).

    Layout (score_sde's ``NCSNpp``, module for module): conv3x3 → per level ``num_res_blocks``
    ResnetBlocks (+ attention at ``attn_resolutions``), then a downsampling block (+ the input
    pyramid's merge) → middle ResBlock–Attn–ResBlock → per level ``num_res_blocks + 1``
    ResnetBlocks on ``[h, skip]`` (+ one attention, + the output pyramid's head), then an
    upsampling block → GN–SiLU–conv3x3 (none with ``progressive="output_skip"``: the pyramid is
    the output). Time embedding: ``Linear(E, 4nf) → SiLU → Linear(4nf, 4nf)``, seen by every
    ResnetBlock. :func:`dinof_lite.hub.load_score_sde_checkpoint` maps score_sde's parameters
    onto these modules.
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
        self.temb = None
        if cfg.conditional:
            self.temb = nn.Sequential(
                init_layer(nn.Linear(emb_dim, temb_dim)),
                nn.SiLU(),
                init_layer(nn.Linear(temb_dim, temb_dim)),
            )
        fir = {"fir": cfg.fir, "fir_kernel": cfg.fir_kernel}

        def resblock(in_ch: int, out_ch: int | None = None, **kw) -> ResnetBlock:
            return ResnetBlock(
                in_ch,
                out_ch,
                temb_dim,
                cfg.dropout,
                cfg.resblock,
                skip_rescale=cfg.skip_rescale,
                init_scale=cfg.init_scale,
                **fir,
                **kw,
            )

        def attn(ch: int) -> AttnBlock:
            return AttnBlock(ch, skip_rescale=cfg.skip_rescale, init_scale=cfg.init_scale)

        def resample(ch: int, up: bool) -> nn.Module:
            if cfg.resblock == "biggan":
                return resblock(ch, up=up, down=not up)
            return (Upsample if up else Downsample)(ch, with_conv=cfg.resamp_with_conv, **fir)

        levels, channels = len(cfg.ch_mult), cfg.in_channels
        self.conv_in = conv(channels, nf)
        self.down, skips, ch = nn.ModuleList(), [nf], nf
        self.pyramid_down, pyramid_ch = nn.ModuleList(), channels
        if cfg.progressive_input == "input_skip":
            self.pyramid_downsample = Downsample(channels, with_conv=False, **fir)
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
                if cfg.progressive_input == "input_skip":
                    self.pyramid_down.append(Combine(channels, ch, cfg.progressive_combine))
                    ch *= 2 if cfg.progressive_combine == "cat" else 1
                elif cfg.progressive_input == "residual":
                    self.pyramid_down.append(Downsample(pyramid_ch, ch, with_conv=True, **fir))
                    pyramid_ch = ch
                skips.append(ch)
        self.mid = nn.ModuleList([resblock(ch), attn(ch), resblock(ch)])
        self.up, self.pyramid_up = nn.ModuleList(), nn.ModuleList()
        if cfg.progressive == "output_skip":
            self.pyramid_upsample = Upsample(channels, with_conv=False, **fir)
        for i in reversed(range(levels)):
            res, out_ch = cfg.image_size >> i, nf * cfg.ch_mult[i]
            layers = []
            for _ in range(cfg.num_res_blocks + 1):
                layers.append(resblock(ch + skips.pop(), out_ch))
                ch = out_ch
            if res in cfg.attn_resolutions:
                layers.append(attn(ch))
            if cfg.progressive != "none":
                self.pyramid_up.append(self._pyramid_head(i == levels - 1, ch, pyramid_ch))
                pyramid_ch = channels if cfg.progressive == "output_skip" else ch
            if i != 0:
                layers.append(resample(ch, up=True))
            self.up.append(nn.ModuleList(layers))
        assert not skips
        if cfg.progressive != "output_skip":
            self.norm_out = group_norm(ch)
            self.conv_out = conv(ch, channels, init_scale=cfg.init_scale)
        self.act = nn.SiLU()

    def _pyramid_head(self, first: bool, ch: int, pyramid_ch: int) -> nn.ModuleList:
        """One level of the output pyramid: ``[GroupNorm, conv3x3]`` (output_skip, and residual's
        lowest level) or ``[upsampling conv of the pyramid]`` (residual's other levels)."""
        cfg = self.config
        if cfg.progressive == "output_skip":
            return nn.ModuleList(
                [group_norm(ch), conv(ch, cfg.in_channels, init_scale=cfg.init_scale)]
            )
        if first:
            return nn.ModuleList([group_norm(ch), conv(ch, ch)])
        up = Upsample(pyramid_ch, ch, with_conv=True, fir=cfg.fir, fir_kernel=cfg.fir_kernel)
        return nn.ModuleList([up])

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

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        """A residual sum, divided by √2 if ``skip_rescale``."""
        return (a + b) / math.sqrt(2.0) if self.config.skip_rescale else a + b

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        self._check(x, label)
        cfg = self.config
        temb = None if self.temb is None else self.temb(self.embed(label).to(x.dtype))
        if not cfg.centered:
            x = 2 * x - 1
        pyramid, merges = x, iter(self.pyramid_down)
        hs = [self.conv_in(x)]
        for layers in self.down:
            h = hs[-1]
            for layer in layers:
                h = layer(h, temb) if isinstance(layer, ResnetBlock) else layer(h)
            if downsamples(layers[0]) and cfg.progressive_input == "input_skip":
                pyramid = self.pyramid_downsample(pyramid)
                h = next(merges)(pyramid, h)
            elif downsamples(layers[0]) and cfg.progressive_input == "residual":
                h = pyramid = self._merge(next(merges)(pyramid), h)
            hs.append(h)
        h = self.mid[0](hs[-1], temb)
        h = self.mid[2](self.mid[1](h), temb)
        for j, layers in enumerate(self.up):
            last = j == len(self.up) - 1  # the full resolution: no upsampling block
            for layer in layers if last else layers[:-1]:
                if isinstance(layer, ResnetBlock):
                    h = layer(torch.cat([h, hs.pop()], dim=1), temb)
                else:
                    h = layer(h)
            if cfg.progressive != "none":
                h, pyramid = self._output_pyramid(j, h, pyramid)
            if not last:
                h = layers[-1](h, temb) if isinstance(layers[-1], ResnetBlock) else layers[-1](h)
        assert not hs
        if cfg.progressive == "output_skip":
            return pyramid
        return self.conv_out(self.act(self.norm_out(h)))

    def _output_pyramid(self, j: int, h: Tensor, pyramid: Tensor) -> tuple[Tensor, Tensor]:
        """Level ``j`` (0: the lowest resolution) of the output pyramid: new ``(h, pyramid)``."""
        head = self.pyramid_up[j]
        if j == 0:  # start the pyramid from the features
            return h, head[1](self.act(head[0](h)))
        if self.config.progressive == "output_skip":
            return h, self.pyramid_upsample(pyramid) + head[1](self.act(head[0](h)))
        h = self._merge(head[0](pyramid), h)  # residual: the upsampled pyramid joins h
        return h, h


def downsamples(layer: nn.Module) -> bool:
    """Whether ``layer`` is a downsampling block of the encoder."""
    return isinstance(layer, Downsample) or (isinstance(layer, ResnetBlock) and layer.down)
