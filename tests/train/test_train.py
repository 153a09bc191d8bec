"""Tests for dinof_lite.train: exact resume, NaN stop, warm-up, clipping, EMA, atomic writes."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from dinof_lite.train import (
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    atomic_save,
    load_checkpoint,
    load_weights,
    warmup_factor,
)
from dinof_lite.train.lock import LOCK_NAME

pytestmark = pytest.mark.usefixtures("one_thread")  # bitwise-reproducible reductions


def tiny_mlp(seed: int = 0, dropout: float = 0.1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.SiLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def denoise_loss(model: nn.Module, x0: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A denoising loss whose noise comes from the trainer's generator."""
    noise = torch.randn(x0.shape, generator=g, device=x0.device)
    return (model(x0 + 0.3 * noise) - x0).square().mean()


DATA = torch.randn(256, 2, generator=torch.Generator().manual_seed(1))


def cfg(**kw) -> TrainConfig:
    base = dict(
        n_steps=40,
        batch_size=32,
        lr=1e-2,
        warmup=5,
        ema_decay=0.9,
        seed=3,
        device="cpu",
        log_every=5,
        ckpt_every=10,
        progress=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def flat_state(trainer: Trainer) -> list[torch.Tensor]:
    tensors = list(trainer.model.state_dict().values()) + list(
        trainer.ema_model.state_dict().values()
    )
    for st in trainer.optimizer.state_dict()["state"].values():
        tensors += [v for v in st.values() if torch.is_tensor(v)]
    return tensors


def assert_bitwise_equal(a: Trainer, b: Trainer) -> None:
    sa, sb = flat_state(a), flat_state(b)
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        assert torch.equal(x, y)
    assert a.losses == b.losses
    assert torch.equal(a.generator.get_state(), b.generator.get_state())


def logged_steps(workdir) -> list[int]:
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines]


# ----------------------------------------------------------------------------- resume
@pytest.mark.parametrize("how", ["max_steps", "keyboard_interrupt", "mid_step", "crash"])
def test_resume_is_bitwise_identical(tmp_path, how):
    ref = Trainer(tiny_mlp(), denoise_loss, DATA, cfg(), tmp_path / "ref")
    ref.fit()

    work = tmp_path / how
    stop_at = 17  # not a checkpoint step: "crash" must fall back to the step-10 checkpoint

    def interrupt(trainer, step, loss):
        if step == stop_at:
            raise KeyboardInterrupt if how == "keyboard_interrupt" else RuntimeError("boom")

    def interrupted_loss(model, x0, g):  # Ctrl-C / SIGTERM inside step 18, before the update
        loss = denoise_loss(model, x0, g)
        if first.step == stop_at:
            raise KeyboardInterrupt
        return loss

    first = Trainer(
        tiny_mlp(),
        interrupted_loss if how == "mid_step" else denoise_loss,
        DATA,
        cfg(),
        work,
        callbacks=[] if how in ("max_steps", "mid_step") else [interrupt],
    )
    if how == "max_steps":
        assert first.fit(max_steps=stop_at).step == stop_at
    else:
        with pytest.raises(RuntimeError if how == "crash" else KeyboardInterrupt):
            first.fit()
    saved = load_checkpoint(work)["step"]
    assert saved == (10 if how == "crash" else stop_at)

    # A fresh process would rebuild everything from scratch (different init seed on purpose).
    resumed = Trainer(tiny_mlp(seed=99), denoise_loss, DATA, cfg(), work)
    result = resumed.fit()
    assert result.resumed_from == saved and result.step == 40
    assert_bitwise_equal(ref, resumed)
    assert logged_steps(work) == logged_steps(tmp_path / "ref") == list(range(5, 41, 5))
    # Running again on a finished run does nothing.
    again = Trainer(tiny_mlp(), denoise_loss, DATA, cfg(), work).fit()
    assert again.step == 40 and again.resumed_from == 40


def test_callable_data_and_no_workdir_are_reproducible():
    def sampler(n, g):
        return torch.rand(n, 2, generator=g) * 2 - 1

    runs = [Trainer(tiny_mlp(), denoise_loss, sampler, cfg(n_steps=15)) for _ in range(2)]
    results = [t.fit() for t in runs]
    assert results[0].checkpoint is None and results[0].losses == results[1].losses
    assert_bitwise_equal(*runs)


# ----------------------------------------------------------------------------- NaN stop
def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def loss_fn(model, x0, g):
        calls["n"] += 1
        loss = denoise_loss(model, x0, g)
        return loss * math.nan if calls["n"] == 13 else loss

    trainer = Trainer(tiny_mlp(), loss_fn, DATA, cfg(ckpt_every=5), tmp_path)
    with pytest.raises(
        FloatingPointError, match=r"loss became nan at step 13; last good checkpoint"
    ) as exc:
        trainer.fit()
    err = exc.value
    assert isinstance(err, NonFiniteLossError)
    assert (
        err.step == 13
        and err.checkpoint_step == 10
        and err.checkpoint == tmp_path / "checkpoint.pt"
    )
    assert str(tmp_path / "checkpoint.pt") in str(err)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["step"] == 10 and len(ckpt["losses"]) == 10
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    # The weights in memory were not touched by the bad step either.
    assert trainer.step == 12
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_nan_before_any_checkpoint_message(tmp_path):
    trainer = Trainer(tiny_mlp(), lambda m, x, g: torch.tensor(math.inf), DATA, cfg(), tmp_path)
    with pytest.raises(NonFiniteLossError, match="loss became inf at step 1; no checkpoint"):
        trainer.fit()
    assert not (tmp_path / "checkpoint.pt").exists()


# ----------------------------------------------------------------------------- warm-up, clip, EMA
def test_warmup_schedule_values():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    lrs = []
    trainer = Trainer(
        tiny_mlp(),
        denoise_loss,
        DATA,
        cfg(n_steps=6, warmup=4, lr=0.1),
        callbacks=[lambda t, s, loss: lrs.append(t.last_lr)],
    )
    trainer.fit()
    assert lrs == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1], rel=1e-12)


@pytest.mark.parametrize("clip", [0.5, None])
def test_grad_clip_applied(clip):
    def big_loss(model, x0, g):
        return 1e3 * denoise_loss(model, x0, g)

    seen = []

    def check(trainer, step, loss):
        grads = [p.grad for p in trainer.model.parameters()]
        seen.append(
            (
                float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))),
                trainer.last_grad_norm,
            )
        )

    Trainer(tiny_mlp(), big_loss, DATA, cfg(n_steps=5, grad_clip=clip), callbacks=[check]).fit()
    for after, before in seen:
        assert before > 0.5  # the raw norm is large, so clipping is exercised
        if clip is None:
            assert after == pytest.approx(before, rel=1e-5)
        else:
            assert after <= clip * (1 + 1e-5)


def test_ema_matches_hand_computation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    snapshots = [{k: v.detach().clone() for k, v in model.state_dict().items()}]

    def snap(trainer, step, loss):
        snapshots.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})

    def loss_fn(m, x0, g):
        return m(x0).square().mean()

    d = 0.8
    trainer = Trainer(
        model, loss_fn, DATA, cfg(n_steps=6, ema_decay=d, warmup=0, lr=0.05), callbacks=[snap]
    )
    trainer.fit()
    ema_state = trainer.ema_model.module.state_dict()
    for key in ema_state:
        if key.endswith("num_batches_tracked"):  # integer buffer: copied, not averaged
            assert int(ema_state[key]) == 6
            continue
        # The EMA starts as a copy of the weights after update 1 (captures data-dependent init).
        hand = snapshots[1][key].double()
        for snap_k in snapshots[2:]:
            hand = d * hand + (1 - d) * snap_k[key].double()
        torch.testing.assert_close(ema_state[key].double(), hand, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(ema_state[key], model.state_dict()[key])  # it really averages


class DataInit(nn.Module):
    """ActNorm-like: ``bias`` is set from the first batch; the flag is a (bool) buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(2))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x):
        if not self.initialized:
            with torch.no_grad():
                self.bias.copy_(-x.mean(0))
                self.initialized.fill_(True)
        return x + self.bias


def test_ema_captures_data_dependent_init():
    data = torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) + 5.0
    trainer = Trainer(
        DataInit(),
        lambda m, x, g: m(x).square().mean(),
        data,
        cfg(n_steps=3, ema_decay=0.999, lr=1e-6, warmup=0),
    )
    trainer.fit()
    ema = trainer.ema_model.module
    assert bool(ema.initialized)
    torch.testing.assert_close(ema.bias, trainer.model.bias, atol=1e-4, rtol=0)  # ≈ −5, not ≈ 0
    assert float(ema.bias.mean()) == pytest.approx(-5.0, abs=0.3)


def test_load_weights_restores_ema(tmp_path):
    trainer = Trainer(tiny_mlp(), denoise_loss, DATA, cfg(n_steps=8), tmp_path)
    trainer.fit()
    ema_net = load_weights(tiny_mlp(seed=5), tmp_path)
    raw_net = load_weights(tiny_mlp(seed=5), tmp_path / "checkpoint.pt", ema=False)
    for a, b in zip(ema_net.parameters(), trainer.ema_model.module.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(raw_net.parameters(), trainer.model.parameters()):
        assert torch.equal(a, b)


# ----------------------------------------------------------------------------- atomic writes
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    Trainer(tiny_mlp(), denoise_loss, DATA, cfg(n_steps=10), tmp_path).fit()
    before = load_checkpoint(tmp_path)
    real_save = torch.save

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        Trainer(tiny_mlp(), denoise_loss, DATA, cfg(n_steps=30, ckpt_every=5), tmp_path).fit()
    monkeypatch.setattr(torch, "save", real_save)
    after = load_checkpoint(tmp_path)
    assert after["step"] == before["step"] == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.jsonl"]
    # atomic_save itself: success replaces, the file is a normal torch file.
    atomic_save({"a": torch.ones(2)}, tmp_path / "x.pt")
    assert torch.equal(torch.load(tmp_path / "x.pt")["a"], torch.ones(2))
    umask = os.umask(0o022)
    try:  # the permissions of a plain open(), not mkstemp's private 0o600
        atomic_save({"a": torch.ones(2)}, tmp_path / "y.pt")
    finally:
        os.umask(umask)
    assert (tmp_path / "y.pt").stat().st_mode & 0o777 == 0o644


# ----------------------------------------------------------------------------- validation
def test_config_and_input_validation():
    with pytest.raises(ValueError, match="TrainConfig.lr"):
        TrainConfig(lr=-1.0)
    with pytest.raises(ValueError, match="TrainConfig.grad_clip"):
        TrainConfig(grad_clip=0.0)
    assert TrainConfig.from_dict(TrainConfig(seed=4).to_dict() | {"junk": 1}) == TrainConfig(seed=4)
    with pytest.raises(ValueError, match="data"):
        Trainer(tiny_mlp(), denoise_loss, torch.zeros(0, 2), cfg())
    with pytest.raises(ValueError, match="scalar"):
        Trainer(tiny_mlp(), lambda m, x, g: m(x), DATA, cfg()).fit()


_KILLED_RUN = """
import os, signal, sys
import torch
sys.path.insert(0, {tests!r})
from test_train import DATA, cfg, denoise_loss, tiny_mlp
from dinof_lite.train import Trainer
torch.set_num_threads(1)

def kill_at_13(trainer, step, loss):
    if step == 13:  # checkpoint of step 10 is on disk; steps 11-13 are lost with the process
        os.kill(os.getpid(), signal.SIGKILL)

Trainer(tiny_mlp(), denoise_loss, DATA, cfg(), workdir={workdir!r}, callbacks=[kill_at_13]).fit()
"""


def test_sigkill_mid_training_then_resume_is_bitwise_identical(tmp_path):
    """A hard kill (no cleanup, no except block runs) loses only the steps since the checkpoint."""
    workdir = tmp_path / "run"
    script = _KILLED_RUN.format(tests=str(Path(__file__).parent), workdir=str(workdir))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert load_checkpoint(workdir / "checkpoint.pt")["step"] == 10
    assert not [p for p in workdir.iterdir() if p.name != "checkpoint.pt" and "tmp" in p.name]
    assert (workdir / LOCK_NAME).exists()  # the killed run's file; its OS lock died with it
    resumed = Trainer(tiny_mlp(seed=99), denoise_loss, DATA, cfg(), workdir=workdir)
    resumed.fit()  # the same call resumes: no break_lock needed
    assert not (workdir / LOCK_NAME).exists()
    straight = Trainer(tiny_mlp(), denoise_loss, DATA, cfg(), workdir=tmp_path / "straight")
    straight.fit()
    assert resumed.step == straight.step == 40
    assert_bitwise_equal(resumed, straight)
