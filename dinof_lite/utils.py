"""Small shared helpers: smoke mode, device choice, seeding."""

from __future__ import annotations

import math
import os

import torch

__all__ = [
    "smoke_mode",
    "smoke_or",
    "pick_device",
    "make_generator",
    "randn",
    "rand",
    "check_batch",
]


def smoke_mode() -> bool:
    """True when running in CI or with ``DINOF_SMOKE`` set: notebooks and demos use tiny step counts."""
    flag = os.environ.get("DINOF_SMOKE", os.environ.get("CI", ""))
    return flag.strip().lower() not in ("", "0", "false", "no")


def smoke_or(full: int, smoke: int) -> int:
    """Return ``smoke`` in smoke mode, else ``full`` (e.g. ``n_steps = smoke_or(5000, 50)``)."""
    return smoke if smoke_mode() else full


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` to CUDA, then Apple MPS, then CPU; pass anything else to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_generator(seed: int | torch.Generator | None, device: str | torch.device = "cpu"):
    """A ``torch.Generator`` from an int seed (or pass a generator / None straight through)."""
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def _draw(fn, shape, generator, device, dtype):
    """Draw on the generator's own device, then move: a CPU generator gives the same numbers
    whether the computation runs on CPU or GPU (and never fails on a device mismatch)."""
    if generator is None:
        return fn(tuple(shape), device=device, dtype=dtype)
    if not isinstance(generator, torch.Generator):
        seed = f"({generator})" if isinstance(generator, int) else "(seed)"
        raise TypeError(
            f"generator must be a torch.Generator or None; got {type(generator).__name__}: "
            f"pass torch.Generator().manual_seed{seed}"
        )
    out = fn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return out if device is None else out.to(device)


def randn(shape, generator: torch.Generator | None = None, device=None, dtype=None) -> torch.Tensor:
    """``torch.randn`` that is safe with a generator on another device (see :func:`_draw`)."""
    return _draw(torch.randn, shape, generator, device, dtype)


def rand(shape, generator: torch.Generator | None = None, device=None, dtype=None) -> torch.Tensor:
    """``torch.rand`` that is safe with a generator on another device (see :func:`_draw`)."""
    return _draw(torch.rand, shape, generator, device, dtype)


def check_batch(x: torch.Tensor, what: str, owner: str) -> tuple[float, float]:
    """Raise ``ValueError`` if the batch ``x`` is empty or holds NaN / inf (named ``what``, for
    ``owner``), before any layer or parameter sees it; return its ``(min, max)``.

    One pass over ``x`` and one host sync (``torch.aminmax``: NaN spreads to both, inf shows in
    one), so that a caller with a range to check too
    (:func:`dinof_lite.trained_on.check_data_range`) needs no second look at the data."""
    if x.shape[0] == 0:
        raise ValueError(
            f"{owner} got an empty batch for {what} (shape {tuple(x.shape)}); pass at least one "
            "example"
        )
    lo, hi = torch.stack(torch.aminmax(x.detach())).tolist()
    if not (math.isfinite(lo) and math.isfinite(hi)):
        bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
        raise ValueError(
            f"{owner} got {what} with NaN or inf in {bad} of {x.shape[0]} examples; clean or drop "
            "them first (e.g. x[torch.isfinite(x).flatten(1).all(1)])"
        )
    return lo, hi
