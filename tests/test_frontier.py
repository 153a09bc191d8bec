"""The frontier: points, first match, quality at equal NFE, the bench's smoke run."""

from __future__ import annotations

import pytest

from dinof_lite.cli.bench import run_benchmark
from dinof_lite.evaluation.frontier import quality_at, summarize


def _row(method, nfe, v, se=0.0):
    return {"method": method, "T_m": 1.0, "steps": nfe, "nfe": nfe, "m": v, "m_se": se}


def test_summary_finds_the_first_match_and_interpolates_in_log_nfe():
    rows = [_row("plain", 10, 0.5), _row("plain", 100, 0.2), _row("plain", 1000, 0.1)]
    rows += [_row("fast", 5, 0.3), _row("fast", 20, 0.105, se=0.01), _row("fast", 40, 0.09)]
    out = {r["method"]: r for r in summarize(rows, "m", floor=0.0, nfe_grid=(10, 20))}
    assert out["plain"]["first match NFE"] == 1000 and out["plain"]["speed-up"] == 1.0
    # 0.105 <= 0.1 + 2 * hypot(0, 0.01): a match within two standard errors
    assert out["fast"]["first match NFE"] == 20 and out["fast"]["speed-up"] == 50.0
    assert quality_at(rows, "plain", 10**1.5, "m") == pytest.approx(0.35)
    assert quality_at(rows, "fast", 100, "m") is None and out["fast"]["@10"] == pytest.approx(
        0.3 + (0.105 - 0.3) / 2
    )


def test_bench_frontier_smoke_runs_every_method(tmp_path, capsys):
    rows = run_benchmark(
        "frontier", size="smoke", device="cpu", out=str(tmp_path), datasets=("2d",)
    )
    methods = {r["method"] for r in rows}
    assert methods == {"plain", "dinof 0.6", "dpm_solver_pp_2m", "dpm_solver_pp_2m @0.6"}
    assert {r["nfe"] for r in rows if r["method"] == "dinof 0.6"} == {6, 24}  # round(N·0.6)
    assert (tmp_path / "frontier_2d.png").stat().st_size > 10_000
    assert "first match NFE" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown datasets"):
        run_benchmark("frontier", size="smoke", device="cpu", datasets=("cifar",))
