"""DiNof's sampling journey in 2D: flow layers ``z → x(T_m)``, then reverse-SDE steps ``→ x(ε)``.

A :class:`~dinof_lite.dinof.DiNofSample` from ``model.sample_result(n, trajectory_every=k)`` holds
both parts: ``flow_states (F, B, 2)`` (deterministic, one pass of the flow's inverse) and
``sde_states (S, B, 2)`` (stochastic, ``n_steps`` predictor steps), glued at ``x(T_m)``.

- :func:`plot_journey` — one panel: each path's flow part and SDE part in two colours.
- :func:`journey_figure` — a row of panels: ``z``, ``x(T_m)``, ``x(ε)`` and the journey.
- :func:`journey_plotly` — an interactive plotly figure with one frame per ``T_m`` and a slider
  that works without a kernel (static HTML, Colab, nbviewer).

Nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dinof_lite.viz.flows import auto_lim
from dinof_lite.viz.plots import PANEL, add_paths, as_numpy, as_points, plot_samples, style_axes

__all__ = [
    "FLOW_COLOR",
    "SDE_COLOR",
    "journey_counts",
    "plot_journey",
    "journey_figure",
    "journey_plotly",
]

FLOW_COLOR = "#e6550d"  #: flow part (deterministic): orange
SDE_COLOR = "#2b8cbe"  #: SDE part (stochastic): blue
NO_TRAJECTORY = "sample has no trajectory; call model.sample_result(..., trajectory_every=1)"


def _journey(sample) -> tuple[np.ndarray, np.ndarray]:
    """``sample``'s ``flow_states (F, B, 2)`` and ``sde_states (S, B, 2)`` as numpy arrays."""
    flow, sde = getattr(sample, "flow_states", None), getattr(sample, "sde_states", None)
    if flow is None or sde is None:
        raise ValueError(NO_TRAJECTORY)
    flow, sde = as_numpy(flow), as_numpy(sde)
    for name, arr in (("flow_states", flow), ("sde_states", sde)):
        if arr.ndim != 3 or arr.shape[2] != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(
                f"journey plots need 2D data: {name} must have shape (K, B, 2); "
                f"got {tuple(arr.shape)}"
            )
    if flow.shape[1] != sde.shape[1]:
        raise ValueError(
            f"flow_states and sde_states hold different batches: {flow.shape[1]} "
            f"vs {sde.shape[1]} points"
        )
    return flow, sde


def journey_counts(sample) -> str:
    """The work done: ``"flow: F−1 layers, 1 pass · SDE: n steps, m score evals · T_m = t"``."""
    flow, _ = _journey(sample)
    layers = getattr(sample, "n_flow_layers", 0) or len(flow) - 1
    return (
        f"flow: {layers} layers, 1 pass · SDE: {sample.n_steps} steps, "
        f"{sample.nfe} score evals · T_m = {float(sample.T_m):g}"
    )


def _check_n(n_paths) -> int:
    if not isinstance(n_paths, int) or isinstance(n_paths, bool) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive int; got {n_paths!r}")
    return n_paths


def plot_journey(
    ax: Axes | None,
    sample,
    *,
    n_paths: int = 40,
    lim: float | None = None,
    flow_color=FLOW_COLOR,
    sde_color=SDE_COLOR,
    show_counts: bool = True,
    title: str | None = None,
) -> Axes:
    """The first ``n_paths`` samples' journeys: flow path ``z → x(T_m)``, then SDE path ``→ x(ε)``.

    Draws two ``LineCollection`` s of ``P = min(n_paths, B)`` polylines each: the flow paths
    ``(P, F, 2)`` in ``flow_color`` and the SDE paths ``(P, S, 2)`` in ``sde_color``; markers:
    ``z`` hollow circles, ``x(T_m)`` diamonds, final ``x`` dots; a legend; and (``show_counts``)
    a text box with :func:`journey_counts`. ``lim=None`` fits the window to the paths.
    """
    flow, sde = _journey(sample)
    n = _check_n(n_paths)
    fp, sp = flow[:, :n].transpose(1, 0, 2), sde[:, :n].transpose(1, 0, 2)  # (P, F|S, 2)
    if ax is None:
        _, ax = plt.subplots(figsize=(PANEL * 1.6, PANEL * 1.6), layout="constrained")
    add_paths(
        ax, fp, colors=flow_color, linewidth=0.9, alpha=0.8, zorder=2, label="flow (deterministic)"
    )
    add_paths(
        ax,
        sp,
        colors=sde_color,
        linewidth=0.6,
        alpha=0.6,
        zorder=1,
        label="reverse SDE (stochastic)",
    )
    ax.scatter(
        fp[:, 0, 0],
        fp[:, 0, 1],
        s=16,
        facecolors="none",
        edgecolors=flow_color,
        linewidths=0.8,
        zorder=3,
        label="$z \\sim N(0, I)$",
    )
    ax.scatter(
        sp[:, 0, 0],
        sp[:, 0, 1],
        s=14,
        marker="D",
        c="0.15",
        linewidths=0,
        zorder=4,
        label="$x(T_m)$",
    )
    ax.scatter(
        sp[:, -1, 0],
        sp[:, -1, 1],
        s=10,
        c=sde_color,
        edgecolors="k",
        linewidths=0.3,
        zorder=4,
        label="$x(\\varepsilon)$",
    )
    ax.legend(fontsize=6, loc="upper right", framealpha=0.8)
    if show_counts:
        ax.text(
            0.02,
            0.02,
            journey_counts(sample).replace(" · SDE", "\nSDE"),
            transform=ax.transAxes,
            fontsize=6,
            va="bottom",
            ha="left",
            zorder=5,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "linewidth": 0.5},
        )
    lim = auto_lim(np.concatenate([fp, sp], 1)) if lim is None else lim
    return style_axes(ax, lim, title)


def journey_figure(
    sample, *, reference=None, n_points: int = 2000, n_paths: int = 40, lim: float | None = None
) -> Figure:
    """Four panels: ``z ~ N(0, I)``; ``x(T_m) = flow⁻¹(z)``; ``x(ε)`` (over ``reference`` data
    ``(M, 2)`` in light grey, if given); and :func:`plot_journey`.

    The first ``n_points`` samples are scattered; ``lim=None`` fits one shared window to them.
    """
    flow, sde = _journey(sample)
    if not isinstance(n_points, int) or n_points < 1:
        raise ValueError(f"n_points must be a positive int; got {n_points!r}")
    z, x_tm, x = flow[0, :n_points], sde[0, :n_points], sde[-1, :n_points]
    lim = auto_lim(np.concatenate([z, x_tm, x])) if lim is None else lim
    fig, axes = plt.subplots(1, 4, figsize=(PANEL * 4, PANEL + 0.3), layout="constrained")
    t = float(sample.T_m)
    plot_samples(axes[0], z, lim=lim, color=FLOW_COLOR, title="$z \\sim N(0, I)$")
    plot_samples(
        axes[1], x_tm, lim=lim, color="0.15", title=f"$x(T_m)$ = flow$^{{-1}}(z)$, $T_m$={t:g}"
    )
    if reference is not None:
        plot_samples(axes[2], as_points(reference, "reference"), lim=lim, color="0.75", alpha=0.4)
    plot_samples(
        axes[2], x, lim=lim, color=SDE_COLOR, title=f"$x(\\varepsilon)$: {sample.n_steps} SDE steps"
    )
    plot_journey(axes[3], sample, n_paths=n_paths, lim=lim, title="journey")
    for ax in axes[:3]:
        ax.title.set_fontsize(9)
    return fig


def _thin(n_states: int, max_vertices: int) -> np.ndarray:
    """At most ``max_vertices`` indices spread evenly over ``0 … n_states − 1``, ends included."""
    return np.unique(
        np.round(np.linspace(0, n_states - 1, min(n_states, max_vertices))).astype(int)
    )


def _lines(paths: np.ndarray) -> dict[str, list]:
    """Polylines ``(P, K, 2)`` → plotly ``x``, ``y`` lists, paths separated by ``None``, 3 decimals."""
    xs: list = []
    ys: list = []
    for p in np.round(paths, 3):
        xs += [*p[:, 0].tolist(), None]
        ys += [*p[:, 1].tolist(), None]
    return {"x": xs, "y": ys}


def _markers(pts: np.ndarray, name: str, **marker) -> go.Scatter:
    p = np.round(pts, 3)
    return go.Scatter(
        x=p[:, 0].tolist(),
        y=p[:, 1].tolist(),
        mode="markers",
        name=name,
        marker=marker,
        hoverinfo="skip",
    )


def _frame_traces(sample, n_paths: int, n_points: int, max_vertices: int) -> list[go.Scatter]:
    """Flow paths, SDE paths (thinned to ``max_vertices``), ``z``, ``x(T_m)``, final ``x``."""
    flow, sde = _journey(sample)
    fp = flow[:, :n_paths].transpose(1, 0, 2)
    sp = sde[_thin(len(sde), max_vertices), :n_paths].transpose(1, 0, 2)
    line = {"mode": "lines", "hoverinfo": "skip"}
    return [
        go.Scatter(
            **_lines(fp),
            name="flow (deterministic)",
            line={"color": FLOW_COLOR, "width": 1.2},
            **line,
        ),
        go.Scatter(
            **_lines(sp),
            name="reverse SDE",
            line={"color": SDE_COLOR, "width": 0.8},
            opacity=0.7,
            **line,
        ),
        _markers(
            fp[:, 0], "z", size=6, color="rgba(0,0,0,0)", line={"color": FLOW_COLOR, "width": 1}
        ),
        _markers(fp[:, -1], "x(T_m)", size=5, symbol="diamond", color="#262626"),
        _markers(sde[-1, :n_points], "x(ε) samples", size=3, color=SDE_COLOR, opacity=0.6),
    ]


def journey_plotly(
    samples: Mapping[float, object],
    *,
    reference=None,
    n_paths: int = 30,
    lim: float | None = None,
    title: str | None = None,
    n_points: int = 1000,
    max_vertices: int = 30,
) -> go.Figure:
    """An interactive journey: one frame per ``T_m`` (sorted), a slider and a play button.

    Args:
        samples: ``{T_m: DiNofSample}`` (each with a trajectory, 2D data).
        reference: data points ``(M, 2)`` drawn in light grey behind every frame.
        n_paths: journeys drawn per frame; SDE paths are thinned to ``max_vertices`` vertices.
        lim: half-width of the fixed window; None fits all frames.
        title: prefix of each frame's title (which also gives ``T_m``, SDE steps and NFE).
        n_points: final samples (and reference points) scattered per frame.

    Coordinates are rounded to 3 decimals, so 10 frames stay well under 1 MB of HTML; the
    slider is pure plotly.js and needs no kernel.
    """
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping {T_m: DiNofSample}")
    n_paths = _check_n(n_paths)
    items = sorted(((float(t), s) for t, s in samples.items()), key=lambda kv: kv[0])
    names = [f"{t:g}" for t, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"samples has T_m values that print the same: {names}")
    ref = (
        []
        if reference is None
        else [
            _markers(as_points(reference, "reference")[:n_points], "data", size=3, color="#c8c8c8")
        ]
    )
    frames = []
    for name, (t, s) in zip(names, items):
        head = f"{title} · " if title else ""
        text = f"{head}T_m = {t:g} · SDE: {s.n_steps} steps, NFE = {s.nfe} · flow: 1 pass"
        frames.append(
            go.Frame(
                data=_frame_traces(s, n_paths, n_points, max_vertices),
                name=name,
                traces=list(range(len(ref), len(ref) + 5)),
                layout={"title": {"text": text}},
            )
        )
    if lim is None:
        pts = np.concatenate(
            [np.concatenate(_journey(s), 0)[:, :n_paths].reshape(-1, 2) for _, s in items]
        )
        lim = auto_lim(pts)
    anim = {
        "mode": "immediate",
        "frame": {"duration": 400, "redraw": True},
        "transition": {"duration": 0},
    }
    slider = {
        "active": 0,
        "currentvalue": {"prefix": "T_m = "},
        "pad": {"t": 30},
        "steps": [{"label": f.name, "method": "animate", "args": [[f.name], anim]} for f in frames],
    }
    play = {
        "type": "buttons",
        "showactive": False,
        "x": 0.0,
        "y": 0.0,
        "xanchor": "right",
        "yanchor": "top",
        "pad": {"t": 30, "r": 10},
        "buttons": [
            {"label": "▶", "method": "animate", "args": [None, {**anim, "fromcurrent": True}]},
            {
                "label": "❚❚",
                "method": "animate",
                "args": [[None], {**anim, "frame": {"duration": 0, "redraw": False}}],
            },
        ],
    }
    fig = go.Figure(data=[*ref, *frames[0].data], frames=frames)
    axis = {"range": [-lim, lim], "zeroline": False}
    fig.update_layout(
        title=frames[0].layout.title,
        sliders=[slider],
        updatemenus=[play],
        xaxis=axis,
        yaxis={**axis, "scaleanchor": "x", "scaleratio": 1},
        width=560,
        height=620,
        template="plotly_white",
        legend={"font": {"size": 10}},
    )
    return fig
