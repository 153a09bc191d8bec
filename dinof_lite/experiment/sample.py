"""Sampling a trained run in bounded memory: image grids and ``.npz`` files for FID tools.

``python -m dinof_lite sample --workdir DIR --T_m 0.6 --n 50000 --npz`` draws the samples in
chunks of ``--chunk`` images; each chunk is turned into uint8 right away, so memory holds one
float chunk plus the uint8 array ``(n, H, W, C)`` (the layout of the ``arr_0`` of the
OpenAI/``guided-diffusion`` evaluation ``.npz`` files).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from dinof_lite.experiment.configs import ExperimentConfig
from dinof_lite.precision import Precision

__all__ = ["to_uint8", "make_grid", "save_grid", "npz_path", "sample_chunks", "sample_run"]


def to_uint8(x: Tensor, data_range: tuple[float, float]) -> Tensor:
    """Images ``(B, C, H, W)`` on ``data_range`` → uint8 levels ``round(255 (x − lo)/(hi − lo))``."""
    lo, hi = data_range
    levels = ((x.detach().float() - lo) / (hi - lo) * 255).round().clamp(0, 255)
    return levels.to(torch.uint8).cpu()


def make_grid(images: Tensor, nrow: int | None = None, pad: int = 1) -> Tensor:
    """uint8 ``(B, C, H, W)`` → one ``(C, rows·(H + pad) + pad, nrow·(W + pad) + pad)`` tile image
    (white padding; ``nrow`` defaults to ``⌈√B⌉``)."""
    b, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(b)))
    rows = math.ceil(b / nrow)
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(b):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top : top + h, left : left + w] = images[i]
    return grid


def save_grid(images: Tensor, path: str | os.PathLike, *, scale: int | None = None) -> Path:
    """Write uint8 images ``(B, C, H, W)`` (C = 1 or 3) as a PNG grid; small images are
    enlarged by an integer ``scale`` (default: to about 512 px wide) with nearest neighbours."""
    grid = make_grid(images)
    arr = grid.permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    scale = scale or max(1, 512 // img.width)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def npz_path(path: str | os.PathLike) -> Path:
    """The file ``numpy.savez(path, ...)`` writes: ``path`` with ``.npz`` appended if it lacks it."""
    path = Path(path)
    return path if path.name.endswith(".npz") else path.with_name(path.name + ".npz")


def sample_chunks(
    model,
    cfg: ExperimentConfig,
    n: int,
    *,
    T_m: float | None,
    chunk: int,
    generator: torch.Generator,
    precision: Precision | None = None,
):
    """Yield uint8 chunks ``(≤ chunk, C, H, W)`` of ``n`` samples drawn with the config's PC
    sampler (predictor, corrector, snr, corrector steps) from ``T_m`` (DiNof §3.2 and §4.1),
    under ``precision`` (default float32; see :mod:`dinof_lite.precision`)."""
    precision = precision if precision is not None else Precision()
    if chunk < 1 or n < 1:
        raise ValueError(f"n and chunk must be >= 1; got n={n}, chunk={chunk}")
    for start in range(0, n, chunk):
        with torch.no_grad(), precision.autocast():
            x = model.sample(
                min(chunk, n - start),
                T_m=T_m,
                predictor=cfg.predictor,
                corrector=cfg.corrector,
                snr=cfg.snr,
                n_corrector_steps=cfg.n_corrector_steps,
                generator=generator,
            )
        yield to_uint8(x, cfg.data_range)


def sample_run(
    model,
    cfg: ExperimentConfig,
    n: int,
    *,
    T_m: float | None = None,
    chunk: int = 256,
    seed: int = 0,
    grid: str | os.PathLike | None = None,
    npz: str | os.PathLike | None = None,
    precision: Precision | None = None,
) -> dict:
    """Draw ``n`` samples in chunks; write a grid of the first ≤ 64 and/or all of them as uint8.

    Args:
        model: a trained :class:`~dinof_lite.dinof.DiNof` (e.g. the EMA model of ``load_run``).
        T_m: hand-over time (``None``: the model's); checked first, so a bad value fails fast.
        grid: PNG path for the first ``min(n, 64)`` samples; npz: path for ``arr_0``
            ``(n, H, W, C)`` uint8 (``.npz`` appended if it lacks it, as numpy does).
        precision: the run's :class:`~dinof_lite.precision.Precision` (default float32).

    Without ``npz`` only the grid is written, so sampling stops after the chunk that completes
    its first 64 images.

    Returns:
        ``{"n" (samples drawn), "T_m", "chunks", "grid", "npz"}``: the paths written, as
        strings, or None.
    """
    T_m = model.resolve_T_m(T_m)
    npz = None if npz is None else npz_path(npz)
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    c, h, w = cfg.shape
    out = np.empty((n, h, w, c), dtype=np.uint8) if npz is not None else None
    first: list[Tensor] = []
    done = n_chunks = 0
    for imgs in sample_chunks(
        model, cfg, n, T_m=T_m, chunk=chunk, generator=g, precision=precision
    ):
        if out is not None:
            out[done : done + len(imgs)] = imgs.permute(0, 2, 3, 1).numpy()
        if done < 64:
            first.append(imgs[: 64 - done])
        done, n_chunks = done + len(imgs), n_chunks + 1
        if out is None and done >= 64 and grid is not None:
            break  # only the grid is wanted
    grid_path = save_grid(torch.cat(first), grid) if grid is not None else None
    if npz is not None:
        npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez(npz, arr_0=out)
    return {
        "n": done,
        "T_m": T_m,
        "chunks": n_chunks,
        "grid": None if grid_path is None else str(grid_path),
        "npz": None if npz is None else str(npz),
    }
