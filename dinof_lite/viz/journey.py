"""The ``T_m`` views of DiNof's journey in 2D (matplotlib), drawn from a :class:`JourneyFrame`.

1. :func:`plot_time_axis` — time from ``T`` (left) to 0 (right), one coordinate on the vertical,
   the exact ``p_t`` behind as a heat map (in the manner of Song et al. 2021, Fig. 1), a line at
   ``T_m``: on ``(T_m, T]`` the flow's one deterministic pass from ``z`` to ``x(T_m)``, on
   ``[eps, T_m]`` the reverse SDE's jagged paths of a few highlighted samples.
2. :func:`plot_plane` — the same samples in the plane over the sample cloud and the data: the
   flow as a displacement ``z → x(T_m)`` over ``flow⁻¹`` of a polar latent grid, the SDE path
   thinned and coloured by time.
3. :func:`plot_flow_job` and :func:`plot_tradeoff` — the exact ``p_{T_m}`` beside the flow's
   density at ``T_m`` (with their KL), and the work against ``T_m``: the flow's KL and the SDE's
   NFE over every frame drawn so far, with sample quality.

:func:`journey_dashboard` puts all of them on one figure; :func:`plot_time_paths` draws any paths
(forward, reverse SDE, probability-flow ODE) on the time axis. Nothing here calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dinof_lite.viz.journey_frame import JourneyFrame, MarginalMap, project
from dinof_lite.viz.plots import add_paths, style_axes

__all__ = [
    "PATH_COLORS",
    "path_colors",
    "FLOW_COLOR",
    "SDE_COLOR",
    "plot_marginal_map",
    "plot_time_paths",
    "plot_time_axis",
    "plot_plane",
    "plot_flow_job",
    "plot_tradeoff",
    "journey_dashboard",
]

FLOW_COLOR = "#e6550d"  #: the flow's part (deterministic): orange
SDE_COLOR = "#2b8cbe"  #: the reverse SDE's part (stochastic): blue
#: one colour per highlighted sample, the same in every view (ColorBrewer Dark2 and more)
PATH_COLORS = (
    "#1b9e77",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
    "#d95f02",
    "#1f78b4",
    "#b2df8a",
)
#: the font size of every label, tick and legend, in points (at least 9 at display size)
FS = 9
#: the size of :func:`journey_dashboard` (and of the explorer's PNG), in inches
DASHBOARD_INCHES = (11.0, 8.8)
TIME_CMAP = "viridis"
DENSITY_CMAP = "magma"


def path_colors(n: int) -> list[str]:
    """The colours of ``n`` highlighted samples (cycling :data:`PATH_COLORS`)."""
    return [PATH_COLORS[i % len(PATH_COLORS)] for i in range(n)]


def plot_marginal_map(
    ax: Axes, mmap: MarginalMap, *, colorbar: bool = True, reverse_time: bool = True
) -> Axes:
    """The heat map of ``p_t`` of the projected coordinate. ``reverse_time``: time runs from
    ``T`` (left) to 0, the sampling direction; else from 0 to ``T``, the forward process."""
    t, y = mmap.times, mmap.y
    im = ax.imshow(
        mmap.density,
        origin="lower",
        extent=(t[0], t[-1], y[0], y[-1]),
        aspect="auto",
        cmap="Greys",
        norm=PowerNorm(0.5, vmin=0),
        interpolation="bilinear",
    )
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, pad=0.01, fraction=0.04)
        cb.set_label(f"exact density of {mmap.label} at time t", fontsize=FS)
        cb.ax.tick_params(labelsize=FS)
    ax.set_xlim((t[-1], 0.0) if reverse_time else (0.0, t[-1]))
    ax.set_ylim(y[0], y[-1])
    direction = "sampling runs left to right, from T to 0" if reverse_time else "forward"
    ax.set_xlabel(f"time t ({direction})", fontsize=FS)
    ax.set_ylabel(mmap.label, fontsize=FS)
    ax.tick_params(labelsize=FS)
    return ax


def plot_time_paths(
    ax: Axes,
    times,
    states,
    projection=(1.0, 0.0),
    *,
    n_paths: int = 6,
    colors: Sequence[str] | None = None,
    label: str | None = None,
    linestyle: str = "-",
    linewidth: float = 0.9,
    markers: bool = True,
) -> Axes:
    """Paths ``states (K, B, 2)`` at ``times (K,)`` on the time axis: the first ``n_paths``,
    projected on ``projection``; one colour per path, dots at both ends (``markers``)."""
    times = np.asarray(times, dtype=float)
    ys = project(states, projection)[:, :n_paths]  # (K, P)
    if ys.shape[0] != len(times):
        raise ValueError(f"times has {len(times)} entries but states has {ys.shape[0]}")
    colors = path_colors(ys.shape[1]) if colors is None else colors
    for i in range(ys.shape[1]):
        ax.plot(
            times,
            ys[:, i],
            color=colors[i],
            lw=linewidth,
            ls=linestyle,
            label=label if i == 0 else None,
        )
        if markers:
            ax.scatter(
                times[[0, -1]],
                ys[[0, -1], i],
                s=12,
                color=colors[i],
                zorder=4,
                edgecolors="white",
                linewidths=0.5,
            )
    return ax


def plot_time_axis(
    ax: Axes, frame: JourneyFrame, mmap: MarginalMap, *, colorbar: bool = True
) -> Axes:
    """View 1: the journey of the highlighted samples on the time axis over the exact ``p_t``."""
    plot_marginal_map(ax, mmap, colorbar=colorbar)
    T, T_m, u = mmap.times[-1], frame.T_m, mmap.projection
    lo, hi = mmap.y[0], mmap.y[-1]
    ax.axvspan(T, T_m, color=FLOW_COLOR, alpha=0.10, lw=0)
    ax.axvline(T_m, color="k", lw=1.2, ls="-")
    ax.text(
        T_m,
        hi - 0.03 * (hi - lo),
        f"Tₘ = {T_m:g} ",
        ha="right",
        va="top",
        fontsize=FS,
        bbox={"boxstyle": "round", "fc": "white", "ec": "k", "lw": 0.5},
    )
    cols = path_colors(len(frame.z))
    z, x_tm = project(frame.z, u), project(frame.x_Tm, u)
    for i, c in enumerate(cols):  # the flow: one pass from z (at T) to exactly x(T_m) (at T_m)
        ax.plot([T, T_m], [z[i], x_tm[i]], color=c, lw=1.4, ls=(0, (4, 2)))
    plot_time_paths(
        ax, frame.sde_times, frame.sde_paths, u, colors=cols, markers=False, linewidth=0.8
    )
    x_end = project(frame.x, u)
    ax.scatter(np.full(len(z), T), z, s=30, facecolors="white", edgecolors=cols, lw=1.2, zorder=5)
    ax.scatter(
        np.full(len(z), T_m), x_tm, s=30, marker="D", c=cols, edgecolors="k", lw=0.5, zorder=5
    )
    ax.scatter(
        np.full(len(z), frame.sde_times[-1]),
        x_end,
        s=30,
        marker="o",
        c=cols,
        edgecolors="k",
        lw=0.5,
        zorder=5,
    )
    handles = [
        Patch(color=FLOW_COLOR, alpha=0.25, label="the flow's part, (Tₘ, T]"),
        *_marker_legend(),
    ]
    ax.legend(handles=handles, fontsize=FS, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax.set_title(
        f"the journey in time: one pass of flow⁻¹ on (Tₘ, T], "
        f"{frame.n_steps} stochastic SDE steps on [ε, Tₘ]",
        fontsize=FS + 1,
    )
    return ax


def _marker_legend() -> list[Line2D]:
    k = {"ls": "none", "markersize": 5}
    return [
        Line2D([], [], marker="o", mfc="white", mec="k", label="z: latent, N(0, I)", **k),
        Line2D([], [], marker="D", color="k", label="x(Tₘ) = flow⁻¹(z)", **k),
        Line2D([], [], marker="o", color="k", label="x(ε): the sample", **k),
        Line2D([], [], color="k", ls=(0, (4, 2)), label="flow (one pass)"),
        Line2D([], [], color="k", lw=0.8, label="reverse SDE"),
    ]


def plot_plane(
    ax: Axes,
    frame: JourneyFrame,
    *,
    reference=None,
    lim: float = 4.5,
    n_vertices: int = 30,
    colorbar: bool = True,
) -> Axes:
    """View 2: the highlighted samples in the plane, the flow's warp and the SDE paths."""
    if reference is not None:
        ref = np.asarray(reference, dtype=float)
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.8", lw=0, rasterized=True)
    ax.scatter(
        frame.cloud[:, 0], frame.cloud[:, 1], s=2, c=SDE_COLOR, alpha=0.35, lw=0, rasterized=True
    )
    for curve in frame.warp:
        ax.plot(curve[:, 0], curve[:, 1], color=FLOW_COLOR, lw=0.6, alpha=0.45)
    cols = path_colors(len(frame.z))
    S = len(frame.sde_times)
    idx = np.unique(np.round(np.linspace(0, S - 1, min(S, n_vertices))).astype(int))
    paths = frame.sde_paths[idx].transpose(1, 0, 2)  # (P, K, 2)
    t_mid = 0.5 * (frame.sde_times[idx][:-1] + frame.sde_times[idx][1:])
    lc = add_paths(
        ax,
        paths,
        values=t_mid,
        cmap=TIME_CMAP,
        clim=(0, frame.T_m),
        linewidth=1.3,
        alpha=0.95,
        zorder=3,
    )
    for i, c in enumerate(cols):
        ax.annotate(
            "",
            xy=frame.x_Tm[i],
            xytext=frame.z[i],
            zorder=4,
            arrowprops={
                "arrowstyle": "-|>",
                "color": c,
                "lw": 1.2,
                "ls": "--",
                "shrinkA": 3,
                "shrinkB": 3,
            },
        )
    ax.scatter(*frame.z.T, s=34, facecolors="white", edgecolors=cols, lw=1.3, zorder=5)
    ax.scatter(*frame.x_Tm.T, s=30, marker="D", c=cols, edgecolors="k", lw=0.5, zorder=5)
    ax.scatter(*frame.x.T, s=34, c=cols, edgecolors="k", lw=0.6, zorder=5)
    if colorbar:
        cb = ax.figure.colorbar(lc, ax=ax, pad=0.01, fraction=0.04)
        cb.set_label("time t on the SDE path", fontsize=FS)
        cb.ax.tick_params(labelsize=FS)
    handles = _marker_legend()[:3] + [
        Line2D([], [], color=FLOW_COLOR, lw=0.8, label="flow⁻¹ of latent circles r = 1, 2, 3"),
        Line2D([], [], marker="o", ls="none", ms=3, color=SDE_COLOR, label="all samples"),
    ]
    if reference is not None:
        handles.append(Line2D([], [], marker="o", ls="none", ms=3, color="0.7", label="data"))
    ax.legend(
        handles=handles,
        fontsize=FS,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=2,
        framealpha=0.85,
    )
    style_axes(ax, lim, "the same samples in the plane")
    ax.tick_params(labelsize=FS)
    ax.set_xlabel("x₁", fontsize=FS)
    ax.set_ylabel("x₂", fontsize=FS)
    return ax


def plot_flow_job(
    ax_exact: Axes, ax_flow: Axes, frame: JourneyFrame, *, colorbar: bool = True
) -> tuple[Axes, Axes]:
    """View 3a: the exact ``p_{T_m}`` and the flow's density at ``T_m``, one colour scale."""
    g = frame.grid
    vmax = float(max(frame.exact.max(), frame.flow.max()))
    ext = (g[0], g[-1], g[0], g[-1])
    kw = {
        "origin": "lower",
        "extent": ext,
        "cmap": DENSITY_CMAP,
        "vmin": 0,
        "vmax": vmax,
        "interpolation": "bilinear",
    }
    ax_exact.imshow(frame.exact, **kw)
    im = ax_flow.imshow(frame.flow, **kw)
    style_axes(ax_exact, g[-1], f"exact density of p\nat Tₘ = {frame.T_m:g}")
    style_axes(ax_flow, g[-1], f"the flow's density\nKL = {frame.kl:.3f} ± {frame.kl_se:.3f} nats")
    for ax in (ax_exact, ax_flow):
        ax.set_xlabel("x₁", fontsize=FS)
        ax.set_ylabel("x₂", fontsize=FS)
        ax.title.set_fontsize(FS)
        ax.tick_params(labelsize=FS)
    if colorbar:
        cb = ax_flow.figure.colorbar(im, ax=[ax_exact, ax_flow], pad=0.01, fraction=0.04)
        cb.set_label("density", fontsize=FS)
        cb.ax.tick_params(labelsize=FS)
    return ax_exact, ax_flow


def plot_tradeoff(ax: Axes, frames: Sequence[JourneyFrame], current: JourneyFrame) -> Axes:
    """View 3b: the flow's job (KL, left axis) and the SDE's (NFE, right axis) against ``T_m``
    for every frame in ``frames``, the current one ringed, and its work and result as text."""
    fs = sorted({f.T_m: f for f in [*frames, current]}.values(), key=lambda f: f.T_m)
    t = [f.T_m for f in fs]
    ax.plot(t, [f.kl for f in fs], "-o", color=FLOW_COLOR, ms=3, lw=1, label="flow's job: KL")
    ax.set_xlabel("Tₘ", fontsize=FS)
    ax.set_ylabel("KL(exact ‖ flow), nats", fontsize=FS, color=FLOW_COLOR)
    ax.set_xlim(0, 1.05)
    ax.set_ylim(bottom=0, top=max(0.05, 1.7 * max(f.kl for f in fs)))
    ax.tick_params(labelsize=FS)
    ax2 = ax.twinx()
    ax2.plot(t, [f.nfe for f in fs], "-s", color=SDE_COLOR, ms=3, lw=1, label="SDE's job: NFE")
    ax2.set_ylabel("score evaluations (NFE)", fontsize=FS, color=SDE_COLOR)
    ax2.set_ylim(0, 1.7 * max(f.nfe for f in fs))
    ax2.tick_params(labelsize=FS)
    ax.plot([current.T_m], [current.kl], "o", ms=9, mfc="none", mec="k")
    ax2.plot([current.T_m], [current.nfe], "s", ms=9, mfc="none", mec="k")
    text = (
        f"Tₘ = {current.T_m:g}\n"
        f"flow: {current.n_flow_layers} layers, 1 pass ({current.flow_time_s * 1e3:.0f} ms)\n"
        f"SDE: {current.n_steps} steps, NFE {current.nfe} ({current.sde_time_s:.2f} s)\n"
        f"MMD² = {current.mmd:.4f}\n"
        f"NLL = {current.nll:.2f} nats (entropy {current.entropy:.2f})"
    )
    ax.text(
        0.5,
        0.97,
        text,
        transform=ax.transAxes,
        fontsize=FS,
        va="top",
        ha="center",
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.9, "lw": 0.5},
    )
    ax.set_title("who does the work: flow (KL) or SDE (NFE)", fontsize=FS + 1)
    return ax


def journey_dashboard(
    frame: JourneyFrame,
    mmap: MarginalMap,
    *,
    reference=None,
    history: Sequence[JourneyFrame] = (),
    figure: Figure | None = None,
    lim: float = 4.5,
) -> Figure:
    """All views for one ``T_m`` on one figure (a new one, or ``figure`` cleared and redrawn):
    time axis and plane on top; exact vs flow density and the trade-off below."""
    fig = figure if figure is not None else plt.figure(figsize=DASHBOARD_INCHES)
    fig.clear()
    rows = fig.add_gridspec(2, 1, left=0.07, right=0.92, bottom=0.06, top=0.96, hspace=0.42)
    top = rows[0].subgridspec(1, 2, wspace=0.3, width_ratios=(1.75, 1))
    bottom = rows[1].subgridspec(1, 3, wspace=0.55, width_ratios=(1, 1, 1.15))
    plot_time_axis(fig.add_subplot(top[0]), frame, mmap)
    plot_plane(fig.add_subplot(top[1]), frame, reference=reference, lim=lim)
    plot_flow_job(fig.add_subplot(bottom[0]), fig.add_subplot(bottom[1]), frame)
    plot_tradeoff(fig.add_subplot(bottom[2]), history, frame)
    return fig
