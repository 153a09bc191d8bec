"""The data an experiment trains and evaluates on: a registered image dataset or a fake one.

``fake_image_dataset`` stands in for CIFAR-10 / CelebA-HQ in tests and smoke runs (``train
--fake-data``): seeded random 8-bit images with some spatial structure (a coarse random image,
upsampled by repetition), returned as an :class:`~dinof_lite.data.ImageDataset`, so it has the
same ``.sampler(batch_size, generator)``, ``.raw``, ``.n_bins`` and ``.dims`` as the real data.
"""

from __future__ import annotations

import os

import torch

from dinof_lite.data import ImageDataset, load_image_dataset
from dinof_lite.experiment.configs import ExperimentConfig

__all__ = ["fake_image_dataset", "experiment_dataset"]

#: images per split of the fake dataset used by ``--fake-data``
FAKE_SIZES = {"train": 256, "test": 64, "all": 320}


def fake_image_dataset(
    shape: tuple[int, int, int],
    n: int,
    data_range: tuple[float, float],
    seed: int = 0,
    *,
    n_bins: int = 256,
    flip: bool = False,
) -> ImageDataset:
    """``n`` fake uint8 images of ``shape = (C, H, W)``, scaled to ``data_range`` on access.

    Each image is a ``(C, ⌈H/2⌉, ⌈W/2⌉)`` grid of uniform levels ``0 … n_bins − 1`` drawn from
    ``torch.Generator().manual_seed(seed)``, repeated 2× along H and W (so nearby pixels correlate).
    """
    c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(
        n_bins, (n, c, (h + 1) // 2, (w + 1) // 2), generator=g, dtype=torch.uint8
    )
    images = coarse.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :h, :w].contiguous()
    return ImageDataset(images, n_bins=n_bins, data_range=data_range, flip=flip, name="fake")


def experiment_dataset(
    cfg: ExperimentConfig,
    split: str,
    *,
    fake: bool = False,
    root: str | os.PathLike | None = None,
    flip: bool = False,
) -> ImageDataset:
    """``cfg.dataset``'s ``split`` at ``cfg.shape`` on ``cfg.data_range`` (or the fake stand-in).

    The digits (8×8) are centred on a ``cfg.image_size`` canvas when that is larger. The fake
    data use seed 0 for ``"train"`` and 1 for ``"test"``.
    """
    if fake:
        seed = {"train": 0, "test": 1}.get(split, 2)
        return fake_image_dataset(
            cfg.shape, FAKE_SIZES.get(split, 256), cfg.data_range, seed, flip=flip
        )
    extra = {}
    if cfg.dataset == "digits" and cfg.image_size > 8:
        extra["pad_to"] = cfg.image_size
    elif cfg.dataset == "celebahq256" and cfg.image_size != 256:
        extra["size"] = cfg.image_size
    ds = load_image_dataset(
        cfg.dataset, root, split=split, data_range=cfg.data_range, flip=flip, **extra
    )
    if tuple(ds.dims) != cfg.shape:
        raise ValueError(
            f"dataset {cfg.dataset!r} gives images {tuple(ds.dims)} but config "
            f"{cfg.name!r} expects {cfg.shape}; use --fake-data for smoke configs"
        )
    return ds
