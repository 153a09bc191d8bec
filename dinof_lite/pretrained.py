"""Small pretrained models shipped with the repository (``data/checkpoints/*.pt``).

The notebooks load these instead of training for minutes on a laptop::

    from dinof_lite.pretrained import checkpoint_meta, load_flow, load_score_model
    sde, net = load_score_model("score_mlp_8gaussians_vp")      # EMA weights, eval mode
    score_fn = get_score_fn(sde, net)                             # (x (B, 2), t (B,)) -> (B, 2)
    flow = load_flow("glow_digits")                               # a Glow in eval mode
    meta = checkpoint_meta("glow_digits")                         # its stored meta dict

The files are written by ``python scripts/make_checkpoints.py`` and live *next to* the package, in
``<repo>/data/checkpoints`` (``Path(__file__).parents[1]``), so they are found when the code runs
from a clone of the repository; they are not package data. ``DINOF_CHECKPOINT_DIR`` overrides the
directory. A checkpoint is a plain dict, loadable with ``torch.load(..., weights_only=True)``::

    {"format": "dinof_lite.score_model/1",
     "net": {"class": "ScoreMLP", "kwargs": {...}}, "state_dict": {...},
     "sde": {"name": "vp", "params": {"beta_min": 0.1, "beta_max": 20.0, "N": 1000}},
     "meta": {...}}   # dataset, training config, loss curve, provenance, measured score error

Flows use ``{"format": "dinof_lite.flow/1", "flow": {"class": "Glow", "kwargs": flow.kwargs},
"state_dict": …, "meta": …}``; DiNof models ``{"format": "dinof_lite.dinof/1", "sde": …,
"net": …, "flow": …, "dinof": model.kwargs, "state_dict": …, "meta": …}``; the score network is a ScoreMLP
(``"net": {"class": "ScoreMLP", "kwargs": …}``) or a UNet (``"net": {"class": "UNet", "config":
dataclasses.asdict(UNetConfig)}``, rebuilt with ``UNet(UNetConfig(**config))``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dinof_lite.flows import Glow
from dinof_lite.nets import ScoreMLP
from dinof_lite.nets.unet import UNet, UNetConfig
from dinof_lite.sde import SDE, SDES, get_sde
from dinof_lite.train.checkpoint import (
    atomic_save,
    cpu_state_dict,
    plain,
    read_checkpoint,
    safe_load,
)
from dinof_lite.train.validation import resolve_device

if TYPE_CHECKING:  # imported lazily in load_dinof
    from dinof_lite.dinof import DiNof

__all__ = [
    "FORMAT",
    "FLOW_FORMAT",
    "KNOWN_MODELS",
    "REGENERATE",
    "checkpoint_dir",
    "available_models",
    "checkpoint_path",
    "resolve",
    "checkpoint_meta",
    "save_score_model",
    "load_score_model",
    "save_flow",
    "load_flow",
    "save_dinof",
    "load_dinof",
]

FORMAT = "dinof_lite.score_model/1"
FLOW_FORMAT = "dinof_lite.flow/1"
DINOF_FORMAT = "dinof_lite.dinof/1"
REGENERATE = "python scripts/make_checkpoints.py"

#: Checkpoints ``scripts/make_checkpoints.py`` writes: name -> one-line description.
KNOWN_MODELS: dict[str, str] = {
    "score_mlp_8gaussians_vp": "ScoreMLP (ε-prediction) on the 8gaussians mixture, VP SDE",
    "score_mlp_8gaussians_ve": "ScoreMLP (σ-scaled output) on the 8gaussians mixture, VE SDE (σ_max=10)",
    "glow_8gaussians": "Glow (vector, 1 level × 8 steps) trained by maximum likelihood on 8gaussians",
    "glow_moons": "Glow (vector, 1 level × 8 steps) trained by maximum likelihood on moons",
    "glow_digits": "Glow (image 1×8×8, 2 levels × 8 steps) on sklearn's digits scaled to [0, 1]",
    "dinof_8gaussians_vp": "DiNof (ScoreMLP + vector Glow) on 8gaussians, VP SDE, T_m = 0.6",
    "dinof_8gaussians_vp_tm03": "DiNof (ScoreMLP + vector Glow) on 8gaussians, VP SDE, T_m = 0.3",
    "dinof_8gaussians_vp_anytm": "any-T_m DiNof on 8gaussians, VP SDE: one flow conditioned on "
    "T_m ∈ [0.1, 1.0], score network on [eps, T]",
    "dinof_digits": "any-T_m DiNof (tiny UNet + image Glow) on digits 16×16 on [0, 1], VE SDE, "
    "config digits_cpu",
    "diffflow_8gaussians": "DiffFlow (learned drift + score, Fourier MLPs, 30-step grid) on "
    "8gaussians (Zhang & Chen 2021)",
    "diffenc_8gaussians": "DiffEnc (VDM, v-prediction, trainable encoder) on 8gaussians "
    "(Nielsen et al. 2024)",
    "diffenc_digits": "DiffEnc (tiny UNet v-network + conv encoder) on digits 16×16 "
    "(Nielsen et al. 2024)",
    "digits_classifier": "CNN classifier of digits 16×16 on [0, 1]; its features give the "
    "FID-style score of dinof_lite.evaluation.digits_fid",
}

_NETS: dict[str, type[nn.Module]] = {"ScoreMLP": ScoreMLP}
_DINOF_NETS = ("ScoreMLP", "UNet")  # score networks a DiNof checkpoint may hold
_FLOWS: dict[str, type[nn.Module]] = {"Glow": Glow}


def checkpoint_dir() -> Path:
    """``$DINOF_CHECKPOINT_DIR`` if set, else ``<repo>/data/checkpoints``."""
    env = os.environ.get("DINOF_CHECKPOINT_DIR", "").strip()
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def available_models() -> list[str]:
    """Names of the checkpoints present in :func:`checkpoint_dir` (sorted)."""
    folder = checkpoint_dir()
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


def checkpoint_path(name: str) -> Path:
    """The file of the pretrained model ``name`` (which need not exist yet)."""
    return checkpoint_dir() / f"{name}.pt"


# --------------------------------------------------------------------------- specs


def _sde_spec(sde: SDE) -> dict[str, Any]:
    """``{"name", "params"}`` from which :func:`dinof_lite.sde.get_sde` rebuilds ``sde``.

    Any SDE whose class is registered in :data:`dinof_lite.sde.SDES` can be saved.
    """
    name = next((key for key, cls in SDES.items() if cls is type(sde)), None)
    if name is None:
        raise ValueError(
            f"cannot save a {type(sde).__name__}: its class is not registered; register it with "
            f"@dinof_lite.sde.register_sde(name) (registered: {', '.join(SDES)})"
        )
    return {"name": name, "params": sde.params()}


def _score_mlp_kwargs(net: ScoreMLP) -> dict[str, Any]:
    """Constructor arguments of a :class:`ScoreMLP`, read off its layers."""
    embedding = (
        "fourier" if type(net.embed).__name__ == "GaussianFourierEmbedding" else "sinusoidal"
    )
    return {
        "dim": net.dim,
        "hidden": net.inp.out_features,
        "n_layers": len(net.blocks),
        "embedding": embedding,
        "emb_dim": net.temb[0].in_features,
    }


# --------------------------------------------------------------------------- save / load


def save_score_model(
    path: str | os.PathLike,
    sde: SDE,
    net: nn.Module,
    meta: dict[str, Any] | None = None,
    net_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Write ``net`` (its current weights, float32 on the CPU) with ``sde`` and ``meta`` to ``path``.

    Args:
        path: target ``.pt`` file (parent folders are created).
        sde: the SDE the network was trained for (name and parameters are stored).
        net: a :class:`ScoreMLP` (constructor arguments are read off it) or any registered
            network class with ``net_kwargs`` given.
        meta: JSON-like extra information (training config, loss curve, provenance …).
        net_kwargs: constructor arguments; default: inferred for a ScoreMLP.

    Returns:
        The path written.
    """
    cls = type(net).__name__
    if cls not in _NETS:
        raise ValueError(f"cannot save a {cls}; supported network classes: {', '.join(_NETS)}")
    if net_kwargs is None:
        net_kwargs = _score_mlp_kwargs(net)
    ckpt = {
        "format": FORMAT,
        "net": {"class": cls, "kwargs": dict(net_kwargs)},
        "state_dict": cpu_state_dict(net),
        "sde": _sde_spec(sde),
        "meta": plain(meta or {}),
    }
    return atomic_save(ckpt, path)


def resolve(name: str | os.PathLike) -> Path:
    """The existing file of a model name (see :data:`KNOWN_MODELS`) or of a ``.pt`` path.

    ``name`` is a path when it ends in ``.pt`` or has a folder part; otherwise it is looked up in
    :func:`checkpoint_dir` (``$DINOF_CHECKPOINT_DIR`` or ``<repo>/data/checkpoints``).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        FileNotFoundError: a missing file; for a known name the message says how to regenerate
            it.
    """
    as_path = Path(name)
    if as_path.suffix == ".pt" or len(as_path.parts) > 1:
        if not as_path.is_file():
            raise FileNotFoundError(f"no checkpoint file at {as_path}")
        return as_path
    name = str(name)
    present = available_models()
    valid = sorted(set(KNOWN_MODELS) | set(present))
    if name not in valid:
        raise ValueError(f"unknown pretrained model {name!r}; valid: {', '.join(valid)}")
    path = checkpoint_path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained model {name!r} not found at {path} (present: "
            f"{', '.join(present) or 'none'}); regenerate it from the repository root with "
            f"`{REGENERATE}` (or `{REGENERATE} --only {name}`), or set DINOF_CHECKPOINT_DIR"
        )
    return path


def checkpoint_meta(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` dict stored in any dinof_lite checkpoint (score model, flow, DiNof, DiffFlow,
    DiffEnc, digits classifier): training config, ``losses`` curve, quality measurements,
    provenance. ``{}`` for a checkpoint saved without one.

    ``name_or_path`` is a name from :data:`KNOWN_MODELS` / :func:`available_models` or a ``.pt``
    path; errors as in :func:`load_score_model` (ValueError also for a file that is not a
    dinof_lite checkpoint).
    """
    path = resolve(name_or_path)
    ckpt = safe_load(path, "a dinof_lite checkpoint")
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
    if not (isinstance(fmt, str) and fmt.startswith("dinof_lite.")):
        got = fmt if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not a dinof_lite checkpoint (format: {got!r})")
    return dict(ckpt.get("meta") or {})


def load_score_model(
    name: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> tuple[SDE, nn.Module]:
    """Load a shipped score model: ``(sde, net)``; its ``meta`` via :func:`checkpoint_meta`.

    Args:
        name: a name from :data:`KNOWN_MODELS` / :func:`available_models`, or a ``.pt`` path.
        device: where to put the network.

    Returns:
        ``sde`` (a fresh :class:`~dinof_lite.sde.SDE`) and ``net`` (raw network in eval mode,
        ``net(x (B, D), label (B,)) -> (B, D)``; wrap it with
        :func:`dinof_lite.losses.get_score_fn`).

    Raises:
        ValueError: unknown name (the message lists the valid ones), a foreign file format, or
            a ``device`` that is malformed or absent on this machine.
        FileNotFoundError: a known model whose file is missing (the message says how to
            regenerate it).
    """
    device = resolve_device(device, "device")  # checked before the file is read
    path = resolve(name)
    ckpt = read_checkpoint(path, FORMAT)
    cls = ckpt["net"]["class"]
    if cls not in _NETS:
        raise ValueError(f"{path} holds a {cls}; supported network classes: {', '.join(_NETS)}")
    sde = get_sde(ckpt["sde"]["name"], **ckpt["sde"]["params"])
    net = _NETS[cls](**ckpt["net"]["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    return sde, net.to(device).eval()


def save_flow(path: str | os.PathLike, flow: nn.Module, meta: dict[str, Any] | None = None) -> Path:
    """Write a :class:`~dinof_lite.flows.Glow` (float32, CPU) and ``meta`` to ``path``."""
    cls = type(flow).__name__
    if cls not in _FLOWS:
        raise ValueError(f"cannot save a {cls}; supported flow classes: {', '.join(_FLOWS)}")
    ckpt = {
        "format": FLOW_FORMAT,
        "flow": {"class": cls, "kwargs": plain(flow.kwargs)},
        "state_dict": cpu_state_dict(flow),
        "meta": plain(meta or {}),
    }
    return atomic_save(ckpt, path)


def load_flow(name: str | os.PathLike, *, device: str | torch.device = "cpu") -> Glow:
    """Load a shipped flow (eval mode); its ``meta`` via :func:`checkpoint_meta`.

    ``name`` is a name from :data:`KNOWN_MODELS` (e.g. ``"glow_digits"``) or a ``.pt`` path;
    errors as in :func:`load_score_model`.
    """
    device = resolve_device(device, "device")  # checked before the file is read
    path = resolve(name)
    ckpt = read_checkpoint(path, FLOW_FORMAT)
    cls = ckpt["flow"]["class"]
    if cls not in _FLOWS:
        raise ValueError(f"{path} holds a {cls}; supported flow classes: {', '.join(_FLOWS)}")
    flow = _FLOWS[cls](**ckpt["flow"]["kwargs"])
    flow.load_state_dict(ckpt["state_dict"])
    return flow.to(device).eval()


def _dinof_net_spec(net: nn.Module) -> dict[str, Any]:
    """``{"class": "ScoreMLP", "kwargs"}`` or ``{"class": "UNet", "config": asdict(UNetConfig)}``."""
    if isinstance(net, UNet):
        return {"class": "UNet", "config": plain(dataclasses.asdict(net.config))}
    return {"class": type(net).__name__, "kwargs": _score_mlp_kwargs(net)}


def _build_dinof_net(spec: dict[str, Any]) -> nn.Module:
    """The score network described by :func:`_dinof_net_spec`'s ``spec`` (fresh weights)."""
    if spec["class"] == "UNet":
        return UNet(UNetConfig(**spec["config"]))
    return _NETS[spec["class"]](**spec["kwargs"])


def save_dinof(
    path: str | os.PathLike, model: nn.Module, meta: dict[str, Any] | None = None
) -> Path:
    """Write a :class:`~dinof_lite.dinof.DiNof` (a ScoreMLP or UNet, and a Glow) and ``meta``."""
    for part, names in ((model.score_net, _DINOF_NETS), (model.flow, tuple(_FLOWS))):
        if type(part).__name__ not in names:
            raise ValueError(
                f"cannot save a DiNof with a {type(part).__name__}; supported: "
                f"{', '.join([*_DINOF_NETS, *_FLOWS])}"
            )
    ckpt = {
        "format": DINOF_FORMAT,
        "sde": _sde_spec(model.sde),
        "net": _dinof_net_spec(model.score_net),
        "flow": {"class": type(model.flow).__name__, "kwargs": plain(model.flow.kwargs)},
        "dinof": plain(model.kwargs),
        "state_dict": cpu_state_dict(model),
        "meta": plain(meta or {}),
    }
    return atomic_save(ckpt, path)


def load_dinof(name: str | os.PathLike, *, device: str | torch.device = "cpu") -> DiNof:
    """Load a shipped DiNof model (eval mode); its ``meta`` via :func:`checkpoint_meta`.

    ``name`` is a name from :data:`KNOWN_MODELS` (e.g. ``"dinof_8gaussians_vp"``) or a ``.pt``
    path; errors as in :func:`load_score_model`.
    """
    from dinof_lite.dinof import DiNof

    device = resolve_device(device, "device")  # checked before the file is read
    path = resolve(name)
    ckpt = read_checkpoint(path, DINOF_FORMAT)
    sde = get_sde(ckpt["sde"]["name"], **ckpt["sde"]["params"])
    net = _build_dinof_net(ckpt["net"])
    flow = _FLOWS[ckpt["flow"]["class"]](**ckpt["flow"]["kwargs"])
    model = DiNof(sde, net, flow, **DiNof.kwargs_from_checkpoint(ckpt["dinof"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()
