"""Training memory on paper: the estimate extrapolated from two small batches lands within 20 % of
the peak measured at the large batch, and the tensor counter counts what it should."""

from __future__ import annotations

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
    assert [r["config"] for r in rows] == ["cifar10_ve_smoke"]
    assert rows[0]["activations GiB"] >= 0 and rows[0]["params (M)"] == 0.2
