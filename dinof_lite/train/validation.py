"""Checks of user-given values that name the argument, what was expected and how to fix it.

Used by :class:`~dinof_lite.train.TrainConfig` (every field checked at construction), by the
option types of ``python -m dinof_lite`` (:mod:`dinof_lite.cli.options`) and by the workdir
checks (:func:`check_dir`, :func:`check_writable`). Each raises ``ValueError`` (or ``TypeError``
for a wrong type) before any state changes.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from pathlib import Path

__all__ = [
    "DEVICE_FORMS",
    "available_devices",
    "check_device",
    "check_dir",
    "check_float",
    "check_int",
    "check_writable",
    "resolve_device",
]

#: the device strings accepted everywhere (``cuda:N`` with N an index)
DEVICE_FORMS = ("auto", "cpu", "cuda", "cuda:N", "mps")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda)(:(\d+))?$")


def check_int(name: str, value, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as an ``int`` (bools and non-integral numbers refused) within ``[min, max]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    _check_range(name, value, min, max, "an integer")
    return value


def check_float(
    name: str,
    value,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` (bools and strings refused) within the given bounds
    (``min_open``/``max_open``: the bound itself is excluded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    _check_range(name, value, min, max, "a number", min_open, max_open)
    return value


def _check_range(name, value, lo, hi, what, lo_open=False, hi_open=False) -> None:
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
    if bad_lo or bad_hi:
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '<='} {hi}")
        raise ValueError(f"{name} must be {what} {' and '.join(parts)}; got {value}")


def available_devices() -> list[str]:
    """The devices usable here, e.g. ``["cpu"]`` or ``["cpu", "cuda:0", "cuda:1"]``."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def check_device(name: str, device) -> str:
    """The syntax of a device string: one of :data:`DEVICE_FORMS` (not whether it exists here)."""
    import torch

    if isinstance(device, torch.device):
        return str(device)
    if not isinstance(device, str) or not _DEVICE_RE.match(device.strip().lower()):
        raise ValueError(
            f"{name} {device!r} is not a device; expected one of {', '.join(DEVICE_FORMS)} "
            f"(available here: {', '.join(available_devices())})"
        )
    m = _DEVICE_RE.match(device.strip().lower())
    if m.group(2) and m.group(1) != "cuda":
        raise ValueError(
            f"{name} {device!r} is not a device; expected one of {', '.join(DEVICE_FORMS)} "
            f"(only cuda takes an index; available here: {', '.join(available_devices())})"
        )
    return device.strip().lower()


def resolve_device(device="auto", name: str = "device"):
    """A ``torch.device`` for a checked device string that exists on this machine.

    ``"auto"`` is CUDA, then MPS, then CPU. Raises ``ValueError`` naming ``name``, what is
    available and how to fix it for a malformed string, a CUDA device on a build or machine
    without it (or an index past the last GPU), or MPS where it is unavailable.
    """
    import torch

    if isinstance(device, torch.device) and device.type not in ("cpu", "cuda", "mps"):
        return device  # e.g. "meta": nothing to look for on this machine
    dev = check_device(name, device)
    avail = available_devices()
    fix = f"use {name} cpu (or auto)" if name.startswith("--") else f"pass {name}='cpu' (or 'auto')"
    hint = f"available here: {', '.join(avail)}; {fix}"
    if dev == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if "mps" in avail else "cpu")
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            why = (
                "this torch build has no CUDA"
                if not torch.backends.cuda.is_built()
                else ("no CUDA GPU is visible")
            )
            raise ValueError(f"{name} {device!r} is not available: {why} ({hint})")
        index = int(dev.split(":")[1]) if ":" in dev else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"{name} {device!r} is not available: {torch.cuda.device_count()} GPU(s) ({hint})"
            )
    if dev == "mps" and "mps" not in avail:
        raise ValueError(f"{name} 'mps' is not available on this machine ({hint})")
    return torch.device(dev)


def check_dir(name: str, path, *, must_exist: bool = True) -> Path:
    """``path`` as a directory: refuses a file (and, with ``must_exist``, a missing path)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{name} {path} is a file, not a directory; give a directory (a new path is created)"
        )
    if must_exist and not path.exists():
        raise FileNotFoundError(f"{name} {path} does not exist; check the path")
    return path


def check_writable(name: str, path) -> Path:
    """Refuse a directory (or the nearest existing parent of a new one) that cannot be written."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise NotADirectoryError(f"{name} {path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == path else f" (its existing parent {probe} is not)"
        raise PermissionError(
            f"{name} {path} is not writable{where}: read-only file system or no permission; "
            "choose a directory you can write, or fix its permissions"
        )
    return path
