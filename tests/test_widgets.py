"""dinof_lite.viz.widgets: the T_m explorer samples, caches and redraws without a display."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection

from dinof_lite import viz
from dinof_lite.dinof import DiNof
from dinof_lite.flows import Glow
from dinof_lite.nets.mlp import ScoreMLP
from dinof_lite.sde import VPSDE

pytestmark = pytest.mark.usefixtures("no_show")


@pytest.fixture(scope="module")
def any_model(tiny_any_tm_dinof) -> DiNof:
    """The shared tiny untrained any-T_m DiNof (conftest)."""
    return tiny_any_tm_dinof


@pytest.fixture(scope="module")
def single_model() -> DiNof:
    torch.manual_seed(0)
    sde = VPSDE(N=100)
    flow = Glow((2,), levels=1, steps=2, hidden=16)
    return DiNof(sde, ScoreMLP.for_sde(sde, hidden=16), flow, T_m=0.5)


def test_default_grids(any_model, single_model):
    e = viz.TmExplorer(any_model, n=10)
    np.testing.assert_allclose(e.T_m_values, np.arange(1, 11) / 10)
    assert e.step == pytest.approx(0.1)
    assert e.snap(0.52) == 0.5 and e.snap(0.0) == 0.1 and e.snap(7) == 1.0
    s = viz.TmExplorer(single_model, n=10)
    assert s.T_m_values == [0.5]
    assert viz.TmExplorer(any_model, T_m_values=[0.7, 0.3, 0.3]).T_m_values == [0.3, 0.7]


def test_update_counts_and_cache(any_model):
    e = viz.TmExplorer(any_model, n=50, n_paths=5, reference=torch.randn(20, 2))
    info = e.update(0.3)
    assert info["T_m"] == 0.3 and info["cached"] is False
    assert info["n_steps"] == round(100 * 0.3) and info["nfe"] == 30
    assert info["sample_s"] >= 0 and info["redraw_s"] > 0
    first = e.sample(0.3)
    again = e.update(0.31)  # snapped to the grid value 0.3
    assert again["T_m"] == 0.3 and again["cached"] is True
    assert e.sample(0.3) is first
    ax_j, ax_x = e.figure.axes
    flow_lc, sde_lc = [c for c in ax_j.get_children() if isinstance(c, LineCollection)]
    assert len(flow_lc.get_segments()) == 5 and len(sde_lc.get_segments()) == 5
    assert len(sde_lc.get_segments()[0]) == 31  # x(T_m) + 30 SDE states
    assert "T_m = 0.3" in ax_j.texts[0].get_text()
    assert e.png.startswith(b"\x89PNG")
    info = e.update(0.9)  # same figure, redrawn
    assert info["n_steps"] == 90 and info["cached"] is False
    assert e.figure.axes == [ax_j, ax_x]
    assert len([c for c in ax_j.get_children() if isinstance(c, LineCollection)]) == 2
    assert "T_m = 0.9" in ax_j.texts[0].get_text()


def test_same_seed_gives_identical_samples(any_model):
    a = viz.TmExplorer(any_model, n=20, seed=3).sample(0.4)
    b = viz.TmExplorer(any_model, n=20, seed=3).sample(0.4)
    c = viz.TmExplorer(any_model, n=20, seed=4).sample(0.4)
    torch.testing.assert_close(a.x, b.x)
    torch.testing.assert_close(a.sde_states, b.sde_states)
    assert not torch.allclose(a.x, c.x)


def test_precompute_and_plotly(any_model):
    e = viz.TmExplorer(
        any_model, T_m_values=[0.2, 0.6], n=30, n_paths=3, sample_kwargs={"n_steps": 7}
    )
    assert e.precompute(progress=False) is e
    assert all(e.is_cached(t) for t in (0.2, 0.6))
    assert e.update(0.6)["cached"] is True and e.update(0.6)["n_steps"] == 7
    fig = e.plotly(title="grid")
    assert [f.name for f in fig.frames] == ["0.2", "0.6"]
    assert len(fig.data) == 5  # no reference trace
    assert len(list(fig.frames[0].data[0].x)) == 3 * (len(e.sample(0.2).flow_states) + 1)


def test_widget_builds_and_slider_drives_update(any_model):
    pytest.importorskip("ipywidgets")
    e = viz.TmExplorer(any_model, T_m_values=[0.2, 0.4, 0.6], n=20, n_paths=3)
    ui = e.widget()
    slider, label, image = ui.children
    assert slider.min == 0.2 and slider.max == 0.6 and slider.step == pytest.approx(0.2)
    assert slider.continuous_update is False
    start = e.snap(any_model.T_m)  # the slider starts at the model's own T_m
    assert slider.value == pytest.approx(start) and f"T_m = {start:g}" in label.value
    slider.value = 0.25  # snapped to 0.2 by the callback
    assert slider.value == pytest.approx(0.2)
    assert "T_m = 0.2" in label.value and "20 steps" in label.value
    assert image.value == e.png and e.is_cached(0.2) and not e.is_cached(0.6)
    png = e.png
    e.update(0.6)  # called from code: the slider follows, so slider, label and figure agree
    assert slider.value == pytest.approx(0.6) and "T_m = 0.6" in label.value
    assert image.value == e.png != png


def test_single_T_m_widget_and_errors(single_model, any_model):
    pytest.importorskip("ipywidgets")
    e = viz.TmExplorer(single_model, n=10, n_paths=2)
    (slider, label, _) = e.widget().children
    assert slider.disabled and "T_m = 0.5" in label.value
    with pytest.raises(ValueError, match="trained at T_m=0.5 only"):
        viz.TmExplorer(single_model, T_m_values=[0.3], n=5).update(0.3)
    with pytest.raises(ValueError, match="outside the range"):
        viz.TmExplorer(any_model, T_m_values=[0.05], n=5).sample(0.05)
    with pytest.raises(ValueError, match="at least one"):
        viz.TmExplorer(any_model, T_m_values=[])
    with pytest.raises(ValueError, match="must not set 'T_m'"):
        viz.TmExplorer(any_model, sample_kwargs={"T_m": 0.2})
    with pytest.raises(ValueError, match="n must be"):
        viz.TmExplorer(any_model, n=0)


def test_enable_colab_widgets_outside_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import fails like outside Colab
    assert viz.enable_colab_widgets() is False


def test_enable_colab_widgets_in_colab(monkeypatch):
    calls = []
    google, colab = types.ModuleType("google"), types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert viz.enable_colab_widgets() is True and calls == [1]
