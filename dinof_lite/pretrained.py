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

Every file written here also records what its model was trained on, ``"trained_on":
{"sde": {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "N": 1000, "T": 1.0}, "data_range":
[lo, hi], "dataset": name}`` (:class:`~dinof_lite.trained_on.TrainedOn`); for files written
before that key existed, :func:`trained_on` derives it from their ``"sde"`` and
``meta["dataset"]`` (an image dataset's ``data_range``; a 2D toy's
:data:`~dinof_lite.data.toy.TOY_RANGE`). The loaders attach it to the model as
``model.trained_on`` (a DiNof's score network gets it too), so using the network with another
SDE, or feeding it data far outside that range, is an error (:mod:`dinof_lite.trained_on`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dinof_lite.data.toy import TOY_RANGE
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
from dinof_lite.trained_on import TrainedOn, record_of, sde_record

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
    "trained_on",
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


def _derived_record(ckpt: dict[str, Any], fallback: TrainedOn | None = None) -> TrainedOn:
    """The :class:`TrainedOn` of a checkpoint dict without a ``"trained_on"`` key, from its
    ``"sde"`` and ``meta["dataset"]``; what ``fallback`` (the module's own record) knows fills
    the gaps."""
    spec, meta = ckpt.get("sde"), ckpt.get("meta") or {}
    sde = sde_record(get_sde(spec["name"], **spec["params"])) if spec else None
    dataset = meta.get("dataset") if isinstance(meta.get("dataset"), dict) else {}
    data_range = dataset.get("data_range", meta.get("data_range"))
    if data_range is None and (
        dataset.get("kind") in ("GaussianMixture.preset", "dinof_lite.data.toy.sample")
    ):
        data_range = TOY_RANGE
    if fallback is not None:
        sde = sde or fallback.sde
        data_range = data_range if data_range is not None else fallback.data_range
    name = dataset.get("name") or (fallback.dataset if fallback else None)
    return TrainedOn(sde, None if data_range is None else tuple(data_range), name)


def _record_for_file(ckpt: dict[str, Any], module: nn.Module) -> dict[str, Any]:
    """The ``"trained_on"`` entry of a file about to be written (see :func:`trained_on`)."""
    return _derived_record(ckpt, record_of(module)).to_dict()


def _attach(module: nn.Module, ckpt: dict[str, Any]) -> TrainedOn:
    record = (
        TrainedOn.from_dict(ckpt["trained_on"])
        if isinstance(ckpt.get("trained_on"), dict)
        else _derived_record(ckpt)
    )
    module.trained_on = record
    return record


def trained_on(name_or_path: str | os.PathLike) -> TrainedOn:
    """What the checkpoint ``name_or_path`` (a :data:`KNOWN_MODELS` name or ``.pt`` path) was
    trained on: its ``"trained_on"`` record, or one derived from its ``"sde"`` and
    ``meta["dataset"]`` for files written before that record existed."""
    path = resolve(name_or_path)
    ckpt = safe_load(path, "a dinof_lite checkpoint")
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} is not a dinof_lite checkpoint ({type(ckpt).__name__})")
    if isinstance(ckpt.get("trained_on"), dict):
        return TrainedOn.from_dict(ckpt["trained_on"])
    return _derived_record(ckpt)


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
    ckpt["trained_on"] = _record_for_file(ckpt, net)
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
    _attach(net, ckpt)
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
    ckpt["trained_on"] = _record_for_file(ckpt, flow)
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
    _attach(flow, ckpt)
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
    ckpt["trained_on"] = _record_for_file(ckpt, model)
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
    net.trained_on = _attach(model, ckpt)  # the score network's own uses are checked too
    return model.to(device).eval()
