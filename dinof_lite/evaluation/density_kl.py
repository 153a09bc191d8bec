"""The KL divergence between a 2D sample set's kernel density estimate and the true density.

MMD² and sliced W2 cannot tell 20 Euler–Maruyama steps from 1000 on the 2D mixture, and the
samples' NLL under the true density is a cross-entropy ``H(q) + KL(q‖p)`` that a sampler piling
its samples onto the modes (small ``H(q)``) pushes *below* the data entropy. This metric
penalises both ways of being wrong::

    KL(q_h ‖ p_h) = ∫ q_h log(q_h / p_h),   q_h = (1/n) Σ_i N(x_i, h² I),   p_h = p * N(0, h² I)

``q_h`` is the samples' Gaussian kernel density estimate with bandwidth ``h``, and ``p_h`` the
true mixture smoothed by the *same* kernel — itself a mixture in closed form (each covariance
plus ``h² I``) — so the kernel's blur cancels: for samples of ``p`` the KL only carries the
estimate's noise, ``O(1 / (n h²))``, which :func:`kde_kl` of true sample sets measures (the
noise floor). The integral is a quadrature on a grid of cells ``h / 2`` wide over the mixture's
support (±``pad`` of its widest smoothed std), plus one cell for everything outside the grid,
whose ``q_h`` mass (samples far away) enters as ``m log(m / p_out)``: the KL of the grid's
partition, a lower bound of the continuous KL that converges to it as the cells shrink.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["kde_kl", "KDE_BANDWIDTH"]

#: the default bandwidth: below the 8-Gaussians' component std (0.35), above its noise floor's
#: reach at n = 2000 (KL ≈ 0.03 for true samples)
KDE_BANDWIDTH = 0.15


def kde_kl(gmm, x: Tensor, bandwidth: float = KDE_BANDWIDTH, pad: float = 6.0) -> float:
    """``KL(q_h ‖ p_h)`` in nats of samples ``x (n, 2)`` against a 2D
    :class:`~dinof_lite.data.toy.GaussianMixture` ``gmm`` (see the module docstring)."""
    from dinof_lite.data.toy import GaussianMixture

    if x.dim() != 2 or x.shape[1] != 2 or gmm.dim != 2:
        raise ValueError(f"kde_kl needs 2D samples (n, 2) and a 2D mixture; got {tuple(x.shape)}")
    if not (isinstance(bandwidth, (int, float)) and 0 < bandwidth < math.inf):
        raise ValueError(f"bandwidth must be a finite number > 0; got {bandwidth!r}")
    x = x.detach().to("cpu", torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError("kde_kl got samples with NaN or inf; drop them first")
    h2 = float(bandwidth) ** 2
    eye = torch.eye(2, dtype=torch.float64)
    p_h = GaussianMixture(gmm.means, gmm.covs + h2 * eye, gmm.weights)
    reach = pad * float(torch.linalg.eigvalsh(p_h.covs).max().sqrt())
    lo, hi = gmm.means.min(0).values - reach, gmm.means.max(0).values + reach
    cell = bandwidth / 2
    axes = [
        torch.arange(float(lo[d]), float(hi[d]) + cell, cell, dtype=torch.float64) for d in (0, 1)
    ]
    grid = torch.cartesian_prod(*axes)
    q = torch.zeros(grid.shape[0], dtype=torch.float64)
    for chunk in x.split(256):
        q += torch.exp(-0.5 * torch.cdist(grid, chunk).square() / h2).sum(1)
    q_mass = q * cell**2 / (x.shape[0] * 2 * math.pi * h2)
    p_mass = p_h.log_prob(grid).exp() * cell**2
    inside = q_mass > 0
    kl = float(
        (q_mass[inside] * (q_mass[inside].log() - p_mass[inside].clamp_min(1e-300).log())).sum()
    )
    q_out = 1.0 - float(q_mass.sum())
    if q_out > 1e-9:  # samples beyond the grid: the outside cell's share of the KL
        kl += q_out * math.log(q_out / max(1.0 - float(p_mass.sum()), 1e-12))
    return kl
