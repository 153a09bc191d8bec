"""dinof_lite.viz.image_slider: the widget and its plotly twin show the same PNG for each value."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dinof_lite.viz import figure_png, image_slider, image_slider_plotly
from dinof_lite.viz.animation import META
from dinof_lite.viz.image_slider import image_animation

pytestmark = pytest.mark.usefixtures("no_show")


def _png(value: float, width: float = 2.0) -> bytes:
    fig, ax = plt.subplots(figsize=(width, 1.0))
    ax.set_title(f"T_m = {value:g}")
    return figure_png(fig, dpi=110)


@pytest.fixture(scope="module")
def pngs() -> dict[float, bytes]:
    return {t: _png(t) for t in (0.2, 0.4, 0.6)}


def test_figure_png_renders_at_the_dpi_and_closes_the_figure():
    fig, _ = plt.subplots(figsize=(2.0, 1.0))
    png = figure_png(fig, dpi=110)
    assert png.startswith(b"\x89PNG")
    width = int.from_bytes(png[16:20], "big")
    assert width == 220
    assert not plt.fignum_exists(fig.number)


def test_the_widget_shows_the_png_of_the_slider_value_and_snaps(pngs):
    box = image_slider(pngs, start=0.4)
    slider, image = box.children
    assert (slider.min, slider.max, slider.step) == pytest.approx((0.2, 0.6, 0.2))
    assert image.value == pngs[0.4]
    slider.value = 0.6
    assert image.value == pngs[0.6]
    slider.value = 0.25  # between stops: the nearest one, and the slider moves there
    assert image.value == pngs[0.2] and slider.value == pytest.approx(0.2)


def test_the_plotly_twin_has_one_frame_per_value_with_the_same_png(pngs):
    fig = image_slider_plotly(pngs, start=0.6, title="slider")
    assert [f.name for f in fig.frames] == ["0.2", "0.4", "0.6"]
    for frame, value in zip(fig.frames, (0.2, 0.4, 0.6)):
        uri = frame.data[0].source
        assert base64.b64decode(uri.split(",", 1)[1]) == pngs[value]
    assert fig.data[0].source == fig.frames[2].data[0].source  # starts at 0.6
    slider = fig.layout.sliders[0]
    assert slider.active == 2 and [s.label for s in slider.steps] == ["0.2", "0.4", "0.6"]
    assert all(list(s.args[0]) == [s.label] for s in slider.steps)


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({}, "non-empty"),
        ({0.1: b"not a png"}, "not PNG"),
        ({float("nan"): None}, "finite"),
        ({True: None}, "finite"),
    ],
)
def test_bad_frames_are_refused(bad, named):
    for build in (image_slider, image_slider_plotly):
        with pytest.raises(ValueError, match=named):
            build(bad)


def test_uneven_values_and_a_start_off_the_grid_are_refused(pngs):
    uneven = {0.1: pngs[0.2], 0.2: pngs[0.4], 0.6: pngs[0.6]}
    for build in (image_slider, image_slider_plotly):
        with pytest.raises(ValueError, match="not evenly spaced"):
            build(uneven)
        with pytest.raises(ValueError, match="start=0.5 is not one of"):
            build(pngs, start=0.5)


def _grey(uri: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_image_animation_tiles_each_frame_and_plays_kernel_free():
    g = torch.Generator().manual_seed(0)
    frames = [torch.rand(3, 1, 4, 5, generator=g) * 1.4 - 0.2 for _ in range(3)]
    fig = image_animation(frames, ["a", "b", "c"], title="t", ncols=2, width=62)
    assert fig.layout.meta == META and [f.name for f in fig.frames] == ["a", "b", "c"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["a", "b", "c"]
    assert fig.layout.updatemenus[0].buttons[0].label == "▶"
    for frame, x in zip(fig.frames, frames):  # 2 rows × 2 columns of 4×5, a blank line between
        grey = _grey(frame.data[0].source)[::2, ::2]  # each pixel a 2×2 block: (62 - 40) // 11
        assert grey.shape == (9, 11)
        want = (x.clamp(0, 1) * 255).round().numpy().astype(int)
        assert np.abs(grey[5:9, 0:5] - want[2, 0]).max() <= 1
        assert np.abs(grey[0:4, 6:11] - want[1, 0]).max() <= 1
        assert (grey[4] == 255).all() and (grey[:, 5] == 255).all() and (grey[5:, 6:] == 255).all()
    assert fig.data[0].source == fig.frames[0].data[0].source


@pytest.mark.parametrize(
    ("frames", "labels", "match"),
    [
        ([np.zeros((2, 4, 4))], ["a"], "at least 2 frames"),
        ([np.zeros((2, 4, 4))] * 2, ["a", "a"], "distinct label"),
        ([np.zeros((2, 4, 4)), np.zeros((3, 4, 4))], ["a", "b"], "same number of images"),
        ([np.zeros((4, 4))] * 2, ["a", "b"], r"\(n, H, W\)"),
    ],
)
def test_image_animation_refuses_bad_frames(frames, labels, match):
    with pytest.raises(ValueError, match=match):
        image_animation(frames, labels, title="x")
