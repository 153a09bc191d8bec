"""dinof_lite.viz.widgets: the T_m sliders snap, refuse non-finite values, cache, and redraw.

Explorers run on the shipped models with few samples and 10 reverse steps (``sample_kwargs``), so
a frame takes ~0.2 s and a 2D dashboard PNG ~0.5 s.
"""

from __future__ import annotations

import struct
import sys
import types

import numpy as np
import pytest
import torch

from dinof_lite import viz
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.pretrained import load_dinof
from dinof_lite.viz.digits_journey import DIGIT_INCHES
from dinof_lite.viz.journey import DASHBOARD_INCHES

pytestmark = pytest.mark.usefixtures("no_show")

GRID = [0.2, 0.4, 0.6]
FAST = {"n": 100, "n_paths": 3, "sample_kwargs": {"n_steps": 10}}
BAD_T_M = [float("nan"), float("inf"), -float("inf"), np.nan, "0.3", True, None]


@pytest.fixture(scope="module")
def model():
    return load_dinof("dinof_8gaussians_vp_anytm")


@pytest.fixture(scope="module")
def digits():
    return load_dinof("dinof_digits")


@pytest.fixture
def explorer(model, gmm) -> viz.TmExplorer:
    return viz.TmExplorer(model, gmm, T_m_values=GRID, **FAST)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def _state(e):
    return e.current, e.png, list(e._frames), list(e._png)


# --------------------------------------------------------------------------- grid and inputs
def test_default_grid_snap_and_step(model, gmm):
    e = viz.TmExplorer(model, gmm)
    np.testing.assert_allclose(e.T_m_values, np.arange(1, 11) / 10)
    assert e.step == pytest.approx(0.1)
    assert e.snap(0.52) == 0.5 and e.snap(0.0) == 0.1 and e.snap(7) == 1.0
    assert e.snap(0.549) == 0.5 and e.snap(0.551) == 0.6
    assert viz.TmExplorer(model, gmm, T_m_values=[0.7, 0.3, 0.3]).T_m_values == [0.3, 0.7]
    single = viz.TmExplorer(load_dinof("dinof_8gaussians_vp"), gmm)
    assert single.T_m_values == [0.6] and single.step == 0.01
    assert e.reference.shape == (1000, 2) and e.mmap.label == "x₁"
    assert viz.TmExplorer(model, gmm, projection=(0, 2)).mmap.label == "x₂"


@pytest.mark.parametrize("n_paths", [0, 11, -1, True, 2.5, "3"])
def test_n_paths_outside_1_to_10_is_refused(model, gmm, n_paths):
    with pytest.raises(ValueError, match="n_paths must be an int in \\[1, 10\\]"):
        viz.TmExplorer(model, gmm, n_paths=n_paths)


def test_n_paths_1_and_10_are_accepted(model, gmm):
    assert viz.TmExplorer(model, gmm, n_paths=1).n_paths == 1
    assert viz.TmExplorer(model, gmm, n_paths=10).n_paths == 10
    assert viz.TmExplorer(model, gmm, n=4, n_paths=10).n_paths == 4  # never more than n


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, r"\bn must be a positive int"),
        ({"n": 2.5}, r"\bn must be a positive int"),
        ({"projection": (0.0, 0.0)}, "projection"),
        ({"projection": (1.0, 2.0, 3.0)}, "projection"),
        ({"seed": "1"}, "seed"),
        ({"T_m_values": []}, "at least one"),
        ({"T_m_values": [0.3, float("nan")]}, "T_m must be a finite number"),
        ({"T_m_values": [0.05]}, "outside"),
        ({"sample_kwargs": {"T_m": 0.2}}, "must not set 'T_m'"),
        ({"sample_kwargs": {"generator": None}}, "must not set 'generator'"),
        ({"n_steps_full": 0}, "n_steps_full"),
        ({"n_steps_full": 10, "sample_kwargs": {"n_steps": 5}}, "must not set 'n_steps'"),
    ],
)
def test_bad_arguments_name_themselves(model, gmm, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.TmExplorer(model, gmm, **kwargs)


def test_wrong_models_and_oracles_are_refused(model, digits, gmm):
    gmm3 = GaussianMixture(torch.zeros(1, 3), torch.ones(1, 3))
    for bad in (gmm3, None, gmm.sample(10)):
        with pytest.raises(ValueError, match="gmm must be a 2D GaussianMixture"):
            viz.TmExplorer(model, bad)
    with pytest.raises(ValueError, match="TmExplorer needs a 2D model.*dims \\(1, 16, 16\\)"):
        viz.TmExplorer(digits, gmm)
    with pytest.raises(ValueError, match="DigitsTmExplorer needs a one-channel image model"):
        viz.DigitsTmExplorer(model)
    single = load_dinof("dinof_8gaussians_vp")
    with pytest.raises(ValueError, match="trained at T_m=0.6 only"):
        viz.TmExplorer(single, gmm, T_m_values=[0.3])
    for kwargs, match in (
        ({"n": 2, "n_strip": 3}, "n_strip"),
        ({"n_frames": -1}, "n_frames"),
        ({"n": 0}, r"\bn must"),
        ({"T_m_values": [float("inf")]}, "finite"),
    ):
        with pytest.raises(ValueError, match=match):
            viz.DigitsTmExplorer(digits, **kwargs)


# --------------------------------------------------------------------------- update and caches
def test_update_samples_then_reuses_the_cache(explorer):
    e = explorer
    info = e.update(0.4)
    assert set(info) == {"T_m", "n_steps", "nfe", "sample_s", "redraw_s", "cached"}
    assert info["T_m"] == 0.4 and info["cached"] is False
    assert info["n_steps"] == 10 and info["nfe"] == 10
    assert info["sample_s"] > 0 and info["redraw_s"] > 0
    assert e.current == 0.4 and e.is_cached(0.4) and not e.is_cached(0.2)
    w, h = _png_size(e.png)
    assert (w, h) == tuple(round(inches * e.dpi) for inches in DASHBOARD_INCHES)
    assert e.dpi >= 110  # 9-pt text stays 9 pt at the PNG's natural size
    png, frame = e.png, e.frame(0.4)
    again = e.update(0.43)  # snapped to the grid value 0.4
    assert again["T_m"] == 0.4 and again["cached"] is True
    assert e.png == png and e.frame(0.4) is frame  # the same bytes, no new sampling
    # the dashboard shows the explorer's n_paths: 3 flow passes on the time axis
    time_axis = e.figure.axes[0]
    assert len([ln for ln in time_axis.lines if ln.get_linestyle() == "--"]) == 3
    info = e.update(0.6)
    assert info["cached"] is False and e.current == 0.6 and e.png != png


def test_n_steps_full_scales_the_reverse_steps(model, gmm):
    e = viz.TmExplorer(model, gmm, T_m_values=GRID, n=50, n_paths=2, n_steps_full=20, solver=None)
    assert e.sample_kwargs_at(0.5) == {"n_steps": 10}
    assert e.frame(0.6).n_steps == 12 and e.frame(0.2).n_steps == 4
    paper = viz.TmExplorer(model, gmm, T_m_values=GRID, n=5, n_paths=2, solver=None)
    assert paper.sample_kwargs_at(0.4) == {}  # the model's own round(N · T_m)


def test_the_sliders_default_to_the_frontiers_fastest_match(model, gmm):
    """SDE-DPM-Solver++(2M), 20 evaluations from the flow's sample at every T_m."""
    e = viz.TmExplorer(model, gmm, T_m_values=GRID, n=50, n_paths=2)
    assert e.sample_kwargs_at(0.4) == {"solver": "dpm_solver_pp_2m_sde", "n_steps": 20}
    f = e.frame(0.4)
    assert f.n_steps == 20 and f.nfe == 20
    scaled = viz.TmExplorer(model, gmm, T_m_values=GRID, n=5, n_paths=2, n_steps_full=20)
    assert scaled.sample_kwargs_at(0.5) == {"solver": "dpm_solver_pp_2m_sde", "n_steps": 10}


def test_same_seed_same_frame_other_seed_other_frame(model, gmm):
    def frame(seed):
        return viz.TmExplorer(model, gmm, T_m_values=GRID, seed=seed, **FAST).frame(0.4)

    a, b, c = frame(3), frame(3), frame(4)
    for name in ("z", "x_Tm", "x", "sde_paths", "cloud", "exact", "flow"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.kl, a.kl_se, a.mmd, a.nll) == (b.kl, b.kl_se, b.mmd, b.nll)
    assert not np.allclose(a.cloud, c.cloud) and not np.allclose(a.sde_paths, c.sde_paths)
    assert a.kl != c.kl
    np.testing.assert_array_equal(a.exact, c.exact)  # the exact density does not depend on it


def test_update_refuses_non_finite_and_changes_nothing(explorer):
    e = explorer
    e.update(0.4)
    before = _state(e)
    for bad in BAD_T_M:
        with pytest.raises(ValueError, match="T_m must be a finite number"):
            e.update(bad)
        with pytest.raises(ValueError, match="T_m must be a finite number"):
            e.snap(bad)
        assert _state(e) == before and e.current == 0.4, bad


def test_values_beyond_the_grid_snap_to_its_nearest_end(explorer):
    e = explorer
    for far, end in [(1e308, 0.6), (-1e308, 0.2), (10**400, 0.6), (-(10**400), 0.2), (7, 0.6)]:
        assert e.snap(far) == end, far
    assert e.update(1e308)["T_m"] == 0.6 and e.current == 0.6  # was 0.2: |grid − 1e308| tied
    assert e.update(-1e308)["T_m"] == 0.2 and e.current == 0.2
    assert e.snap(0.49) == 0.4 and e.snap(0.51) == 0.6  # inside the grid: the nearest value
    with pytest.raises(ValueError, match="T_m must be a number within float range"):
        e.check_T_m(10**400)


def test_precompute_then_every_move_is_a_cached_swap(explorer):
    e = explorer
    assert e.precompute(progress=False) is e
    assert all(e.is_cached(t) for t in GRID) and len(e._png) == len(GRID)
    pngs = {t: e.render(t) for t in GRID}
    for t in [0.6, 0.2, 0.4, 0.2, 0.6]:
        info = e.update(t)
        assert info["cached"] is True and e.png == pngs[t] and e.current == t
    assert len(e._png) == len(GRID)  # nothing rendered again


def test_plotly_twin_covers_the_grid(explorer):
    fig = explorer.plotly()
    assert [f.name for f in fig.frames] == ["0.2", "0.4", "0.6"]
    assert fig.data[1].name == "data" and len(fig.data[1].x) == 1000
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0.2", "0.4", "0.6"]


# --------------------------------------------------------------------------- the widget
def test_widget_slider_snaps_refuses_nan_and_follows_fast_moves(explorer):
    pytest.importorskip("ipywidgets")
    e = explorer.precompute(progress=False)  # every move below swaps a cached PNG
    ui = e.widget(start=0.4)
    slider, label, image = ui.children
    assert (slider.min, slider.max, slider.step) == (0.2, 0.6, pytest.approx(0.2))
    assert slider.continuous_update is False and not slider.disabled
    assert slider.value == 0.4 == e.current and "T_m = 0.4" in label.value
    assert image.value == e.png == e.render(0.4)

    shown = (slider.value, e.current, label.value, image.value)
    slider.value = float("nan")  # refused: back to the grid value shown
    assert (slider.value, e.current, label.value, image.value) == shown

    slider.value = 0.53  # off the grid: snapped, label and image follow
    assert slider.value == 0.6 == e.current
    assert "T_m = 0.6" in label.value and image.value == e.png == e.render(0.6)
    slider.value = float("nan")
    assert slider.value == 0.6 == e.current and "T_m = 0.6" in label.value

    for v in (0.2, 0.6, 0.41, 0.2, 0.6, 0.39):  # rapid moves: the last one is shown
        slider.value = v
    assert slider.value == 0.4 == e.current
    assert "<b>T_m = 0.4</b>" in label.value and image.value == e.render(0.4)

    e.update(0.2)  # from code: the slider follows, so slider, label and image agree
    assert slider.value == 0.2 and "T_m = 0.2" in label.value and image.value == e.render(0.2)
    with pytest.raises(ValueError):
        e.update(float("nan"))
    assert slider.value == 0.2 == e.current and image.value == e.render(0.2)


def test_widget_of_a_single_tm_model_is_disabled(gmm):
    pytest.importorskip("ipywidgets")
    e = viz.TmExplorer(load_dinof("dinof_8gaussians_vp"), gmm, **FAST)
    slider, label, image = e.widget().children
    assert slider.disabled and slider.value == 0.6 and "T_m = 0.6" in label.value
    assert "10 steps" in label.value and bytes(image.value).startswith(b"\x89PNG")


# --------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits_explorer(digits):
    return viz.DigitsTmExplorer(
        digits, T_m_values=[0.3, 0.6], n=6, n_strip=2, n_frames=3, sample_kwargs={"n_steps": 8}
    )


def test_digits_frame_strip_and_sde_frames(digits_explorer, digits):
    e = digits_explorer
    info = e.update(0.3)
    assert info["T_m"] == 0.3 and info["n_steps"] == 8 and info["nfe"] == 8  # the fast solver
    f = e.frame(0.3)
    assert f.z.shape == f.x_Tm.shape == (2, 16, 16)
    assert f.sde_frames.shape == (3, 2, 16, 16) and f.x.shape == (6, 16, 16)
    t = f.sde_frame_times
    assert t.shape == (3,) and np.all(np.diff(t) < 0)
    assert f.T_m > t[0] and t[-1] > digits.sde.sample_eps  # strictly between T_m and the end
    assert np.isfinite(f.x).all() and not np.allclose(f.x_Tm, f.z)
    assert viz.DigitsTmExplorer(digits).T_m_values == [0.2, 0.6, 1.0]


def test_digits_dashboard_gives_every_digit_48_px(digits_explorer):
    e = digits_explorer
    e.update(0.3)
    assert e.dpi >= 110 and DIGIT_INCHES * e.dpi >= 48  # 9-pt titles stay 9 pt
    fig = e.figure
    width, height = fig.get_size_inches()
    cols, grid_cols = 3 + 3, 4  # z, x(T_m), 3 SDE frames, x(eps) | a 4-wide sample grid
    assert width == pytest.approx(DIGIT_INCHES * (cols + grid_cols) + 1.2)
    assert height == pytest.approx(DIGIT_INCHES * 2 + 1.3)  # 2 strip rows, ceil(6 / 4) grid rows
    assert _png_size(e.png) == (round(width * e.dpi), round(height * e.dpi))
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 2 * cols + 6
    for ax in image_axes:  # as drawn (aspect applied by the render): ≥ 48 px both ways
        pos = ax.get_position()
        assert pos.width * width * e.dpi >= 48 and pos.height * height * e.dpi >= 48
    assert "Tₘ = 0.3" in fig.texts[0].get_text() and "8 steps" in fig.texts[0].get_text()


def test_digits_snaps_beyond_the_grid_to_its_ends(digits_explorer):
    e = digits_explorer
    assert e.snap(1e308) == 0.6 and e.snap(-1e308) == 0.3 and e.snap(10**400) == 0.6
    assert e.update(1e308)["T_m"] == 0.6 and e.current == 0.6
    for bad in BAD_T_M:
        with pytest.raises(ValueError, match="T_m must be a finite number"):
            e.update(bad)
    assert e.current == 0.6


def test_digits_refuses_non_finite_and_caches(digits_explorer):
    e = digits_explorer
    e.update(0.3)
    png = e.png
    for bad in (float("nan"), "0.3", True):
        with pytest.raises(ValueError, match="finite"):
            e.update(bad)
    assert e.png == png and e.current == 0.3
    assert e.update(0.31)["cached"] is True and e.png == png


# --------------------------------------------------------------------------- Colab
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
