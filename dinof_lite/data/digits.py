"""sklearn's 8×8 handwritten digits as a tiny image dataset for flows (no download needed).

The 1797 images ship inside scikit-learn (``sklearn.datasets.load_digits``, the UCI
"optdigits" test set). Each pixel is an integer count ``k ∈ {0, …, 16}``: 17 levels, so the
images are discrete data on the grid

    x = lo + (hi − lo) · k / 16,        k = 0 … 16,

of ``data_range = (lo, hi)``; model them with :data:`DIGITS_N_BINS` ``= 17`` bins in
:func:`~dinof_lite.data.quantize.dequantize` / ``bits_per_dim``. Background is ``k = 0`` (``lo``).

The split is fixed: **train = the first 1500 images, test = the last 297**, in sklearn's order
(every class has roughly 150 train and 30 test images).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DIGITS_N_BINS",
    "DIGITS_SPLITS",
    "N_TRAIN",
    "N_TEST",
    "load_digits",
    "load_digits_with_labels",
]

DIGITS_N_BINS = 17
DIGITS_SPLITS: tuple[str, ...] = ("all", "train", "test")
N_TRAIN, N_TEST = 1500, 297
_SIZE = 8  # native side length


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    """Pixel levels ``(1797, 8, 8)`` int64 in 0..16 and labels ``(1797,)`` int64, read once."""
    from sklearn.datasets import load_digits  # lazily: sklearn takes ~1 s to import

    bunch = load_digits()
    levels = np.rint(bunch.images).astype(np.int64)
    levels.setflags(write=False)
    labels = bunch.target.astype(np.int64)
    labels.setflags(write=False)
    return levels, labels


def _check(data_range, pad_to, split, dtype) -> tuple[float, float, int]:
    if split not in DIGITS_SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(DIGITS_SPLITS)}")
    try:
        lo, hi = (float(v) for v in data_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"data_range must be a pair (lo, hi) of numbers, got {data_range!r}"
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"data_range must be (lo, hi) with finite hi > lo, got {data_range!r}")
    if pad_to is None:
        pad_to = _SIZE
    if isinstance(pad_to, bool) or not isinstance(pad_to, (int, np.integer)):
        raise TypeError(f"pad_to must be an int (or None), got {type(pad_to).__name__}")
    if pad_to < _SIZE or (pad_to - _SIZE) % 2:
        raise ValueError(
            f"pad_to must be ≥ {_SIZE} with pad_to − {_SIZE} even (the digit is "
            f"centred), e.g. 8, 16 or 32; got {pad_to}"
        )
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    return lo, hi, int(pad_to)


def load_digits_with_labels(
    *,
    data_range: tuple[float, float] = (0.0, 1.0),
    pad_to: int | None = None,
    split: str = "all",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """sklearn's digits and their classes: ``(x (N, 1, S, S), labels (N,) int64 in 0..9)``.

    ``x`` is exactly :func:`load_digits` with the same arguments (see there).
    """
    lo, hi, side = _check(data_range, pad_to, split, dtype)
    levels, labels = _raw()
    rows = {"all": slice(None), "train": slice(0, N_TRAIN), "test": slice(N_TRAIN, None)}[split]
    k = torch.from_numpy(levels[rows].copy())
    pad = (side - _SIZE) // 2
    k = torch.nn.functional.pad(k, (pad, pad, pad, pad))  # level 0 = background
    x = (lo + (hi - lo) * k.to(torch.float64) / (DIGITS_N_BINS - 1)).to(dtype).unsqueeze(1)
    return x, torch.from_numpy(labels[rows].copy())


def load_digits(
    *,
    data_range: tuple[float, float] = (0.0, 1.0),
    pad_to: int | None = None,
    split: str = "all",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """sklearn's digits as images ``(N, 1, S, S)`` on the 17-level grid of ``data_range``.

    Args:
        data_range: ``(lo, hi)``: pixel level ``k`` becomes ``lo + (hi − lo)·k/16``
            (``(0, 1)`` for flows, ``(−1, 1)`` for diffusion models).
        pad_to: side ``S`` of the output; the 8×8 digit is centred on an ``S×S`` canvas of
            background ``lo`` (``S − 8`` must be even, e.g. 16 for a 4-level Glow). ``None``: 8.
        split: ``"train"`` (first 1500 images), ``"test"`` (last 297) or ``"all"`` (1797).
        dtype: floating dtype of the images.

    Returns:
        ``x (N, 1, S, S)``; :func:`load_digits_with_labels` also returns the digit classes.
    """
    x, _ = load_digits_with_labels(data_range=data_range, pad_to=pad_to, split=split, dtype=dtype)
    return x
