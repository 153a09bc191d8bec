"""The kernel-free twin of the ``T_m`` views: one plotly figure, one frame per ``T_m``.

:func:`journey_plotly` draws views 1–3 of :mod:`dinof_lite.viz.journey` — the time axis
over the exact ``p_t``, the plane, the exact ``p_{T_m}`` beside the flow's density, and the
trade-off (KL and NFE against ``T_m``) — for every :class:`JourneyFrame`, with a slider and a
play button that run in plotly.js alone: in a saved notebook, in ``fig.write_html(...)`` pages and
on a static site, without a kernel. Numbers are rounded so ten frames stay around 1 MB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dinof_lite.viz.animation import play_buttons
from dinof_lite.viz.journey import FLOW_COLOR, SDE_COLOR, path_colors
from dinof_lite.viz.journey_frame import JourneyFrame, MarginalMap, project

__all__ = ["journey_plotly"]


def _r(a, digits: int = 3) -> list:
    return np.round(np.asarray(a, dtype=float), digits).tolist()


def _polylines(curves: Sequence[np.ndarray]) -> dict[str, list]:
    """Curves ``(L, 2)`` → one trace's ``x``, ``y`` with ``None`` between curves."""
    xs: list = []
    ys: list = []
    for c in curves:
        xs += [*_r(c[:, 0]), None]
        ys += [*_r(c[:, 1]), None]
    return {"x": xs, "y": ys}


def _every(n: int, stride: int) -> np.ndarray:
    """Indices ``0, stride, 2·stride, …`` and always the last, ``n − 1``: thinned curves stay
    closed, thinned axes keep their ends (``T`` on the time axis, ``lim`` on the grids)."""
    idx = np.arange(0, n, stride)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def _compact(f: JourneyFrame, n_cloud: int, stride: int) -> JourneyFrame:
    """``f`` with ``n_cloud`` cloud points, every ``stride``-th density grid point and warp vertex."""
    g, w = _every(len(f.grid), stride), _every(f.warp.shape[1], stride)
    return dataclasses.replace(
        f,
        cloud=f.cloud[:n_cloud],
        warp=f.warp[:, w],
        grid=f.grid[g],
        exact=f.exact[np.ix_(g, g)],
        flow=f.flow[np.ix_(g, g)],
    )


def _thin(n: int, k: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n - 1, min(n, k))).astype(int))


def _time_axis_traces(f: JourneyFrame, mmap: MarginalMap, n_vertices: int) -> list:
    """View 1: the flow's region and the T_m line, per sample the flow's pass and the SDE path,
    then the z, x(T_m) and x(eps) markers: ``5 + 2P`` traces."""
    u, T = mmap.projection, float(mmap.times[-1])
    lo, hi = float(mmap.y[0]), float(mmap.y[-1])
    cols = path_colors(len(f.z))
    idx = _thin(len(f.sde_times), n_vertices)
    t_s = f.sde_times[idx]
    y_sde = project(f.sde_paths[idx], u)  # (K, P)
    z, x_tm, x_end = project(f.z, u), project(f.x_Tm, u), project(f.x, u)
    none = {"hoverinfo": "skip", "showlegend": False}
    traces = [
        go.Scatter(
            x=[T, f.T_m, f.T_m, T, T],
            y=[lo, lo, hi, hi, lo],
            fill="toself",
            mode="none",
            fillcolor="rgba(230,85,13,0.12)",
            **none,
        ),
        go.Scatter(
            x=[f.T_m, f.T_m], y=[lo, hi], mode="lines", line={"color": "black", "width": 2}, **none
        ),
    ]
    for i, c in enumerate(cols):  # time axis: the flow's one pass, then the SDE path
        traces.append(
            go.Scatter(
                x=[T, f.T_m],
                y=_r([z[i], x_tm[i]]),
                mode="lines",
                line={"color": c, "dash": "dash", "width": 2},
                **none,
            )
        )
        traces.append(
            go.Scatter(
                x=_r(t_s, 4),
                y=_r(y_sde[:, i]),
                mode="lines",
                line={"color": c, "width": 1.2},
                **none,
            )
        )
    traces += [
        go.Scatter(
            x=[T] * len(z),
            y=_r(z),
            mode="markers",
            name="z (latent)",
            marker={"color": "white", "size": 8, "line": {"color": cols, "width": 2}},
        ),
        go.Scatter(
            x=[f.T_m] * len(z),
            y=_r(x_tm),
            mode="markers",
            name="x(T_m) = flow⁻¹(z)",
            marker={
                "color": cols,
                "size": 8,
                "symbol": "diamond",
                "line": {"color": "black", "width": 1},
            },
        ),
        go.Scatter(
            x=[float(f.sde_times[-1])] * len(z),
            y=_r(x_end),
            mode="markers",
            name="x(ε): the sample",
            marker={"color": cols, "size": 8, "line": {"color": "black", "width": 1}},
        ),
    ]
    return traces


def _plane_traces(f: JourneyFrame, bar_x: float) -> list:
    """View 2: the cloud, the warped latent circles, the displacements z → x(T_m), the SDE
    paths (25 vertices, coloured by time) and the markers (8 traces)."""
    cols = path_colors(len(f.z))
    idx = _thin(len(f.sde_times), 25)
    t_p, paths = f.sde_times[idx], f.sde_paths[idx]  # (K, P, 2)
    none = {"hoverinfo": "skip", "showlegend": False}
    arrows = [np.stack([f.z[i], f.x_Tm[i]]) for i in range(len(f.z))]
    return [
        go.Scatter(
            x=_r(f.cloud[:, 0], 2),
            y=_r(f.cloud[:, 1], 2),
            mode="markers",
            name="all samples",
            marker={"color": SDE_COLOR, "size": 3, "opacity": 0.35},
            hoverinfo="skip",
        ),
        go.Scatter(
            **_polylines(f.warp),
            mode="lines",
            name="flow⁻¹ of latent circles",
            line={"color": FLOW_COLOR, "width": 1},
            opacity=0.5,
            hoverinfo="skip",
        ),
        go.Scatter(
            **_polylines(arrows),
            mode="lines",
            name="flow: z → x(T_m)",
            line={"color": "black", "dash": "dash", "width": 1.2},
            hoverinfo="skip",
        ),
        go.Scatter(
            **_polylines([paths[:, i] for i in range(len(f.z))]),
            mode="lines",
            line={"color": "rgba(60,60,60,0.5)", "width": 1},
            **none,
        ),
        go.Scatter(
            x=_r(paths[:, :, 0].T.ravel()),
            y=_r(paths[:, :, 1].T.ravel()),
            mode="markers",
            name="SDE path (colour: t)",
            marker={
                "color": _r(np.tile(t_p, len(f.z)), 3),
                "cmin": 0,
                "cmax": 1,
                "colorscale": "Viridis",
                "size": 4,
                "colorbar": {
                    "title": {"text": "t"},
                    "len": 0.4,
                    "y": 0.8,
                    "x": bar_x,
                    "thickness": 10,
                },
            },
            hoverinfo="skip",
        ),
        go.Scatter(
            x=_r(f.z[:, 0]),
            y=_r(f.z[:, 1]),
            mode="markers",
            showlegend=False,
            marker={"color": "white", "size": 8, "line": {"color": cols, "width": 2}},
            hoverinfo="skip",
        ),
        go.Scatter(
            x=_r(f.x_Tm[:, 0]),
            y=_r(f.x_Tm[:, 1]),
            mode="markers",
            showlegend=False,
            marker={
                "color": cols,
                "size": 8,
                "symbol": "diamond",
                "line": {"color": "black", "width": 1},
            },
            hoverinfo="skip",
        ),
        go.Scatter(
            x=_r(f.x[:, 0]),
            y=_r(f.x[:, 1]),
            mode="markers",
            showlegend=False,
            marker={"color": cols, "size": 8, "line": {"color": "black", "width": 1}},
            hoverinfo="skip",
        ),
    ]


def _density_traces(f: JourneyFrame, vmax: float, bar_x: float) -> list:
    """View 3a: the exact p_{T_m} and the flow's density, one colour scale (2 traces)."""
    heat = {
        "x": _r(f.grid, 2),
        "y": _r(f.grid, 2),
        "zmin": 0,
        "zmax": vmax,
        "colorscale": "Magma",
        "zsmooth": "best",
        "hoverinfo": "skip",
    }
    return [
        go.Heatmap(z=_r(f.exact, 4), showscale=False, **heat),
        go.Heatmap(
            z=_r(f.flow, 4),
            colorbar={
                "title": {"text": "density"},
                "len": 0.4,
                "y": 0.2,
                "x": bar_x,
                "thickness": 10,
            },
            **heat,
        ),
    ]


def _tradeoff_traces(f: JourneyFrame) -> list:
    """View 3b: the rings around the current T_m on the KL and NFE curves (2 traces)."""
    return [
        go.Scatter(
            x=[f.T_m],
            y=[f.kl],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": "black", "width": 2}},
        ),
        go.Scatter(
            x=[f.T_m],
            y=[f.nfe],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={
                "size": 14,
                "symbol": "square",
                "color": "rgba(0,0,0,0)",
                "line": {"color": "black", "width": 2},
            },
        ),
    ]


def _frame_traces(
    f: JourneyFrame, mmap: MarginalMap, vmax: float, n_vertices: int, bars: tuple[float, float]
) -> list:
    """The traces that change with ``T_m``, in a fixed order (see :func:`_cells`)."""
    return [
        *_time_axis_traces(f, mmap, n_vertices),
        *_plane_traces(f, bars[0]),
        *_density_traces(f, vmax, bars[1]),
        *_tradeoff_traces(f),
    ]


def _frame_text(f: JourneyFrame) -> str:
    return (
        f"T_m = {f.T_m:g} · flow: {f.n_flow_layers} layers, 1 pass · reverse SDE: "
        f"{f.n_steps} steps, NFE {f.nfe} · {f.time_s:.2f} s · KL(p_Tm ‖ flow) = {f.kl:.3f} · "
        f"MMD² = {f.mmd:.4f} · NLL = {f.nll:.2f} (entropy {f.entropy:.2f})"
    )


def _title(title: str, f: JourneyFrame) -> str:
    """The figure's title over the frame's numbers, these at 12 px (9 pt), not ``<sub>``'s 70 %."""
    return f"{title}<br><span style='font-size:12px'>{_frame_text(f)}</span>"


def journey_plotly(
    frames: Sequence[JourneyFrame],
    mmap: MarginalMap,
    *,
    reference=None,
    lim: float = 4.5,
    n_vertices: int = 40,
    n_cloud: int = 300,
    stride: int = 3,
    title: str = "DiNof's journey",
) -> go.Figure:
    """Views 1–3 for every frame (sorted by ``T_m``), with a ``T_m`` slider and a play button.

    To keep the page small (a notebook stores each number on its own line) the figure keeps
    ``n_cloud`` of the samples, every ``stride``-th point of the density grids and of the
    background map, and ``n_vertices`` vertices of each SDE path on the time axis.

    ``reference`` (M, 2) data is drawn in grey in the plane; ``n_vertices`` thins the SDE paths.
    """
    frames = [_compact(f, n_cloud, stride) for f in sorted(frames, key=lambda f: f.T_m)]
    ti, yi = _every(len(mmap.times), stride), _every(len(mmap.y), stride)
    mmap = dataclasses.replace(
        mmap, times=mmap.times[ti], y=mmap.y[yi], density=mmap.density[np.ix_(yi, ti)]
    )
    if not frames:
        raise ValueError("frames must hold at least one JourneyFrame")
    names = [f"{f.T_m:g}" for f in frames]
    if len(set(names)) != len(names):
        raise ValueError(f"frames have T_m values that print the same: {names}")
    fig = make_subplots(
        rows=2,
        cols=3,
        column_widths=[0.34, 0.3, 0.36],
        horizontal_spacing=0.12,
        vertical_spacing=0.12,
        specs=[[{"colspan": 2}, None, {}], [{}, {}, {"secondary_y": True}]],
        subplot_titles=(
            "the journey in time: flow from T to T_m, then the reverse SDE",
            "the same samples in the plane",
            "exact p_Tm",
            "the flow's density at T_m",
            "who does the work: flow (KL) or SDE (NFE)",
        ),
    )
    fig.add_trace(
        go.Heatmap(
            x=_r(mmap.times, 4),
            y=_r(mmap.y, 2),
            z=_r(np.sqrt(mmap.density), 3),
            colorscale="Greys",
            showscale=False,
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    if reference is not None:
        ref = np.asarray(reference, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=_r(ref[:, 0], 2),
                y=_r(ref[:, 1], 2),
                mode="markers",
                name="data",
                marker={"color": "#c8c8c8", "size": 3},
                hoverinfo="skip",
            ),
            row=1,
            col=3,
        )
    t_all = [f.T_m for f in frames]
    fig.add_trace(
        go.Scatter(
            x=t_all,
            y=[round(f.kl, 4) for f in frames],
            mode="lines+markers",
            name="flow's job: KL (nats)",
            line={"color": FLOW_COLOR},
        ),
        row=2,
        col=3,
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=t_all,
            y=[f.nfe for f in frames],
            mode="lines+markers",
            name="SDE's job: NFE",
            line={"color": SDE_COLOR},
        ),
        row=2,
        col=3,
        secondary_y=True,
    )
    n_static = len(fig.data)
    vmax = float(max(max(f.exact.max(), f.flow.max()) for f in frames))
    bars = (
        fig.get_subplot(1, 3).xaxis.domain[1] + 0.01,
        fig.get_subplot(2, 2).xaxis.domain[1] + 0.005,
    )
    first = _frame_traces(frames[0], mmap, vmax, n_vertices, bars)
    for trace, (row, col, sec) in zip(first, _cells(first)):
        fig.add_trace(trace, row=row, col=col, secondary_y=sec)
    idx = list(range(n_static, len(fig.data)))
    fig.frames = [
        go.Frame(
            data=_frame_traces(f, mmap, vmax, n_vertices, bars),
            traces=idx,
            name=name,
            layout={"title": {"text": _title(title, f)}},
        )
        for f, name in zip(frames, names)
    ]
    _style(fig, frames, names, mmap, title, lim)
    return fig


def _style(
    fig: go.Figure,
    frames: Sequence[JourneyFrame],
    names: list[str],
    mmap: MarginalMap,
    title: str,
    lim: float,
) -> None:
    """The slider, the play button, the layout and every axis of :func:`journey_plotly`."""
    anim = {
        "mode": "immediate",
        "frame": {"duration": 600, "redraw": True},
        "transition": {"duration": 0},
    }
    fig.update_layout(
        title={
            "text": _title(title, frames[0]),
            "font": {"size": 16},
            "y": 0.985,
            "yanchor": "top",
        },
        sliders=[
            {
                "active": 0,
                "currentvalue": {"prefix": "T_m = "},  # the steps are labelled by the true T_m
                "pad": {"t": 40},
                "steps": [{"label": n, "method": "animate", "args": [[n], anim]} for n in names],
            }
        ],
        updatemenus=[play_buttons(anim, x=0, y=-0.06, xanchor="right", yanchor="top")],
        width=1150,
        height=820,
        template="plotly_white",
        font={"size": 13},  # 13 px ≈ 10 pt
        legend={"font": {"size": 13}, "orientation": "h", "x": 0, "y": 1.07, "yanchor": "bottom"},
        margin={"t": 160},
    )
    T = float(mmap.times[-1])
    fig.update_xaxes(range=[T, 0], title_text="time t (from T to 0)", row=1, col=1)
    fig.update_yaxes(
        range=[float(mmap.y[0]), float(mmap.y[-1])], title_text=mmap.label, row=1, col=1
    )
    for row, col in ((1, 3), (2, 1), (2, 2)):
        fig.update_xaxes(range=[-lim, lim], title_text="x₁", row=row, col=col)
        fig.update_yaxes(
            range=[-lim, lim],
            title_text="x₂",
            row=row,
            col=col,
            scaleanchor=fig.get_subplot(row, col).xaxis.plotly_name.replace("axis", ""),
        )
    fig.update_xaxes(range=[0, 1.05], title_text="T_m", row=2, col=3)
    fig.update_yaxes(title_text="KL (nats)", rangemode="tozero", row=2, col=3, secondary_y=False)
    top = max(f.nfe for f in frames)  # round ticks (0, 250, 500, …), not the axis' quarters
    step = 250 if top > 500 else 100 if top > 200 else 50
    fig.update_yaxes(
        title_text="NFE",
        range=[0, 1.05 * top],
        tick0=0,
        dtick=step,
        showgrid=False,
        row=2,
        col=3,
        secondary_y=True,
    )


def _cells(traces: list) -> list[tuple[int, int, bool]]:
    """The subplot of each per-frame trace, in the order :func:`_frame_traces` builds them."""
    n_time = len(traces) - 12  # fill, T_m line, 2 per sample, 3 markers
    return (
        [(1, 1, False)] * n_time
        + [(1, 3, False)] * 8
        + [(2, 1, False), (2, 2, False)]
        + [(2, 3, False), (2, 3, True)]
    )
