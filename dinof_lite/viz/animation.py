"""A picture that moves: point clouds or curves in the plane as a plotly figure with frames.

Each core notebook opens with one of these (data diffusing to noise and back, samples pulled by
a score field, a flow warping a grid, DiNof's journey). The figure needs no kernel: its frames,
▶ button and slider are plain plotly JSON, so it plays in JupyterLab, Colab, VS Code and on the
course site alike. ``layout.meta`` is ``"dinof-animation"`` so a page (and the browser tests) can
find it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

__all__ = ["META", "play_buttons", "points_animation"]

META = "dinof-animation"
#: the one colour of a cloud drawn without per-point values, and of the highlighted paths
CLOUD_COLOR = "#1f77b4"
PATH_COLOR = "#d62728"


def _plane(x, what: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{what} must have shape (n, 2), got {tuple(a.shape)}")
    return a.astype(float)


def _r(a: np.ndarray) -> list:
    """Coordinates rounded to 3 decimals (NaN kept: it breaks a curve), for a small page."""
    return [None if not np.isfinite(v) else round(float(v), 3) for v in a]


def play_buttons(anim: dict, **placement) -> dict:
    """The ▶ / ❚❚ buttons of a plotly animation (an ``updatemenus`` entry) placed by
    ``placement`` (``x``, ``y``, anchors, ``pad``, ``direction``); ``anim`` is the animation's
    frame and transition settings, which ▶ plays from the current frame and ❚❚ stops."""
    return {
        "type": "buttons",
        "showactive": False,
        **placement,
        "buttons": [
            {"label": "▶", "method": "animate", "args": [None, {**anim, "fromcurrent": True}]},
            {
                "label": "❚❚",
                "method": "animate",
                "args": [[None], {**anim, "frame": {"duration": 0, "redraw": False}}],
            },
        ],
    }


def points_animation(
    frames: Sequence,
    frame_labels: Sequence[str],
    *,
    title: str,
    slider_prefix: str = "",
    mode: str = "markers",
    color: Sequence[float] | None = None,
    colorscale: str = "HSV",
    highlight: Sequence[int] = (),
    lim: float | None = None,
    axis_titles: tuple[str, str] = ("x₁", "x₂"),
    duration_ms: int = 200,
    size: int = 520,
) -> go.Figure:
    """Frames of one point cloud (``mode="markers"``) or one set of curves (``mode="lines"``,
    curves separated by NaN rows) in the plane, with a ▶ / ❚❚ button and a slider.

    ``frames[k]`` is an ``(n, 2)`` array or tensor, the same ``n`` in every frame: point ``i`` is
    one particle, so ``color`` (``n`` values on ``colorscale``, fixed across frames) lets the eye
    follow it. ``highlight`` names a few particles whose path so far is drawn as a line, so a
    student follows them instead of a tangle. ``frame_labels[k]`` is the slider's label, shown after
    ``slider_prefix`` above it. ``lim`` fixes both axes to ``[-lim, lim]`` (default: the frames' extent).
    """
    if mode not in ("markers", "lines"):
        raise ValueError(f"mode must be 'markers' or 'lines', got {mode!r}")
    clouds = [_plane(f, f"frames[{k}]") for k, f in enumerate(frames)]
    if len(clouds) < 2:
        raise ValueError(f"frames must hold at least 2 clouds to animate, got {len(clouds)}")
    n = clouds[0].shape[0]
    if any(c.shape[0] != n for c in clouds):
        raise ValueError(
            f"every frame must hold the same number of points, got {[c.shape[0] for c in clouds]}"
        )
    labels = [str(s) for s in frame_labels]
    if len(labels) != len(clouds) or len(set(labels)) != len(labels):
        raise ValueError(
            f"frame_labels must be {len(clouds)} distinct labels, one per frame, got {labels}"
        )
    if color is not None and (mode != "markers" or len(color) != n):
        raise ValueError(f"color must hold one value per point ({n}) and needs mode='markers'")
    idx = [int(i) for i in highlight]
    if any(not 0 <= i < n for i in idx):
        raise ValueError(f"highlight must index points 0…{n - 1}, got {idx}")
    if lim is None:
        finite = np.concatenate([c[np.isfinite(c).all(1)] for c in clouds])
        lim = float(np.abs(finite).max()) * 1.05
    if not (np.isfinite(lim) and lim > 0):
        raise ValueError(f"lim must be a finite number > 0, got {lim}")

    def traces(k: int) -> list[go.Scatter]:
        c = clouds[k]
        out = [go.Scatter(x=_r(c[:, 0]), y=_r(c[:, 1]))]
        for i in idx:
            path = np.stack([clouds[j][i] for j in range(k + 1)])
            head = [0] * k + [8]  # a dot on the particle, a line behind it
            out.append(go.Scatter(x=_r(path[:, 0]), y=_r(path[:, 1]), marker={"size": head}))
        return out

    if mode == "markers":
        marker = {"size": 4, "opacity": 0.75, "color": CLOUD_COLOR}
        if color is not None:
            marker.update(color=list(map(float, color)), colorscale=colorscale, showscale=False)
        first = go.Scatter(mode="markers", marker=marker, name="samples", hoverinfo="skip")
    else:
        first = go.Scatter(
            mode="lines", line={"color": CLOUD_COLOR, "width": 1.2}, name="curves", hoverinfo="skip"
        )
    fig = go.Figure()
    fig.add_trace(first.update(traces(0)[0]))
    for j, _ in enumerate(idx):
        fig.add_trace(
            go.Scatter(
                mode="lines+markers",
                line={"color": PATH_COLOR, "width": 1.5},
                marker={"color": PATH_COLOR},
                name="a few followed paths" if j == 0 else None,
                showlegend=j == 0,
                legendgroup="paths",
                hoverinfo="skip",
            ).update(traces(0)[j + 1])
        )
    fig.frames = [
        go.Frame(
            data=traces(k),
            traces=list(range(1 + len(idx))),
            name=labels[k],
        )
        for k in range(len(clouds))
    ]
    anim = {
        "mode": "immediate",
        "frame": {"duration": duration_ms, "redraw": False},
        "transition": {"duration": 0},
    }
    fig.update_layout(
        meta=META,
        title={"text": title, "font": {"size": 15}},
        width=size,
        height=size + 130,
        template="plotly_white",
        font={"size": 13},
        showlegend=bool(idx),
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        margin={"t": 90, "b": 40, "l": 60, "r": 20},
        sliders=[
            {
                "active": 0,
                "currentvalue": {"prefix": slider_prefix},
                "pad": {"t": 50},
                "x": 0.15,  # clear of the buttons: a long first label is centred on its tick
                "len": 0.85,
                "font": {"size": 12},
                "steps": [{"label": s, "method": "animate", "args": [[s], anim]} for s in labels],
            }
        ],
        updatemenus=[
            play_buttons(anim, x=0, y=0, xanchor="right", yanchor="top", pad={"t": 50, "r": 10})
        ],
    )
    fig.update_xaxes(range=[-lim, lim], title_text=axis_titles[0])
    fig.update_yaxes(range=[-lim, lim], title_text=axis_titles[1], scaleanchor="x")
    return fig
