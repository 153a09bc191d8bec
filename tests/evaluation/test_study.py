"""dinof_lite.evaluation.tm_study: the T_m study (quality and speed vs T_m next to the baseline)."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.figure import Figure

from dinof_lite.data import toy
from dinof_lite.dinof import DiNof
from dinof_lite.evaluation.tm_study import (
    TM_GRID,
    first_match,
    noise_floor,
    plot_tm_study,
    tm_study,
)
from dinof_lite.sde import VPSDE
from tests.factories import tiny_dinof

GMM = toy.GaussianMixture.preset("8gaussians")
KEYS = {
    "method",
    "T_m",
    "n",
    "n_steps",
    "nfe",
    "wall_s",
    "flow_time_s",
    "sde_time_s",
    "mmd",
    "sw",
    "gmm_nll",
    "nll",
    "n_nonfinite",
    "speedup",
}


def tiny(any_T_m: bool = True) -> DiNof:
    """An untrained 2D DiNof (VP, N = 100), any-T_m on [0.1, 1] or single-T_m at 0.5."""
    return tiny_dinof(VPSDE(N=100), any_tm=any_T_m).eval()


@pytest.fixture(scope="module")
def study() -> list[dict]:
    ref = GMM.sample(200, torch.Generator().manual_seed(1))
    return tm_study(tiny(), [0.6, 0.2], n=200, reference=ref, gmm=GMM, repeats=2, n_likelihood=8)


def test_rows_keys_order_and_nfe(study):
    assert [(r["method"], r["T_m"]) for r in study] == [
        ("dinof", 0.2),
        ("dinof", 0.6),
        ("baseline", 1.0),
    ]
    for r in study:
        assert set(r) == KEYS and r["n"] == 200 and r["n_nonfinite"] == 0
        assert math.isfinite(r["mmd"]) and r["sw"] >= 0 and math.isfinite(r["gmm_nll"])
        assert r["wall_s"] >= r["sde_time_s"] > 0
    base = study[-1]
    assert base["nfe"] == base["n_steps"] == 100 and base["speedup"] == 1.0 and base["nll"] is None
    assert base["flow_time_s"] == 0.0
    for r in study[:-1]:
        assert r["nfe"] == r["n_steps"] == round(100 * r["T_m"])  # Euler–Maruyama: 1 eval per step
        # the definition, from the unrounded times; no wall-clock comparison (e.g. speedup > 1)
        assert r["speedup"] == pytest.approx(base["wall_s"] / r["wall_s"]) and r["speedup"] > 0
        assert math.isfinite(r["nll"]) and r["flow_time_s"] > 0


def test_same_seed_same_quality_and_options():
    ref = GMM.sample(100, torch.Generator().manual_seed(1))
    model = tiny()
    a = tm_study(model, [0.5], n=100, reference=ref, baseline=False, n_steps_full=20)
    b = tm_study(model, [0.5], n=100, reference=ref, baseline=False, n_steps_full=20)
    assert len(a) == 1 and a[0]["nfe"] == 10 and a[0]["speedup"] is None and a[0]["gmm_nll"] is None
    assert a[0]["mmd"] == b[0]["mmd"] and a[0]["sw"] == b[0]["sw"]
    lang = tm_study(
        model, [0.5], n=50, reference=ref, baseline=False, n_steps_full=20, corrector="langevin"
    )
    assert lang[0]["nfe"] == 20  # one predictor + one corrector evaluation per step


def test_single_tm_model_runs_its_own_tm_and_refuses_the_baseline():
    ref = GMM.sample(100, torch.Generator().manual_seed(1))
    rows = tm_study(tiny(False), TM_GRID, n=50, reference=ref, baseline=False, n_steps_full=20)
    assert [r["T_m"] for r in rows] == [0.5]
    with pytest.raises(ValueError, match="baseline=False"):
        tm_study(tiny(False), [0.5], n=50, reference=ref)
    with pytest.raises(ValueError, match="outside the range"):
        tm_study(tiny(), [0.05], n=50, reference=ref)


def test_noise_floor_from_gmm_or_sampler():
    fl = noise_floor(GMM, 300, n_pairs=2)
    assert (
        set(fl) == {"n", "n_pairs", "mmd", "sw"}
        and fl["n"] == 300
        and fl["mmd"] >= 0
        and fl["sw"] > 0
    )
    same = noise_floor(lambda n, s: GMM.sample(n, torch.Generator().manual_seed(s)), 300, n_pairs=2)
    assert same == fl  # a gmm draws with Generator().manual_seed(seed) too


def _row(method, T_m, mmd, sw=0.1):
    return {"method": method, "T_m": T_m, "mmd": mmd, "sw": sw}


def test_first_match_rule():
    rows = [
        _row("dinof", 0.4, 0.030),
        _row("dinof", 0.2, 0.050),
        _row("dinof", 0.6, 0.012),
        _row("dinof", 0.8, 0.009),
        _row("baseline", 1.0, 0.010),
    ]
    assert first_match(rows, "mmd")["T_m"] == 0.8  # strictly no worse than the baseline
    assert first_match(rows, "mmd", floor=0.002)["T_m"] == 0.6  # within the noise floor
    assert first_match(rows, "mmd", floor={"mmd": 0.025, "sw": 0.0})["T_m"] == 0.4
    assert first_match(rows, "mmd", floor=0.05)["T_m"] == 0.2  # the smallest T_m, not the best
    assert first_match(rows[:1] + rows[2:4], "mmd") is None and first_match(rows, "mmd", -1) is None
    with pytest.raises(ValueError, match="unknown metric"):
        first_match(rows, "fid")


def test_plot_returns_a_figure(study, no_show):
    fig = plot_tm_study(study, floor={"mmd": 1e-3, "sw": 0.05})
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # three panels + the NFE twin axis
    assert fig.axes[0].get_xlabel() == "$T_m$"
    with pytest.raises(ValueError, match="no DiNof row"):
        plot_tm_study(study[-1:])
