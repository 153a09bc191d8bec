"""dinof_lite.evaluation.sample_quality: the one 2D quality evaluation, bitwise as the metrics."""

from __future__ import annotations

import math

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation import gmm_nll, mmd, sample_quality, sliced_wasserstein
from dinof_lite.evaluation.quality import QUALITY_KEYS

GMM = GaussianMixture.preset("8gaussians")


def _sets(n: int = 300, m: int = 400):
    x = GMM.sample(n, torch.Generator().manual_seed(1)) * 1.1
    ref = GMM.sample(m, torch.Generator().manual_seed(2))
    return x, ref


def test_matches_the_metrics_bitwise_with_a_seed():
    x, ref = _sets()
    q = sample_quality(x, ref, GMM, seed=7)
    assert tuple(q) == QUALITY_KEYS
    assert q["n_nonfinite"] == 0
    assert q["mmd"] == mmd(ref, x)
    assert q["sw"] == sliced_wasserstein(ref, x, generator=torch.Generator().manual_seed(7))
    assert q["gmm_nll"] == gmm_nll(GMM, x)
    assert sample_quality(x, ref)["gmm_nll"] is None


def test_a_generator_is_advanced_like_the_metric_would():
    x, ref = _sets()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    first = sample_quality(x, ref, seed=g1)
    assert first["sw"] == sliced_wasserstein(ref, x, generator=g2)
    assert sample_quality(x, ref, seed=g1)["sw"] == sliced_wasserstein(ref, x, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())


@pytest.mark.parametrize("n", [400, 300])  # equal and unequal set sizes
def test_bandwidths_from_the_samples_and_the_projections(n):
    x, ref = _sets(n=n)
    q = sample_quality(x, ref, seed=0, bandwidth_from="samples", n_projections=64)
    assert q["mmd"] == mmd(x, ref)
    # sliced W2 is symmetric in its arguments, bit for bit
    assert q["sw"] == sliced_wasserstein(
        x, ref, n_projections=64, generator=torch.Generator().manual_seed(0)
    )
    with pytest.raises(ValueError, match="bandwidth_from"):
        sample_quality(x, ref, bandwidth_from="data")


def test_non_finite_rows_are_dropped_and_counted_or_rejected():
    x, ref = _sets()
    bad = x.clone()
    bad[:5, 0] = math.nan
    bad[5, 1] = math.inf
    q = sample_quality(bad, ref, GMM, drop_nonfinite=True)
    assert q["n_nonfinite"] == 6
    assert q == {**sample_quality(x[6:], ref, GMM), "n_nonfinite": 6}
    with pytest.raises(ValueError, match="NaN or Inf"):
        sample_quality(bad, ref)
    q = sample_quality(torch.full((3, 2), math.nan), ref, GMM, drop_nonfinite=True)
    assert q["n_nonfinite"] == 3 and math.isnan(q["mmd"]) and math.isnan(q["sw"])
    assert math.isnan(q["gmm_nll"])
