"""A slider over pictures drawn beforehand: with a kernel (ipywidgets) and without (plotly frames).

The GPU notebooks draw one matplotlib figure per value of a parameter (``T_m``), render each to
PNG once, and show the PNGs behind a slider::

    pngs = {T_m: figure_png(draw(T_m)) for T_m in (0.1, 0.2, 0.3)}
    image_slider(pngs, start=0.2)           # ipywidgets: needs a running kernel
    image_slider_plotly(pngs, start=0.2)    # plotly frames: plays on a static page too

Both show the same PNGs. :func:`image_animation` is the twin for images computed as arrays (a
few digits on their way from the flow's sample to the end of the reverse SDE): one grey PNG per
frame (pixels enlarged by repetition, so they stay sharp), with ▶ and a slider, marked
``layout.meta == "dinof-animation"`` like :func:`~dinof_lite.viz.animation.points_animation`.

The PNG sliders' values must be evenly spaced, so that the slider's positions are proportional to
the values it names (a slider places its stops evenly).
"""

from __future__ import annotations

import base64
import io
import math
import numbers
import struct
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from dinof_lite.viz.animation import META, play_buttons

__all__ = ["figure_png", "image_animation", "image_slider", "image_slider_plotly"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """``fig`` rendered to PNG bytes at ``dpi``; a pyplot figure is closed (not shown again)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's header chunk."""
    return struct.unpack(">II", png[16:24])


def _frames(pngs: Mapping, start) -> tuple[list[float], float]:
    """The sorted values of ``pngs`` (checked) and the value to show first."""
    if not isinstance(pngs, Mapping) or not pngs:
        raise ValueError("pngs must be a non-empty mapping value -> PNG bytes")
    for value, png in pngs.items():
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (ok and math.isfinite(value)):
            raise ValueError(f"pngs: every key must be a finite number; got {value!r}")
        if not isinstance(png, bytes) or not png.startswith(PNG_SIGNATURE):
            raise ValueError(f"pngs[{value!r}] is not PNG bytes (render it with figure_png)")
    values = sorted(float(v) for v in pngs)
    steps = np.diff(values)
    if len(steps) and not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
        raise ValueError(
            f"the values {values} are not evenly spaced; a slider places its stops evenly, "
            "so give an even grid (e.g. 0.1, 0.2, …, 1.0)"
        )
    if start is None:
        return values, values[0]
    match = [v for v in values if math.isclose(v, float(start), rel_tol=1e-9, abs_tol=1e-12)]
    if not match:
        raise ValueError(f"start={start!r} is not one of the values {values}")
    return values, match[0]


def _png_of(pngs: Mapping, value: float) -> bytes:
    return next(png for v, png in pngs.items() if float(v) == value)


def image_slider(pngs: Mapping[float, bytes], *, start: float | None = None, label: str = "T_m"):
    """An ipywidgets ``VBox``: a ``FloatSlider`` over the values of ``pngs`` (evenly spaced) and
    the PNG of the value it shows; a value between two stops snaps to the nearest one."""
    import ipywidgets as w

    values, first = _frames(pngs, start)
    step = values[1] - values[0] if len(values) > 1 else 0.01
    slider = w.FloatSlider(
        value=first,
        min=values[0],
        max=values[-1],
        step=step,
        description=label,
        continuous_update=True,
        readout_format=".2f",
        disabled=len(values) == 1,
    )
    image = w.Image(value=_png_of(pngs, first), format="png")
    image.layout = w.Layout(width="auto", max_width="100%")

    def on_change(change) -> None:
        nearest = min(values, key=lambda v: abs(v - change["new"]))
        image.value = _png_of(pngs, nearest)
        if nearest != change["new"]:
            slider.value = nearest

    slider.observe(on_change, names="value")
    return w.VBox([slider, image])


def image_slider_plotly(
    pngs: Mapping[float, bytes],
    *,
    start: float | None = None,
    label: str = "T_m",
    title: str | None = None,
):
    """A plotly ``Figure`` with one frame per value of ``pngs``, a slider and a play button: the
    kernel-free twin of :func:`image_slider` (``fig.write_html`` makes a standalone page)."""
    import plotly.graph_objects as go

    values, first = _frames(pngs, start)

    def image(value: float):
        uri = "data:image/png;base64," + base64.b64encode(_png_of(pngs, value)).decode("ascii")
        return go.Image(source=uri, hoverinfo="skip")

    names = [f"{v:g}" for v in values]
    frames = [go.Frame(data=[image(v)], name=n) for v, n in zip(values, names)]
    still = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}
    play = {"frame": {"duration": 700, "redraw": True}, "fromcurrent": True, "mode": "immediate"}
    steps = [{"label": n, "method": "animate", "args": [[n], still]} for n in names]
    _, height = _png_size(_png_of(pngs, first))
    fig = go.Figure(data=[image(first)], frames=frames)
    fig.update_layout(  # the width follows the page; a narrower page shrinks the picture
        title=title,
        height=height + 150 + (40 if title else 0),
        margin={"l": 0, "r": 0, "t": 40 if title else 0, "b": 0},
        xaxis={"visible": False},
        yaxis={"visible": False},
        sliders=[
            {
                "active": values.index(first),
                "currentvalue": {"prefix": f"{label} = "},
                "steps": steps,
                "x": 0.08,
                "len": 0.92,
                "pad": {"t": 10},
            }
        ],
        updatemenus=[  # the play button, left of the slider
            {
                "type": "buttons",
                "showactive": False,
                "x": 0,
                "y": 0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 30},
                "buttons": [{"label": "▶", "method": "animate", "args": [None, play]}],
            }
        ],
    )
    return fig


def _tile(images, ncols: int, vrange: tuple[float, float]) -> np.ndarray:
    """``(n, H, W)`` or ``(n, 1, H, W)`` images → one canvas, ``ncols`` wide, a blank (NaN) line
    between images, values clipped to ``vrange``."""
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"every frame must have shape (n, H, W) or (n, 1, H, W), got {a.shape}")
    n, h, w = a.shape
    rows = -(-n // ncols)
    canvas = np.full((rows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for i in range(n):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = a[i]
    return np.clip(canvas, *vrange)


def _grey_png_uri(canvas: np.ndarray, vrange: tuple[float, float], scale: int) -> str:
    """A canvas as a grey PNG data URI: ``vrange`` → black … white, blanks white, each pixel a
    ``scale × scale`` block."""
    from PIL import Image

    lo, hi = vrange
    grey = np.where(np.isnan(canvas), 255, np.round((canvas - lo) / (hi - lo) * 255))
    grey = np.repeat(np.repeat(grey.astype(np.uint8), scale, axis=0), scale, axis=1)
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_animation(
    frames: Sequence,
    frame_labels: Sequence[str],
    *,
    title: str,
    slider_prefix: str = "",
    ncols: int = 4,
    vrange: tuple[float, float] = (0.0, 1.0),
    duration_ms: int = 250,
    width: int = 640,
):
    """A plotly ``Figure`` that plays ``frames`` (each ``n`` grey images, the same ``n`` in every
    frame, tiled ``ncols`` wide; black ``vrange[0]``, white ``vrange[1]``) with a ▶ / ❚❚ button
    and a slider labelled ``frame_labels``; kernel-free, ``layout.meta == "dinof-animation"``."""
    import plotly.graph_objects as go

    labels = [str(s) for s in frame_labels]
    if len(frames) < 2 or len(labels) != len(frames) or len(set(labels)) != len(labels):
        raise ValueError(
            f"need at least 2 frames and one distinct label per frame; got {len(frames)} frames "
            f"and labels {labels}"
        )
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be an int >= 1; got {ncols!r}")
    canvases = [_tile(f, ncols, vrange) for f in frames]
    if len({(len(f), c.shape) for f, c in zip(frames, canvases)}) > 1:
        raise ValueError("every frame must hold the same number of images of the same size")
    rows, cols = canvases[0].shape
    scale = max(1, (width - 40) // cols)

    def image(k: int):
        return go.Image(source=_grey_png_uri(canvases[k], vrange, scale), hoverinfo="skip")

    anim = {"mode": "immediate", "frame": {"duration": duration_ms, "redraw": True}}
    fig = go.Figure(
        data=[image(0)],
        frames=[go.Frame(data=[image(k)], name=s) for k, s in enumerate(labels)],
    )
    fig.update_layout(
        meta=META,
        title={"text": title, "font": {"size": 15}},
        width=width,
        height=rows * scale + 190,
        template="plotly_white",
        font={"size": 13},
        margin={"t": 60, "b": 20, "l": 20, "r": 20},
        sliders=[
            {
                "active": 0,
                "currentvalue": {"prefix": slider_prefix},
                "pad": {"t": 30},
                "x": 0.16,
                "len": 0.82,
                "steps": [
                    {
                        "label": s,
                        "method": "animate",
                        "args": [[s], {**anim, "transition": {"duration": 0}}],
                    }
                    for s in labels
                ],
            }
        ],
        updatemenus=[
            play_buttons(
                anim, x=0, y=0, xanchor="left", yanchor="top", pad={"t": 40}, direction="left"
            )
        ],
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
