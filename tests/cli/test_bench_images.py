"""``bench train`` and ``bench sampling`` on digits: the rows they print (no timing is asserted:
machines differ)."""

from __future__ import annotations

import importlib

from dinof_lite.cli.bench import run_benchmark
from dinof_lite.experiment.configs import build_model, get_config


def test_bench_train_smoke_row(monkeypatch):
    """The row's structure and arithmetic on a fake clock (a real one is never compared).

    (The ratio used to be checked against the ratio of the two times rounded to 0.1 ms, which is
    off by up to ~1 % of a few-ms time: the check failed now and then.)
    """
    fake = iter([40.5, 52.5])  # score-only, then joint (interleaved, one repeat)

    def fake_best_ms(step, device, repeats):
        step()  # the update still runs
        return next(fake)

    monkeypatch.setattr(
        importlib.import_module("dinof_lite.cli.bench.train"), "_best_ms", fake_best_ms
    )
    (row,) = run_benchmark("train", device="cpu", repeats=1, size="smoke", paths=())
    model = build_model(get_config("digits_cpu_smoke"))
    assert row["config"] == "digits_cpu_smoke" and row["batch"] == 4
    assert row["unet params"] == sum(p.numel() for p in model.score_net.parameters())
    assert row["flow params"] == model.flow.num_parameters()
    assert (row["score-only ms"], row["joint ms"]) == (40.5, 52.5)
    assert row["score-only img/s"] == round(1e3 * 4 / 40.5, 1)
    assert row["joint img/s"] == round(1e3 * 4 / 52.5, 1)
    assert row["joint / score-only"] == round(52.5 / 40.5, 3)


def test_bench_sampling_on_digits_smoke_rows():
    rows = run_benchmark("sampling", device="cpu", repeats=1, size="smoke", model="dinof_digits")
    head = [r for r in rows if r["case"].startswith("digits T_m=0.6")]
    dinof, base = (next(r for r in head if r["method"] == m) for m in ("dinof", "baseline"))
    assert (dinof["nfe"], base["nfe"]) == (12, 20)  # RD + Langevin: 2 calls a step, 6 vs 10 steps
    assert dinof["fid"] > 0 and base["fid"] > 0 and "floor" in base["note"]
    assert base["speedup"] == 1 and dinof["speedup"] > 0
