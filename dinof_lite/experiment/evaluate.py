"""Evaluating a run: bits/dim of the test split, and FID / Inception Score of samples.

Bits/dim (docs/design.md §Bits per dimension and §DiNof likelihood): uniformly dequantised test
images ``x + u/n_bins`` go through :meth:`~dinof_lite.dinof.DiNof.bits_per_dim`
(probability-flow ODE from eps to T_m, then the flow), with Hutchinson's divergence estimate
on images; every random draw comes from one seeded generator. The flow's own bits/dim at ``T_m``
(:func:`evaluate_flow_bpd`) measures the half a flow-only run trains. FID / IS need the ``fid``
extra (``torch-fidelity``, whose Inception weights are downloaded on first use).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from dinof_lite.data import ImageDataset
from dinof_lite.data.quantize import dequantize
from dinof_lite.experiment.configs import ExperimentConfig
from dinof_lite.train.validation import check_float, check_int

__all__ = ["FID_HELP", "FidUnavailable", "evaluate_bpd", "evaluate_flow_bpd", "evaluate_fid"]

FID_HELP = (
    'FID / IS need torch-fidelity: pip install -e ".[fid]" (install a torchvision that '
    "matches your torch first). Its Inception weights download on first use, which "
    "needs internet access."
)


class FidUnavailable(RuntimeError):
    """torch-fidelity or its Inception weights are not available (message: how to get them)."""


def evaluate_bpd(
    model,
    cfg: ExperimentConfig,
    test: ImageDataset,
    *,
    n: int = 256,
    batch_size: int = 64,
    seed: int = 0,
    T_m: float | None = None,
    n_probes: int = 1,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> dict:
    """Mean bits/dim of the first ``n`` test images (``{"bpd", "bpd_std", "n", "T_m"}``).

    Each image ``(C, H, W)`` is dequantised with ``test.n_bins`` levels on ``cfg.data_range``;
    the divergence of the ODE uses ``n_probes`` Rademacher probes (Hutchinson).
    """
    n = min(check_int("n", n, min=1), len(test))
    check_int("batch_size", batch_size, min=1)
    check_int("n_probes", n_probes, min=1)
    for name, tol in (("rtol", rtol), ("atol", atol)):
        check_float(name, tol, min=0, min_open=True)
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    values = []
    for start in range(0, n, batch_size):
        x = test.scale(test.raw(range(start, min(n, start + batch_size)))).to(dev)
        x = dequantize(x, n_bins=test.n_bins, data_range=cfg.data_range, generator=g)
        bpd = model.bits_per_dim(
            x,
            n_bins=test.n_bins,
            data_range=cfg.data_range,
            T_m=T_m,
            exact_divergence=False,
            n_probes=n_probes,
            rtol=rtol,
            atol=atol,
            generator=g,
        )
        values.append(bpd.detach().double().cpu())
    v = torch.cat(values)
    return {
        "bpd": float(v.mean()),
        "bpd_std": float(v.std()) if n > 1 else math.nan,
        "n": n,
        "T_m": model.resolve_T_m(T_m),
    }


@torch.no_grad()
def evaluate_flow_bpd(
    model,
    cfg: ExperimentConfig,
    test: ImageDataset,
    *,
    n: int = 256,
    batch_size: int = 64,
    seed: int = 0,
    T_m: float | None = None,
) -> dict:
    """The flow's negative log-density of ``x(T_m)`` in bits/dim, on the first ``n`` test images.

    Each image is dequantised as in :func:`evaluate_bpd` and carried to ``T_m`` by the forward
    SDE's closed-form marginal, ``x(T_m) = a(T_m) x0 + s(T_m) z`` (one ``z`` per image); the
    flow's ``−log p(x(T_m)) / (D ln 2)`` is the loss a flow-only run minimises, in bits/dim of
    a *continuous* variable (so not comparable with the data's bits/dim). ``gaussian`` is the
    same for a diagonal Gaussian fitted to these ``x(T_m)`` (per-dimension mean and variance):
    a flow that learned the structure left at ``T_m`` is below it.

    Returns ``{"flow_bpd", "flow_bpd_std", "gaussian", "n", "T_m"}``.
    """
    n = min(check_int("n", n, min=1), len(test))
    check_int("batch_size", batch_size, min=1)
    T_m = model.resolve_T_m(T_m)
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    a, s = (float(c) for c in model.sde.marginal_coeffs(torch.tensor(T_m)))
    nll, points = [], []
    for start in range(0, n, batch_size):
        x = test.scale(test.raw(range(start, min(n, start + batch_size)))).to(dev)
        x = dequantize(x, n_bins=test.n_bins, data_range=cfg.data_range, generator=g)
        z = torch.randn(x.shape, generator=g, device=dev, dtype=x.dtype)
        x_Tm = a * x + s * z
        nll.append(-model.flow.log_prob(x_Tm, model.context(T_m, len(x))).double().cpu())
        points.append(x_Tm.double().cpu().flatten(1))
    dims, scale = points[0].shape[1], 1 / math.log(2)
    v = torch.cat(nll) * scale / dims
    h = torch.cat(points)
    var = h.var(0, unbiased=False).clamp_min(1e-12)
    gauss = 0.5 * (torch.log(2 * math.pi * var) + 1).sum() * scale / dims
    return {
        "flow_bpd": float(v.mean()),
        "flow_bpd_std": float(v.std()) if n > 1 else math.nan,
        "gaussian": float(gauss),
        "n": n,
        "T_m": T_m,
    }


class _Uint8Images(torch.utils.data.Dataset):
    """uint8 images ``(N, H, W, C)`` → ``(3, H, W)`` uint8 tensors, as torch-fidelity reads them."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(self.images[i])).permute(2, 0, 1)
        return x.expand(3, -1, -1).contiguous() if x.shape[0] == 1 else x


def evaluate_fid(
    samples_npz: str | os.PathLike, test: ImageDataset, *, device: torch.device
) -> dict:
    """FID (samples vs the test split) and Inception Score of the samples' ``arr_0``.

    Raises:
        FidUnavailable: torch-fidelity is not installed or its weights cannot be fetched.
    """
    try:
        import torch_fidelity
    except ImportError as err:
        raise FidUnavailable(FID_HELP) from err
    fake = np.load(Path(samples_npz))["arr_0"]
    real = test.raw(range(len(test))).permute(0, 2, 3, 1).numpy()
    if real.dtype != np.uint8 or test.n_bins != 256:  # e.g. 17-level digits: spread to 0..255
        real = np.round(real.astype(np.float64) * 255 / (test.n_bins - 1)).astype(np.uint8)
    try:
        m = torch_fidelity.calculate_metrics(
            input1=_Uint8Images(fake),
            input2=_Uint8Images(real),
            fid=True,
            isc=True,
            cuda=device.type == "cuda",
            verbose=False,
        )
    except (OSError, RuntimeError) as err:  # weights download failed (no internet) and the like
        raise FidUnavailable(f"{FID_HELP} ({type(err).__name__}: {err})") from err
    return {
        "fid": float(m["frechet_inception_distance"]),
        "is": float(m["inception_score_mean"]),
        "is_std": float(m["inception_score_std"]),
        "n_fid": len(fake),
        "n_real": len(real),
    }
