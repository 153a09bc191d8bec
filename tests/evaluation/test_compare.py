"""``dinof_lite.evaluation.compare``: one table for several models, checked on known answers."""

import math

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.compare import Contender, compare, dinof_contender

GMM = GaussianMixture.preset("8gaussians")


def _oracle(name="oracle", shift=0.0, nll_offset=0.0, kind="exact"):
    """The mixture itself (optionally shifted): exact samples and exact NLL (+ offset)."""
    return Contender(
        name,
        sample=lambda n, g: GMM.sample(n, g).float() + shift,
        nfe=7,
        nll=lambda x, g: -GMM.log_prob(x.double()) + nll_offset,
        nll_kind=kind,
    )


def test_the_true_model_scores_zero_kl_and_noise_level_mmd():
    (row,) = compare([_oracle()], GMM, n_samples=800, n_nll=400, seed=3)
    assert row["model"] == "oracle" and row["NFE"] == 7 and row["NLL kind"] == "exact"
    assert abs(row["KL"]) < 1e-9 and row["± SE"] < 1e-9  # paired estimate: exactly 0
    assert abs(row["MMD²"]) < 2e-3
    assert row["NLL"] == pytest.approx(GMM.entropy(), abs=0.15)  # 400-point mean of -log p0
    assert row["s / 1000 samples"] > 0


def test_a_shifted_model_and_a_loose_bound_show_up():
    rows = compare(
        [_oracle(), _oracle("shifted", shift=0.5), _oracle("bound", nll_offset=0.3, kind="bound")],
        GMM,
        n_samples=800,
        n_nll=200,
        seed=0,
    )
    good, shifted, bound = rows
    assert shifted["MMD²"] > 20 * max(abs(good["MMD²"]), 1e-4)
    assert shifted["SW"] > 0.3 > good["SW"]
    assert bound["KL"] == pytest.approx(0.3, abs=1e-9) and bound["NLL kind"] == "bound"
    assert bound["NLL"] == pytest.approx(good["NLL"] + 0.3, abs=1e-9)  # same NLL points for all


def test_same_seed_same_rows():
    a = compare([_oracle()], GMM, n_samples=200, n_nll=50, seed=5)[0]
    b = compare([_oracle()], GMM, n_samples=200, n_nll=50, seed=5)[0]
    for key in ("MMD²", "SW", "NLL", "KL"):
        assert a[key] == b[key]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least one"):
        compare([], GMM)
    with pytest.raises(ValueError, match="nll_kind"):
        Contender("x", lambda n, g: torch.zeros(n, 2), 1, nll_kind="approx")
    bad = Contender("flat", lambda n, g: torch.zeros(n), 1)
    with pytest.raises(ValueError, match="flat.*shape"):
        compare([bad], GMM, n_samples=20, n_nll=5)
    bad_nll = Contender("nll", lambda n, g: torch.zeros(n, 2), 1, nll=lambda x, g: torch.zeros(3))
    with pytest.raises(ValueError, match="nll.*shape"):
        compare([bad_nll], GMM, n_samples=20, n_nll=5)


def test_without_nll_the_columns_are_nan():
    (row,) = compare(
        [Contender("s", lambda n, g: GMM.sample(n, g).float(), 1)], GMM, n_samples=50, n_nll=5
    )
    assert math.isnan(row["NLL"]) and row["NLL kind"] == "—"


def test_dinof_contender_reports_its_steps_and_exact_nll(tiny_any_tm_dinof):
    c = dinof_contender(tiny_any_tm_dinof, T_m=0.3)
    assert c.name == "DiNof (T_m=0.3)" and c.nll_kind == "exact"
    assert c.nfe == round(tiny_any_tm_dinof.sde.N * 0.3)  # VP: Euler–Maruyama, one eval per step
    (row,) = compare([c], GMM, n_samples=20, n_nll=4)
    assert math.isfinite(row["NLL"]) and math.isfinite(row["MMD²"])
