"""CelebA-HQ at 256×256 from a local folder of images (read lazily with Pillow).

Expected layout: the 30 000 face images as ``.png`` / ``.jpg`` / ``.jpeg`` files directly in
``<root>/celebahq256/`` (any names; sub-folders are ignored)::

    <root>/celebahq256/00000.png  …  29999.png        (or 0.jpg … 29999.jpg)

CelebA-HQ was made by Karras et al. (2018, "Progressive Growing of GANs",
https://github.com/tkarras/progressive_growing_of_gans) from CelebA; it cannot be downloaded
automatically here (its licence requires accepting CelebA's terms). Get the 256×256 release
(e.g. one of its mirrors on Kaggle, or make it from the 1024×1024 images with ``size=256``)
and put the images in the folder above.

The split is fixed: files are sorted in natural order (``2.jpg`` before ``10.jpg``; for
zero-padded names this is plain sorting), and **the last** :data:`CELEBAHQ_N_TEST` ``= 3000``
**are the test set**, the rest (27 000 for the full release) the train set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["CELEBAHQ_FOLDER", "CELEBAHQ_N_TEST", "IMAGE_SUFFIXES", "celebahq_files", "read_image"]

CELEBAHQ_FOLDER = "celebahq256"
CELEBAHQ_N_TEST = 3000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _natural_key(path: Path) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path.name)]


def missing_message(root: Path) -> str:
    """Where the images must go and how to get them (the text of the missing-data errors)."""
    return (
        f"CelebA-HQ-256 not found: expected the images (.png/.jpg) directly in "
        f"{root / CELEBAHQ_FOLDER}/. It cannot be downloaded automatically: get the 256×256 "
        f"CelebA-HQ release (30 000 images, Karras et al. 2018; e.g. a Kaggle mirror) and "
        f"copy the images there, e.g.\n    mkdir -p {root / CELEBAHQ_FOLDER} && "
        f"cp /path/to/celebahq256/*.jpg {root / CELEBAHQ_FOLDER}/\n"
        f"(set $DINOF_DATA_DIR or pass root= to use another folder)."
    )


def celebahq_files(root: str | os.PathLike, split: str = "train") -> list[Path]:
    """The image files of a split, in natural filename order.

    Args:
        root: the folder that holds ``celebahq256/``.
        split: ``"train"`` (all but the last :data:`CELEBAHQ_N_TEST`), ``"test"`` (the last
            :data:`CELEBAHQ_N_TEST`) or ``"all"``.

    Raises:
        FileNotFoundError: no folder or no images in it (the message says what to do).
        ValueError: unknown split, or too few images for a train/test split.
    """
    splits = ("train", "test", "all")
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(splits)}")
    root = Path(root)
    folder = root / CELEBAHQ_FOLDER
    files = (
        sorted(
            (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
            key=_natural_key,
        )
        if folder.is_dir()
        else []
    )
    if not files:
        raise FileNotFoundError(missing_message(root))
    if split == "all":
        return files
    n_test = CELEBAHQ_N_TEST
    if len(files) <= n_test:
        raise ValueError(
            f"{folder} holds {len(files)} images; the train/test split needs more "
            f"than {n_test} (the last {n_test} are the test set); use split='all'"
        )
    return files[:-n_test] if split == "train" else files[-n_test:]


def read_image(path: str | os.PathLike, size: int | None = None) -> Tensor:
    """One image as RGB ``(3, H, W)`` uint8; resized to ``size × size`` (Lanczos) if given.

    Raises:
        ValueError: the file cannot be read as an image (the message names it).
    """
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as err:  # UnidentifiedImageError is an OSError
        raise ValueError(f"cannot read image {path}: {err}") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()
