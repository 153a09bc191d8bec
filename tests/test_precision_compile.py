"""channels-last and ``torch.compile`` on CPU give the eager outputs within float tolerance —
UNet, Glow, the joint loss and its gradients — and a compiled training step runs.

The tests compile with the ``aot_eager`` backend: the same Dynamo graph capture and AOTAutograd
forward / backward graphs that inductor lowers, run by eager kernels. Inductor itself generates
and builds C++ kernels, which on this 2-core CPU took minutes even for a 4×4 UNet from a cold
cache (measured 280 s for the forward alone under load) — far over the test budget; its speed
and outputs are measured by ``python -m dinof_lite bench train`` (the ``compiled`` columns)."""

from __future__ import annotations

import copy

import pytest
import torch

from dinof_lite.cli.bench import run_benchmark
from dinof_lite.dinof import DiNof, training_loss
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.flows import Glow
from dinof_lite.nets.unet import UNet, UNetConfig
from dinof_lite.sde import get_sde

CL = torch.channels_last
BACKEND = "aot_eager"


def smoke_model():
    torch.manual_seed(0)
    model = build_model(get_config("cifar10_ve_smoke")).train()
    x0 = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(x0, torch.Generator().manual_seed(0))  # ActNorm's init
    return model, x0


def loss_and_grads(model, x0, seed: int = 1):
    model.zero_grad(set_to_none=True)
    loss = training_loss(model, x0, torch.Generator().manual_seed(seed))
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return loss.detach(), grads


def assert_grads_close(got, ref, rtol: float) -> None:
    for g, r in zip(got, ref, strict=True):
        assert torch.allclose(g, r, rtol=rtol, atol=rtol * r.abs().max().clamp_min(1e-12))


def test_channels_last_equals_eager():
    model, x0 = smoke_model()
    label = torch.linspace(0.5, 5.0, 4)
    with torch.no_grad():
        out = model.score_net(x0, label)
        z, logdet = model.flow(x0)
        x_back = model.flow.inverse(z)
    loss, grads = loss_and_grads(model, x0)

    cl = copy.deepcopy(model).to(memory_format=CL)
    x_cl = x0.contiguous(memory_format=CL)
    assert next(p for p in cl.score_net.parameters() if p.dim() == 4).is_contiguous(
        memory_format=CL
    )
    with torch.no_grad():
        assert torch.allclose(cl.score_net(x_cl, label), out, rtol=1e-5, atol=1e-6)
        z_cl, logdet_cl = cl.flow(x_cl)
        assert torch.allclose(z_cl, z, rtol=1e-5, atol=1e-6)
        assert torch.allclose(logdet_cl, logdet, rtol=1e-6, atol=1e-4)
        assert torch.allclose(cl.flow.inverse(z_cl.contiguous(memory_format=CL)), x_back, atol=1e-5)
    loss_cl, grads_cl = loss_and_grads(cl, x_cl)
    assert torch.allclose(loss_cl, loss, rtol=1e-6)
    assert_grads_close(grads_cl, grads, rtol=1e-4)


def micro_model():
    """A DiNof small enough to trace quickly: a one-level UNet with attention, a one-step Glow."""
    sde = get_sde("ve", sigma_min=0.01, sigma_max=10.0, N=10)
    torch.manual_seed(0)
    unet = UNetConfig.tiny(image_size=4, in_channels=1, nf=8, ch_mult=(1,), attn_resolutions=(4,))
    model = DiNof(sde, UNet.for_sde(sde, unet), Glow((1, 4, 4), levels=1, steps=1, hidden=8))
    x0 = torch.rand(4, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(x0, torch.Generator().manual_seed(0))  # ActNorm's init
    return model.train(), x0


@pytest.mark.slow
def test_compiled_equals_eager_and_a_compiled_training_step_runs():
    torch._dynamo.reset()
    model, x0 = micro_model()
    loss, grads = loss_and_grads(model, x0)
    compiled = copy.deepcopy(model)
    compiled.score_net.compile(backend=BACKEND)  # what `train --compile` does, with inductor
    loss_c, grads_c = loss_and_grads(compiled, x0)
    assert torch.allclose(loss_c, loss, rtol=1e-5)
    assert_grads_close(grads_c, grads, rtol=1e-3)

    opt = torch.optim.Adam(compiled.parameters(), lr=1e-3)  # one compiled training step
    before = copy.deepcopy(compiled.state_dict())
    loss_step = training_loss(compiled, x0, torch.Generator().manual_seed(2))
    loss_step.backward()
    opt.step()
    assert torch.isfinite(loss_step)
    changed = [k for k, v in compiled.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("score_net.") for k in changed)
    assert any(k.startswith("flow.") for k in changed)

    flow = model.flow.eval()  # the flow compiled on its own: forward and inverse
    with torch.no_grad():
        z, logdet = flow(x0)
        z_c, logdet_c = torch.compile(flow, backend=BACKEND)(x0)
        x_c = torch.compile(flow.inverse, backend=BACKEND)(z)
    assert torch.allclose(z_c, z, rtol=1e-5, atol=1e-6)
    assert torch.allclose(logdet_c, logdet, rtol=1e-5, atol=1e-4)
    assert torch.allclose(x_c, flow.inverse(z), atol=1e-5)


def test_bench_train_reports_each_path_beside_eager():
    (row,) = run_benchmark(
        "train", device="cpu", repeats=1, size="smoke", paths=("bf16", "channels_last")
    )
    for path in ("bf16", "channels_last"):
        assert row[f"{path} img/s"] > 0
        ratio = row["joint ms"] / (1e3 * row["batch"] / row[f"{path} img/s"])
        assert abs(row[f"{path} / eager"] - ratio) < 0.05 * ratio + 1e-3
