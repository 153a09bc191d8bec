"""The frontier: points, first match, quality at equal NFE, its JSON record and table, the
KDE KL that judges 2D samples, the stored reference, the bench's smoke run."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dinof_lite.cli.bench import run_benchmark
from dinof_lite.cli.main import main
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.density_kl import kde_kl
from dinof_lite.evaluation.frontier import quality_at, summarize
from dinof_lite.evaluation.frontier_report import frontier_record, markdown_table, record_rows
from dinof_lite.evaluation.metrics import gmm_nll
from dinof_lite.evaluation.reference import load_reference, make_reference


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


def test_record_holds_the_schema_and_the_first_match():
    rows = [_row("plain", 10, 0.5), _row("plain", 1000, 0.1, se=0.01)]
    rows += [
        _row("dpm_solver_pp_2m_sde @0.3", 10, 0.2, 0.01),
        _row("dpm_solver_pp_2m_sde @0.3", 20, 0.12, 0.01),
    ]
    rows += [_row("heun", 4, 0.9), _row("dinof 0.6", 600, 0.11)]
    rec = frontier_record(rows, "m", floor=0.0, seeds=(0, 1, 2), n=100)
    assert rec["seeds"] == [0, 1, 2] and rec["reference"] == {
        "method": "plain",
        "nfe": 1000,
        "mean": 0.1,
        "se": 0.01,
    }
    sde = rec["methods"]["dpm_solver_pp_2m_sde @0.3"]
    assert sde == {
        "start": "T_m=0.3",
        "stochastic": True,
        "nfe": [10, 20],
        "mean": [0.2, 0.12],
        "se": [0.01, 0.01],
        "first_match": 20,
    }  # 0.12 - 0.1 <= 2·√2·0.01
    assert (
        rec["methods"]["heun"]["stochastic"] is False
        and rec["methods"]["heun"]["first_match"] is None
    )
    assert rec["methods"]["dinof 0.6"]["start"] == "T_m=0.6"
    assert record_rows(json.loads(json.dumps(rec)))[2] == {
        "method": "dpm_solver_pp_2m_sde @0.3",
        "nfe": 10,
        "m": 0.2,
        "m_se": 0.01,
    }
    table = markdown_table({"2d": rec})
    assert "| `dpm_solver_pp_2m_sde @0.3` | T_m=0.3 | yes | **20** (0.12 ± 0.01) |" in table
    assert "| `heun` | p_T | no | > 4 (0.9 ± 0) |" in table


def test_kde_kl_of_one_gaussian_is_the_closed_form_and_penalises_collapse():
    """Samples of N(0, 0.6² I) against p = N(0, 0.5² I): both smoothed by h = 0.15 the KL is
    that of N(0, 0.3825 I) from N(0, 0.2725 I), a/b − 1 − log(a/b) = 0.0646; true samples give
    the estimate's noise only. On the 8 Gaussians, samples pulled halfway to their modes score
    *below* the data entropy in NLL (looks better) but far above true samples in KL."""
    p = GaussianMixture(torch.zeros(1, 2), 0.25 * torch.eye(2)[None], torch.ones(1))
    g = torch.Generator().manual_seed(0)
    wide = 0.6 * torch.randn(20_000, 2, generator=g)
    r = (0.36 + 0.0225) / (0.25 + 0.0225)
    assert kde_kl(p, wide) == pytest.approx(r - 1 - math.log(r), abs=0.006)
    assert kde_kl(p, 0.5 * torch.randn(20_000, 2, generator=g)) < 0.004
    gmm = GaussianMixture.preset("8gaussians")
    x = gmm.sample(2000, torch.Generator().manual_seed(1)).double()
    nearest = gmm.means[torch.cdist(x, gmm.means).argmin(1)]
    shrunk = nearest + 0.5 * (x - nearest)
    assert gmm_nll(gmm, shrunk) < gmm_nll(gmm, x) - 0.3
    assert kde_kl(gmm, shrunk) > 5 * kde_kl(gmm, x)
    with pytest.raises(ValueError, match="2D samples"):
        kde_kl(gmm, torch.zeros(3, 3))


def test_stored_reference_round_trip_and_refusals(tmp_path):
    class Tiny:  # plain_sample needs sde, score_fn, dims, sample_eps
        from dinof_lite.sde import VPSDE

        sde, dims, sample_eps = VPSDE(N=10), (2,), 1e-3
        score_fn = staticmethod(GaussianMixture.preset("8gaussians").score_fn(sde))

    rec = make_reference(
        Tiny(),
        lambda x, seed: float(x.square().mean()),
        n_steps=5,
        n=8,
        seeds=(0, 1),
        name="toy",
        model_name="tiny",
        metric="m2",
        command="cmd",
        directory=tmp_path,
    )
    assert rec["nfe"] == 5 and rec["values"][0] != rec["values"][1] and rec["command"] == "cmd"
    assert torch.load(tmp_path / "toy_samples.pt").shape == (2, 8, 2)
    assert load_reference("toy", model="tiny", n=8, seeds=(0, 1), directory=tmp_path) == rec
    with pytest.raises(ValueError, match="this run needs"):
        load_reference("toy", model="tiny", n=16, seeds=(0, 1), directory=tmp_path)
    (tmp_path / "toy_samples.pt").write_bytes(b"changed")
    with pytest.raises(ValueError, match="not the file"):
        load_reference("toy", model="tiny", n=8, seeds=(0, 1), directory=tmp_path)
    with pytest.raises(ValueError, match="frontier_reference.py other"):
        load_reference("other", model="tiny", n=8, seeds=(0, 1), directory=tmp_path)


def test_bench_frontier_smoke_runs_every_method(tmp_path, capsys):
    path = tmp_path / "frontier.json"
    path.write_text(json.dumps({"digits": {"kept": True}}))
    assert (
        main(["bench", "frontier", "--size", "smoke", "--datasets", "2d", "--json", str(path)]) == 0
    )
    rec = json.loads(path.read_text())
    assert rec["digits"] == {"kept": True}  # another dataset's record is kept
    methods = rec["2d"]["methods"]
    assert set(methods) == {
        "plain",
        "dinof 0.6",
        "dpm_solver_pp_2m",
        "dpm_solver_pp_2m @0.6",
        "dpm_solver_pp_2m_sde",
        "dpm_solver_pp_2m_sde @0.6",
    }
    assert methods["dinof 0.6"]["nfe"] == [6, 24]  # round(N·0.6)
    assert rec["2d"]["metric"] == "kde_kl" and rec["2d"]["nll"]["two_sided"] is True
    assert rec["2d"]["command"].endswith(f"--datasets 2d --json {path}")
    assert (tmp_path / "frontier_2d.png").stat().st_size > 10_000
    assert "first match NFE" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown datasets"):
        run_benchmark("frontier", size="smoke", device="cpu", datasets=("cifar",))


def test_plot_frontier_keeps_the_curves_in_view_and_the_legend_off_them():
    import matplotlib

    matplotlib.use("Agg")
    from dinof_lite.evaluation.frontier import plot_frontier

    rows = [
        {"method": "plain", "nfe": n, "nll": v, "nll_se": 0.01}
        for n, v in ((10, 3.5), (100, 3.2), (1000, 3.1))
    ]
    rows += [
        {"method": "heun @0.6", "nfe": n, "nll": v, "nll_se": 0.01}
        for n, v in ((4, 40.0), (8, 3.3), (16, 3.12))
    ]
    ax = plot_frontier(rows, "nll", floor=0.05)
    lo, hi = ax.get_ylim()
    assert lo < 3.05 and 3.5 < hi < 4.0  # the 4-NFE outlier (40) is clipped, not in range
    box = ax.get_legend().get_window_extent()
    assert box.x0 > ax.get_window_extent().x1  # the legend sits right of the axes
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"plain", "heun @0.6"}
