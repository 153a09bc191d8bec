"""A published score network as the frozen half of a run (``train --score`` / ``--score-checkpoint``).

DiNof's loss is ``L_score(θ) + L_flow(φ)`` with no parameter shared, so a score network already
trained on ``[eps, T]`` — a published one — plus a flow trained on ``x(T_m)`` is a DiNof model
(docs/design.md §DiNof loss). A run names its score network by a *source*, the config's
``pretrained_score``::

    {"kind": "diffusers", "source": "google/ddpm-cifar10-32"}        # hub id or local folder
    {"kind": "score_sde", "source": "/abs/checkpoint_26.pth", "config": "cifar10_ve"}

loaded by :func:`dinof_lite.hub.from_diffusers` or :func:`dinof_lite.hub.load_score_sde_checkpoint`
(whose ``config`` names the experiment config of the network's architecture). The network's own
SDE is the run's: the config must name the same kind of SDE with the same parameters (``N``, the
sampler's grid, aside), the same data range and an image shape the network takes;
:func:`load_pretrained_score` refuses anything else, naming both sides, before a run writes
anything. The run's checkpoint stores the network's weights once (the EMA shares them,
:mod:`dinof_lite.train.frozen`); ``sample``, ``eval`` and a resume load it from the source again
and a resume refuses a network that differs from the stored one.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from dinof_lite.experiment.configs import ExperimentConfig, config_names, get_config
from dinof_lite.losses import get_score_fn
from dinof_lite.sde import SDE, get_sde
from dinof_lite.trained_on import TrainedOn, record_of

__all__ = ["SCORE_KINDS", "score_source", "describe_source", "load_pretrained_score"]

#: the loaders of published score networks: kind -> what its ``source`` is
SCORE_KINDS = {
    "diffusers": "a Hugging Face hub id or a local folder of a diffusers UNet2DModel",
    "score_sde": "a score_sde_pytorch checkpoint file",
}


def score_source(
    hub_id: str | None = None,
    checkpoint: str | None = None,
    checkpoint_config: str | None = None,
) -> dict | None:
    """The ``pretrained_score`` source of ``--score HUB_ID`` or ``--score-checkpoint PATH
    [--score-config NAME]`` (``None`` for neither): checked, the path made absolute.

    Raises ``ValueError`` for both at once, for ``--score-config`` without a checkpoint or with
    an unknown name, and ``FileNotFoundError`` for a checkpoint that is not a file.
    """
    if hub_id is not None and checkpoint is not None:
        raise ValueError(
            "--score and --score-checkpoint both name a score network; give one of them"
        )
    if checkpoint_config is not None:
        if checkpoint is None:
            raise ValueError(
                "--score-config names the architecture of a --score-checkpoint file; give "
                "--score-checkpoint PATH with it (a --score hub id carries its own)"
            )
        if checkpoint_config not in config_names():
            raise ValueError(
                f"--score-config: unknown config {checkpoint_config!r}; valid: "
                f"{', '.join(config_names())}"
            )
    if hub_id is not None:
        if not hub_id.strip():
            raise ValueError("--score: empty hub id; give e.g. google/ddpm-cifar10-32")
        return {"kind": "diffusers", "source": hub_id.strip()}
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            what = "a directory" if path.is_dir() else "no such file"
            raise FileNotFoundError(
                f"--score-checkpoint {path}: {what}; give a score_sde_pytorch checkpoint file "
                "(checkpoint_<n>.pth, as its run_lib.train writes)"
            )
        return {"kind": "score_sde", "source": str(path.resolve()), "config": checkpoint_config}
    return None


def describe_source(source: dict) -> str:
    """``--score ID`` / ``--score-checkpoint PATH``: a source as the command line gives it."""
    if source.get("kind") == "diffusers":
        return f"--score {source['source']}"
    return f"--score-checkpoint {source.get('source')}"


def _describe_sde(name: str, params: dict) -> str:
    shown = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
    return f"{name}({shown})"


def _same_sde(sde: SDE, cfg: ExperimentConfig) -> bool:
    """The config's SDE is the network's: same kind, same parameters (``N`` aside)."""
    if type(sde) is not type(get_sde(cfg.sde)):  # the same kind of SDE
        return False
    ours = sde.params()
    for key, value in cfg.sde_params.items():
        if key == "N":
            continue
        if key not in ours or not math.isclose(float(ours[key]), float(value), rel_tol=1e-9):
            return False
    return True


def _load(source: dict, cfg: ExperimentConfig) -> tuple[SDE, nn.Module, tuple | None]:
    """``(sde, net, data_range)`` from the loader of ``source["kind"]`` (data range if known)."""
    kind = source.get("kind")
    if kind == "diffusers":
        try:
            from dinof_lite.hub import from_diffusers

            sde, net = from_diffusers(source["source"])
        except ModuleNotFoundError as err:  # the diffusers package, or this library's loader
            raise ValueError(
                f"{describe_source(source)}: diffusers models cannot be loaded here ({err}); "
                "install diffusers (pip install diffusers) with a dinof_lite that has "
                "dinof_lite.hub.from_diffusers, or give a score_sde checkpoint with "
                "--score-checkpoint"
            ) from None
        return sde, net, None
    if kind == "score_sde":
        from dinof_lite.hub import load_score_sde_checkpoint

        arch = get_config(source.get("config") or cfg.name)
        sde, net = load_score_sde_checkpoint(source["source"], arch.name)
        return sde, net, arch.data_range
    raise ValueError(
        f"unknown pretrained_score kind {kind!r} in config {cfg.name!r}; valid: "
        f"{', '.join(SCORE_KINDS)}"
    )


def load_pretrained_score(
    cfg: ExperimentConfig, source: dict | None = None
) -> tuple[SDE, nn.Module]:
    """``(sde, net)``: the published score network of ``source`` (default
    ``cfg.pretrained_score``), checked against ``cfg``, in eval mode with ``net.trained_on``.

    Raises:
        ValueError: the network's SDE or data range is not the config's, or it does not take
            the config's images (each named, with the configs that would fit); errors of the
            loaders pass through (``FileNotFoundError``, ``CheckpointError``, an offline hub id).
    """
    source = source if source is not None else cfg.pretrained_score
    if not source:
        raise ValueError(f"config {cfg.name!r} names no pretrained_score")
    what = describe_source(source)
    sde, net, data_range = _load(source, cfg)
    if not _same_sde(sde, cfg):
        fits = [n for n in config_names() if _same_sde(sde, get_config(n))]
        cfg_sde = get_sde(cfg.sde, **cfg.sde_params)
        raise ValueError(
            f"{what} was trained for the SDE {_describe_sde(sde.name, sde.params())} but config "
            f"{cfg.name!r} uses {_describe_sde(cfg_sde.name, cfg_sde.params())}; train it with "
            f"a config of its SDE ({', '.join(fits) or 'none is registered'})"
        )
    record = record_of(net)
    if record is None or record.data_range is None:
        net.trained_on = record = TrainedOn.of(sde, data_range or cfg.data_range, cfg.dataset)
    if tuple(record.data_range) != tuple(cfg.data_range):
        raise ValueError(
            f"{what} was trained on data in {list(record.data_range)} but config {cfg.name!r} "
            f"scales its images to {list(cfg.data_range)}; use a config of that data range"
        )
    x = torch.zeros(1, *cfg.shape)
    try:
        with torch.no_grad():
            out = get_score_fn(sde, net)(x, torch.full((1,), 0.5))
    except (RuntimeError, ValueError) as err:  # torch's shape errors, or the network's own
        first = str(err).splitlines()[0]
        raise ValueError(
            f"{what} does not take the images of config {cfg.name!r}, {cfg.shape} ({first})"
        ) from None
    if tuple(out.shape) != tuple(x.shape):
        raise ValueError(
            f"{what} maps images {cfg.shape} of config {cfg.name!r} to {tuple(out.shape[1:])}"
        )
    return sde, net.eval()
