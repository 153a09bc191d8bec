"""Image datasets for flows and diffusion models: digits, CIFAR-10 and CelebA-HQ-256.

:func:`load_image_dataset` returns an :class:`ImageDataset`, which keeps the *integer* pixel
levels ``k ∈ {0, …, n_bins − 1}`` (uint8) and scales on access to

    x = lo + (hi − lo) · k / (n_bins − 1)        (8-bit: k/255 on (0, 1), 2·k/255 − 1 on (−1, 1)),

the grid that :func:`~dinof_lite.data.quantize.dequantize` and ``bits_per_dim`` expect with
``n_bins = dataset.n_bins`` (256 for 8-bit images, 17 for the digits).

Data live in ``root`` (default :func:`default_data_dir`: ``$DINOF_DATA_DIR`` if set, else
``<repo>/data/datasets``); see :mod:`~dinof_lite.data.cifar10` and
:mod:`~dinof_lite.data.celebahq` for the expected layouts. Nothing is downloaded unless asked
(``download=True``, CIFAR-10 only).

Training with :class:`~dinof_lite.train.Trainer`: pass ``dataset.sampler``, which follows the
``data(batch_size, generator) -> (B, C, H, W)`` convention (indices drawn with replacement and
flips drawn from the trainer's generator, so runs are reproducible and resumable).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from dinof_lite.data import celebahq, cifar10
from dinof_lite.data.digits import DIGITS_N_BINS, load_digits_with_labels
from dinof_lite.utils import rand

__all__ = ["IMAGE_DATASETS", "ImageDataset", "default_data_dir", "load_image_dataset"]

IMAGE_DATASETS: tuple[str, ...] = ("digits", "cifar10", "celebahq256")


def default_data_dir() -> Path:
    """``$DINOF_DATA_DIR`` if set, else ``<repo>/data/datasets``."""
    env = os.environ.get("DINOF_DATA_DIR", "").strip()
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "datasets"


def _check_range(data_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in data_range)
    except (TypeError, ValueError):
        raise ValueError(f"data_range must be a pair (lo, hi), got {data_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"data_range must be (lo, hi) with finite hi > lo, got {data_range!r}")
    return lo, hi


class ImageDataset(Dataset):
    """Images stored as integer levels, returned as floats on the grid of ``data_range``.

    Args:
        images: uint8 levels ``(N, C, H, W)`` held in memory, or a sequence of image files read
            lazily (RGB, with :func:`~dinof_lite.data.celebahq.read_image`) on every access.
        labels: optional ``(N,)`` int64 classes.
        n_bins: number of levels (256 for 8-bit images; levels are ``0 … n_bins − 1``).
        data_range: ``(lo, hi)``, the values of level 0 and level ``n_bins − 1``.
        flip: mirror each image left-right with probability 1/2 on access (augmentation).
        generator: default ``torch.Generator`` for the flips of ``dataset[i]`` (``None``: the
            global RNG); :meth:`sampler` uses the generator it is given.
        size: for image files, resize each to ``size × size``.
        dtype: floating dtype of the returned images.
        name: a label for ``repr``.

    Attributes:
        n_bins: as passed.
        data_range: as passed.
        flip: as passed.
        labels: as passed (``None`` when the set has none).
        dims: one image's shape ``(C, H, W)``.
        shape: the whole set's shape ``(N, C, H, W)``.
    """

    def __init__(
        self,
        images: Tensor | Sequence[str | os.PathLike],
        *,
        labels: Tensor | None = None,
        n_bins: int = 256,
        data_range: tuple[float, float] = (0.0, 1.0),
        flip: bool = False,
        generator: torch.Generator | None = None,
        size: int | None = None,
        dtype: torch.dtype = torch.float32,
        name: str = "images",
    ) -> None:
        if not 2 <= n_bins <= 256:
            raise ValueError(f"n_bins must be in 2..256 (uint8 levels), got {n_bins}")
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.data_range = _check_range(data_range)
        self.n_bins, self.flip, self.generator, self.dtype, self.name = (
            int(n_bins),
            bool(flip),
            generator,
            dtype,
            name,
        )
        self.size = size
        if isinstance(images, Tensor):
            if images.dtype != torch.uint8 or images.ndim != 4:
                raise ValueError(
                    f"images must be a uint8 tensor (N, C, H, W), got {images.dtype} "
                    f"{tuple(images.shape)}"
                )
            if images.numel() and int(images.max()) >= n_bins:
                raise ValueError(f"images hold level {int(images.max())} ≥ n_bins = {n_bins}")
            self._images: Tensor | None = images
            self.files: list[Path] | None = None
            n, self.dims = images.shape[0], tuple(images.shape[1:])
        else:
            self._images, self.files = None, [Path(f) for f in images]
            if not self.files:
                raise ValueError("no image files given")
            n, self.dims = len(self.files), tuple(celebahq.read_image(self.files[0], size).shape)
        if labels is not None and labels.shape != (n,):
            raise ValueError(f"labels must be ({n},), got {tuple(labels.shape)}")
        self.labels = labels
        self.shape = (n, *self.dims)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        where = "in memory" if self.files is None else f"lazy from {self.files[0].parent}"
        return (
            f"ImageDataset({self.name!r}, shape={self.shape}, n_bins={self.n_bins}, "
            f"data_range={self.data_range}, flip={self.flip}, {where})"
        )

    def raw(self, index: int | slice | Sequence[int] | Tensor) -> Tensor:
        """The uint8 levels ``(B, C, H, W)`` of the indexed images (unflipped, unscaled)."""
        if isinstance(index, Sequence):  # lists, tuples, ranges
            index = torch.as_tensor(list(index), dtype=torch.long)
        if self._images is not None:
            out = self._images[index]
            return out.unsqueeze(0) if out.ndim == 3 else out
        idx = torch.arange(len(self))[index].reshape(-1).tolist()
        imgs = [celebahq.read_image(self.files[i], self.size) for i in idx]
        for i, im in zip(idx, imgs):
            if tuple(im.shape) != self.dims:
                raise ValueError(
                    f"image {self.files[i]} is {tuple(im.shape)}, expected "
                    f"{self.dims} like the first one; pass size= to resize"
                )
        return torch.stack(imgs) if imgs else torch.empty(0, *self.dims, dtype=torch.uint8)

    def scale(self, levels: Tensor) -> Tensor:
        """Levels ``k`` (any shape, integer) → ``lo + (hi − lo)·k/(n_bins − 1)`` in ``dtype``."""
        lo, hi = self.data_range
        return (lo + (hi - lo) * levels.to(torch.float64) / (self.n_bins - 1)).to(self.dtype)

    def _flip(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        if not self.flip:
            return x
        mirror = rand((x.shape[0],), generator, device=x.device) < 0.5
        return torch.where(mirror[:, None, None, None], x.flip(-1), x)

    def batch(
        self, index: Sequence[int] | Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Images ``(B, C, H, W)`` scaled to ``data_range`` (flipped with ``generator`` if ``flip``)."""
        return self._flip(self.scale(self.raw(index)), generator)

    def __getitem__(self, i: int) -> Tensor:
        """Image ``i`` as ``(C, H, W)`` floats (flipped with the dataset's generator if ``flip``)."""
        return self.batch([i], self.generator)[0]

    def sampler(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """A random minibatch ``(B, C, H, W)``: indices drawn uniformly with replacement, then
        flips, both from ``generator`` (the ``Trainer`` convention ``data(batch_size, generator)``)."""
        dev = generator.device if generator is not None else None
        idx = torch.randint(len(self), (batch_size,), generator=generator, device=dev).cpu()
        return self.batch(idx, generator)


def _digits(split, data_range, pad_to, max_items, **kw) -> ImageDataset:
    k, y = load_digits_with_labels(
        data_range=(0, DIGITS_N_BINS - 1), pad_to=pad_to, split=split, dtype=torch.float64
    )
    k = k.round().to(torch.uint8)[:max_items]
    return ImageDataset(
        k, labels=y[:max_items], n_bins=DIGITS_N_BINS, data_range=data_range, name="digits", **kw
    )


def load_image_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    split: str = "train",
    data_range: tuple[float, float] = (0.0, 1.0),
    download: bool = False,
    size: int | None = None,
    pad_to: int | None = None,
    max_items: int | None = None,
    flip: bool = False,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> ImageDataset:
    """Load one of :data:`IMAGE_DATASETS` as an :class:`ImageDataset`.

    Args:
        name: ``"digits"`` (sklearn's 8×8 digits, 1 channel, 17 levels, bundled),
            ``"cifar10"`` (3×32×32, 8-bit) or ``"celebahq256"`` (3×256×256, 8-bit, read lazily).
        root: folder holding the data (``None``: :func:`default_data_dir`); unused for digits.
        split: ``"train"``, ``"test"`` or ``"all"`` (fixed splits, see each module).
        data_range: ``(lo, hi)``: ``(0, 1)`` for flows, ``(−1, 1)`` for diffusion models.
        download: fetch CIFAR-10 if it is not in ``root`` (the other datasets need none/cannot).
        size: CelebA-HQ only: resize the images to ``size × size`` (e.g. 64 for quick runs).
        pad_to: digits only: centre the 8×8 digits on a ``pad_to × pad_to`` canvas.
        max_items: keep only the first ``max_items`` images of the split.
        flip, generator, dtype: passed to :class:`ImageDataset`.

    Raises:
        ValueError: unknown name (the message lists the valid ones) or an option that does not
            apply; corrupt files.
        FileNotFoundError: the data are not in ``root`` (the message says where and how).
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; valid: {', '.join(IMAGE_DATASETS)}")
    if max_items is not None and (
        isinstance(max_items, bool) or int(max_items) != max_items or max_items < 1
    ):
        raise ValueError(f"max_items must be a positive int or None, got {max_items!r}")
    if pad_to is not None and name != "digits":
        raise ValueError(f"pad_to applies to 'digits' only, not {name!r}")
    if size is not None and name != "celebahq256":
        raise ValueError(f"size applies to 'celebahq256' only, not {name!r}")
    if download and name == "celebahq256":
        raise ValueError(
            "download=True is not supported for 'celebahq256'. "
            + celebahq.missing_message(Path(root or default_data_dir()))
        )
    kw = {"flip": flip, "generator": generator, "dtype": dtype}
    if name == "digits":
        return _digits(split, data_range, pad_to, max_items, **kw)
    root = Path(root) if root is not None else default_data_dir()
    if name == "cifar10":
        if download:
            cifar10.download_cifar10(root)
        x, y = cifar10.read_cifar10(root, split, max_items=max_items)
        return ImageDataset(x, labels=y, data_range=data_range, name="cifar10", **kw)
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 1):
        raise ValueError(f"size must be a positive int or None, got {size!r}")
    files = celebahq.celebahq_files(root, split)[:max_items]
    return ImageDataset(files, data_range=data_range, size=size, name="celebahq256", **kw)
