"""Training memory on paper: the estimate extrapolated from two small batches lands within 20 % of
the peak measured at the large batch, and the tensor counter counts what it should."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dinof_lite.cli.bench import run_benchmark
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.memory import (
    GIB,
    TensorMemory,
    estimate_memory,
    gpus_that_fit,
    measure_step,
)
from dinof_lite.precision import Precision


def test_tensor_memory_counts_live_storages_once_and_forgets_freed_ones():
    with TensorMemory() as mem:
        a = torch.ones(1000)  # 4000 bytes
        view = a[:10]  # a view: no new storage
        b = torch.zeros(500, dtype=torch.bfloat16)  # 1000 bytes
        assert mem.current == 5000
        del a, view, b
        assert mem.current == 0 and mem.peak == 5000
        c = torch.ones(250)
        mem.reset_peak()
        assert mem.peak == mem.current == 1000
        del c


@pytest.fixture(scope="module")
def estimates():
    cfg = get_config("cifar10_ve_smoke")
    return estimate_memory(cfg, 32, "bf16"), estimate_memory(cfg, 32, "float32", probes=(8, 16))


def test_estimate_is_within_20_percent_of_the_measured_peak(estimates):
    cfg, batch, est = get_config("cifar10_ve_smoke"), 32, estimates[0]
    assert est.probes[1] < batch  # extrapolated (probes picked as (b, 2b)), not measured

    torch.manual_seed(0)
    model = build_model(cfg).train()
    opt = torch.optim.Adam(model.parameters())
    x0 = torch.rand(batch, *cfg.shape, generator=torch.Generator().manual_seed(1))
    measure_step(model, opt, x0, Precision("bf16"))  # Adam's state, as in the estimate
    step = measure_step(model, opt, x0, Precision("bf16"))
    params = sum(p.numel() for p in model.parameters())
    measured = 4 * 4 * params + 2 * sum(b.numel() * b.element_size() for b in model.buffers())
    measured += max(step["peak_backward"], step["peak_optimizer"])
    assert abs(est.total - measured) <= 0.2 * measured
    assert abs(est.activations - step["activations"]) <= 0.2 * step["activations"]
    assert est.params == est.gradients == est.adam // 2 == 4 * params


def test_bf16_policy_saves_activation_memory(estimates):
    bf16, fp32 = estimates
    assert 0.5 < bf16.activations / fp32.activations < 0.9  # the flow stays float32


def test_gpu_matching_and_table_rows(estimates):
    assert gpus_that_fit(10 * GIB)[0] == "T4 / V100 16 GB"
    assert gpus_that_fit(60 * GIB)[0] == "A100 / H100 80 GB"
    assert gpus_that_fit(200 * GIB) == []
    row = estimates[0].row()
    assert row["config"] == "cifar10_ve_smoke" and row["precision"] == "bf16"
    assert row["smallest GPU"] == "T4 / V100 16 GB" and row["peak GiB"] > 0
    assert estimates[0].gpus_needed(80) == 1
    with pytest.raises(ValueError, match="probes must be two batch sizes"):
        estimate_memory(get_config("cifar10_ve_smoke"), 8, probes=(4, 2))


def test_bench_train_memory_prints_the_paper_configs_table():
    rows = run_benchmark("train", device="cpu", size="smoke", memory=True)
    assert [(r["config"], r["job"], r["precision"]) for r in rows] == [
        ("cifar10_ve_smoke", "joint", "bf16"),
        ("cifar10_ve_smoke", "flow only", "fp16"),  # the T4 row: a frozen score network
    ]
    assert rows[0]["activations GiB"] >= 0 and rows[0]["params (M)"] == 0.2
    assert rows[1]["params (M)"] == 0.2  # the frozen score network is still held


def test_flow_only_estimate_counts_the_frozen_score_network_once():
    """Frozen score network: its weights once; gradients, Adam and the EMA of the flow only; the
    estimate within 20 % of one measured step at the large batch."""
    cfg, batch = dataclasses.replace(get_config("cifar10_ve_smoke"), train_score=False), 32
    est = estimate_memory(cfg, batch, "fp16")
    torch.manual_seed(0)
    model = build_model(cfg).train()
    flow = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in flow} == {id(p) for p in model.flow.parameters()}
    n_flow = sum(p.numel() for p in flow)
    n_all = sum(p.numel() for p in model.parameters())
    assert est.n_params == n_all and est.params == 4 * n_all
    assert est.gradients == 4 * n_flow and est.adam == 8 * n_flow and est.job == "flow only"
    flow_buffers = sum(b.numel() * b.element_size() for b in model.flow.buffers())
    assert est.ema == 4 * n_flow + flow_buffers  # the score network is shared, not copied

    opt = torch.optim.Adam(flow)
    x0 = torch.rand(batch, *cfg.shape, generator=torch.Generator().manual_seed(1))
    measure_step(model, opt, x0, Precision("fp16"))
    step = measure_step(model, opt, x0, Precision("fp16"))
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    measured = 4 * n_all + 12 * n_flow + buffers + flow_buffers
    measured += max(step["peak_backward"], step["peak_optimizer"])
    assert abs(est.total - measured) <= 0.2 * measured
