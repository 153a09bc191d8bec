"""dinof_lite.viz.image_slider: the widget and its plotly twin show the same PNG for each value."""

from __future__ import annotations

import base64

import matplotlib.pyplot as plt
import pytest

from dinof_lite.viz import figure_png, image_slider, image_slider_plotly

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
