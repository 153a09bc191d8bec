"""An offline FID-style score for sklearn's digits: Fréchet distance of classifier features.

FID (Heusel et al. 2017) compares Inception features of samples and data by the Fréchet (2-
Wasserstein) distance of Gaussians fitted to them. Inception does not exist offline and does not
see 16×16 digits, so this module uses a small CNN trained on the digits' train split instead
(:class:`DigitsClassifier`, shipped as ``data/checkpoints/digits_classifier.pt``) and its 64-d
penultimate features. Scores are comparable with each other, not with published FIDs::

    from dinof_lite.evaluation.digits_fid import digits_fid
    score = digits_fid(samples, reference)   # (N, 1, 16, 16) on [0, 1] each -> float
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from scipy import linalg
from torch import Tensor, nn

__all__ = [
    "FORMAT",
    "DigitsClassifier",
    "frechet_distance",
    "digits_features",
    "digits_fid",
    "save_classifier",
    "load_classifier",
]

FORMAT = "dinof_lite.digits_classifier/1"
CLASSIFIER = "digits_classifier"  # name of the shipped checkpoint (dinof_lite.pretrained)


class DigitsClassifier(nn.Module):
    """``(B, 1, 16, 16)`` digits on [0, 1] → ``(B, 10)`` logits; :meth:`features` → ``(B, feat_dim)``.

    Two conv blocks (16×16 → 8×8 → 4×4), then a ReLU layer of ``feat_dim`` units (the features)
    and a linear read-out.
    """

    def __init__(self, channels: int = 32, feat_dim: int = 64) -> None:
        super().__init__()
        self.kwargs = {"channels": channels, "feat_dim": feat_dim}
        c = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * c * 16, feat_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feat_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations ``(B, feat_dim)`` of images ``x (B, 1, 16, 16)``."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 16, 16):
            raise ValueError(f"x must have shape (B, 1, 16, 16); got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def frechet_distance(feat_a: Tensor | np.ndarray, feat_b: Tensor | np.ndarray) -> float:
    """``‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^{1/2})`` of Gaussians fitted to ``(N, d)`` features.

    The matrix square root (``scipy.linalg.sqrtm``) can pick up tiny imaginary parts and fail on
    singular products; both are handled as in the reference FID code (real part; ``1e-6`` on the
    diagonals when the result is not finite).
    """
    a = np.asarray(feat_a, dtype=np.float64)
    b = np.asarray(feat_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two (N >= 2, d) feature sets of equal d; got {a.shape}, {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # dead ReLU features make Σ singular: harmless here
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():
            off = 1e-6 * np.eye(len(cov_a))
            covmean = linalg.sqrtm((cov_a + off) @ (cov_b + off))
    covmean = np.real(covmean)
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)
    return float(max(value, 0.0))


def save_classifier(path: str | os.PathLike, net: DigitsClassifier, meta: dict[str, Any]):
    """Write ``net`` (float32, CPU) and ``meta`` (e.g. ``test_accuracy``) as a plain dict."""
    from dinof_lite.train import atomic_save, cpu_state_dict, plain

    return atomic_save(
        {
            "format": FORMAT,
            "kwargs": dict(net.kwargs),
            "state_dict": cpu_state_dict(net),
            "meta": plain(meta),
        },
        path,
    )


def load_classifier(name: str | os.PathLike = CLASSIFIER) -> DigitsClassifier:
    """The shipped :class:`DigitsClassifier` (eval mode); its stored ``meta`` (e.g.
    ``test_accuracy``) via :func:`dinof_lite.pretrained.checkpoint_meta`."""
    from dinof_lite.pretrained import resolve
    from dinof_lite.train import read_checkpoint

    ckpt = read_checkpoint(resolve(name), FORMAT)
    net = DigitsClassifier(**ckpt["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


@torch.no_grad()
def digits_features(
    x: Tensor, classifier: DigitsClassifier | None = None, batch_size: int = 500
) -> Tensor:
    """Features ``(N, feat_dim)`` of images ``x (N, 1, 16, 16)`` on [0, 1] (clamped first)."""
    net = load_classifier() if classifier is None else classifier
    x = x.detach().float().cpu().clamp(0, 1)
    return torch.cat([net.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def digits_fid(
    samples: Tensor, reference: Tensor, classifier: DigitsClassifier | None = None
) -> float:
    """FID-style score: :func:`frechet_distance` of the classifier features of two image sets
    ``(N, 1, 16, 16)`` on [0, 1]; ``classifier`` defaults to the shipped ``digits_classifier``."""
    net = load_classifier() if classifier is None else classifier
    return frechet_distance(digits_features(samples, net), digits_features(reference, net))
