"""dinof_lite.evaluation.digits_fid: Fréchet distance in closed form, the shipped digits classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dinof_lite.data import load_image_dataset
from dinof_lite.evaluation.digits_fid import (
    DigitsClassifier,
    digits_features,
    digits_fid,
    frechet_distance,
    load_classifier,
    save_classifier,
)
from dinof_lite.pretrained import checkpoint_meta

REGENERATE = "python scripts/make_checkpoints.py"
SHIPPED = Path(__file__).resolve().parents[2] / "data" / "checkpoints"


def _gaussian(n: int, mean, cov, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def test_identical_sets_are_at_distance_zero():
    a = _gaussian(500, np.zeros(5), np.eye(5), 0)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(torch.from_numpy(a), a) == pytest.approx(0.0, abs=1e-6)


def test_a_shift_of_the_mean_adds_its_squared_norm():
    a = _gaussian(400, np.zeros(4), np.diag([1.0, 2.0, 0.5, 3.0]), 1)
    shift = np.array([1.0, -2.0, 0.5, 3.0])
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_known_covariances_give_the_closed_form():
    # diagonal Σa, Σb: Tr(Σa + Σb − 2(ΣaΣb)^½) = Σ_i (√a_i − √b_i)²; exact for whitened samples
    d, n = 3, 2000
    z = np.random.default_rng(2).standard_normal((n, d))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    va, vb, mu = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0]), np.array([0.0, 1.0, 2.0])
    a, b = z * np.sqrt(va), z * np.sqrt(vb) + mu
    expected = float(mu @ mu + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum())
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_rank_deficient_features_still_give_a_finite_real_value():
    a = np.zeros((10, 3))
    a[:, 0] = np.arange(10.0)
    value = frechet_distance(a, a + 1.0)
    assert np.isfinite(value) and value == pytest.approx(3.0, abs=1e-3)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="equal d"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\(B, 1, 16, 16\)"):
        DigitsClassifier().features(torch.zeros(2, 1, 8, 8))


def test_classifier_round_trip(tmp_path):
    torch.manual_seed(0)
    net = DigitsClassifier(channels=8, feat_dim=16).eval()
    path = save_classifier(tmp_path / "c.pt", net, {"test_accuracy": 0.5})
    net2, meta = load_classifier(path), checkpoint_meta(path)
    x = torch.rand(4, 1, 16, 16)
    assert torch.equal(net(x), net2(x)) and meta == {"test_accuracy": 0.5}
    assert digits_features(x, net2).shape == (4, 16)


@pytest.fixture(scope="module")
def shipped():
    path = SHIPPED / "digits_classifier.pt"
    assert path.is_file(), f"{path} missing: run `{REGENERATE} --only digits_classifier`"
    return load_classifier(path), checkpoint_meta(path)


def test_shipped_classifier_is_accurate(shipped):
    net, meta = shipped
    te = load_image_dataset("digits", split="test", data_range=(0.0, 1.0), pad_to=16)
    with torch.no_grad():
        acc = net(te.batch(torch.arange(len(te)))).argmax(1) == torch.as_tensor(te.labels)
    assert acc.float().mean().item() == pytest.approx(meta["test_accuracy"], abs=1e-6)
    assert meta["test_accuracy"] >= 0.95


def test_fid_of_train_vs_test_is_small_and_noise_is_far(shipped):
    net, _ = shipped
    kw = {"data_range": (0.0, 1.0), "pad_to": 16}
    tr = load_image_dataset("digits", split="train", **kw)
    te = load_image_dataset("digits", split="test", **kw)
    x_tr, x_te = tr.batch(torch.arange(len(tr))), te.batch(torch.arange(len(te)))
    real = digits_fid(x_tr, x_te, net)
    noise = digits_fid(
        torch.rand(500, 1, 16, 16, generator=torch.Generator().manual_seed(0)), x_te, net
    )
    assert real < 0.05 * noise, (real, noise)
    assert digits_fid(x_te, x_te) == pytest.approx(0.0, abs=1e-3)  # default: the shipped net
