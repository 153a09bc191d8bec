"""The precision policy on GPUs without native bf16 (T4, V100): fp16 autocast of the score network
with a gradient scaler, the flow in float32 — run here on the CPU by forcing ``"fp16"``, which is
the exact code a T4 runs (``resolve_precision`` picks it there; the choice is tested by faking
the compute capability)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from dinof_lite.dinof import training_loss
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.run import run_precision
from dinof_lite.precision import Precision, half_mode, resolve_precision
from dinof_lite.train import TrainConfig, Trainer
from dinof_lite.train.config import NonFiniteLossError

pytestmark = pytest.mark.usefixtures("one_thread")

FP16 = Precision("fp16", "cpu")


@pytest.mark.parametrize(
    "capability, mode", [((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")]
)
def test_the_policy_picks_fp16_where_bf16_is_not_native(monkeypatch, capability, mode):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    cuda = torch.device("cuda", 0)
    assert half_mode(cuda) == mode and resolve_precision(None, cuda).mode == mode
    assert run_precision(True, cuda).mode == mode and run_precision(None, cuda).mode == mode
    assert run_precision(False, cuda).mode == "float32"
    assert run_precision(None, cuda, "fp16").mode == "fp16"  # --precision forces a mode
    assert half_mode("cpu") == "bf16" and resolve_precision(None, "cpu").mode == "float32"
    assert resolve_precision("fp16", "cpu").autocast_dtype == torch.float16


def _model(train_score: bool = True):
    torch.manual_seed(0)
    return build_model(dataclasses.replace(get_config("cifar10_ve_smoke"), train_score=train_score))


def _images(n: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(5))


def _trainer(model, autocast, workdir=None, steps: int = 6) -> Trainer:
    cfg = TrainConfig(
        n_steps=steps, batch_size=8, warmup=2, progress=False, ckpt_every=None, device="cpu"
    )
    return Trainer(model, training_loss, _images(), cfg, workdir, autocast=autocast)


def test_under_fp16_the_score_network_runs_in_float16_and_the_flow_in_float32():
    model = _model()
    x0 = _images(4)
    model(x0, torch.Generator().manual_seed(0))  # ActNorm's init
    seen = {}
    model.score_net.conv_in.register_forward_hook(lambda m, i, o: seen.__setitem__("conv", o.dtype))
    log_prob = model.flow.log_prob

    def spy(x, context=None):
        out = log_prob(x, context)
        seen["flow_in"], seen["flow_out"] = x.dtype, out.dtype
        return out

    model.flow.log_prob = spy
    with FP16.autocast():
        loss = training_loss(model, x0, torch.Generator().manual_seed(1))
    assert seen == {"conv": torch.float16, "flow_in": torch.float32, "flow_out": torch.float32}
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_fp16_training_uses_the_scaler_and_resumes_bitwise(tmp_path):
    straight = _trainer(_model(), torch.float16, tmp_path / "a")
    assert straight.scaler.is_enabled()
    straight.fit()
    assert all(torch.isfinite(torch.tensor(straight.losses)))
    assert straight.step == 6 and straight.skipped_steps < 6  # some updates were made
    scale = straight.scaler.get_scale()
    assert 1 < scale <= 65536.0
    ckpt = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    assert ckpt["grad_scaler"]["scale"] == scale and ckpt["skipped_steps"] == straight.skipped_steps

    _trainer(_model(), torch.float16, tmp_path / "b").fit(max_steps=3)
    resumed = _trainer(_model(), torch.float16, tmp_path / "b")
    resumed.fit()
    assert resumed.losses == straight.losses and resumed.scaler.get_scale() == scale
    for a, b in zip(straight.module.state_dict().values(), resumed.module.state_dict().values()):
        assert torch.equal(a, b)
    # float32 and bf16 runs have no scaler and store none
    assert not _trainer(_model(), None).scaler.is_enabled()
    assert not _trainer(_model(), torch.bfloat16).scaler.is_enabled()


def test_a_flow_only_run_is_the_same_in_fp16_and_in_float32():
    """The flow stays float32 under the policy and the scale is a power of two, undone exactly:
    with a frozen score network, fp16 training is float32 training, bit for bit."""
    runs = {}
    for dtype in (torch.float16, None):
        trainer = _trainer(_model(train_score=False), dtype, steps=4)
        trainer.fit()
        runs[dtype] = trainer
    fp16, fp32 = runs[torch.float16], runs[None]
    assert fp16.scaler.is_enabled() and fp16.skipped_steps == 0
    assert fp16.losses == fp32.losses
    for a, b in zip(fp16.module.flow.parameters(), fp32.module.flow.parameters()):
        assert torch.equal(a, b)


class _Infinite(nn.Module):
    """One weight whose gradient is infinite (d/dw √(w − w₀) at w₀), the loss finite (0)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return torch.sqrt(self.w - self.w.detach()).sum() + 0 * x.sum()


def _toy_trainer(model, loss_fn) -> Trainer:
    cfg = TrainConfig(n_steps=40, batch_size=4, progress=False, device="cpu")
    return Trainer(model, loss_fn, torch.ones(8, 4), cfg, autocast=torch.float16)


def test_an_overflow_skips_the_update_and_a_persistent_one_raises():
    # the weight's gradient, 4 · scale, overflows float16 (max 65504) at the scales 65536, 32768
    # and 16384: those updates are skipped (the scale halves each time), the 4th is made
    lin = nn.Linear(4, 1)
    trainer = _toy_trainer(lin, lambda m, x, g: m(x).sum())
    w0 = lin.weight.detach().clone()
    for step in range(1, 4):
        trainer.train_step()
        assert trainer.skipped_steps == trainer.step == step and torch.equal(lin.weight, w0)
    assert trainer.scaler.get_scale() == 8192.0
    trainer.train_step()
    assert trainer.skipped_steps == 3 and not torch.equal(lin.weight, w0)

    # a gradient that is never finite: skipped while the scale halves, then an error
    bad = _toy_trainer(_Infinite(), lambda m, x, g: m(x))
    with pytest.raises(NonFiniteLossError, match="gradient norm became"):
        bad.fit()
    assert bad.skipped_steps == 16 and bad.scaler.get_scale() == 1.0
    assert torch.equal(bad.module.w, torch.ones(4))
