"""Measuring models: sample quality, likelihoods in bits/dim, the T_m study, the comparison.

- :mod:`~dinof_lite.evaluation.metrics` — distances between point clouds (MMD, sliced and exact
  Wasserstein, energy distance) and the NLL of samples under an exact mixture density.
- :mod:`~dinof_lite.evaluation.quality` — the one 2D sample-quality evaluation,
  :func:`sample_quality` (MMD², sliced W2, NLL under the exact mixture).
- :mod:`~dinof_lite.evaluation.digits_fid` — an offline FID-style score for 16×16 digits.
- :mod:`~dinof_lite.evaluation.tm_study` — sample quality and cost against ``T_m`` beside the
  plain diffusion sampler (:func:`tm_study`, :func:`noise_floor`, :func:`first_match`).
- :mod:`~dinof_lite.evaluation.compare` — DiNof, DiffFlow and DiffEnc on one mixture.

Bits per dimension of discrete data is :func:`dinof_lite.data.quantize.bits_per_dim` (next to the
dequantisation it undoes), re-exported here.
"""

from dinof_lite.data.quantize import bits_per_dim
from dinof_lite.evaluation.metrics import (
    energy_distance,
    gmm_nll,
    mmd,
    sliced_wasserstein,
    wasserstein2,
)
from dinof_lite.evaluation.quality import sample_quality

__all__ = [
    "mmd",
    "energy_distance",
    "sliced_wasserstein",
    "wasserstein2",
    "gmm_nll",
    "sample_quality",
    "bits_per_dim",
]
