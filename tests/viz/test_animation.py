"""``viz.animation.points_animation``: the frames hold the data given, in order, with the
followed paths growing frame by frame; bad inputs are refused by name."""

import numpy as np
import pytest
import torch

from dinof_lite.viz.animation import META, points_animation


def _frames(k=4, n=50):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, 2, generator=g) * (1 + j) for j in range(k)]


def test_frames_carry_each_cloud_and_the_followed_paths():
    frames = _frames()
    fig = points_animation(frames, list("abcd"), title="t", highlight=[3, 7])
    assert fig.layout.meta == META and [f.name for f in fig.frames] == list("abcd")
    assert len(fig.data) == 3 and [s.label for s in fig.layout.sliders[0].steps] == list("abcd")
    for k, fr in enumerate(fig.frames):
        np.testing.assert_allclose(fr.data[0].x, frames[k][:, 0].numpy(), atol=6e-4)
        path = fr.data[2]  # particle 7 from frame 0 to frame k
        assert len(path.x) == k + 1
        np.testing.assert_allclose(
            path.y, [frames[j][7, 1].item() for j in range(k + 1)], atol=6e-4
        )
    lim = max(float(f.abs().max()) for f in frames) * 1.05
    assert fig.layout.xaxis.range == pytest.approx((-lim, lim))


def test_curves_keep_their_breaks():
    grid = np.array([[0.0, 0.0], [1.0, 0.0], [np.nan, np.nan], [0.0, 1.0]])
    fig = points_animation([grid, 2 * grid], ["0", "1"], title="grid", mode="lines", lim=3)
    assert fig.frames[1].data[0].x == (0.0, 2.0, None, 0.0)
    assert fig.data[0].mode == "lines"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frames": [np.zeros((3, 2))]}, "at least 2"),
        ({"frames": [np.zeros((3, 2)), np.zeros((4, 2))]}, "same number of points"),
        ({"frames": [np.zeros((3, 3)), np.zeros((3, 3))]}, r"shape \(n, 2\)"),
        ({"frame_labels": ["a", "a"]}, "distinct labels"),
        ({"highlight": [3]}, "highlight"),
        ({"color": [1.0, 2.0]}, "one value per point"),
        ({"mode": "bars"}, "mode"),
        ({"lim": float("nan")}, "lim"),
    ],
)
def test_refuses_bad_inputs_by_name(kwargs, match):
    args = {"frames": [np.ones((3, 2)), -np.ones((3, 2))], "frame_labels": ["a", "b"]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        points_animation(args.pop("frames"), args.pop("frame_labels"), title="x", **args)
