"""Atomic checkpoint files and loading helpers, for training runs and shipped model files.

File-format level, shared by every model file of :mod:`dinof_lite.pretrained`,
:mod:`dinof_lite.baselines` and :mod:`dinof_lite.evaluation.digits_fid`: :func:`atomic_save`
(never half a file), :func:`read_checkpoint` (a ``weights_only`` load that checks the
``"format"`` tag), :func:`plain` (a JSON-like copy of metadata that ``weights_only`` loading
accepts) and :func:`cpu_state_dict` (float32 CPU weights).

A training checkpoint (``checkpoint.pt``) is a plain dict (loadable with ``weights_only=True``)::

    {"format": 1, "step": int, "config": TrainConfig.to_dict(),
     "model": state_dict, "ema": AveragedModel state_dict, "optimizer": ..., "scheduler": ...,
     "generator": ByteTensor (torch.Generator state), "torch_rng": ByteTensor,
     "losses": float64 tensor (step,), "extra": dict}
"""

from __future__ import annotations

import numbers
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "CHECKPOINT_NAME",
    "atomic_save",
    "cpu_state_dict",
    "load_checkpoint",
    "load_weights",
    "plain",
    "read_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.pt"


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` that never leaves a partial file at ``path``.

    Writes to a temporary file in the same directory, flushes and fsyncs it, then
    ``os.replace``-s it over ``path`` (atomic on POSIX and Windows). On any error the
    temporary file is removed and the previous ``path`` (if any) is untouched. The file gets
    the permissions a plain ``open`` would give it (``0o666`` minus the umask), not ``mkstemp``'s
    private ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | os.PathLike, format: str) -> dict[str, Any]:
    """Load a model file on the CPU (``weights_only=True``) and check its ``"format"`` tag.

    Args:
        path: the ``.pt`` file.
        format: the expected value of the dict's ``"format"`` key, e.g.
            ``"dinof_lite.flow/1"``.

    Returns:
        The checkpoint dict.

    Raises:
        ValueError: the file holds no dict or one of another format; the message names the
            file, the format found and the one expected.
    """
    path = Path(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
    if not isinstance(ckpt, dict) or found != format:
        raise ValueError(
            f"{path} is not a {format} checkpoint: found format {found!r}, expected {format!r}"
        )
    return ckpt


def plain(obj: Any) -> Any:
    """A JSON-like copy of ``obj`` that ``torch.load(weights_only=True)`` accepts.

    Dicts (keys become ``str``), lists and tuples are copied recursively; ``None`` and tensors
    are kept; bools, integers and reals (numpy scalars included) become Python ``bool``, ``int``
    and ``float``; anything else (``Path``, ``torch.__version__``, …) becomes its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    if obj is None or isinstance(obj, torch.Tensor):
        return obj
    for kind in (bool, numbers.Integral, numbers.Real):  # numpy scalars become Python numbers
        if isinstance(obj, kind):
            return {bool: bool, numbers.Integral: int, numbers.Real: float}[kind](obj)
    return str(obj)  # str subclasses (torch.__version__), Paths, …


def cpu_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module``'s state dict as float32 CPU copies (integer and boolean buffers keep their dtype)."""
    return {
        k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).clone()
        for k, v in module.state_dict().items()
    }


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint dict on the CPU (``weights_only=True``: no arbitrary code is run).

    ``path`` may be the file or the run directory containing ``checkpoint.pt``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_weights(model: nn.Module, path: str | os.PathLike, ema: bool = True) -> nn.Module:
    """Load trained weights into ``model`` (same architecture as trained) and return it.

    Args:
        model: the module that was passed to the :class:`~dinof_lite.train.Trainer`.
        path: checkpoint file or run directory.
        ema: load the EMA weights (what one samples with) rather than the raw weights.
    """
    ckpt = load_checkpoint(path)
    if ema:
        prefix = "module."
        state = {k[len(prefix) :]: v for k, v in ckpt["ema"].items() if k.startswith(prefix)}
    else:
        state = ckpt["model"]
    model.load_state_dict(state)
    return model
