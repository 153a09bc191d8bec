"""scripts/make_checkpoints.py: flags override the recipe defaults; a tiny Glow run loads back."""

from __future__ import annotations

import math

import pytest
import torch

from dinof_lite.experiment.configs import get_config
from dinof_lite.flows import Glow
from dinof_lite.pretrained import checkpoint_meta, load_flow


@pytest.fixture
def script(make_checkpoints_script):
    """The script under test (loaded once per file by conftest's ``make_checkpoints_script``)."""
    return make_checkpoints_script


def test_flags_override_only_what_they_name(script):
    hp = script.hyper_parameters("glow_2d", script.parse_args(["--steps", "7", "--lr", "0.01"]))
    assert hp == {**script.DEFAULTS["glow_2d"], "steps": 7, "lr": 0.01}
    assert script.hyper_parameters("score", script.parse_args([])) == script.DEFAULTS["score"]
    assert {"glow_8gaussians", "glow_moons", "glow_digits"} <= set(script.RECIPES)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,metrics",
    [
        ("glow_moons", ("test_nll",)),
        ("glow_digits", ("train_bpd", "test_bpd")),
    ],
)
def test_a_tiny_glow_recipe_writes_a_loadable_checkpoint(script, tmp_path, name, metrics):
    argv = [
        "--only",
        name,
        "--steps",
        "3",
        "--batch-size",
        "64",
        "--out-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert script.main(argv) == 0
    path = tmp_path / f"{name}.pt"
    flow, meta = load_flow(path), checkpoint_meta(path)
    assert isinstance(flow, Glow) and not flow.training
    assert all(bool(m.initialized) for m in flow.modules() if hasattr(m, "initialized"))
    for key in (
        "train_steps",
        "train_time_s",
        "loss_curve",
        "dataset",
        "train_config",
        "provenance",
        *metrics,
    ):
        assert key in meta, key
    assert meta["train_steps"] == 3 and meta["train_config"]["batch_size"] == 64
    assert len(meta["loss_curve"]["steps"]) == len(meta["loss_curve"]["loss"]) == 1
    assert all(math.isfinite(meta[m]) for m in metrics)
    assert "--steps 3" in meta["provenance"]["command"]
    x = flow.sample(16, generator=torch.Generator().manual_seed(0))
    assert x.shape == (16, *flow.in_shape) and torch.isfinite(x).all()


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,any_tm", [("dinof_8gaussians_vp_tm03", False), ("dinof_8gaussians_vp_anytm", True)]
)
def test_a_tiny_dinof_recipe_writes_a_loadable_checkpoint(
    script, tmp_path, monkeypatch, name, any_tm
):
    from dinof_lite.dinof import DiNof
    from dinof_lite.pretrained import load_dinof

    recipes = script.dinof_recipes  # shrink the evaluation: the numbers only need to exist
    for attr, value in (
        ("N_SAMPLES", 64),
        ("N_NLL", 8),
        ("EVAL_T_MS", (0.3, 0.6)),
        ("BASELINE_STEPS", 20),
    ):
        monkeypatch.setattr(recipes, attr, value)
    assert script.hyper_parameters("dinof", script.parse_args([])) == script.DEFAULTS["dinof"]
    argv = [
        "--only",
        name,
        "--steps",
        "3",
        "--batch-size",
        "32",
        "--hidden",
        "16",
        "--out-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert script.main(argv) == 0
    path = tmp_path / f"{name}.pt"
    model, meta = load_dinof(path), checkpoint_meta(path)
    assert isinstance(model, DiNof) and not model.training and model.any_T_m == any_tm
    assert model.T_m == (0.6 if any_tm else 0.3) and model.sde.name == "vp"
    for key in ("train_steps", "loss_curve", "dataset", "train_config", "provenance", "quality"):
        assert key in meta, key
    assert meta["train_steps"] == 3 and meta["train_config"]["batch_size"] == 32
    quality = meta["quality"]
    assert [row["T_m"] for row in quality["per_T_m"]] == ([0.3, 0.6] if any_tm else [0.3])
    for row in quality["per_T_m"]:
        for key in ("mmd", "sliced_wasserstein", "gmm_nll", "nll", "nll_gap"):
            assert math.isfinite(row[key]), (key, row)
    assert ("baseline" in quality) == any_tm
    x = model.sample(16, generator=torch.Generator().manual_seed(0))
    assert x.shape == (16, 2) and torch.isfinite(x).all()


@pytest.mark.slow
def test_tiny_digits_recipes_write_a_classifier_and_a_unet_dinof(script, tmp_path, monkeypatch):
    from dinof_lite.evaluation.digits_fid import DigitsClassifier, load_classifier
    from dinof_lite.nets.unet import UNet
    from dinof_lite.pretrained import load_dinof

    recipes = script.digits_recipe  # shrink the evaluation: the numbers only need to exist
    for attr, value in (
        ("N_SAMPLES", 12),
        ("N_BPD", 2),
        ("EVAL_T_MS", (0.3,)),
        ("STEPS_PER_UNIT", 10),
    ):
        monkeypatch.setattr(recipes, attr, value)
    assert (
        script.hyper_parameters("dinof_digits", script.parse_args([]))["steps"]
        == get_config("digits_cpu").train.n_steps
    )
    argv = [
        "--only",
        "digits_classifier",
        "dinof_digits",
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--out-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert script.main(argv) == 0
    path = tmp_path / "digits_classifier.pt"
    net, cmeta = load_classifier(path), checkpoint_meta(path)
    assert isinstance(net, DigitsClassifier) and 0 <= cmeta["test_accuracy"] <= 1
    path = tmp_path / "dinof_digits.pt"
    model, meta = load_dinof(path), checkpoint_meta(path)
    assert isinstance(model.score_net, UNet) and model.any_T_m and model.dims == (1, 16, 16)
    assert meta["train_steps"] == 3 and meta["config"] == "digits_cpu"
    quality = meta["quality"]
    assert [row["T_m"] for row in quality["per_T_m"]] == [0.3]
    values = [
        quality["per_T_m"][0]["fid"],
        quality["baseline"]["fid"],
        quality["noise_fid"],
        quality["test_bpd"],
    ]
    assert all(math.isfinite(v) for v in values), quality
