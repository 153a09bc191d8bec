"""Load score_sde_pytorch checkpoints (Song et al. 2021's NCSN++ / DDPM++) into :class:`UNet`.

::

    from dinof_lite.hub import load_score_sde_checkpoint
    sde, net = load_score_sde_checkpoint("checkpoint_26.pth", "cifar10_ve")  # EMA weights, eval
    score_fn = get_score_fn(sde, net)       # the published model's score, (x, t) -> (B, 3, 32, 32)

**The file.** score_sde_pytorch's training loop saves, with ``torch.save``, a dict
``{"optimizer": …, "model": …, "ema": …, "step": int}``: ``model`` is the state dict of the
network wrapped in ``DataParallel`` (keys ``module.all_modules.<i>.<name>`` plus the buffer
``module.sigmas``) and ``ema`` the state of its exponential moving average, ``{"decay",
"num_updates", "shadow_params"}``, where ``shadow_params`` lists the averaged *trainable*
parameters in the order of ``model.parameters()`` (the order of the state dict, without buffers
and without the fixed Fourier features). The published samples use the EMA weights, so does
:func:`load_score_sde_checkpoint` unless ``use_ema=False``. The file is read with
``torch.load(weights_only=True)``: it holds only tensors, dicts, lists and numbers.

**The name map** (:func:`score_sde_name_map`). score_sde's ``NCSNpp`` keeps its modules in one
flat list, ``all_modules``, in the order its ``forward`` uses them; :class:`UNet` builds the same
modules in named places. Walking both in that order pairs ``all_modules.<i>`` with one module of
ours, and within a module:

================================  ==========================================================
score_sde                         dinof_lite
================================  ==========================================================
``GaussianFourierProjection.W``   ``embed.W`` (a buffer: fixed features)
``Linear`` (time embedding)       ``temb.0`` / ``temb.2``
``conv3x3`` / ``conv1x1``         the conv itself (``conv_in``, ``conv_out``, pyramid heads)
``ResnetBlock*.GroupNorm_0/1``    ``norm0`` / ``norm1``
``ResnetBlock*.Conv_0/1``         ``conv0`` / ``conv1``
``ResnetBlock*.Dense_0``          ``temb``
``ResnetBlockBigGANpp.Conv_2``    ``skip``
``ResnetBlockDDPMpp.NIN_0``       ``skip`` (``W (in, out)`` → ``weight (out, in, 1, 1)``)
``AttnBlockpp.GroupNorm_0``       ``norm``
``AttnBlockpp.NIN_0/1/2/3``       ``q`` / ``k`` / ``v`` / ``out`` (transposed like above)
``Up/Downsample.Conv_0``          ``conv`` (naive resampling)
``Up/Downsample.Conv2d_0``        ``conv`` (FIR resampling, fused with the conv)
``Combine.Conv_0``                ``conv``
================================  ==========================================================

Every checkpoint key must map and every parameter of ours be filled, with equal shapes; anything
else raises naming the keys (usually: the config builds another network than the file holds).

**The SDE and the score.** score_sde's VE networks divide their output by σ
(``scale_by_sigma``) and its VE score uses ``s(t) = σ(t)``; dinof_lite's
:func:`~dinof_lite.losses.get_score_fn` divides by ``s(t)`` itself, so the default VE SDE built
here has ``exact_marginal=False`` and the score is the reference's. VP / sub-VP networks are
ε-predictors conditioned on ``999 t`` in both. The data range is the network's: VE checkpoints
take images on ``[0, 1]`` (``UNetConfig.centered=False``), VP ones on ``[−1, 1]``; ``net.trained_on``
records it with the SDE (:mod:`dinof_lite.trained_on`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from torch import Tensor, nn

from dinof_lite.nets.embeddings import GaussianFourierEmbedding
from dinof_lite.nets.unet import UNet, UNetConfig
from dinof_lite.nets.unet.layers import AttnBlock, Combine, Downsample, ResnetBlock, Upsample
from dinof_lite.nets.unet.model import downsamples
from dinof_lite.sde import SDE, get_sde
from dinof_lite.train.checkpoint import CheckpointError, safe_load
from dinof_lite.trained_on import TrainedOn

__all__ = ["load_score_sde_checkpoint", "score_sde_name_map"]

_PREFIX = "module."
_BUFFERS = ("sigmas",)  # the noise levels of the discrete models: not parameters
_FORMAT = (
    "a score_sde_pytorch checkpoint (a dict with 'model', 'ema', 'optimizer' and 'step', as "
    "written by its run_lib.train)"
)


def _local_names(module: nn.Module) -> list[tuple[str, str, bool]]:
    """``(score_sde name, our name, transpose)`` of the tensors inside one module."""
    wb = [("weight", "weight", False), ("bias", "bias", False)]

    def sub(theirs: str, ours: str, nin: bool = False) -> list[tuple[str, str, bool]]:
        if nin:  # a NIN layer: y = x W + b, W of shape (in, out)
            return [(f"{theirs}.W", f"{ours}.weight", True), (f"{theirs}.b", f"{ours}.bias", False)]
        return [(f"{theirs}.{a}", f"{ours}.{b}", t) for a, b, t in wb]

    if isinstance(module, GaussianFourierEmbedding):
        return [("W", "W", False)]
    if isinstance(module, nn.Linear | nn.Conv2d | nn.GroupNorm):
        return wb
    if isinstance(module, ResnetBlock):
        names = sub("GroupNorm_0", "norm0") + sub("Conv_0", "conv0") + sub("Dense_0", "temb")
        names += sub("GroupNorm_1", "norm1") + sub("Conv_1", "conv1")
        if module.skip is not None:
            ddpm = module.kind == "ddpm"
            names += sub("NIN_0" if ddpm else "Conv_2", "skip", nin=ddpm)
        return names
    if isinstance(module, AttnBlock):
        names = sub("GroupNorm_0", "norm")
        for i, ours in enumerate(("q", "k", "v", "out")):
            names += sub(f"NIN_{i}", ours, nin=True)
        return names
    if isinstance(module, Upsample | Downsample):
        if module.conv is None:
            return []
        return sub("Conv_0" if module.fir_kernel is None else "Conv2d_0", "conv")
    if isinstance(module, Combine):
        return sub("Conv_0", "conv")
    raise TypeError(f"no score_sde counterpart known for {type(module).__name__}")


def _reference_order(net: UNet) -> Iterator[nn.Module]:
    """Our modules in the order of score_sde's ``NCSNpp.all_modules``."""
    cfg = net.config
    if cfg.embedding == "fourier":
        yield net.embed
    if net.temb is not None:
        yield from (net.temb[0], net.temb[2])
    yield net.conv_in
    merges = iter(net.pyramid_down)
    for layers in net.down:
        yield from layers
        if downsamples(layers[0]) and cfg.progressive_input != "none":
            yield next(merges)
    yield from net.mid
    for j, layers in enumerate(net.up):
        last = j == len(net.up) - 1
        yield from (layers if last else layers[:-1])
        if cfg.progressive != "none":
            yield from net.pyramid_up[j]
        if not last:
            yield layers[-1]
    if cfg.progressive != "output_skip":
        yield from (net.norm_out, net.conv_out)


def score_sde_name_map(net: UNet) -> dict[str, tuple[str, bool]]:
    """``{score_sde key (without "module."): (our state-dict key, transpose)}`` for ``net``.

    ``transpose`` marks a NIN weight ``W (in, out)`` that becomes a 1×1 conv weight
    ``(out, in, 1, 1)``. Keys follow score_sde's ``NCSNpp`` built with the same settings.
    """
    ours = {id(m): name for name, m in net.named_modules()}
    mapping = {}
    for i, module in enumerate(_reference_order(net)):
        prefix = ours[id(module)]
        for theirs, local, transpose in _local_names(module):
            mapping[f"all_modules.{i}.{theirs}"] = (f"{prefix}.{local}", transpose)
    return mapping


def _resolve(
    config: str | UNetConfig, sde: SDE | None
) -> tuple[UNetConfig, SDE, tuple[float, float]]:
    """The network config and SDE for ``config`` (an experiment config name or a UNetConfig)."""
    if sde is not None and not isinstance(sde, SDE):
        raise TypeError(f"sde must be a dinof_lite SDE or None, got {type(sde).__name__}")
    if isinstance(config, UNetConfig):
        if sde is None:
            raise ValueError(
                "sde is needed with a UNetConfig (it fixes the noise levels the network was "
                "trained on), e.g. VESDE(0.01, 50.0, exact_marginal=False) or VPSDE(0.1, 20.0); "
                "or pass an experiment config name such as 'cifar10_ve'"
            )
        # score_sde's convention: a centred network takes [-1, 1] data, else [0, 1]
        return config, sde, ((-1.0, 1.0) if config.centered else (0.0, 1.0))
    if not isinstance(config, str):
        raise TypeError(
            f"config must be an experiment config name or a UNetConfig, got {type(config).__name__}"
        )
    from dinof_lite.experiment.configs import get_config

    exp = get_config(config)
    unet = dataclasses.replace(exp.unet, image_size=exp.image_size, in_channels=exp.channels)
    if sde is None:  # score_sde's VE score uses s(t) = σ(t) (see the module docstring)
        extra = {"exact_marginal": False} if exp.sde == "ve" else {}
        sde = get_sde(exp.sde, **{**exp.sde_params, **extra})
    return unet, sde, tuple(exp.data_range)  # an experiment config states its data range


def _read(path: Path, use_ema: bool) -> tuple[dict[str, Tensor], list[Tensor] | None]:
    """The model state dict (``module.`` removed) and, if ``use_ema``, the EMA's shadow list."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected {_FORMAT}")
    ckpt = safe_load(path, _FORMAT)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}; expected {_FORMAT}")
    needed = ("model", "ema") if use_ema else ("model",)
    missing = [k for k in needed if k not in ckpt]
    if missing:
        raise CheckpointError(
            f"{path} has no {' / '.join(repr(k) for k in missing)} entry (keys: "
            f"{', '.join(map(repr, ckpt)) or 'none'}); expected {_FORMAT}"
        )
    model = ckpt["model"]
    if not isinstance(model, dict) or not all(isinstance(v, Tensor) for v in model.values()):
        raise CheckpointError(f"{path}: 'model' is not a state dict of tensors")
    state = {k.removeprefix(_PREFIX): v for k, v in model.items()}
    if not use_ema:
        return state, None
    shadow = ckpt["ema"].get("shadow_params") if isinstance(ckpt["ema"], dict) else None
    if not isinstance(shadow, list) or not all(isinstance(v, Tensor) for v in shadow):
        raise CheckpointError(f"{path}: 'ema' has no 'shadow_params' list of tensors")
    return state, shadow


def load_score_sde_checkpoint(
    path: str | os.PathLike,
    config: str | UNetConfig,
    sde: SDE | None = None,
    use_ema: bool = True,
) -> tuple[SDE, UNet]:
    """Load a score_sde_pytorch checkpoint as ``(sde, net)``: a :class:`UNet` in eval mode.

    Args:
        path: the ``checkpoint_<n>.pth`` file (read with ``weights_only=True``, on the CPU).
        config: an experiment config name (``"cifar10_ve"``, ``"cifar10_ve_deep"``,
            ``"cifar10_vp"``, ``"celebahq256_ve"``, …; its ``unet`` at its image size) or a
            :class:`UNetConfig` (then ``sde`` is required).
        sde: the forward SDE; by default the config's (VE with ``exact_marginal=False``, the
            reference's ``s(t) = σ(t)``).
        use_ema: load the EMA weights (the published ones) rather than the last iterate.

    Raises:
        FileNotFoundError: no such file. CheckpointError (a ValueError): not a dict, no
            ``model`` / ``ema``, or parameters that do not match the config's network (named).
    """
    path = Path(path)
    unet_cfg, sde, data_range = _resolve(config, sde)
    state, shadow = _read(path, use_ema)
    net = UNet(unet_cfg)
    mapping = score_sde_name_map(net)
    fixed = {k for k, (name, _) in mapping.items() if name == "embed.W"}  # not trained
    stray = [k for k in state if k not in mapping and k not in _BUFFERS]
    absent = [k for k in mapping if k not in state]
    if stray or absent:
        raise CheckpointError(
            f"{path} does not hold the network of this config ({_describe(unet_cfg)}): "
            + (f"no counterpart for {_few(stray)}; " if stray else "")
            + (f"missing {_few(absent)}" if absent else "")
        )
    if shadow is not None:  # trainable parameters, in the checkpoint's (= parameters()) order
        trainable = [k for k in state if k in mapping and k not in fixed]
        if len(shadow) != len(trainable):
            raise CheckpointError(
                f"{path}: the EMA holds {len(shadow)} tensors, the model {len(trainable)} "
                "trainable parameters; the two do not belong together"
            )
        for key, value in zip(trainable, shadow, strict=True):
            if value.shape != state[key].shape:
                raise CheckpointError(
                    f"{path}: EMA tensor for {key} has shape {tuple(value.shape)}, the model's "
                    f"{tuple(state[key].shape)}"
                )
            state[key] = value
    ours = net.state_dict()
    loaded = {}
    for theirs, (name, transpose) in mapping.items():
        value = state[theirs]
        value = value.t()[:, :, None, None] if transpose else value
        if value.shape != ours[name].shape:
            raise CheckpointError(
                f"{path}: {_PREFIX}{theirs} has shape {tuple(state[theirs].shape)}, but this "
                f"config's {name} needs {tuple(ours[name].shape)} ({_describe(unet_cfg)})"
            )
        loaded[name] = value
    net.load_state_dict(loaded, strict=True)
    net.trained_on = TrainedOn.of(sde, data_range)
    return sde, net.eval()


def _few(keys: list[str], n: int = 5) -> str:
    shown = ", ".join(_PREFIX + k for k in keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def _describe(cfg: UNetConfig) -> str:
    return (
        f"nf={cfg.nf}, ch_mult={cfg.ch_mult}, num_res_blocks={cfg.num_res_blocks}, "
        f"image_size={cfg.image_size}, resblock={cfg.resblock!r}, fir={cfg.fir}, "
        f"progressive={cfg.progressive!r}, progressive_input={cfg.progressive_input!r}"
    )
