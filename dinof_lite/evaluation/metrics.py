"""Sample-quality and density metrics for 2D data (docs/design.md §Toy data and metrics).

All sample metrics compare two point clouds ``x`` (N, D) and ``y`` (M, D) given as tensors (or
anything :func:`torch.as_tensor` accepts; a 1-D input is read as N points in 1-D). They are
computed in float64 on the CPU and returned as Python floats. By convention ``x`` is the
*reference* (data) sample and ``y`` the model's sample; only :func:`mmd` with its default,
data-driven bandwidths is not symmetric in the two arguments.

==========================  =================================================  ============  =============
metric                      what it estimates                                  cost          zero iff
==========================  =================================================  ============  =============
:func:`mmd`                 squared MMD, RBF-mixture kernel, unbiased          O(NM)         p = q (≈0)
:func:`energy_distance`     ``2E|X−Y| − E|X−X'| − E|Y−Y'|`` (V-statistic)      O(NM)         p = q
:func:`sliced_wasserstein`  ``(E_θ W_p^p(θ·x, θ·y))^(1/p)``, exact 1-D OT      O(L N log N)  p = q
:func:`wasserstein2`        exact W2 between the empirical measures (POT)      O(N³)         x = y as sets
:func:`gmm_nll`             ``E_x[−log p(x)]`` under a known Gaussian mixture  O(NK)         —
==========================  =================================================  ============  =============
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DEFAULT_BANDWIDTH_FACTORS",
    "mmd",
    "energy_distance",
    "sliced_wasserstein",
    "wasserstein2",
    "gmm_nll",
]

#: Default RBF bandwidths of :func:`mmd`, as multiples of the median pairwise distance of ``x``.
#: The small factors matter: on multimodal 2D toys the median distance (≈4) is far wider than a mode
#: (std ≈0.35), and a kernel that wide cannot tell a sharp mixture from a blurred one.
DEFAULT_BANDWIDTH_FACTORS: tuple[float, ...] = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0)

_CHUNK = 2048  # rows per block of a pairwise-distance matrix (bounds memory at 2048 x M doubles)


def _as_points(x: Tensor | np.ndarray, name: str) -> Tensor:
    """Return ``x`` as a float64 CPU tensor of shape (N, D); 1-D input becomes (N, 1)."""
    t = torch.as_tensor(x).detach().to("cpu", torch.float64)
    if t.ndim == 1:
        t = t.unsqueeze(-1)
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D); got {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(
            f"{name} must be a non-empty point set of shape (N, D); got {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return t


def _as_pair(x: Tensor, y: Tensor, min_points: int = 1) -> tuple[Tensor, Tensor]:
    """Validate two point sets: shapes (N, D), (M, D) with matching D and at least ``min_points``."""
    xs, ys = _as_points(x, "x"), _as_points(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(
            f"dimension mismatch: x has D={xs.shape[1]} but y has D={ys.shape[1]} (expected equal)"
        )
    for name, t in (("x", xs), ("y", ys)):
        if t.shape[0] < min_points:
            raise ValueError(f"{name} needs at least {min_points} points; got {t.shape[0]}")
    return xs, ys


def _blocked_sum(a: Tensor, b: Tensor, fn, exclude_diagonal: bool = False) -> float:
    """Σ_ij fn(‖a_i − b_j‖²) over all pairs, in row blocks; optionally skip i == j (needs a is b)."""
    total = 0.0
    for start in range(0, a.shape[0], _CHUNK):
        block = a[start : start + _CHUNK]
        d2 = torch.cdist(block, b).square_()
        vals = fn(d2)
        if exclude_diagonal:
            rows = torch.arange(block.shape[0])
            vals[rows, rows + start] = 0.0
        total += float(vals.sum())
    return total


def _median_distance(x: Tensor, max_points: int = 1000) -> float:
    """Median of the pairwise distances among the first ``max_points`` rows of ``x`` (i < j)."""
    pts = x[:max_points]
    if pts.shape[0] < 2:
        return 1.0
    d = torch.pdist(pts)
    med = float(d.median())
    return med if med > 0 else 1.0


def mmd(x: Tensor, y: Tensor, bandwidths: Sequence[float] | None = None) -> float:
    """Squared maximum mean discrepancy with a mixture-of-RBF kernel (unbiased U-statistic).

    Kernel ``k(a, b) = (1/H) Σ_h exp(−‖a − b‖² / (2 h²))`` (Gretton et al. 2012, Lemma 6):
    ``MMD²_u = Σ_{i≠j} k(x_i,x_j)/(N(N−1)) + Σ_{i≠j} k(y_i,y_j)/(M(M−1)) − 2 Σ_ij k(x_i,y_j)/(NM)``.
    Being unbiased, it fluctuates around 0 (and can be slightly negative) when p = q.

    Args:
        x: reference samples (N, D), N ≥ 2.
        y: samples to compare (M, D), M ≥ 2.
        bandwidths: absolute kernel widths h. ``None`` uses the median pairwise distance of
            ``x`` (first 1000 points) times :data:`DEFAULT_BANDWIDTH_FACTORS` = (1/16, 1/8, ¼, ½, 1, 2),
            so scores of different models against the same data share one kernel.

    Returns:
        MMD² as a float (units: kernel values, i.e. dimensionless in [−2, 2]).
    """
    xs, ys = _as_pair(x, y, min_points=2)
    if bandwidths is None:
        med = _median_distance(xs)
        bandwidths = [med * f for f in DEFAULT_BANDWIDTH_FACTORS]
    hs = torch.as_tensor(list(bandwidths), dtype=torch.float64)
    if hs.ndim != 1 or hs.numel() == 0 or not bool((hs > 0).all()):
        raise ValueError(
            f"bandwidths must be a non-empty sequence of positive floats; got {bandwidths}"
        )
    gammas = (1.0 / (2.0 * hs.square())).tolist()

    def kernel(d2: Tensor) -> Tensor:
        return sum(torch.exp(-g * d2) for g in gammas) / len(gammas)

    n, m = xs.shape[0], ys.shape[0]
    kxx = _blocked_sum(xs, xs, kernel, exclude_diagonal=True) / (n * (n - 1))
    kyy = _blocked_sum(ys, ys, kernel, exclude_diagonal=True) / (m * (m - 1))
    kxy = _blocked_sum(xs, ys, kernel) / (n * m)
    return kxx + kyy - 2.0 * kxy


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance ``2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖`` (Székely & Rizzo 2013), V-statistic.

    This is the squared form (it is ≥ 0 and its square root is a metric); with the V-statistic
    (diagonal included) it is exactly 0 for identical point sets and never negative.

    Args:
        x: (N, D) samples; y: (M, D) samples.

    Returns:
        The energy distance as a float, in the units of ‖x‖.
    """
    xs, ys = _as_pair(x, y)
    n, m = xs.shape[0], ys.shape[0]

    def dist(d2: Tensor) -> Tensor:
        return d2.sqrt_()

    exy = _blocked_sum(xs, ys, dist) / (n * m)
    exx = _blocked_sum(xs, xs, dist) / (n * n)
    eyy = _blocked_sum(ys, ys, dist) / (m * m)
    return max(2.0 * exy - exx - eyy, 0.0)


def _wasserstein_1d(u: Tensor, v: Tensor, p: float) -> Tensor:
    """Exact W_p^p between 1-D empirical measures with uniform weights, batched over rows.

    ``u`` (L, N) and ``v`` (L, M): W_p^p = ∫₀¹ |F_u⁻¹(s) − F_v⁻¹(s)|^p ds, where both quantile
    functions are step functions; the integral is summed exactly over the merged breakpoints
    {i/N} ∪ {j/M}. For N = M this is the mean of |sort(u) − sort(v)|^p. Returns (L,).
    """
    n, m = u.shape[1], v.shape[1]
    us, vs = u.sort(dim=1).values, v.sort(dim=1).values
    if n == m:
        return (us - vs).abs().pow(p).mean(dim=1)
    f64 = torch.float64
    levels = torch.cat(
        [torch.arange(1, n + 1, dtype=f64) / n, torch.arange(1, m + 1, dtype=f64) / m]
    )
    levels = torch.unique(levels)  # sorted, last = 1
    widths = torch.diff(levels, prepend=levels.new_zeros(1))
    mids = levels - widths / 2
    iu = (mids * n).floor().long().clamp_(max=n - 1)
    iv = (mids * m).floor().long().clamp_(max=m - 1)
    return ((us[:, iu] - vs[:, iv]).abs().pow(p) * widths).sum(dim=1)


def sliced_wasserstein(
    x: Tensor,
    y: Tensor,
    n_projections: int = 256,
    p: float = 2,
    generator: torch.Generator | None = None,
) -> float:
    """Sliced p-Wasserstein distance ``(E_θ W_p^p(θᵀx, θᵀy))^(1/p)`` (Bonneel et al. 2015).

    Directions θ are drawn uniformly on the unit sphere S^{D−1} (Monte Carlo with
    ``n_projections`` draws from ``generator``, a CPU generator); each 1-D problem is solved
    exactly by sorting (quantile matching, so N ≠ M is supported exactly). In 1-D the result
    is the exact W_p. For isotropic Gaussians, SW₂² = ‖μ₁ − μ₂‖²/D + (σ₁ − σ₂)².

    Args:
        x: (N, D); y: (M, D); n_projections: number of directions L; p ≥ 1.

    Returns:
        SW_p as a float, in the units of x.
    """
    xs, ys = _as_pair(x, y)
    if n_projections < 1:
        raise ValueError(f"n_projections must be >= 1; got {n_projections}")
    if p < 1:
        raise ValueError(f"p must be >= 1; got {p}")
    d = xs.shape[1]
    if d == 1:
        theta = torch.ones(1, 1, dtype=torch.float64)
    else:
        theta = torch.randn(n_projections, d, generator=generator, dtype=torch.float64)
        theta = theta / theta.norm(dim=1, keepdim=True)
    wp = _wasserstein_1d(theta @ xs.T, theta @ ys.T, p)  # (L,)
    return float(wp.mean()) ** (1.0 / p)


def wasserstein2(x: Tensor, y: Tensor, squared: bool = False, max_points: int = 5000) -> float:
    """Exact 2-Wasserstein distance between two empirical measures (uniform weights), via POT.

    Solves the optimal-transport linear program ``min_π Σ π_ij ‖x_i − y_j‖²`` with
    ``ot.emd2`` (network simplex, O(N³)); meant for small sets (a few thousand points).
    For Gaussians, W₂² = ‖μ₁ − μ₂‖² + ‖Σ₁^½ − Σ₂^½‖²_F (isotropic: ‖Δμ‖² + D(σ₁ − σ₂)²), up to
    the sampling error of the empirical measures.

    Args:
        x: (N, D); y: (M, D); squared: return W₂² instead of W₂;
        max_points: refuse larger sets (subsample them first) to keep the LP tractable.

    Returns:
        W₂ (or W₂²) as a float.
    """
    import ot  # POT; imported lazily (it is only needed here)

    xs, ys = _as_pair(x, y)
    if max(xs.shape[0], ys.shape[0]) > max_points:
        raise ValueError(
            f"wasserstein2 is exact and O(N^3): got {xs.shape[0]} and {ys.shape[0]} points, "
            f"max_points={max_points}; subsample first or raise max_points"
        )
    a = np.full(xs.shape[0], 1.0 / xs.shape[0])
    b = np.full(ys.shape[0], 1.0 / ys.shape[0])
    cost = torch.cdist(xs, ys).square().numpy()
    w2sq = float(ot.emd2(a, b, cost, numItermax=10_000_000))
    w2sq = max(w2sq, 0.0)
    return w2sq if squared else math.sqrt(w2sq)


def gmm_nll(gmm, x: Tensor) -> float:
    """Mean negative log-likelihood ``−(1/N) Σ_i log p(x_i)`` in nats under a known mixture.

    Args:
        gmm: a :class:`dinof_lite.data.toy.GaussianMixture` (anything with ``dim`` and
            ``log_prob(x) -> (N,)``).
        x: (N, D) points, D = ``gmm.dim``.

    Returns:
        Mean NLL in nats. For samples of p itself it estimates the entropy H(p), the floor no
        *model's* NLL of data can go under; samples concentrated on the modes can score below it.
    """
    xs = _as_points(x, "x")
    dim = int(getattr(gmm, "dim", xs.shape[1]))
    if xs.shape[1] != dim:
        raise ValueError(f"dimension mismatch: x has D={xs.shape[1]} but the mixture has dim={dim}")
    with torch.no_grad():
        logp = gmm.log_prob(xs)
    return float(-logp.double().mean())
