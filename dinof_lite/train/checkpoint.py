"""Atomic checkpoint files and loading helpers, for training runs and shipped model files.

File-format level, shared by every model file of :mod:`dinof_lite.pretrained`,
:mod:`dinof_lite.baselines` and :mod:`dinof_lite.evaluation.digits_fid`: :func:`atomic_save`
(never half a file), :func:`read_checkpoint` (a ``weights_only`` load that checks the
``"format"`` tag), :func:`plain` (a JSON-like copy of metadata that ``weights_only`` loading
accepts) and :func:`cpu_state_dict` (float32 CPU weights).

A training checkpoint (``checkpoint.pt``) is a plain dict (loadable with ``weights_only=True``)::

    {"format": "dinof_lite.train_checkpoint/1", "step": int, "config": TrainConfig.to_dict(),
     "meta": dict (e.g. the experiment config of a ``train`` run),
     "model": state_dict, "ema": AveragedModel state_dict, "optimizer": ..., "scheduler": ...,
     "generator": ByteTensor (torch.Generator state), "torch_rng": ByteTensor,
     "losses": float64 tensor (step,)}

Older training checkpoints (``"format": 1`` or none) still load. Every reader here names the
file and says what it found and what was expected: an empty, truncated or foreign file raises
:class:`CheckpointError` (a ``ValueError``) instead of torch's internal errors, and a file that
holds Python objects is never unpickled. A write that fails for lack of space raises
``OSError(ENOSPC)`` naming the path and leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import errno
import numbers
import os
import pickle
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "TRAIN_FORMAT",
    "describe_checkpoint",
    "interrupts_deferred",
    "remove_stale_tmp",
    "safe_load",
    "atomic_save",
    "cpu_state_dict",
    "load_checkpoint",
    "load_weights",
    "plain",
    "read_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.pt"
#: the ``"format"`` of a training checkpoint (older files carry ``1`` or no format)
TRAIN_FORMAT = "dinof_lite.train_checkpoint/1"
_SHIPPED_LOADERS = {
    "dinof_lite.score_model/1": "dinof_lite.pretrained.load_score_model",
    "dinof_lite.flow/1": "dinof_lite.pretrained.load_flow",
    "dinof_lite.dinof/1": "dinof_lite.pretrained.load_dinof",
}


class CheckpointError(ValueError):
    """A file that is not the checkpoint expected (empty, truncated, foreign, another kind or
    another model); the message names the file, what it is and what was expected."""


def _tmp_pattern(name: str) -> str:
    return f".{name}.*.tmp"


def _no_space(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and (
        "unexpected pos" in text or "file write failed" in text or "No space left" in text
    )


@contextlib.contextmanager
def interrupts_deferred():
    """Hold SIGINT / SIGTERM (Ctrl-C, ``kill``) until the block ends (main thread only).

    Used around a checkpoint write (an interrupt inside ``torch.save`` would surface as a broken
    write) and around a training update (weights, EMA and step counter change together). A
    signal that arrives meanwhile is recorded by a temporary handler and passed to the previous
    handler (``KeyboardInterrupt`` for Ctrl-C) as soon as the block is done.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler != signal.SIG_IGN:  # the default action, or a handler set outside Python
                signal.raise_signal(caught[0])


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` that never leaves a partial file at ``path``.

    Writes to a temporary file in the same directory, flushes and fsyncs it, then
    ``os.replace``-s it over ``path`` (atomic on POSIX and Windows). On any error the
    temporary file is removed and the previous ``path`` (if any) is untouched. The file gets
    the permissions a plain ``open`` would give it (``0o666`` minus the umask), not ``mkstemp``'s
    private ``0o600``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except (PermissionError, OSError) as err:
        if isinstance(err, PermissionError) or err.errno in (errno.EROFS, errno.EACCES):
            raise PermissionError(
                err.errno,
                f"cannot write {path}: {path.parent} is not writable ({os.strerror(err.errno)}); "
                "choose a writable directory or fix its permissions",
            ) from err
        raise
    try:
        with interrupts_deferred():
            with os.fdopen(fd, "wb") as fh:
                torch.save(obj, fh)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if _no_space(err):
            free = shutil.disk_usage(path.parent).free
            kept = "the previous file is intact" if path.exists() else "nothing was written"
            raise OSError(
                errno.ENOSPC,
                f"no space left on the device to write {path} ({free / 2**20:.1f} MiB free); "
                f"{kept}; free some space or write to another directory",
            ) from err
        raise
    return path


def remove_stale_tmp(
    directory: str | os.PathLike, name: str = CHECKPOINT_NAME, older_than: float | None = None
) -> list[Path]:
    """Delete the temporary files ``.{name}.*.tmp`` that killed :func:`atomic_save` calls left
    in ``directory``, if last modified before ``older_than`` (a ``time.time()``; default now).
    Returns the paths removed."""
    directory = Path(directory)
    cutoff = time.time() if older_than is None else older_than
    removed = []
    if not directory.is_dir():
        return removed
    for tmp in directory.glob(_tmp_pattern(name)):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # removed meanwhile
            continue
    return removed


def describe_checkpoint(ckpt: Any) -> str:
    """What a loaded checkpoint is, in words (for error messages)."""
    if not isinstance(ckpt, dict):
        return f"a {type(ckpt).__name__}, not a checkpoint dict"
    fmt = ckpt.get("format")
    if fmt in (1, TRAIN_FORMAT) or (fmt is None and {"model", "ema", "step"} <= ckpt.keys()):
        return "a dinof_lite training checkpoint"
    if fmt in _SHIPPED_LOADERS:
        return f"a {fmt} shipped model (load it with {_SHIPPED_LOADERS[fmt]})"
    if isinstance(fmt, str) and fmt.startswith("dinof_lite."):
        return f"a {fmt} model file"
    if fmt is None and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return "a bare state dict (tensors only, no format)"
    return f"a dict with format {fmt!r}"


def safe_load(path: str | os.PathLike, expected: str = "a dinof_lite checkpoint") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` whose failures are a
    :class:`CheckpointError` naming the file, what it is and ``expected`` (never torch's advice
    to unpickle it)."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"{path} is empty (0 bytes); expected {expected}. Probably a write that was killed "
            "or a full disk: delete it (training then starts over) or restore a copy"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EISDIR, errno.EIO):
            raise
        return _damaged(path, size, err, expected)
    except Exception as err:  # torch raises many kinds; all mean "not readable"
        return _damaged(path, size, err, expected)


def _damaged(path: Path, size: int, err: Exception, expected: str):
    """Raise the :class:`CheckpointError` for a file ``torch.load`` could not read."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and (
        "Unsupported global" in text or "GLOBAL" in text
    ):
        what = (
            "a pickle of Python objects other than tensors and plain data; it was not "
            "loaded, because unpickling it could run arbitrary code"
        )
    elif head == b"PK\x03\x04":
        what = f"a truncated or damaged checkpoint ({size} bytes; the zip archive is broken)"
    else:
        what = f"not a PyTorch checkpoint file ({size} bytes, unreadable)"
    raise CheckpointError(
        f"{path} is {what}; expected {expected}. If it is a checkpoint a killed run damaged, "
        "delete it (or restore a copy)"
    ) from None


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
    ckpt = safe_load(path, f"a {format} checkpoint")
    found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
    if not isinstance(ckpt, dict) or found != format:
        raise CheckpointError(
            f"{path} is not a {format} checkpoint: found format {found!r}, expected "
            f"{format!r}; it is {describe_checkpoint(ckpt)}"
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
    """Load a training checkpoint dict on the CPU (``weights_only=True``: no code is run).

    ``path`` may be the file or the run directory containing ``checkpoint.pt``.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is empty, damaged, not a checkpoint, or another kind of
            checkpoint (a shipped model file); the message says what it is.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    expected = f"a training checkpoint ({TRAIN_FORMAT}, written by Trainer / `train`)"
    ckpt = safe_load(path, expected)
    kind = describe_checkpoint(ckpt)
    if kind != "a dinof_lite training checkpoint":
        raise CheckpointError(f"{path} is {kind}, not a training checkpoint; expected {expected}")
    return ckpt


def _mismatch_summary(err: RuntimeError) -> str:
    """``load_state_dict``'s error in one line: the first size mismatch and the key counts."""
    text = str(err)
    parts = []
    sizes = re.findall(
        r"size mismatch for ([\w.]+): copying a param with shape torch.Size\(\[([^\]]*)\]\) "
        r"from checkpoint, the shape in current model is torch.Size\(\[([^\]]*)\]\)",
        text,
    )
    if sizes:
        key, old, new = sizes[0]
        more = f" (and {len(sizes) - 1} more)" if len(sizes) > 1 else ""
        parts.append(f"size mismatch for {key}: ({old}) in the file, ({new}) in the model{more}")
    for label, what in (("Missing", "missing from the file"), ("Unexpected", "not in the model")):
        m = re.search(rf"{label} key\(s\) in state_dict: ([^\n]*?)\.(?:\s|$)", text)
        if m:
            keys = re.findall(r'"([^"]+)"', m.group(1))
            parts.append(f"{len(keys)} weights {what}, e.g. {', '.join(keys[:2])}")
    return "; ".join(parts) or text.splitlines()[0]


def load_weights(model: nn.Module, path: str | os.PathLike, ema: bool = True) -> nn.Module:
    """Load trained weights into ``model`` (same architecture as trained) and return it.

    Args:
        model: the module that was passed to the :class:`~dinof_lite.train.Trainer`.
        path: checkpoint file or run directory.
        ema: load the EMA weights (what one samples with) rather than the raw weights.

    Raises:
        CheckpointError: not a training checkpoint (see :func:`load_checkpoint`), or one of
            another architecture (the message names the first mismatched weights and the
            config the checkpoint was written with).
    """
    ckpt = load_checkpoint(path)
    part = "ema" if ema else "model"
    if not isinstance(ckpt.get(part), dict):
        raise CheckpointError(f"{path} is a training checkpoint without {part!r} weights")
    if ema:
        prefix = "module."
        state = {k[len(prefix) :]: v for k, v in ckpt["ema"].items() if k.startswith(prefix)}
    else:
        state = ckpt["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        meta = ckpt.get("meta") or {}
        written = (
            f"; it was written by config {meta['config_name']!r}" if meta.get("config_name") else ""
        )
        raise CheckpointError(
            f"{path} does not fit this {type(model).__name__}: its weights are of another "
            f"architecture ({_mismatch_summary(err)}){written}; build the model from the "
            "config the run was trained with (e.g. dinof_lite.experiment.load_run(workdir))"
        ) from None
    return model
