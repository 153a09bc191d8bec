"""The precision policy on CPU autocast (the same code paths as CUDA's): the flow, likelihoods and
the sampler state stay float32 while the score network runs in bf16; the errors it leaves are
bounded; without it (``bf16_unguarded``) the flow moves. Paper sizes: ``bench precision``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.data import fake_image_dataset
from dinof_lite.experiment.precision_check import (
    flow_errors,
    joint_step_agreement,
    likelihood_error,
    score_net_error,
)
from dinof_lite.flows import Glow
from dinof_lite.precision import POLICY, Precision, float32, resolve_precision

BF16, UNGUARDED = Precision("bf16"), Precision("bf16_unguarded")


def fit(model, loss_fn, data, steps: int, batch: int = 8) -> None:
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model, data.sampler(batch, g), g).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


@pytest.fixture(scope="module")
def data():
    return fake_image_dataset((3, 8, 8), 128, (0.0, 1.0))


@pytest.fixture(scope="module")
def trained_flow(data):
    """A small image Glow moved off its initialisation (20 Adam steps)."""
    torch.manual_seed(0)
    flow = Glow((3, 8, 8), levels=2, steps=2, hidden=16)
    flow(data.sampler(8, torch.Generator().manual_seed(0)))
    fit(
        flow,
        lambda m, x, g: -m.log_prob(x + torch.rand(x.shape, generator=g) / 256).mean(),
        data,
        20,
    )
    return flow.eval()


@pytest.fixture(scope="module")
def trained_dinof(data):
    torch.manual_seed(0)
    model = build_model(get_config("cifar10_ve_smoke"))
    with torch.no_grad():
        model(data.sampler(4, torch.Generator().manual_seed(0)), torch.Generator().manual_seed(0))
    fit(model, lambda m, x, g: m(x, g), data, 10, batch=4)
    return model.eval()


def test_policy_runs_the_score_network_in_bf16_and_the_flow_in_float32(trained_dinof, data):
    """Output dtypes of the first conv of each network inside a whole joint loss."""
    model, seen = trained_dinof, {}

    def record(name):
        def hook(module, args, out):
            seen[name] = out.dtype

        return hook

    unet_conv = next(m for m in model.score_net.modules() if isinstance(m, nn.Conv2d))
    flow_conv = next(m for m in model.flow.modules() if isinstance(m, nn.Conv2d))
    handles = [
        unet_conv.register_forward_hook(record("unet")),
        flow_conv.register_forward_hook(record("flow")),
    ]
    x0 = data.sampler(4, torch.Generator().manual_seed(1))
    try:
        for precision, flow_dtype in ((BF16, torch.float32), (UNGUARDED, torch.bfloat16)):
            with precision.autocast():
                loss = model(x0, torch.Generator().manual_seed(0))
            assert seen == {"unet": torch.bfloat16, "flow": flow_dtype}
            assert loss.dtype == torch.float32  # the DSM arithmetic and the reductions
    finally:
        for h in handles:
            h.remove()
    assert not torch.is_autocast_enabled("cpu")  # the region closed
    assert POLICY["flow forward / inverse / log-dets"] == "float32"


def test_flow_under_the_policy_is_float32_exactly_and_without_it_is_not(trained_flow):
    x = fake_image_dataset((3, 8, 8), 8, (0.0, 1.0), seed=1).batch(range(8)) + 1 / 512
    after = flow_errors(trained_flow, x, BF16)
    assert after["logp_bpd"] <= 1e-3 and after["inverse"] <= 1e-3  # the bounds
    assert after["logp_bpd"] == 0 and after["inverse"] == 0  # ... met exactly: it is float32
    before = flow_errors(trained_flow, x, UNGUARDED)
    assert before["inverse"] > 1e-3  # what the policy prevents (bf16 1×1-conv inverses)
    assert before["logp_bpd"] > 1e-5


def test_score_network_error_is_the_one_bf16_error_and_is_small(trained_dinof, data):
    x0 = data.sampler(4, torch.Generator().manual_seed(2))
    err = score_net_error(trained_dinof, x0, BF16)
    assert 0 < err["rel_rms"] < 2e-2  # bf16 has 8 mantissa bits: ~0.4 % per op, measured 5e-3
    assert err == score_net_error(trained_dinof, x0, UNGUARDED)  # the guard leaves the UNet be


def test_bf16_joint_step_gives_finite_losses_and_float32_like_gradients(trained_dinof, data):
    x0 = data.sampler(4, torch.Generator().manual_seed(3))
    agree = joint_step_agreement(trained_dinof, x0, BF16)
    assert agree["finite"] == 1.0
    assert agree["loss_rel"] < 1e-3
    assert agree["cos_flow"] > 0.99999  # the flow's gradient is float32 up to its bf16 input
    assert agree["cos_score_net"] > 0.999 and agree["cos_all"] > 0.999


def test_likelihood_under_the_policy_is_the_float32_one(trained_dinof, data):
    x = (
        data.batch(range(2))
        + torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4)) / 256
    )
    err = likelihood_error(trained_dinof, x, BF16, rtol=1e-2)
    assert err["max_abs"] <= 1e-3 and err["max_abs"] == 0


def test_sampling_under_the_policy_keeps_the_state_float32(trained_dinof):
    kw = {"n_steps": 5, "T_m": 0.6}
    ref = trained_dinof.sample_result(4, generator=torch.Generator().manual_seed(5), **kw)
    with BF16.autocast():
        got = trained_dinof.sample_result(4, generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(got.x_Tm, ref.x_Tm)  # the flow's inverse: float32, bit for bit
    assert got.x.dtype == torch.float32 and torch.isfinite(got.x).all()
    rel = (got.x - ref.x).norm() / ref.x.norm()
    assert 0 < rel < 0.05  # only the score network's bf16 error moves the samples


def test_float32_decorator_casts_half_inputs_and_leaves_plain_calls_alone():
    @float32
    def f(a, *, b):
        return a @ b, torch.is_autocast_enabled("cpu")

    a = torch.randn(3, 3)
    with BF16.autocast():
        out, inside = f(a.bfloat16(), b=a)
    assert out.dtype == torch.float32 and not inside
    out, _ = f(a, b=a)
    assert torch.equal(out, a @ a)


def test_precision_names_and_defaults(monkeypatch):
    assert resolve_precision(None, "cpu").mode == "float32"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    assert resolve_precision(None, torch.device("cuda", 0)).mode == "bf16"  # the T4: fp16
    assert resolve_precision("bf16", "cpu").autocast_dtype == torch.bfloat16
    assert "float32" in Precision().describe() and not Precision().mixed
    with pytest.raises(ValueError, match="unknown precision 'fp8'; valid: float32, bf16, fp16"):
        Precision("fp8")
