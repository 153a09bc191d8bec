"""The public model-file API (read_checkpoint, plain, cpu_state_dict, resolve) and load_or_train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dinof_lite import pretrained
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.flows import Glow
from dinof_lite.train import (
    TrainConfig,
    atomic_save,
    cpu_state_dict,
    load_or_train,
    plain,
    read_checkpoint,
)

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "checkpoints"
GMM = GaussianMixture.preset("8gaussians")


def test_read_checkpoint_names_the_file_and_both_formats(tmp_path):
    path = atomic_save({"format": "a/1", "meta": {}}, tmp_path / "a.pt")
    assert read_checkpoint(path, "a/1")["format"] == "a/1"
    with pytest.raises(ValueError, match=r"a\.pt .*found format 'a/1', expected 'b/1'"):
        read_checkpoint(path, "b/1")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="found format 'list'"):
        read_checkpoint(tmp_path / "list.pt", "b/1")


def test_plain_and_cpu_state_dict_survive_a_weights_only_load(tmp_path):
    meta = {1: Path("x"), "n": np.int64(3), "f": np.float32(0.5), "ok": True, "t": (1,)}
    net = torch.nn.Sequential(torch.nn.Linear(2, 3).double(), torch.nn.BatchNorm1d(3))
    ckpt = {"meta": plain(meta), "state_dict": cpu_state_dict(net)}
    assert ckpt["meta"] == {"1": "x", "n": 3, "f": 0.5, "ok": True, "t": (1,)}
    assert type(ckpt["meta"]["n"]) is int and type(ckpt["meta"]["ok"]) is bool
    state = ckpt["state_dict"]
    assert state["0.weight"].dtype == torch.float32
    assert state["1.num_batches_tracked"].dtype == torch.int64
    atomic_save(ckpt, tmp_path / "c.pt")
    back = torch.load(tmp_path / "c.pt", weights_only=True)
    assert back["meta"] == ckpt["meta"]


def test_resolve_names_and_paths(monkeypatch, tmp_path):
    monkeypatch.delenv("DINOF_CHECKPOINT_DIR", raising=False)
    assert pretrained.resolve("glow_moons") == SHIPPED / "glow_moons.pt"
    assert pretrained.resolve(SHIPPED / "glow_moons.pt") == SHIPPED / "glow_moons.pt"
    with pytest.raises(ValueError, match="unknown pretrained model 'nope'; valid: "):
        pretrained.resolve("nope")
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        pretrained.resolve(tmp_path / "absent.pt")


def _never_built():
    raise AssertionError("a shipped checkpoint must be loaded, not trained")


def _nll(model, x0, generator):
    return -model.log_prob(x0).mean()


def test_load_or_train_loads_a_shipped_checkpoint(monkeypatch, capsys):
    monkeypatch.delenv("DINOF_CHECKPOINT_DIR", raising=False)
    flow, meta = load_or_train(
        "glow_moons", pretrained.load_flow, _never_built, _nll, None, TrainConfig(n_steps=1)
    )
    shipped = torch.load(SHIPPED / "glow_moons.pt", weights_only=True)
    assert meta == shipped["meta"]
    assert not flow.training
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(flow.log_prob(x), pretrained.load_flow("glow_moons").log_prob(x))
    assert "loaded 'glow_moons'" in capsys.readouterr().out


def test_load_or_train_trains_saves_and_then_loads(ckpt_dir, capsys):
    config = TrainConfig(n_steps=5, batch_size=32, lr=1e-3, ckpt_every=None, progress=False)
    args = (
        pretrained.load_flow,
        lambda: Glow((2,), levels=1, steps=2, hidden=8),
        _nll,
        lambda n, g: GMM.sample(n, g),
        config,
    )
    unsaved, _ = load_or_train("glow_moons", *args)  # no save: nothing is written
    assert "-> training glow_moons here for 5 steps" in capsys.readouterr().out
    assert not (ckpt_dir / "glow_moons.pt").exists()
    flow, meta = load_or_train("glow_moons", *args, save=pretrained.save_flow)
    out = capsys.readouterr().out
    assert "-> training glow_moons here" in out and "saved 'glow_moons'" in out
    assert (ckpt_dir / "glow_moons.pt").is_file() and not flow.training
    assert meta["train_steps"] == 5 and len(meta["loss_curve"]["loss"]) == 5
    assert meta["loss_curve"]["steps"] == [1, 2, 3, 4, 5]
    assert meta["train_config"]["n_steps"] == 5
    x = GMM.sample(8, torch.Generator().manual_seed(1))
    assert torch.equal(unsaved.log_prob(x), flow.log_prob(x))  # seeded: the same weights
    loaded, loaded_meta = load_or_train("glow_moons", *args[:1], _never_built, *args[2:])
    assert loaded_meta["train_steps"] == 5
    assert torch.allclose(loaded.log_prob(x), flow.log_prob(x))
    # a foreign file is an error, not a reason to train
    torch.save({"format": "other/1"}, ckpt_dir / "glow_moons.pt")
    with pytest.raises(ValueError, match="expected 'dinof_lite.flow/1'"):
        load_or_train("glow_moons", *args)
