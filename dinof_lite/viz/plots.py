"""Matplotlib helpers for 2D diffusion: samples, densities, score fields, marginals, trajectories.

Each helper draws on the ``ax`` it is given (or on a new one when ``ax`` is None) and returns
that ``Axes`` — or, for the multi-panel helpers, the ``Figure``. None calls ``plt.show()``; in a
notebook, end the cell with ``plt.show()`` or a trailing ``;``. Points are ``(N, 2)`` tensors or
arrays; one shared style keeps panels comparable: the square window ``[-lim, lim]²``, equal
aspect, small translucent markers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "LIM",
    "style_axes",
    "grid_points",
    "plot_samples",
    "plot_density",
    "plot_score_field",
    "plot_marginals_over_time",
    "plot_trajectories",
    "sample_grid_figure",
    "plot_sde_coefficients",
]

LIM = 4.5  #: default half-width of the plotting window (the toys live in about [-4, 4]²)
PANEL = 2.6  #: inches per square panel
SAMPLE_KW = {"s": 2.0, "alpha": 0.5, "linewidths": 0}
DENSITY_CMAP = "magma"


def as_numpy(x) -> np.ndarray:
    """A tensor (any device, with or without grad) or array-like as a float numpy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=float)


def as_points(x, name: str = "x") -> np.ndarray:
    """``x`` as a float numpy array of shape (N, 2), or a ValueError naming ``name``."""
    arr = as_numpy(x)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, 2) with N >= 1; got {tuple(arr.shape)}")
    return arr


def _new_ax(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(PANEL, PANEL), layout="constrained")
    return ax


def _panels(nrows: int, ncols: int) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PANEL * ncols, PANEL * nrows), squeeze=False, layout="constrained"
    )
    return fig, axes


def style_axes(ax: Axes, lim: float = LIM, title: str | None = None) -> Axes:
    """Apply the shared style: window ``[-lim, lim]²``, equal aspect, small ticks, optional title."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=9, length=2)
    if title is not None:
        ax.set_title(title, fontsize=10)
    return ax


def grid_points(
    lim: float = LIM, n_grid: int = 100, dtype=torch.float32
) -> tuple[np.ndarray, torch.Tensor]:
    """A regular ``n_grid × n_grid`` grid on ``[-lim, lim]²``: axis values (n_grid,), points (n_grid², 2).

    Points run row by row (``y`` outer, ``x`` inner), so ``values.reshape(n_grid, n_grid)`` is an
    image with ``origin="lower"``.
    """
    if not isinstance(n_grid, int) or n_grid < 2:
        raise ValueError(f"n_grid must be an int >= 2; got {n_grid!r}")
    axis = np.linspace(-lim, lim, n_grid)
    xx, yy = np.meshgrid(axis, axis)
    return axis, torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=dtype)


def plot_samples(
    ax: Axes | None,
    x,
    *,
    title: str | None = None,
    lim: float = LIM,
    color: str = "C0",
    s: float = SAMPLE_KW["s"],
    alpha: float = SAMPLE_KW["alpha"],
    label: str | None = None,
) -> Axes:
    """Scatter the points ``x`` (N, 2) in the shared style; returns the Axes."""
    pts = as_points(x)
    ax = _new_ax(ax)
    ax.scatter(
        pts[:, 0], pts[:, 1], s=s, alpha=alpha, c=color, linewidths=0, label=label, rasterized=True
    )
    return style_axes(ax, lim, title)


@torch.no_grad()
def plot_density(
    ax: Axes | None,
    log_prob_fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    lim: float = LIM,
    n_grid: int = 150,
    kind: str = "heatmap",
    log_scale: bool = False,
    cmap: str = DENSITY_CMAP,
    alpha: float = 1.0,
    title: str | None = None,
) -> Axes:
    """Draw a 2D density from its log: ``log_prob_fn(points (M, 2)) -> (M,)``, M = ``n_grid²``.

    ``kind="heatmap"`` shows ``p`` (or ``log p`` with ``log_scale``, clipped 12 nats below its
    maximum) as an image; ``kind="contour"`` draws 8 filled contour levels of the same values.
    Drawn at ``zorder=0``, below samples and paths plotted on the same Axes.
    """
    if kind not in ("heatmap", "contour"):
        raise ValueError(f"unknown kind {kind!r}; valid: heatmap, contour")
    axis, pts = grid_points(lim, n_grid)
    logp = torch.as_tensor(log_prob_fn(pts)).detach().cpu().double()
    if logp.shape != (pts.shape[0],):
        raise ValueError(
            f"log_prob_fn must return shape ({pts.shape[0]},); got {tuple(logp.shape)}"
        )
    z = logp.reshape(n_grid, n_grid).numpy()
    z = np.maximum(z, z.max() - 12.0) if log_scale else np.exp(z - z.max())
    ax = _new_ax(ax)
    if kind == "heatmap":
        ax.imshow(
            z,
            origin="lower",
            extent=(-lim, lim, -lim, lim),
            cmap=cmap,
            aspect="equal",
            interpolation="bilinear",
            alpha=alpha,
            zorder=0,
        )
    else:
        ax.contourf(axis, axis, z, levels=8, cmap=cmap, alpha=alpha, zorder=0)
    return style_axes(ax, lim, title)


@torch.no_grad()
def plot_score_field(
    ax: Axes | None,
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    t: float,
    *,
    lim: float = LIM,
    n_grid: int = 19,
    log_prob_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    normalize: bool = True,
    color: str | None = "k",
    cmap: str = "viridis",
    density_cmap: str = "Blues",
    title: str | None = None,
) -> Axes:
    """Quiver plot of the score ``∇log p_t`` at time ``t`` on an ``n_grid × n_grid`` grid.

    ``score_fn(x (M, 2), t (M,)) -> (M, 2)``. With ``normalize`` every arrow has the same length
    (the score's size varies by orders of magnitude); ``color=None`` colours the arrows by
    ``log10 |score|`` (with ``cmap``) instead of one ``color``. ``log_prob_fn`` (points (M, 2)
    -> (M,)) draws the density below, in ``density_cmap``.
    """
    ax = _new_ax(ax)
    if log_prob_fn is not None:
        plot_density(ax, log_prob_fn, lim=lim, n_grid=120, cmap=density_cmap)
    _, pts = grid_points(lim, n_grid)
    score = torch.as_tensor(score_fn(pts, torch.full((pts.shape[0],), float(t))))
    if score.shape != pts.shape:
        raise ValueError(f"score_fn must return shape {tuple(pts.shape)}; got {tuple(score.shape)}")
    u = as_numpy(score)
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    if normalize:
        u = u / np.maximum(norm, 1e-12)
    kw: dict = {"angles": "xy", "pivot": "mid", "width": 0.005, "headwidth": 4, "headlength": 4}
    if normalize:
        kw.update(scale_units="xy", scale=1.5 * (n_grid - 1) / (2 * lim))
    if color is None:
        ax.quiver(
            pts[:, 0], pts[:, 1], u[:, 0], u[:, 1], np.log10(norm[:, 0] + 1e-12), cmap=cmap, **kw
        )
    else:
        ax.quiver(pts[:, 0], pts[:, 1], u[:, 0], u[:, 1], color=color, **kw)
    return style_axes(ax, lim, title)


def plot_marginals_over_time(
    sde,
    source,
    times: Sequence[float],
    *,
    lim: float | Sequence[float] = LIM,
    n_samples: int = 2000,
    kind: str = "both",
    generator: torch.Generator | None = None,
    n_grid: int = 120,
) -> Figure:
    """A row of panels showing the forward marginals ``p_t`` at each of ``times``.

    ``source`` is a Gaussian mixture (anything with ``marginal(sde, t)``: exact samples and, with
    ``kind`` "density" or "both", the exact density ``p_t``) or data points ``x0`` (N, 2), then
    diffused with ``sde.perturb`` (``kind="samples"`` only). ``lim`` may be one value or one per
    time (VE spreads to ``σ_max``). Rows: samples, density. Returns the Figure.
    """
    if kind not in ("samples", "density", "both"):
        raise ValueError(f"unknown kind {kind!r}; valid: samples, density, both")
    times = [float(t) for t in times]
    if not times:
        raise ValueError("times must contain at least one time")
    lims = [float(lim)] * len(times) if np.isscalar(lim) else [float(v) for v in lim]
    if len(lims) != len(times):
        raise ValueError(f"lim must be a float or have {len(times)} entries; got {len(lims)}")
    exact = hasattr(source, "marginal")
    if not exact:
        x0 = torch.as_tensor(source, dtype=torch.float32)
        as_points(x0, "source")
        if kind != "samples":
            raise ValueError(
                "data points have no known density: use kind='samples' or pass a mixture"
            )
    rows = ["samples", "density"] if kind == "both" else [kind]
    fig, axes = _panels(len(rows), len(times))
    for j, (t, lm) in enumerate(zip(times, lims)):
        p_t = source.marginal(sde, t) if exact else None
        for i, row in enumerate(rows):
            ax, title = axes[i, j], (f"$t = {t:g}$" if i == 0 else None)
            if row == "samples":
                x = (
                    p_t.sample(n_samples, generator)
                    if exact
                    else sde.perturb(x0, t, generator=generator)
                )
                plot_samples(ax, x, lim=lm, title=title)
            else:
                plot_density(ax, p_t.log_prob, lim=lm, n_grid=n_grid, title=title)
    for i, row in enumerate(rows):
        axes[i, 0].set_ylabel(f"$p_t$ {row}", fontsize=9)
    return fig


def add_paths(
    ax: Axes,
    paths: np.ndarray,
    *,
    colors=None,
    values=None,
    cmap: str = "viridis",
    clim: tuple[float, float] | None = None,
    linewidth: float = 0.8,
    alpha: float = 0.8,
    **kw,
) -> LineCollection:
    """Add the polylines ``paths (P, K, 2)`` to ``ax`` as one ``LineCollection`` and return it.

    With ``values`` (K−1,) each path is split into its ``K − 1`` segments (``P·(K−1)`` lines,
    path by path) coloured by ``values`` through ``cmap`` (limits ``clim``); otherwise every path
    is one line, coloured by ``colors`` (one colour or one per path). ``kw`` (e.g. ``label``,
    ``zorder``) goes to the collection.
    """
    if values is None:
        lc = LineCollection(list(paths), colors=colors, linewidths=linewidth, alpha=alpha, **kw)
    else:
        segments = np.stack([paths[:, :-1], paths[:, 1:]], axis=2).reshape(-1, 2, 2)
        lc = LineCollection(segments, cmap=cmap, linewidths=linewidth, alpha=alpha, **kw)
        lc.set_array(np.tile(values, paths.shape[0]))
        if clim is not None:
            lc.set_clim(*clim)
    ax.add_collection(lc)
    return lc


def plot_trajectories(
    ax: Axes | None,
    trajectory,
    *,
    n_paths: int = 40,
    highlight: int | None = None,
    times=None,
    lim: float = LIM,
    cmap: str = "viridis",
    linewidth: float = 0.8,
    alpha: float = 0.8,
    colorbar: bool = False,
    legend: bool = False,
    title: str | None = None,
) -> Axes:
    """Draw the first ``n_paths`` sample paths of ``trajectory`` (k+1, B, 2), coloured by time.

    ``times`` (k+1,) gives each state's time (default: 1 → 0 evenly); start points are grey
    crosses, end points black dots. With ``highlight`` only the first ``highlight`` paths are
    coloured (thicker, with their end markers); the other ``n_paths - highlight`` are a faint grey
    background, so the eye follows a few paths instead of a tangle. ``colorbar`` adds a bar
    labelled ``t``; ``legend`` explains the kinds of line and marker, one entry each, outside the
    axes on the right.
    """
    traj = as_numpy(trajectory)
    if traj.ndim != 3 or traj.shape[2] != 2 or traj.shape[0] < 2:
        raise ValueError(
            f"trajectory must have shape (k+1, B, 2) with k >= 1; got {tuple(traj.shape)}"
        )
    tt = np.linspace(1.0, 0.0, traj.shape[0]) if times is None else as_numpy(times)
    if tt.shape != (traj.shape[0],):
        raise ValueError(f"times must have shape ({traj.shape[0]},); got {tt.shape}")
    if not isinstance(n_paths, int) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive int; got {n_paths!r}")
    if highlight is not None and not (isinstance(highlight, int) and 1 <= highlight <= n_paths):
        raise ValueError(f"highlight must be None or an int in [1, n_paths]; got {highlight!r}")
    paths = traj[:, :n_paths].transpose(1, 0, 2)  # (P, k+1, 2)
    n_hi = len(paths) if highlight is None else min(highlight, len(paths))
    ax = _new_ax(ax)
    if n_hi < len(paths):
        add_paths(ax, paths[n_hi:], colors="0.6", linewidth=0.5, alpha=0.35, zorder=1)
    width = linewidth if highlight is None else 2 * linewidth
    lc = add_paths(
        ax,
        paths[:n_hi],
        values=0.5 * (tt[:-1] + tt[1:]),
        cmap=cmap,
        clim=(min(tt.min(), 0.0), tt.max()),
        linewidth=width,
        alpha=alpha,
        zorder=2,
    )
    shown = paths[:n_hi]
    ax.scatter(shown[:, 0, 0], shown[:, 0, 1], marker="x", s=25, c="0.4", linewidths=1.2, zorder=3)
    ax.scatter(shown[:, -1, 0], shown[:, -1, 1], s=18, c="k", zorder=3)
    if colorbar:
        ax.figure.colorbar(lc, ax=ax, label="$t$", shrink=0.8)
    if legend:
        kinds = [
            Line2D([], [], color=plt.get_cmap(cmap)(0.5), lw=width, label="path, coloured by $t$"),
            Line2D([], [], ls="", marker="x", color="0.4", label=f"start, $t = {tt[0]:g}$"),
            Line2D([], [], ls="", marker="o", ms=4, color="k", label=f"end, $t = {tt[-1]:.3g}$"),
        ]
        if n_hi < len(paths):
            kinds.insert(1, Line2D([], [], color="0.6", lw=0.8, label="other paths"))
        ax.legend(handles=kinds, fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return style_axes(ax, lim, title)


def sample_grid_figure(
    samples: Mapping[str, object],
    *,
    lim: float = LIM,
    ncols: int | None = None,
    reference=None,
    suptitle: str | None = None,
) -> Figure:
    """One panel per ``name -> samples (N, 2)``, in the shared style; returns the Figure.

    ``reference`` (M, 2), e.g. the data, is drawn in light grey behind every panel.
    """
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping name -> (N, 2) points")
    n = len(samples)
    ncols = min(n, 4) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1; got {ncols}")
    nrows = -(-n // ncols)
    fig, axes = _panels(nrows, ncols)
    for ax, (name, x) in zip(axes.flat, samples.items()):
        if reference is not None:
            plot_samples(ax, reference, lim=lim, color="0.75", alpha=0.4)
        plot_samples(ax, as_points(x, f"samples[{name!r}]"), lim=lim, title=str(name))
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def plot_sde_coefficients(
    sdes: Mapping[str, object] | Sequence, *, n_t: int = 200, t_min: float = 1e-3
) -> Figure:
    """Three panels for ``x_t | x_0 ~ N(a_t x_0, σ_t² I)``: ``a_t``, ``σ_t`` and ``SNR = a_t²/σ_t²``.

    ``sdes``: a mapping label -> SDE, or a sequence of SDEs (labelled by ``sde.name``). ``σ_t``
    and the SNR use a log axis; ``t`` runs over ``[t_min, T]`` (``σ_0 = 0``); the legend sits
    outside the axes, one entry per SDE.
    """
    items = list(sdes.items()) if isinstance(sdes, Mapping) else [(s.name, s) for s in sdes]
    if not items:
        raise ValueError("sdes must name at least one SDE")
    fig, axes = _panels(1, 3)
    for label, sde in items:
        t = torch.linspace(t_min, float(sde.T), n_t, dtype=torch.float64)
        a, s = (v.numpy() for v in sde.marginal_coeffs(t))
        for ax, y in zip(axes[0], (a, s, a**2 / s**2)):
            ax.plot(t.numpy(), y, label=label)
    names = (
        "mean coefficient $a_t$",
        "marginal std $\\sigma_t$",
        "signal-to-noise $a_t^2/\\sigma_t^2$",
    )
    for ax, name in zip(axes[0], names):
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(name.split()[-1])
        ax.set_xlabel("$t$")
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    axes[0, 1].set_yscale("log")
    axes[0, 2].set_yscale("log")
    axes[0, 2].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig
