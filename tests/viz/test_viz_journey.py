"""dinof_lite.viz.journey_frame / journey / journey_plotly: what the T_m views compute and draw.

The frames come from the shipped ``dinof_8gaussians_vp_anytm`` (VP, any ``T_m`` in [0.1, 1]) with
the exact 8-Gaussian oracle, sampled once per module at 20 reverse steps and 200 samples.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.text import Annotation

from dinof_lite import viz
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.pretrained import load_dinof

pytestmark = pytest.mark.usefixtures("no_show")

TMS = (0.3, 0.6, 1.0)
N, N_STEPS, N_KL = 200, 20, 2000
KW = {"n": N, "n_kl": N_KL, "sample_kwargs": {"n_steps": N_STEPS}}


@pytest.fixture(scope="module")
def model():
    return load_dinof("dinof_8gaussians_vp_anytm")


@pytest.fixture(scope="module")
def frames(model, gmm) -> dict[float, viz.JourneyFrame]:
    """One frame per T_m of TMS with 6 highlighted paths."""
    return {t: viz.journey_frame(model, t, gmm, n_paths=6, **KW) for t in TMS}


@pytest.fixture(scope="module")
def frame3(model, gmm) -> viz.JourneyFrame:
    """T_m = 0.6 with 3 highlighted paths (same seed as ``frames``)."""
    return viz.journey_frame(model, 0.6, gmm, n_paths=3, **KW)


@pytest.fixture(scope="module")
def mmap(model, gmm) -> viz.MarginalMap:
    return viz.marginal_map(model.sde, gmm)


def _fig_ax():
    fig = Figure(figsize=(6, 4))
    return fig, fig.add_subplot()


# --------------------------------------------------------------------------- JourneyFrame
def test_frame_shapes_and_hand_over(frames, model):
    """The SDE starts exactly where the flow ends; shapes and bookkeeping of one frame."""
    for T_m, f in frames.items():
        P, S = 6, N_STEPS + 1
        assert f.T_m == T_m and f.n_steps == N_STEPS and f.nfe == N_STEPS  # VP: EM, no corrector
        assert f.n_flow_layers > 0 and f.flow_time_s > 0 and f.sde_time_s > 0
        assert f.time_s == pytest.approx(f.flow_time_s + f.sde_time_s)
        assert f.z.shape == f.x_Tm.shape == f.x.shape == (P, 2)
        assert f.sde_times.shape == (S,) and f.sde_paths.shape == (S, P, 2)
        assert f.cloud.shape == f.cloud_Tm.shape == (N, 2)
        assert f.sde_times[0] == T_m  # the SDE starts at T_m ...
        np.testing.assert_array_equal(f.sde_paths[0], f.x_Tm)  # ... exactly at x(T_m)
        assert np.all(np.diff(f.sde_times) < 0)
        assert f.sde_times[-1] == pytest.approx(model.sde.sample_eps, abs=1e-7)
        np.testing.assert_array_equal(f.sde_paths[-1], f.x)  # and ends at the sample
        np.testing.assert_array_equal(f.cloud[:P], f.x)  # the highlighted are the first P
        np.testing.assert_array_equal(f.cloud_Tm[:P], f.x_Tm)
        # x(T_m) is one deterministic pass of flow⁻¹ from z
        with torch.no_grad():
            ctx = model.context(T_m, P)
            x_tm = model.flow.inverse(torch.as_tensor(f.z, dtype=torch.float32), ctx)
        np.testing.assert_allclose(f.x_Tm, x_tm.double().numpy(), atol=1e-5)
        assert np.isfinite(f.cloud).all() and np.isfinite(f.sde_paths).all()


def test_frame_warp_is_the_flow_image_of_the_latent_grid(frames, model):
    f = frames[0.3]
    assert f.warp.shape == (11, 120, 2)  # circles r = 1, 2, 3 and 8 rays
    with torch.no_grad():
        a = torch.tensor([0.0, 2 * math.pi * 30 / 119])  # vertices 0 and 30 of 120 on [0, 2π]
        circle2 = torch.stack([2 * a.cos(), 2 * a.sin()], 1)  # radius 2
        want = model.flow.inverse(circle2, model.context(0.3, 2)).double().numpy()
        origin = model.flow.inverse(torch.zeros(1, 2), model.context(0.3, 1)).double().numpy()
    np.testing.assert_allclose(f.warp[1, 0], want[0], atol=1e-5)
    np.testing.assert_allclose(f.warp[1, 30], want[1], atol=1e-5)
    np.testing.assert_allclose(f.warp[3:, 0], np.repeat(origin, 8, 0), atol=1e-5)  # rays: r = 0


def test_same_seed_same_samples_fewer_paths(frames, frame3):
    f6 = frames[0.6]
    np.testing.assert_array_equal(frame3.z, f6.z[:3])
    np.testing.assert_array_equal(frame3.sde_paths, f6.sde_paths[:, :3])
    np.testing.assert_array_equal(frame3.cloud, f6.cloud)
    assert frame3.kl == f6.kl and frame3.mmd == f6.mmd


def test_density_panels_integrate_to_one(frames):
    for f in frames.values():
        dx = f.grid[1] - f.grid[0]
        assert f.grid[0] == -4.5 and f.grid[-1] == 4.5 and f.exact.shape == f.flow.shape == (90, 90)
        assert f.exact.sum() * dx**2 == pytest.approx(1.0, abs=1e-2)
        assert f.flow.sum() * dx**2 == pytest.approx(1.0, abs=3e-2)
        assert (f.exact >= 0).all() and (f.flow >= 0).all()


def test_marginal_map_columns_are_densities(mmap):
    assert mmap.density.shape == (200, 160) and mmap.times.shape == (160,)
    assert mmap.times[0] == pytest.approx(1e-3) and mmap.times[-1] == 1.0
    assert mmap.label == "x₁"
    np.testing.assert_allclose(mmap.projection, [1.0, 0.0])
    mass = np.trapezoid(mmap.density, mmap.y, axis=0)
    np.testing.assert_allclose(mass, 1.0, atol=1e-3)


def _vp_mixture_1d(y, t, means_1d, var0, beta=(0.1, 20.0)):
    """By hand: the 1D mixture (equal weights) diffused by the VP SDE to time t."""
    a = math.exp(-0.25 * t**2 * (beta[1] - beta[0]) - 0.5 * t * beta[0])
    var = a**2 * var0 + 1 - a**2
    y = np.asarray(y, dtype=float)[:, None]
    dens = np.exp(-((y - a * np.asarray(means_1d)) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)
    return dens.mean(1)


@pytest.mark.parametrize(
    ("projection", "label"), [((1.0, 0.0), "x₁"), ((0.0, 3.0), "x₂"), ((1.0, 1.0), "u·x")]
)
def test_marginal_map_is_the_closed_form_projection(model, gmm, projection, label):
    m = viz.marginal_map(model.sde, gmm, projection=projection, n_times=5, n_y=41, lim=4.0)
    assert m.label == label
    u = np.asarray(projection) / np.linalg.norm(projection)
    np.testing.assert_allclose(m.projection, u)
    angles = np.arange(8) * np.pi / 4  # 8gaussians: radius 2√2, variance 1/8 per coordinate
    means_1d = 2 * math.sqrt(2) * (np.cos(angles) * u[0] + np.sin(angles) * u[1])
    for j in (0, 2, 4):  # t = eps, the middle, T
        want = _vp_mixture_1d(m.y, m.times[j], means_1d, 0.125)
        np.testing.assert_allclose(m.density[:, j], want, rtol=1e-6, atol=1e-12)
    # one value by hand: y = 2, t = eps, u = e₁ (component means on x₁: ±2√2, ±2 twice, 0 twice)
    if label == "x₁":
        assert m.y[30] == pytest.approx(2.0)
        a = math.exp(-0.25e-6 * 19.9 - 0.5e-3 * 0.1)
        var = a * a * 0.125 + 1 - a * a
        r8 = 2 * math.sqrt(2)
        mus = (r8, 2, 0, -2, -r8, -2, 0, 2)
        want = sum(math.exp(-((2 - a * mu) ** 2) / (2 * var)) for mu in mus)
        want /= 8 * math.sqrt(2 * math.pi * var)
        assert m.density[30, 0] == pytest.approx(want, rel=1e-9)
        assert want == pytest.approx(0.2911, abs=1e-4)  # ≈ 2/8 of a N(2, 1/8) peak, and more


def test_frame_exact_panel_matches_the_oracle_orientation(model):
    """Rows are y, columns x: an asymmetric mixture tells a transpose apart."""
    asym = GaussianMixture([[2.0, -1.0]], [[0.05, 0.05]])
    f = viz.journey_frame(model, 0.1, asym, n=20, n_paths=2, n_grid=61, n_kl=200)
    i, j = np.unravel_index(f.exact.argmax(), f.exact.shape)
    a = math.exp(-0.25 * 0.01 * 19.9 - 0.05 * 0.1)
    assert f.grid[j] == pytest.approx(2.0 * a, abs=0.15) and f.grid[i] == pytest.approx(
        -a, abs=0.15
    )
    p = asym.marginal(model.sde, 0.1)
    pt = torch.tensor([[f.grid[7], f.grid[40]]], dtype=torch.float64)  # x = grid[7], y = grid[40]
    assert f.exact[40, 7] == pytest.approx(p.log_prob(pt).exp().item(), rel=1e-9)


class _SwappedFlow:
    """The model's flow with its density replaced by ``log_prob(x)`` (sampling untouched)."""

    def __init__(self, flow, log_prob):
        self._flow, self._log_prob = flow, log_prob

    def parameters(self):
        return self._flow.parameters()

    def inverse(self, z, ctx):
        return self._flow.inverse(z, ctx)

    def log_prob(self, x, ctx):
        return self._log_prob(x.double()).to(x.dtype)


class _Swapped:
    def __init__(self, model, log_prob):
        self._model, self.flow = model, _SwappedFlow(model.flow, log_prob)

    def __getattr__(self, name):
        return getattr(self._model, name)


def test_kl_is_nonnegative_and_zero_for_the_exact_marginal(frames, model, gmm):
    for f in frames.values():
        assert f.kl >= -3 * f.kl_se and f.kl_se > 0
        assert f.kl < 0.1  # the shipped model's flow matches p_{T_m} well
    p = gmm.marginal(model.sde, 0.6)
    f = viz.journey_frame(_Swapped(model, p.log_prob), 0.6, gmm, n=20, n_paths=2, n_kl=500)
    assert abs(f.kl) < 1e-6 and f.kl_se < 1e-6
    np.testing.assert_allclose(f.flow, f.exact, rtol=1e-5)


def test_kl_against_a_gaussian_in_closed_form(model, gmm):
    """KL(p_Tm ‖ N(0, diag(sx², sy²))) = −H(p_Tm) + ½ log((2π)² sx² sy²) + Σ_d E[x_d²] / (2 s_d²)."""
    T_m, s2 = 0.3, np.array([1.5, 0.8])
    p = gmm.marginal(model.sde, T_m)

    def gauss(x):
        s = torch.as_tensor(s2, dtype=torch.float64)
        return -0.5 * (x**2 / s).sum(1) - 0.5 * torch.log((2 * math.pi) ** 2 * s.prod())

    f = viz.journey_frame(_Swapped(model, gauss), T_m, gmm, n=20, n_paths=2, n_kl=4000)
    second = (p.weights[:, None] * (p.means**2 + torch.diagonal(p.covs, dim1=1, dim2=2))).sum(0)
    h = p.entropy(generator=torch.Generator().manual_seed(5))
    kl = (
        -h
        + 0.5 * math.log((2 * math.pi) ** 2 * s2.prod())
        + float((second.numpy() / (2 * s2)).sum())
    )
    assert kl > 0.1
    assert f.kl == pytest.approx(kl, abs=4 * f.kl_se + 0.01)
    g = f.grid  # the flow panel: rows y, columns x (sx ≠ sy tells a transpose apart)
    want = np.exp(-0.5 * (g[10] ** 2 / s2[0] + g[70] ** 2 / s2[1])) / (
        2 * math.pi * math.sqrt(s2.prod())
    )
    assert f.flow[70, 10] == pytest.approx(float(want), rel=1e-4)


def test_bad_inputs_name_the_argument(model, gmm):
    digits = load_dinof("dinof_digits")
    with pytest.raises(ValueError, match="n_paths"):
        viz.journey_frame(model, 0.5, gmm, n=10, n_paths=0)
    with pytest.raises(ValueError, match="n_paths"):
        viz.journey_frame(model, 0.5, gmm, n=10, n_paths=11)
    with pytest.raises(ValueError, match="n_paths"):
        viz.journey_frame(model, 0.5, gmm, n=10, n_paths=True)
    with pytest.raises(ValueError, match=r"\bn must"):
        viz.journey_frame(model, 0.5, gmm, n=0, n_paths=1)
    with pytest.raises(ValueError, match="2D model"):
        viz.journey_frame(digits, 0.5, gmm, n=4, n_paths=1)
    gmm3 = GaussianMixture(torch.zeros(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="gmm must be a 2D"):
        viz.journey_frame(model, 0.5, gmm3, n=4, n_paths=1)
    with pytest.raises(ValueError, match="gmm must be a 2D"):
        viz.marginal_map(model.sde, gmm3)
    for bad in ((0.0, 0.0), (1.0, 2.0, 3.0), (float("nan"), 1.0)):
        with pytest.raises(ValueError, match="projection"):
            viz.marginal_map(model.sde, gmm, projection=bad)
    with pytest.raises(ValueError, match="outside"):
        viz.journey_frame(model, 0.05, gmm, n=4, n_paths=1)


# --------------------------------------------------------------------------- matplotlib views
def _dashed(ax):
    return [ln for ln in ax.lines if ln.get_linestyle() == "--"]


@pytest.mark.parametrize("n_paths", [3, 6])
def test_time_axis_draws_flow_then_sde_per_path(frames, frame3, mmap, n_paths):
    f = frame3 if n_paths == 3 else frames[0.6]
    fig, ax = _fig_ax()
    viz.plot_time_axis(ax, f, mmap, colorbar=False)
    T, u = mmap.times[-1], mmap.projection
    flows = _dashed(ax)
    sdes = [ln for ln in ax.lines if len(ln.get_xdata()) == len(f.sde_times)]
    (tm_line,) = [ln for ln in ax.lines if ln not in flows and ln not in sdes]
    assert len(flows) == len(sdes) == n_paths and len(ax.lines) == 2 * n_paths + 1
    np.testing.assert_allclose(tm_line.get_xdata(), [f.T_m, f.T_m])
    z, x_tm = viz.project(f.z, u), viz.project(f.x_Tm, u)
    cols = viz.path_colors(n_paths)
    for i, (fl, sd) in enumerate(zip(flows, sdes)):
        # the flow: from z at T to exactly x(T_m) at T_m; then the SDE from there to eps
        np.testing.assert_allclose(fl.get_xydata(), [[T, z[i]], [f.T_m, x_tm[i]]], rtol=0, atol=0)
        np.testing.assert_array_equal(sd.get_xdata(), f.sde_times)
        np.testing.assert_allclose(sd.get_ydata(), viz.project(f.sde_paths[:, i], u), atol=0)
        assert tuple(sd.get_xydata()[0]) == tuple(fl.get_xydata()[-1])
        assert to_rgba(fl.get_color()) == to_rgba(sd.get_color()) == to_rgba(cols[i])
    markers = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in markers] == [n_paths] * 3
    np.testing.assert_allclose(markers[1].get_offsets(), np.c_[np.full(n_paths, f.T_m), x_tm])
    (im,) = ax.images  # the exact p_t behind
    np.testing.assert_array_equal(im.get_array(), mmap.density)
    assert ax.get_xlim() == (1.0, 0.0)  # time runs from T to 0
    assert f"Tₘ = {f.T_m:g}" in ax.texts[0].get_text()
    assert f"{f.n_steps} stochastic" in ax.get_title()


def test_time_axis_uses_the_projection(frames, model, gmm):
    f = frames[0.3]
    m = viz.marginal_map(model.sde, gmm, projection=(0.0, 1.0), n_times=20, n_y=40)
    fig, ax = _fig_ax()
    viz.plot_time_axis(ax, f, m, colorbar=False)
    flows = _dashed(ax)
    np.testing.assert_allclose([fl.get_ydata()[0] for fl in flows], f.z[:, 1])
    np.testing.assert_allclose([fl.get_ydata()[1] for fl in flows], f.x_Tm[:, 1])
    assert ax.get_ylabel() == "x₂"


@pytest.mark.parametrize("n_paths", [3, 6])
def test_plane_draws_one_arrow_and_path_per_sample(frames, frame3, gmm, n_paths):
    f = frame3 if n_paths == 3 else frames[0.6]
    fig, ax = _fig_ax()
    ref = gmm.sample(50, torch.Generator().manual_seed(0)).numpy()
    viz.plot_plane(ax, f, reference=ref, colorbar=False, n_vertices=30)
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(arrows) == n_paths
    for i, a in enumerate(arrows):  # the flow as a displacement z → x(T_m)
        np.testing.assert_array_equal(a.xy, f.x_Tm[i])
        np.testing.assert_array_equal(a.xyann, f.z[i])
    (lc,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = np.asarray(lc.get_segments()).reshape(n_paths, -1, 2, 2)  # path by path
    assert segs.shape[1] == len(f.sde_times) - 1  # 21 vertices ≤ 30: none thinned
    for i in range(n_paths):
        np.testing.assert_allclose(segs[i, 0, 0], f.x_Tm[i], atol=1e-12)  # starts at x(T_m)
        np.testing.assert_allclose(segs[i, -1, 1], f.x[i], atol=1e-12)  # ends at the sample
    np.testing.assert_allclose(lc.get_clim(), (0, f.T_m))
    assert len(ax.lines) == len(f.warp) == 11  # flow⁻¹ of the latent grid
    np.testing.assert_allclose(ax.lines[0].get_xydata(), f.warp[0])
    pts = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in pts] == [50, N, n_paths, n_paths, n_paths]
    np.testing.assert_allclose(pts[-1].get_offsets(), f.x)


def test_plane_thins_long_paths(frames):
    f = frames[1.0]
    fig, ax = _fig_ax()
    viz.plot_plane(ax, f, colorbar=False, n_vertices=8)
    (lc,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = np.asarray(lc.get_segments())
    assert segs.shape == (6 * 7, 2, 2)  # 8 vertices, 7 segments per path
    idx = np.round(np.linspace(0, N_STEPS, 8)).astype(int)  # the kept SDE states, ends included
    path1 = np.concatenate([segs[7:14, 0], segs[13:14, 1]])  # the second path's 8 vertices
    np.testing.assert_allclose(path1, f.sde_paths[idx, 1], atol=1e-12)


def test_flow_job_shows_both_densities_on_one_scale(frames):
    f = frames[0.3]
    fig = Figure()
    a, b = fig.add_subplot(121), fig.add_subplot(122)
    viz.plot_flow_job(a, b, f)
    (ia,), (ib,) = a.images, b.images
    np.testing.assert_array_equal(ia.get_array(), f.exact)
    np.testing.assert_array_equal(ib.get_array(), f.flow)
    vmax = max(f.exact.max(), f.flow.max())
    assert ia.get_clim() == ib.get_clim() == (0, pytest.approx(vmax))
    assert ia.origin == "lower" and tuple(ia.get_extent()) == (-4.5, 4.5, -4.5, 4.5)
    assert f"KL = {f.kl:.3f} ± {f.kl_se:.3f}" in b.get_title()
    assert len(fig.axes) == 3  # the shared colorbar


def test_tradeoff_plots_kl_and_nfe_against_tm(frames):
    fig, ax = _fig_ax()
    history = [frames[1.0], frames[0.3]]
    viz.plot_tradeoff(ax, history, frames[0.6])
    kl_line, ring = ax.lines
    np.testing.assert_allclose(kl_line.get_xdata(), TMS)  # sorted, the current one included
    np.testing.assert_allclose(kl_line.get_ydata(), [frames[t].kl for t in TMS])
    assert ring.get_xdata()[0] == 0.6 and ring.get_ydata()[0] == frames[0.6].kl
    ax2 = [a for a in fig.axes if a is not ax][0]
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), [N_STEPS] * 3)
    text = ax.texts[0].get_text()
    assert f"{frames[0.6].n_flow_layers} layers" in text and f"NFE {N_STEPS}" in text


def test_dashboard_redraws_into_the_same_figure(frames, mmap, gmm):
    fig = viz.journey_dashboard(frames[0.3], mmap, reference=gmm.sample(20))
    n_axes = len(fig.axes)
    assert n_axes == 9  # time axis, plane, 2 densities, trade-off + twin, 3 colorbars
    again = viz.journey_dashboard(frames[1.0], mmap, history=list(frames.values()), figure=fig)
    assert again is fig and len(fig.axes) == n_axes
    assert "Tₘ = 1 " in fig.axes[0].texts[0].get_text()
    assert sum(isinstance(im, AxesImage) for a in fig.axes for im in a.images) >= 3


def test_time_paths_checks_lengths(frames):
    f = frames[0.3]
    fig, ax = _fig_ax()
    viz.plot_time_paths(ax, f.sde_times, f.sde_paths, n_paths=2)
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    with pytest.raises(ValueError, match="times has"):
        viz.plot_time_paths(ax, f.sde_times[:-1], f.sde_paths)


# --------------------------------------------------------------------------- plotly
def _subplot_of(fig, trace) -> str:
    return f"{trace.xaxis or 'x'}/{trace.yaxis or 'y'}"


@pytest.fixture(scope="module")
def pfig(frames, mmap, gmm):
    ref = gmm.sample(100, torch.Generator().manual_seed(0)).numpy()
    return viz.journey_plotly([frames[1.0], frames[0.3], frames[0.6]], mmap, reference=ref)


def test_plotly_one_frame_per_tm_and_slider(pfig):
    names = ["0.3", "0.6", "1"]
    assert [fr.name for fr in pfig.frames] == names
    steps = pfig.layout.sliders[0].steps
    assert [s.label for s in steps] == names
    assert [list(s.args[0]) for s in steps] == [[n] for n in names]
    assert all(s.method == "animate" for s in steps)


def test_plotly_nfe_axis_has_round_ticks(pfig):
    nfe_axis = [
        a for a in pfig.layout if a.startswith("yaxis") and pfig.layout[a].title.text == "NFE"
    ]
    (name,) = nfe_axis
    axis = pfig.layout[name]
    assert axis.tick0 == 0 and axis.dtick in (50, 100, 250)
    assert axis.range[1] >= max(fr.data[-1].y[0] for fr in pfig.frames)  # every NFE ring shown


def test_plotly_frames_cover_every_per_frame_trace(pfig, frames):
    n_static = 4  # the p_t heat map, the data, and the KL and NFE curves
    idx = list(range(n_static, len(pfig.data)))
    assert [t.type for t in pfig.data[:n_static]] == ["heatmap", "scatter", "scatter", "scatter"]
    cells = {_subplot_of(pfig, pfig.data[i]) for i in idx}
    for fr, T_m in zip(pfig.frames, TMS):
        assert list(fr.traces) == idx and len(fr.data) == len(idx)
        # each trace of the frame replaces a trace of the same type
        assert [t.type for t in fr.data] == [pfig.data[i].type for i in idx]
        by_cell: dict[str, list] = {}
        for i, t in zip(idx, fr.data):
            by_cell.setdefault(_subplot_of(pfig, pfig.data[i]), []).append(t)
        assert set(by_cell) == cells and len(cells) == 6  # every view + the NFE twin axis
        heat = [c for c, ts in by_cell.items() if [t.type for t in ts] == ["heatmap"]]
        assert len(heat) == 2  # exact and flow densities, one heat map each
        f = frames[T_m]
        (ex,), (fl,) = (by_cell[c] for c in sorted(heat, key=lambda c: int(c[1:].split("/")[0])))
        # the heat maps may be thinned: pick the grid points they kept
        keep = [int(np.abs(f.grid - v).argmin()) for v in ex.x]
        assert list(ex.x) == list(ex.y) == list(fl.x) and len(keep) >= 30
        np.testing.assert_allclose(ex.x, f.grid[keep], atol=5.1e-3)
        np.testing.assert_allclose(np.asarray(ex.z), f.exact[np.ix_(keep, keep)], atol=5.1e-5)
        np.testing.assert_allclose(np.asarray(fl.z), f.flow[np.ix_(keep, keep)], atol=5.1e-5)
        assert ex.zmax == fl.zmax  # one colour scale
        others = [ts for c, ts in by_cell.items() if c not in heat]
        assert all(t.type == "scatter" for ts in others for t in ts)
        time_axis = by_cell["x/y"]
        assert len(time_axis) == 5 + 2 * 6
        dashed = [t for t in time_axis if t.line.dash == "dash"]
        assert len(dashed) == 6
        z, x_tm = f.z[:, 0], f.x_Tm[:, 0]
        for i, t in enumerate(dashed):  # from z at T to x(T_m) at T_m (rounded to 1e-3)
            np.testing.assert_allclose(t.x, [1.0, T_m])
            np.testing.assert_allclose(t.y, [z[i], x_tm[i]], atol=5.1e-4)
        assert f"T_m = {f.T_m:g}" in fr.layout.title.text


def test_plotly_round_trips_json(pfig):
    text = pfig.to_json()
    back = pio.from_json(text)
    assert isinstance(back, go.Figure) and len(back.frames) == 3
    assert json.loads(back.to_json()) == json.loads(text)  # the same figure (key order aside)
    json.loads(text)  # plain JSON: no NaN / Infinity tokens
    assert "NaN" not in text and "Infinity" not in text


def _html_bytes(frames, mmap) -> int:
    return len(viz.journey_plotly(frames, mmap).to_html(include_plotlyjs=False).encode())


def test_plotly_html_size(frames, mmap):
    """Measured 165 kB for these 3 frames, 395 kB for 10 (33 kB a frame). Once: the p_t map
    thinned by stride 3 (68×54 values ≈ 26 kB) and the layout (≈ 11 kB). Per frame, and once more
    for the initial traces (a copy of the first frame), ≈ 37 kB: two 31×31 heat maps (≤ 7
    characters a value ≈ 15 kB), the warp (11 curves × 41 points ≈ 7 kB), the 200-point cloud
    (≈ 3 kB), paths and markers (≈ 12 kB). Bounds: 40 kB a frame, 3 frames < 37 + 4·40 ≈ 200 kB,
    ten < 600 kB (the docstring's "around 1 MB" with room). Unthinned 90×90 heat maps would add
    ≈ 100 kB a frame and fail both."""
    fs = list(frames.values())
    size3 = _html_bytes(fs, mmap)
    assert 100_000 < size3 < 200_000, size3
    ten = [dataclasses.replace(fs[k % 3], T_m=round(0.1 * (k + 1), 1)) for k in range(10)]
    size10 = _html_bytes(ten, mmap)
    assert (size10 - size3) / 7 < 40_000 and size10 < 600_000, size10


def test_plotly_bad_inputs(frames, mmap):
    with pytest.raises(ValueError, match="at least one"):
        viz.journey_plotly([], mmap)
    f = frames[0.3]
    with pytest.raises(ValueError, match="print the same"):
        viz.journey_plotly([f, dataclasses.replace(f, T_m=0.3000001)], mmap)
