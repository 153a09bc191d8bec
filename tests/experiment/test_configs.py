"""Experiment configs: the paper's settings (DiNof §4.1), the registry, and that every *_smoke
config builds a DiNof that trains a step and samples."""

from __future__ import annotations

import pytest
import torch

from dinof_lite.experiment.configs import CONFIGS, build_model, config_names, get_config

FULL = [
    "cifar10_ve",
    "cifar10_vp",
    "cifar10_subvp",
    "cifar10_ve_deep",
    "celebahq256_ve",
    "digits_cpu",
]


def test_registry_has_every_config_and_its_smoke_twin():
    names = set(config_names())
    assert set(FULL) <= names  # the standard configs; an added one must not break this test
    full = {n for n in names if not n.endswith("_smoke")}
    assert names == full | {f"{n}_smoke" for n in full}, "every config has a smoke twin"
    with pytest.raises(ValueError, match="unknown config 'cifar100'; valid: cifar10_ve, "):
        get_config("cifar100")
    a, b = get_config("cifar10_ve"), get_config("cifar10_ve")
    a.train.batch_size = 1
    assert b.train.batch_size == 128  # fresh copies


@pytest.mark.parametrize("name", [n for n in FULL if n != "digits_cpu"])
def test_paper_settings(name):
    cfg = get_config(name)
    t = cfg.train
    assert (t.lr, t.warmup, t.grad_clip, cfg.T_m) == (2e-4, 5000, 1.0, 0.6)
    assert (cfg.flow_levels, cfg.flow_steps, cfg.flow_hidden) == (3, 16, 256)
    if cfg.sde == "ve":
        assert (cfg.predictor, cfg.corrector, cfg.data_range, t.ema_decay) == (
            "reverse_diffusion",
            "langevin",
            (0.0, 1.0),
            0.999,
        )
        assert cfg.snr == (0.17 if name.startswith("celebahq") else 0.16)
    else:
        assert (cfg.predictor, cfg.corrector, cfg.data_range, t.ema_decay) == (
            "euler_maruyama",
            "none",
            (-1.0, 1.0),
            0.9999,
        )
    assert t.batch_size == (8 if name.startswith("celebahq") else 128)
    assert cfg.shape == ((3, 256, 256) if name.startswith("celebahq") else (3, 32, 32))
    assert cfg.unet.num_res_blocks == {"cifar10_ve_deep": 8, "celebahq256_ve": 2}.get(name, 4)


@pytest.mark.parametrize("name", [f"{n}_smoke" for n in FULL])
def test_smoke_configs_build_train_and_sample(name):
    torch.manual_seed(0)
    cfg = get_config(name)
    model = build_model(cfg)
    x0 = torch.rand(4, *cfg.shape) * (cfg.data_range[1] - cfg.data_range[0]) + cfg.data_range[0]
    loss = model.loss(x0, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    s = model.eval().sample_result(2, generator=torch.Generator().manual_seed(1))
    assert s.x.shape == (2, *cfg.shape) and torch.isfinite(s.x).all()
    assert s.n_steps == round(model.sde.N * cfg.T_m) == round(20 * 0.6)
    assert CONFIGS[name]().train.n_steps <= 10


@pytest.mark.parametrize("name", sorted(n for n in CONFIGS if not n.startswith("digits")))
def test_the_unet_takes_the_configs_data_range(name):
    """score_sde's convention on the paper's configs: a centred UNet takes [-1, 1] images, an
    uncentred one [0, 1] (it centres them inside), so a score_sde checkpoint loaded for a config
    (train --score-checkpoint) has the config's data range. The smoke twins follow. (digits_cpu
    feeds [0, 1] to a UNet without the inside centring: its shipped checkpoint was trained so.)"""
    cfg = get_config(name)
    assert cfg.unet.centered == (cfg.data_range == (-1.0, 1.0))
    assert cfg.data_range in ((-1.0, 1.0), (0.0, 1.0))
