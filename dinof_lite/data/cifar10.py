"""CIFAR-10 from the official "python version" archive in a local folder (optional download).

Expected layout (what ``cifar-10-python.tar.gz`` unpacks to)::

    <root>/cifar-10-batches-py/data_batch_1 … data_batch_5   # 5 × 10 000 train images
    <root>/cifar-10-batches-py/test_batch                    # 10 000 test images

Each file is a pickled dict with ``b"data"``, an ``(N, 3072)`` uint8 array (rows are the red,
green and blue 32×32 planes, each row-major), and ``b"labels"``, ``N`` ints in 0..9. The files
are unpickled with a restricted unpickler that only rebuilds numpy arrays, so a foreign or
malicious pickle raises :class:`ValueError` instead of running code.

:func:`download_cifar10` fetches the archive with ``urllib`` (about 163 MB), checks its md5 and
unpacks it safely (regular files and folders inside ``root`` only).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["CIFAR10_URL", "CIFAR10_MD5", "CIFAR10_FOLDER", "read_cifar10", "download_cifar10"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_FILES["all"] = _FILES["train"] + _FILES["test"]
# what a CIFAR pickle may reference: numpy array reconstruction (numpy 1.x and 2.x names, pickle
# protocols 2-5) and the byte-string codec of protocol-2 pickles; nothing else is ever imported
_ALLOWED = (
    {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
    | {
        (mod, name)
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {(mod, "_frombuffer") for mod in ("numpy.core.numeric", "numpy._core.numeric")}
)


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def missing_message(root: Path) -> str:
    """Where the files must go and how to get them (the text of the missing-data errors)."""
    folder = root / CIFAR10_FOLDER
    return (
        f"CIFAR-10 not found: expected {folder}/data_batch_1 … data_batch_5 and "
        f"{folder}/test_batch (the official 'CIFAR-10 python version'). Either call "
        f"load_image_dataset('cifar10', download=True), or from a shell run\n"
        f"    mkdir -p {root} && curl -L {CIFAR10_URL} | tar -xz -C {root}\n"
        f"(set $DINOF_DATA_DIR or pass root= to use another folder)."
    )


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file → images ``(N, 3, 32, 32)`` uint8, labels ``(N,)`` int64."""
    try:
        with open(path, "rb") as fh:
            d = _ArrayUnpickler(io.BytesIO(fh.read()), encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
    ) as err:
        raise ValueError(
            f"{path} is not a CIFAR-10 batch file (cannot unpickle it: {err})"
        ) from None
    data = d.get(b"data") if isinstance(d, dict) else None
    labels = d.get(b"labels") if isinstance(d, dict) else None
    if not isinstance(data, np.ndarray) or labels is None:
        keys = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise ValueError(
            f"{path} is not a CIFAR-10 batch file: expected a dict with b'data' and "
            f"b'labels', got {keys}"
        )
    labels = np.asarray(labels, dtype=np.int64)
    if (
        data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
        or labels.shape != (data.shape[0],)
    ):
        raise ValueError(
            f"{path} is not a CIFAR-10 batch file: b'data' must be (N, 3072) uint8 "
            f"and b'labels' N ints; got {data.dtype} {data.shape} and "
            f"{labels.shape[0]} labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10(
    root: str | os.PathLike, split: str = "train", max_items: int | None = None
) -> tuple[Tensor, Tensor]:
    """Read a split from ``root/cifar-10-batches-py``.

    Args:
        root: the folder that holds ``cifar-10-batches-py``.
        split: ``"train"`` (data_batch_1..5, 50 000 images), ``"test"`` (test_batch, 10 000) or
            ``"all"`` (train then test).
        max_items: keep only the first ``max_items`` images (later batch files are not read).

    Returns:
        ``images (N, 3, 32, 32)`` uint8 and ``labels (N,)`` int64 in 0..9, in file order.

    Raises:
        FileNotFoundError: a batch file is missing (the message says how to get them).
        ValueError: a file is not a CIFAR-10 batch.
    """
    if split not in _FILES:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(_FILES)}")
    root = Path(root)
    paths = [root / CIFAR10_FOLDER / name for name in _FILES[split]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing. " + missing_message(root))
    images, labels, n = [], [], 0
    for path in paths:
        x, y = _read_batch(path)
        images.append(x)
        labels.append(y)
        n += len(x)
        if max_items is not None and n >= max_items:
            break
    x = torch.from_numpy(np.concatenate(images)[:max_items])
    return x, torch.from_numpy(np.concatenate(labels)[:max_items])


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _extract(archive: Path, root: Path) -> None:
    """Unpack regular files and folders only, refusing paths that leave ``root``."""
    base = root.resolve()
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for m in members:
            target = (base / m.name).resolve()
            if not (m.isfile() or m.isdir()) or base not in (target, *target.parents):
                raise ValueError(f"refusing to extract {m.name!r} from {archive} (unsafe member)")
        tar.extractall(
            base, members=members, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {})
        )


def download_cifar10(
    root: str | os.PathLike, *, url: str = CIFAR10_URL, md5: str | None = None
) -> Path:
    """Fetch and unpack the CIFAR-10 archive into ``root`` (skipped if already there).

    Args:
        root: destination; ends up holding ``cifar-10-batches-py/``.
        url: where to fetch ``cifar-10-python.tar.gz``.
        md5: expected checksum (``None``: :data:`CIFAR10_MD5`).

    Returns:
        ``root / "cifar-10-batches-py"``.

    Raises:
        FileNotFoundError: the download failed (offline); the message says how to do it by hand.
        ValueError: checksum mismatch (the archive is deleted) or an unsafe archive.
    """
    root = Path(root)
    folder = root / CIFAR10_FOLDER
    if all((folder / name).is_file() for name in _FILES["all"]):
        return folder
    expected = CIFAR10_MD5 if md5 is None else md5
    root.mkdir(parents=True, exist_ok=True)
    archive = root / Path(url).name
    if not archive.is_file() or _md5(archive) != expected:
        part = archive.with_name(archive.name + ".part")
        try:
            urllib.request.urlretrieve(url, part)
        except (urllib.error.URLError, OSError) as err:
            part.unlink(missing_ok=True)
            raise FileNotFoundError(
                f"downloading {url} failed ({err}). " + missing_message(root)
            ) from None
        got = _md5(part)
        if got != expected:
            part.unlink()
            raise ValueError(
                f"md5 of the download from {url} is {got}, expected {expected}: "
                f"corrupt or wrong file (deleted); try again"
            )
        part.replace(archive)
    _extract(archive, root)
    return folder
