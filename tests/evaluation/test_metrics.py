"""Tests for dinof_lite.evaluation.metrics: closed forms, hand-computed values and input validation."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import pytest
import torch

from dinof_lite.evaluation.metrics import (
    energy_distance,
    gmm_nll,
    mmd,
    sliced_wasserstein,
    wasserstein2,
)


def gauss(n: int, d: int, mean: float | list[float], std: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    return torch.as_tensor(mean, dtype=torch.float64) + std * z


def normal_quantiles(n: int) -> torch.Tensor:
    """Deterministic 'perfect' standard-normal sample: Φ⁻¹((i + ½)/n), shape (n, 1)."""
    nd = NormalDist()
    return torch.tensor([nd.inv_cdf((i + 0.5) / n) for i in range(n)], dtype=torch.float64)[:, None]


# ----------------------------------------------------------------------------- sliced Wasserstein
def test_sliced_wasserstein_1d_gaussians_closed_form():
    z = normal_quantiles(20_000)
    m2 = float(z.square().mean())  # ≈ 1 (slightly below for a finite quantile grid)
    x, y = 1.0 + 0.5 * z, -0.5 + 2.0 * z
    expected = (1.5**2 + (2.0 - 0.5) ** 2 * m2) ** 0.5  # W2² = Δμ² + (σ1 − σ2)²
    assert sliced_wasserstein(x, y) == pytest.approx(expected, rel=1e-10)
    assert expected == pytest.approx((1.5**2 + 1.5**2) ** 0.5, rel=1e-3)


def test_sliced_wasserstein_2d_isotropic_gaussians():
    # SW2² = ‖Δμ‖²/D + (σ1 − σ2)² for isotropic Gaussians in D = 2.
    x = gauss(4000, 2, [0.0, 0.0], 1.0, seed=0)
    y = gauss(4000, 2, [2.0, 1.0], 0.5, seed=1)
    g = torch.Generator().manual_seed(0)
    sw = sliced_wasserstein(x, y, n_projections=2000, generator=g)
    expected = (5.0 / 2 + 0.25) ** 0.5
    assert sw == pytest.approx(expected, rel=0.03)


def test_sliced_wasserstein_unequal_sizes_is_exact_quantile_matching():
    # 1-D: x = {0, 1}, y = {0, 0.5, 1}: quantiles on [0,⅓),[⅓,½),[½,⅔),[⅔,1] → |0−0|,|0−.5|,|1−.5|,|1−1|
    x = torch.tensor([[0.0], [1.0]])
    y = torch.tensor([[0.5], [0.0], [1.0]])
    w2sq = (1 / 6) * 0.25 + (1 / 6) * 0.25
    assert sliced_wasserstein(x, y) == pytest.approx(w2sq**0.5, rel=1e-12)
    assert sliced_wasserstein(x, y, p=1) == pytest.approx((1 / 6) * 0.5 * 2, rel=1e-12)
    # Duplicating every point leaves the empirical measure, hence the distance, unchanged.
    x2 = gauss(50, 2, 0.0, 1.0, 3)
    y2 = gauss(70, 2, 1.0, 1.0, 4)
    sw = sliced_wasserstein(x2, y2, generator=torch.Generator().manual_seed(1))
    sw_dup = sliced_wasserstein(x2.repeat(2, 1), y2, generator=torch.Generator().manual_seed(1))
    assert sw_dup == pytest.approx(sw, rel=1e-10)


def test_sliced_wasserstein_reproducible_with_generator():
    x, y = gauss(300, 3, 0.0, 1.0, 0), gauss(300, 3, 0.3, 1.0, 1)
    a = sliced_wasserstein(x, y, generator=torch.Generator().manual_seed(7))
    b = sliced_wasserstein(x, y, generator=torch.Generator().manual_seed(7))
    assert a == b
    assert sliced_wasserstein(x, x, generator=torch.Generator().manual_seed(7)) == 0.0


# ----------------------------------------------------------------------------- exact W2 (POT)
def test_wasserstein2_three_points_brute_force():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    y = torch.tensor([[0.0, 1.0], [1.0, 1.0], [5.0, 0.0]])
    cost = torch.cdist(x.double(), y.double()).square()
    best = min(
        sum(cost[i, j] for i, j in enumerate(perm)) / 3 for perm in itertools.permutations(range(3))
    )
    # Hand value: pair (0,0)-(0,1), (1,0)-(1,1), (2,0)-(5,0): (1 + 1 + 9)/3 = 11/3.
    assert float(best) == pytest.approx(11 / 3)
    assert wasserstein2(x, y, squared=True) == pytest.approx(11 / 3, rel=1e-12)
    assert wasserstein2(x, y) == pytest.approx(math.sqrt(11 / 3), rel=1e-12)
    assert wasserstein2(x, x[[2, 0, 1]]) == pytest.approx(0.0, abs=1e-12)


def test_wasserstein2_isotropic_gaussians():
    # y is an increasing affine map of x (gradient of a convex function): the identity pairing
    # is optimal, so the exact W2² is the mean squared displacement; ≈ ‖Δμ‖² + D(σ1 − σ2)².
    z = gauss(400, 2, 0.0, 1.0, seed=5)
    mu1, mu2, s1, s2 = torch.tensor([0.0, 0.0]), torch.tensor([1.0, -2.0]), 1.0, 0.4
    x, y = mu1 + s1 * z, mu2 + s2 * z
    hand = float((x - y).square().sum(1).mean())
    assert wasserstein2(x, y, squared=True) == pytest.approx(hand, rel=1e-9)
    assert hand == pytest.approx(5.0 + 2 * 0.6**2, rel=0.1)


def test_wasserstein2_too_many_points():
    with pytest.raises(ValueError, match="max_points"):
        wasserstein2(torch.zeros(11, 2), torch.zeros(5, 2), max_points=10)


# ----------------------------------------------------------------------------- energy distance, MMD
def test_energy_distance_identical_and_1d_closed_form():
    x = gauss(500, 2, 0.0, 1.0, 0)
    assert energy_distance(x, x) == 0.0
    assert energy_distance(x, x[torch.randperm(500)]) == pytest.approx(0.0, abs=1e-12)
    # Two Dirac masses at distance d: 2d − 0 − 0.
    assert energy_distance(torch.zeros(3, 2), torch.tensor([[3.0, 4.0]] * 2)) == pytest.approx(10.0)
    a, b = gauss(800, 2, 0.0, 1.0, 1), gauss(800, 2, 0.0, 1.0, 2)
    assert energy_distance(a, b) < 0.02 < energy_distance(a, b + 0.5) < energy_distance(a, b + 1.0)


def test_mmd_same_distribution_small_and_grows_with_shift():
    x, y = gauss(1000, 2, 0.0, 1.0, 0), gauss(1000, 2, 0.0, 1.0, 1)
    same = mmd(x, y)
    shifts = [mmd(x, y + s) for s in (0.25, 0.5, 1.0, 2.0)]
    assert abs(same) < 0.1 * shifts[0]
    assert all(a < b for a, b in zip(shifts, shifts[1:]))
    assert mmd(x, y, bandwidths=[1.0]) == pytest.approx(mmd(x, y, bandwidths=(1.0,)), rel=1e-12)


def test_mmd_matches_naive_unbiased_estimator():
    x, y = gauss(30, 3, 0.0, 1.0, 0), gauss(20, 3, 0.5, 2.0, 1)
    hs = [0.5, 2.0]

    def k(a, b):
        d2 = torch.cdist(a, b).square()
        return sum(torch.exp(-d2 / (2 * h * h)) for h in hs) / len(hs)

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    naive = (
        (kxx.sum() - kxx.diag().sum()) / (30 * 29)
        + (kyy.sum() - kyy.diag().sum()) / (20 * 19)
        - 2 * kxy.mean()
    )
    assert mmd(x, y, bandwidths=hs) == pytest.approx(float(naive), rel=1e-10)


# ----------------------------------------------------------------------------- GMM NLL, validation
def test_gmm_nll_single_gaussian():
    from dinof_lite.data.toy import GaussianMixture

    gmm = GaussianMixture(torch.zeros(1, 2), torch.tensor([4.0]))  # N(0, 4 I)
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    # −log N(x; 0, 4I) = log(2π·4) + ‖x‖²/8
    expected = math.log(8 * math.pi) + (0.0 + 4.0 / 8) / 2
    assert gmm_nll(gmm, x) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="dimension mismatch"):
        gmm_nll(gmm, torch.zeros(4, 3))


@pytest.mark.parametrize("fn", [mmd, energy_distance, sliced_wasserstein, wasserstein2])
def test_validation_errors(fn):
    with pytest.raises(ValueError, match="dimension mismatch"):
        fn(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="non-empty"):
        fn(torch.zeros(0, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        fn(torch.zeros(2, 2, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([[float("nan"), 0.0]] * 3), torch.zeros(5, 2))
