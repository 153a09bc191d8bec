"""Plot helpers: they run on small inputs, draw what they say, and reject bad shapes clearly."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.image import AxesImage
from matplotlib.quiver import Quiver

from dinof_lite import viz
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sde import VESDE, VPSDE, subVPSDE

pytestmark = pytest.mark.usefixtures("no_show")


def _gaussian_log_prob(x):
    return -0.5 * x.pow(2).sum(1)


def _linear_score(x, t):
    return -x


def _of_type(ax, kind):
    return [c for c in ax.get_children() if isinstance(c, kind)]


def test_plot_samples_new_and_given_axes():
    x = torch.randn(30, 2)
    ax = viz.plot_samples(None, x, title="data", lim=3.0)
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-3.0, 3.0)
    assert ax.get_title() == "data" and ax.get_aspect() == 1.0
    (points,) = _of_type(ax, PathCollection)
    assert points.get_offsets().shape == (30, 2)
    fig, ax2 = plt.subplots()
    assert viz.plot_samples(ax2, x.numpy()) is ax2


@pytest.mark.parametrize("shape", [(10,), (10, 3), (0, 2), (2, 5, 2)])
def test_plot_samples_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        viz.plot_samples(None, torch.zeros(shape))


def test_grid_points_order_matches_an_image():
    axis, pts = viz.grid_points(2.0, 5)
    assert axis.shape == (5,) and pts.shape == (25, 2) and pts.dtype == torch.float32
    assert torch.equal(pts[:5, 1], torch.full((5,), -2.0))  # first row: lowest y, x increasing
    assert torch.allclose(pts[:5, 0], torch.as_tensor(axis, dtype=torch.float32))
    with pytest.raises(ValueError, match="n_grid"):
        viz.grid_points(2.0, 1)


def test_plot_density_heatmap_and_contour():
    ax = viz.plot_density(None, _gaussian_log_prob, lim=3.0, n_grid=20)
    (image,) = _of_type(ax, AxesImage)
    z = image.get_array()
    assert z.shape == (20, 20) and np.isclose(z.max(), 1.0)
    assert np.unravel_index(np.argmax(z), z.shape) in {(9, 9), (9, 10), (10, 9), (10, 10)}
    ax = viz.plot_density(None, _gaussian_log_prob, n_grid=20, kind="contour", log_scale=True)
    assert not _of_type(ax, AxesImage) and ax.collections


def test_plot_density_checks_its_inputs():
    with pytest.raises(ValueError, match=r"log_prob_fn must return shape \(100,\)"):
        viz.plot_density(None, lambda x: x, n_grid=10)
    with pytest.raises(ValueError, match="unknown kind 'surface'; valid: heatmap, contour"):
        viz.plot_density(None, _gaussian_log_prob, kind="surface")


@pytest.mark.parametrize("color", ["k", None])
def test_plot_score_field_draws_one_arrow_per_grid_point(color):
    ax = viz.plot_score_field(None, _linear_score, 0.5, n_grid=7, color=color)
    (quiver,) = _of_type(ax, Quiver)
    assert quiver.N == 49
    u = np.stack([quiver.U, quiver.V], 1)
    assert np.allclose(np.linalg.norm(u[np.abs(quiver.X) + np.abs(quiver.Y) > 0], axis=1), 1.0)
    ax = viz.plot_score_field(
        None, _linear_score, 0.5, n_grid=7, log_prob_fn=_gaussian_log_prob, normalize=False
    )
    assert len(_of_type(ax, AxesImage)) == 1 and len(_of_type(ax, Quiver)) == 1


def test_plot_score_field_passes_time_and_checks_the_output_shape():
    seen = []

    def score(x, t):
        seen.append(t)
        return -x

    viz.plot_score_field(None, score, 0.25, n_grid=4)
    assert seen[0].shape == (16,) and torch.all(seen[0] == 0.25)
    with pytest.raises(ValueError, match=r"score_fn must return shape \(16, 2\)"):
        viz.plot_score_field(None, lambda x, t: x[:, :1], 0.25, n_grid=4)


def test_plot_score_field_with_the_oracle():
    gmm, sde = GaussianMixture.preset("8gaussians"), VPSDE()
    ax = viz.plot_score_field(
        None, gmm.score_fn(sde), 0.1, n_grid=5, log_prob_fn=gmm.marginal(sde, 0.1).log_prob
    )
    assert len(_of_type(ax, Quiver)) == 1


@pytest.mark.parametrize(("kind", "rows"), [("both", 2), ("samples", 1), ("density", 1)])
def test_plot_marginals_over_time_from_a_mixture(kind, rows):
    gmm = GaussianMixture.preset("2gaussians")
    fig = viz.plot_marginals_over_time(
        VPSDE(),
        gmm,
        [0.0, 0.5, 1.0],
        kind=kind,
        n_samples=20,
        n_grid=8,
        generator=torch.Generator().manual_seed(0),
    )
    assert len(fig.axes) == 3 * rows
    assert [ax.get_title() for ax in fig.axes[:3]] == ["$t = 0$", "$t = 0.5$", "$t = 1$"]


def test_plot_marginals_over_time_from_points_and_per_panel_limits():
    x0 = torch.randn(25, 2)
    fig = viz.plot_marginals_over_time(VESDE(), x0, [0.1, 1.0], kind="samples", lim=[3.0, 150.0])
    assert len(fig.axes) == 2 and fig.axes[1].get_xlim() == (-150.0, 150.0)
    with pytest.raises(ValueError, match="no known density"):
        viz.plot_marginals_over_time(VESDE(), x0, [0.1], kind="both")
    with pytest.raises(ValueError, match="lim must be a float or have 2 entries"):
        viz.plot_marginals_over_time(VESDE(), x0, [0.1, 0.2], kind="samples", lim=[1.0])
    with pytest.raises(ValueError, match=r"source must have shape \(N, 2\)"):
        viz.plot_marginals_over_time(VESDE(), torch.zeros(5, 3), [0.1], kind="samples")


def test_plot_trajectories_one_segment_per_step_and_path():
    traj = torch.randn(6, 10, 2).cumsum(0)
    ax = viz.plot_trajectories(None, traj, n_paths=4, times=torch.linspace(1, 0, 6), colorbar=True)
    (lines,) = _of_type(ax, LineCollection)
    assert len(lines.get_segments()) == 4 * 5
    assert np.allclose(lines.get_segments()[0], traj[:2, 0].numpy())
    assert len(ax.figure.axes) == 2  # the colour bar
    assert len(_of_type(ax, PathCollection)) == 2  # start and end markers


def test_plot_trajectories_highlights_a_few_paths_over_a_faint_background():
    traj = torch.randn(6, 10, 2).cumsum(0)
    ax = viz.plot_trajectories(None, traj, n_paths=8, highlight=3, legend=True)
    background, coloured = _of_type(ax, LineCollection)
    assert len(background.get_segments()) == 5  # one grey polyline per background path
    assert len(coloured.get_segments()) == 3 * 5  # the highlighted paths, segment by segment
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["path, coloured by $t$", "other paths"] and len(labels) == 4
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # outside
    with pytest.raises(ValueError, match="highlight"):
        viz.plot_trajectories(None, traj, n_paths=4, highlight=5)


def test_plot_trajectories_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"trajectory must have shape \(k\+1, B, 2\)"):
        viz.plot_trajectories(None, torch.zeros(10, 2))
    with pytest.raises(ValueError, match=r"trajectory must have shape"):
        viz.plot_trajectories(None, torch.zeros(1, 10, 2))
    with pytest.raises(ValueError, match=r"times must have shape \(3,\)"):
        viz.plot_trajectories(None, torch.zeros(3, 10, 2), times=[1.0, 0.0])
    with pytest.raises(ValueError, match="n_paths"):
        viz.plot_trajectories(None, torch.zeros(3, 10, 2), n_paths=0)


def test_sample_grid_figure_layout():
    samples = {f"s{i}": torch.randn(15, 2) for i in range(5)}
    fig = viz.sample_grid_figure(samples, reference=torch.randn(40, 2), suptitle="five")
    assert len(fig.axes) == 8
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == list(samples)
    assert all(len(_of_type(ax, PathCollection)) == 2 for ax in visible)  # reference + samples
    assert len(viz.sample_grid_figure(samples, ncols=5).axes) == 5


def test_sample_grid_figure_rejects_bad_inputs():
    with pytest.raises(ValueError, match="non-empty mapping"):
        viz.sample_grid_figure({})
    with pytest.raises(ValueError, match=r"samples\['bad'\] must have shape \(N, 2\)"):
        viz.sample_grid_figure({"ok": torch.zeros(3, 2), "bad": torch.zeros(3, 4)})


def test_plot_sde_coefficients():
    fig = viz.plot_sde_coefficients({"VE": VESDE(), "VP": VPSDE(), "sub-VP": subVPSDE()}, n_t=20)
    assert len(fig.axes) == 3 and all(len(ax.lines) == 3 for ax in fig.axes)
    vp_a = fig.axes[0].lines[1].get_ydata()
    assert vp_a[0] > 0.99 and vp_a[-1] < 0.01  # a(t) of VP decays from 1 to ~0
    assert "sigma_t" in fig.axes[1].get_title() and fig.axes[2].get_legend() is not None
    assert len(viz.plot_sde_coefficients([VPSDE()], n_t=5).axes[1].lines) == 1
    with pytest.raises(ValueError, match="at least one SDE"):
        viz.plot_sde_coefficients([])
