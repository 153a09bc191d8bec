"""dinof_lite.viz.flows: layer-by-layer figures of a flow's trajectory draw what they say."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.image import AxesImage

from dinof_lite import viz
from dinof_lite.flows import Glow

pytestmark = pytest.mark.usefixtures("no_show")


def _trajectory(n_states: int = 9, b: int = 40) -> list[torch.Tensor]:
    """A rotating, shrinking ring of points: state k = 0.9^k · R(0.2 k) · x."""
    angle = torch.linspace(0, 2 * torch.pi, b + 1)[:-1]
    x = 3 * torch.stack([angle.cos(), angle.sin()], 1)
    out = []
    for k in range(n_states):
        c, s = np.cos(0.2 * k), np.sin(0.2 * k)
        rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float32)
        out.append(0.9**k * x @ rot.T)
    return out


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_default_stages_are_spread_and_include_the_ends():
    assert viz.default_stages(26) == [0, 5, 10, 15, 20, 25]
    assert viz.default_stages(3) == [0, 1, 2]  # fewer states than panels: all of them
    assert viz.default_stages(10, n=2) == [0, 9]
    assert viz.default_stages(10, n=1) == [9]
    with pytest.raises(ValueError, match="n_states"):
        viz.default_stages(0)


def test_plot_flow_stages_panels_titles_and_positions():
    states = _trajectory()
    names = [f"layer{k}" for k in range(len(states))]
    fig = viz.plot_flow_stages(states, names, stages=[0, 4, -1], lim=3.5, title="flow")
    axes = _visible(fig)
    assert len(axes) == 3 and fig.get_suptitle() == "flow"
    assert [ax.get_title() for ax in axes] == ["0: layer0", "4: layer4", "8: layer8"]
    for ax, k in zip(axes, [0, 4, 8]):
        (pts,) = [c for c in ax.get_children() if isinstance(c, PathCollection)]
        np.testing.assert_allclose(pts.get_offsets(), states[k].numpy(), rtol=1e-6)
        assert ax.get_xlim() == (-3.5, 3.5)


def test_plot_flow_stages_default_has_six_panels_and_wraps_rows():
    states = _trajectory(n_states=26)
    assert len(_visible(viz.plot_flow_stages(states))) == 6
    fig = viz.plot_flow_stages(states, stages=range(5), ncols=2)
    assert len(fig.axes) == 6 and len(_visible(fig)) == 5  # 3 rows × 2, the last panel hidden


def test_plot_flow_stages_colours_follow_the_points():
    states = _trajectory()
    fig = viz.plot_flow_stages(states, stages=[0, 3, 8])
    colours = [
        c.get_facecolors()
        for ax in _visible(fig)
        for c in ax.get_children()
        if isinstance(c, PathCollection)
    ]
    assert len(colours) == 3
    assert len(np.unique(colours[0].round(3), axis=0)) > 10  # a rainbow, not one colour
    for c in colours[1:]:
        np.testing.assert_array_equal(c, colours[0])  # point i has the same colour everywhere
    # the default colour is the angle in the first state
    np.testing.assert_allclose(colours[0][:, :3], viz.angle_colors(states[0])[:, :3])


@pytest.mark.parametrize("color", ["red", "values", "rgb"])
def test_plot_flow_stages_accepts_colour_specs(color):
    states = _trajectory(b=12)
    spec = {
        "red": "red",
        "values": torch.arange(12.0),
        "rgb": np.random.default_rng(0).random((12, 3)),
    }
    fig = viz.plot_flow_stages(states, color=spec[color], stages=[0, 1])
    (pts,) = [c for c in fig.axes[0].get_children() if isinstance(c, PathCollection)]
    assert pts.get_facecolors().shape[0] == 12
    if color == "red":
        np.testing.assert_allclose(pts.get_facecolors()[:, :3], np.tile([1, 0, 0], (12, 1)))


def test_plot_flow_stages_auto_window_and_stacked_input():
    states = torch.stack(_trajectory())  # (S, B, 2) also works
    fig = viz.plot_flow_stages(states, stages=[0, -1], lim=None)
    lo, hi = _visible(fig)[0].get_xlim()
    assert hi == -lo and 3.0 <= hi <= 3.5  # fits the first state's radius 3 with a margin
    assert _visible(fig)[1].get_xlim()[1] < hi  # the shrunk last state gets a smaller window


def test_plot_flow_paths_vertices_are_the_states():
    states = _trajectory(n_states=5, b=30)
    ax = viz.plot_flow_paths(None, states, n_paths=7, lim=4.0, title="paths")
    (lines,) = [c for c in ax.get_children() if isinstance(c, LineCollection)]
    segs = lines.get_segments()
    assert len(segs) == 7
    stacked = torch.stack(states).numpy()
    for i, seg in enumerate(segs):
        np.testing.assert_allclose(seg, stacked[:, i], rtol=1e-6)
    start, end = [c for c in ax.get_children() if isinstance(c, PathCollection)]
    np.testing.assert_allclose(start.get_offsets(), stacked[0, :7], rtol=1e-6)
    np.testing.assert_allclose(end.get_offsets(), stacked[-1, :7], rtol=1e-6)
    assert ax.get_title() == "paths" and ax.get_xlim() == (-4.0, 4.0)
    # the path colours are the ones plot_flow_stages gives the same points
    np.testing.assert_allclose(lines.get_colors()[:, :3], viz.angle_colors(states[0])[:7, :3])
    fig, ax2 = plt.subplots()
    assert viz.plot_flow_paths(ax2, states, stages=[0, 2, -1]) is ax2
    (lines,) = [c for c in ax2.get_children() if isinstance(c, LineCollection)]
    np.testing.assert_allclose(lines.get_segments()[3], stacked[[0, 2, 4], 3], rtol=1e-6)


def test_glow_trajectory_draws_end_to_end():
    torch.manual_seed(0)
    flow = Glow((2,), levels=1, steps=2, hidden=8)
    x = torch.randn(50, 2)
    states = flow.trajectory(x)
    names = ["x", *flow.layer_names()]
    assert len(states) == 8  # x, 2 steps × 3 layers, prior
    fig = viz.plot_flow_stages(states, names)
    titles = [ax.get_title() for ax in _visible(fig)]
    assert len(titles) == 6 and titles[0] == "0: x" and titles[-1] == "7: prior"
    viz.plot_flow_paths(None, states, lim=None)


@pytest.mark.parametrize("channels", [1, 3])
def test_flow_image_strip_grid(channels):
    torch.manual_seed(0)
    states = [torch.rand(5, channels, 4, 4) * (k + 1) for k in range(7)]
    fig = viz.flow_image_strip(
        states, [f"s{k}" for k in range(7)], stages=[0, 3, 6], n_images=2, title="strip"
    )
    assert len(fig.axes) == 2 * 3 and fig.get_suptitle() == "strip"
    assert [ax.get_title() for ax in fig.axes[:3]] == ["s0", "s3", "s6"]
    for ax in fig.axes:
        (img,) = [c for c in ax.get_children() if isinstance(c, AxesImage)]
        arr = np.asarray(img.get_array())
        assert arr.shape == ((4, 4) if channels == 1 else (4, 4, 3))
        assert arr.min() >= 0.0 and arr.max() <= 1.0  # each column rescaled into [0, 1]
    # a fixed value_range maps lo → 0 and hi → 1 exactly
    fig = viz.flow_image_strip(
        [torch.tensor([[[[0.0, 0.5], [1.0, 2.0]]]])], value_range=(0, 1), n_images=1
    )
    (img,) = [c for c in fig.axes[0].get_children() if isinstance(c, AxesImage)]
    np.testing.assert_allclose(np.asarray(img.get_array()), [[0.0, 0.5], [1.0, 1.0]])


def test_flow_image_strip_default_stages():
    states = [torch.zeros(3, 1, 2, 2) + k for k in range(20)]
    fig = viz.flow_image_strip(states, n_images=3)
    assert len(fig.axes) == 3 * 6
    assert fig.axes[0].get_title() == "$h_{0}$" and fig.axes[5].get_title() == "$h_{19}$"


def test_flow_figures_text_is_readable():
    """Titles and tick labels at 9 pt or more (a student reads them at display size)."""
    fig = viz.plot_flow_stages(_trajectory(), stages=[0, -1])
    for ax in _visible(fig):
        assert ax.title.get_fontsize() >= 9
        assert all(t.get_fontsize() >= 9 for t in ax.get_xticklabels() + ax.get_yticklabels())
    strip = viz.flow_image_strip([torch.rand(2, 1, 4, 4) for _ in range(3)], ["a", "b", "c"])
    assert all(ax.title.get_fontsize() >= 9 for ax in strip.axes[:3])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: viz.plot_flow_stages([]), ValueError, "at least one state"),
        (lambda: viz.plot_flow_stages(torch.zeros(4, 2)), ValueError, r"stacked states tensor"),
        (lambda: viz.plot_flow_stages(5), TypeError, "list of"),
        (lambda: viz.plot_flow_stages([torch.zeros(4, 3)]), ValueError, r"\(B, 2\)"),
        (
            lambda: viz.plot_flow_stages([torch.zeros(4, 2), torch.zeros(5, 2)]),
            ValueError,
            r"same shape.*states\[1\]",
        ),
        (
            lambda: viz.plot_flow_stages([torch.zeros(4, 2)] * 3, ["a"]),
            ValueError,
            "one entry per state",
        ),
        (
            lambda: viz.plot_flow_stages([torch.zeros(4, 2)] * 3, stages=[3]),
            ValueError,
            "out of range",
        ),
        (
            lambda: viz.plot_flow_stages([torch.zeros(4, 2)] * 3, stages=[]),
            ValueError,
            "at least one",
        ),
        (lambda: viz.plot_flow_stages([torch.zeros(4, 2)], color=np.zeros(3)), ValueError, "color"),
        (lambda: viz.plot_flow_stages([torch.zeros(4, 2)], ncols=0), ValueError, "ncols"),
        (lambda: viz.plot_flow_paths(None, [torch.zeros(4, 2)], n_paths=0), ValueError, "n_paths"),
        (lambda: viz.plot_flow_paths(None, [torch.zeros(0, 2)]), ValueError, "B >= 1"),
        (
            lambda: viz.plot_flow_paths(None, [torch.zeros(4, 2)], stages=[1]),
            ValueError,
            "out of range",
        ),
        (lambda: viz.flow_image_strip([torch.zeros(2, 2, 4, 4)]), ValueError, "1 or 3 channels"),
        (lambda: viz.flow_image_strip([torch.zeros(2, 4, 4)]), ValueError, r"\(B, C, H, W\)"),
        (
            lambda: viz.flow_image_strip([torch.zeros(2, 1, 4, 4)], n_images=3),
            ValueError,
            "n_images",
        ),
        (
            lambda: viz.flow_image_strip([torch.zeros(2, 1, 4, 4)], value_range=(1, 0)),
            ValueError,
            "value_range",
        ),
    ],
    ids=[
        "empty",
        "stacked-2d",
        "not-a-list",
        "not-2d",
        "mismatch",
        "names",
        "stage-range",
        "no-stages",
        "colour",
        "ncols",
        "n_paths",
        "no-points",
        "path-stages",
        "channels",
        "image-dims",
        "n_images",
        "value_range",
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
