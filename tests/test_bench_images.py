"""``bench train`` and ``bench sampling`` on digits: the rows they print (no timing is asserted:
machines differ)."""

from __future__ import annotations

import torch

from dinof_lite.cli.bench import run_benchmark
from dinof_lite.experiment.configs import build_model, get_config


def test_bench_train_smoke_row():
    (row,) = run_benchmark("train", device="cpu", repeats=1, size="smoke")
    model = build_model(get_config("digits_cpu_smoke"))
    assert row["config"] == "digits_cpu_smoke" and row["batch"] == 4
    assert row["unet params"] == sum(p.numel() for p in model.score_net.parameters())
    assert row["flow params"] == model.flow.num_parameters()
    for key in ("score-only img/s", "joint img/s", "joint / score-only"):
        assert row[key] > 0 and torch.isfinite(torch.tensor(float(row[key])))
    assert abs(row["joint / score-only"] - row["joint ms"] / row["score-only ms"]) < 0.01


def test_bench_sampling_on_digits_smoke_rows():
    rows = run_benchmark("sampling", device="cpu", repeats=1, size="smoke", model="dinof_digits")
    head = [r for r in rows if r["case"].startswith("digits T_m=0.6")]
    dinof, base = (next(r for r in head if r["method"] == m) for m in ("dinof", "baseline"))
    assert (dinof["nfe"], base["nfe"]) == (12, 20)  # RD + Langevin: 2 calls a step, 6 vs 10 steps
    assert dinof["fid"] > 0 and base["fid"] > 0 and "floor" in base["note"]
    assert base["speedup"] == 1 and dinof["speedup"] > 0
