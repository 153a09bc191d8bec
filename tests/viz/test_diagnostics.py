"""dinof_lite.viz.diagnostics: the score-error estimators and the training/sampling figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sde import VESDE, VPSDE
from dinof_lite.viz import diagnostics as dg

GMM = GaussianMixture.preset("2gaussians")


pytestmark = pytest.mark.usefixtures("close_figures")


def _x0(n: int = 256, seed: int = 0) -> torch.Tensor:
    return GMM.sample(n, torch.Generator().manual_seed(seed))


def _zero(x, t):
    return torch.zeros_like(x)


# --------------------------------------------------------------------------- score error


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_max=10.0)], ids=lambda s: s.name)
def test_score_error_is_zero_for_the_oracle_and_positive_otherwise(sde):
    oracle = GMM.score_fn(sde)
    g = torch.Generator().manual_seed(1)
    assert dg.score_error(sde, oracle, oracle, _x0(), generator=g) == 0.0
    zero = dg.score_error(sde, _zero, oracle, _x0(), generator=torch.Generator().manual_seed(1))
    # Zero score: E[s² |∇log p_t|²] = E|ε*|², which is of order D = 2 once the noise dominates.
    assert 0.3 < zero < 10


def test_score_error_is_reproducible_with_a_generator():
    sde = VPSDE()
    oracle, x0 = GMM.score_fn(sde), _x0()
    a = dg.score_error(sde, _zero, oracle, x0, generator=torch.Generator().manual_seed(3))
    b = dg.score_error(sde, _zero, oracle, x0, generator=torch.Generator().manual_seed(3))
    assert a == b


def test_score_error_by_time_weighted_and_relative():
    sde = VPSDE()
    oracle, x0, times = GMM.score_fn(sde), _x0(), [0.05, 0.5, 1.0]
    w = dg.score_error_by_time(sde, oracle, oracle, x0, times)
    assert w.shape == (3,) and w.dtype == torch.float64 and torch.all(w == 0)
    rel = dg.score_error_by_time(sde, _zero, oracle, x0, times, kind="relative")
    assert torch.allclose(rel, torch.ones(3, dtype=torch.float64))
    half = dg.score_error_by_time(
        sde, lambda x, t: 0.5 * oracle(x, t), oracle, x0, times, kind="relative"
    )
    assert torch.allclose(half, torch.full((3,), 0.25, dtype=torch.float64), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t_range": (0.0, 1.0)}, "t_range"),
        ({"t_range": (0.5, 0.2)}, "t_range"),
        ({"t_range": (0.1, 2.0)}, "t_range"),
        ({"x0": torch.zeros(5)}, "x0 must be"),
        ({"x0": np.zeros((5, 2))}, "x0 must be"),
    ],
)
def test_score_error_rejects_bad_inputs(kwargs, match):
    sde = VPSDE()
    args = {"x0": _x0(16)} | kwargs
    x0 = args.pop("x0")
    with pytest.raises(ValueError, match=match):
        dg.score_error(sde, _zero, _zero, x0, **args)


def test_score_error_by_time_rejects_bad_inputs():
    sde = VPSDE()
    with pytest.raises(ValueError, match="kind"):
        dg.score_error_by_time(sde, _zero, _zero, _x0(8), [0.5], kind="squared")
    with pytest.raises(ValueError, match="times must lie"):
        dg.score_error_by_time(sde, _zero, _zero, _x0(8), [0.0, 0.5])
    with pytest.raises(ValueError, match="times must be 1-D"):
        dg.score_error_by_time(sde, _zero, _zero, _x0(8), [])


# --------------------------------------------------------------------------- figures


def test_plot_loss_curve_draws_raw_and_smoothed():
    losses = 1.0 + np.exp(-np.arange(200) / 50) + 0.05 * np.random.default_rng(0).random(200)
    ax = dg.plot_loss_curve(None, losses, smooth=20)
    assert isinstance(ax, Axes) and len(ax.lines) == 2 and ax.get_yscale() == "log"
    ax2 = dg.plot_loss_curve(None, torch.tensor([1.0, -1.0, 0.5]), steps=[20, 40, 60], smooth=5)
    assert len(ax2.lines) == 1 and ax2.get_yscale() == "linear"  # too short to smooth; negative


@pytest.mark.parametrize(
    ("losses", "kwargs", "match"),
    [
        ([], {}, "losses must be 1-D"),
        ([[1.0, 2.0]], {}, "losses must be 1-D"),
        ([1.0, float("nan")], {}, "NaN"),
        ([1.0, 2.0], {"steps": [1, 2, 3]}, "steps must have shape"),
        ([1.0, 2.0], {"smooth": 0}, "smooth"),
    ],
)
def test_plot_loss_curve_rejects_bad_inputs(losses, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dg.plot_loss_curve(None, losses, **kwargs)


def test_plot_score_error():
    ax = dg.plot_score_error(None, [0.1, 0.5, 1.0], {"net": [0.3, 0.1, 0.05], "other": np.ones(3)})
    assert len(ax.lines) == 2 and ax.get_xlabel().startswith("diffusion time")
    with pytest.raises(ValueError, match="non-empty mapping"):
        dg.plot_score_error(None, [0.1], {})
    with pytest.raises(ValueError, match=r"errors\['net'\] must have shape"):
        dg.plot_score_error(None, [0.1, 0.5], {"net": [1.0, 2.0, 3.0]})


def test_score_field_comparison_grid():
    sde = VPSDE()
    fns = {"oracle": GMM.score_fn(sde), "zero-ish": lambda x, t: -x}
    fig = dg.score_field_comparison(
        fns, [0.1, 0.5], n_grid=5, log_prob_fns=[GMM.marginal(sde, t).log_prob for t in (0.1, 0.5)]
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert fig.axes[0].get_ylabel() == "oracle"
    with pytest.raises(ValueError, match="non-empty mapping"):
        dg.score_field_comparison({}, [0.1])
    with pytest.raises(ValueError, match="one entry per time"):
        dg.score_field_comparison(fns, [0.1, 0.5], log_prob_fns=[GMM.log_prob])


def test_pc_grid_figure_layout_and_notes():
    x = _x0(50)
    samples = {
        ("euler_maruyama", "langevin"): x,
        ("euler_maruyama", "none"): x,
        ("ancestral", "none"): x,
    }
    fig = dg.pc_grid_figure(samples, reference=x, notes={("ancestral", "none"): "MMD 0.001"})
    axes = np.array(fig.axes).reshape(2, 2)
    assert not axes[1, 0].get_visible()  # ancestral + langevin was not given
    assert axes[1, 1].get_title() == "ancestral + none\nMMD 0.001"
    fig = dg.pc_grid_figure(samples, rows="corrector")
    axes = np.array(fig.axes).reshape(2, 2)
    assert not axes[0, 1].get_visible()  # ancestral + langevin was not given
    assert axes[1, 1].get_title() == "ancestral + none" and axes[1, 0].get_title().endswith("none")
    with pytest.raises(ValueError, match="unknown rows"):
        dg.pc_grid_figure(samples, rows="sde")
    with pytest.raises(ValueError, match="pairs"):
        dg.pc_grid_figure({"euler_maruyama": x})
    with pytest.raises(ValueError, match="non-empty"):
        dg.pc_grid_figure({})
    with pytest.raises(ValueError, match="shape"):
        dg.pc_grid_figure({("a", "b"): torch.zeros(10, 3)})


def test_plot_sweep_with_and_without_seeds():
    ax = dg.plot_sweep(
        None,
        [0.05, 0.16, 0.5],
        {"mmd": [0.01, 0.005, 0.02], "sw": np.ones((3, 4))},
        xlabel="snr",
        ylabel="metric",
        log_x=True,
        reference={"floor": 0.001},
    )
    assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == 3
    with pytest.raises(ValueError, match=r"results\['mmd'\] must have shape"):
        dg.plot_sweep(None, [1, 2], {"mmd": [1.0, 2.0, 3.0]}, xlabel="n", ylabel="m")
    with pytest.raises(ValueError, match="non-empty mapping"):
        dg.plot_sweep(None, [1, 2], {}, xlabel="n", ylabel="m")
    ax = dg.plot_sweep(
        None, [1, 2], {"nll": [3.0, 2.9]}, yerr={"nll": [0.1, 0.1]}, xlabel="n", ylabel="m"
    )
    assert len(ax.containers) == 1 and ax.containers[0].has_yerr
    with pytest.raises(ValueError, match=r"yerr\['nll'\] must have shape"):
        dg.plot_sweep(
            None, [1, 2], {"nll": [3.0, 2.9]}, yerr={"nll": [0.1]}, xlabel="n", ylabel="m"
        )


def test_format_table():
    rows = [
        {"sampler": "em", "mmd": 0.001234567, "nfe": 500},
        {"sampler": "reverse_diffusion", "mmd": float("nan"), "nfe": 1000},
    ]
    text = dg.format_table(rows, digits={"mmd": 2})
    lines = text.splitlines()
    assert lines[0].split() == ["sampler", "mmd", "nfe"] and len(lines) == 4
    assert "0.0012" in lines[2] and "nan" in lines[3] and lines[3].endswith("1000")
    assert dg.format_table(rows, columns=["nfe"]).splitlines()[0].strip() == "nfe"
    with pytest.raises(ValueError, match="at least one row"):
        dg.format_table([])
    with pytest.raises(ValueError, match="lack columns"):
        dg.format_table(rows, columns=["wall"])
