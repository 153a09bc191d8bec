"""Atomic checkpoint files and loading helpers.

A checkpoint (``checkpoint.pt``) is a plain dict (loadable with ``weights_only=True``)::

    {"format": 1, "step": int, "config": TrainConfig.to_dict(),
     "model": state_dict, "ema": AveragedModel state_dict, "optimizer": ..., "scheduler": ...,
     "generator": ByteTensor (torch.Generator state), "torch_rng": ByteTensor,
     "losses": float64 tensor (step,), "extra": dict}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["CHECKPOINT_NAME", "atomic_save", "load_checkpoint", "load_weights"]

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
