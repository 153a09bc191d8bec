"""Layer-by-layer pictures of a flow's trajectory ``h_0 = x, h_1, …, h_M = z`` (DiNof Eq. 8).

A trajectory is a sequence of ``S`` states with the same shape, e.g. the list from
``Glow.trajectory(x)`` (data → latent) or ``Glow.inverse_trajectory(z)`` (latent → data); any
sequence works, so DiNof's sampling journey (flow layers, then SDE steps) can be drawn the same
way.

- :func:`plot_flow_stages` — 2D points ``(B, 2)``: one panel per selected state, each point keeps
  its colour (by default its angle in the first state) so the reader can follow it.
- :func:`plot_flow_paths` — 2D points: every point's polyline through the (selected) states.
- :func:`flow_image_strip` — images ``(B, C, H, W)``: rows = examples, columns = selected states.

Nothing here calls ``plt.show()``; end notebook cells with ``plt.show()`` or ``;``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure

from dinof_lite.viz.plots import LIM, PANEL, add_paths, style_axes

__all__ = [
    "default_stages",
    "angle_colors",
    "plot_flow_stages",
    "plot_flow_paths",
    "flow_image_strip",
]

STATE_KW = {"s": 3.0, "alpha": 0.7, "linewidths": 0}


def _stack(states, *, ndim: int, what: str, width: int | None = None) -> np.ndarray:
    """``S`` states of one shape → a float array ``(S, B, ...)``.

    ``ndim`` is one state's number of dimensions, ``width`` its required last size (if any) and
    ``what`` its shape as written in the error messages. ``states`` is a sequence of
    tensors/arrays or one stacked tensor/array ``(S, B, ...)``.
    """
    if isinstance(states, (torch.Tensor, np.ndarray)):
        if states.ndim != ndim + 1:
            raise ValueError(
                f"a stacked states tensor must have shape (S, {what[1:]}; got {tuple(states.shape)}"
            )
        states = list(states)
    elif not isinstance(states, Sequence):
        raise TypeError(
            f"states must be a list of {what} tensors (one per layer) or a stacked "
            f"tensor; got {type(states).__name__}"
        )
    if len(states) == 0:
        raise ValueError("states must contain at least one state")
    arrs = [
        s.detach().cpu().double().numpy()
        if isinstance(s, torch.Tensor)
        else np.asarray(s, dtype=float)
        for s in states
    ]
    shape = arrs[0].shape
    if len(shape) != ndim or shape[0] == 0 or (width is not None and shape[-1] != width):
        raise ValueError(f"every state must have shape {what} with B >= 1; states[0] has {shape}")
    for k, a in enumerate(arrs):
        if a.shape != shape:
            raise ValueError(
                f"all states must have the same shape; states[0] is {shape} "
                f"but states[{k}] is {a.shape}"
            )
    return np.stack(arrs)


def default_stages(n_states: int, n: int = 6) -> list[int]:
    """``n`` indices spread evenly over ``0 … n_states − 1``, always with the first and the last."""
    if n_states < 1 or n < 1:
        raise ValueError(f"n_states and n must be >= 1; got n_states={n_states}, n={n}")
    if n == 1:
        return [n_states - 1]
    return sorted({int(round(v)) for v in np.linspace(0, n_states - 1, min(n, n_states))})


def _stages(stages, n_states: int) -> list[int]:
    if stages is None:
        return default_stages(n_states)
    out = [int(k) for k in stages]
    if not out:
        raise ValueError("stages must select at least one state")
    bad = [k for k in out if not -n_states <= k < n_states]
    if bad:
        raise ValueError(
            f"stages {bad} out of range for {n_states} states (valid: 0 … {n_states - 1})"
        )
    return [k % n_states for k in out]


def _names(names, n_states: int) -> list[str]:
    if names is None:
        return [f"$h_{{{k}}}$" for k in range(n_states)]
    names = [str(n) for n in names]
    if len(names) != n_states:
        raise ValueError(f"names must have one entry per state ({n_states}); got {len(names)}")
    return names


def angle_colors(points, cmap: str = "hsv") -> np.ndarray:
    """RGBA colours ``(B, 4)`` from each point's angle around the points' mean (``points (B, 2)``).

    Neighbouring points get similar colours and the modes of a ring (8gaussians) distinct ones.
    """
    p = _stack([points], ndim=2, what="(B, 2)", width=2)[0]
    d = p - p.mean(0)
    angle = (np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi)
    return colormaps[cmap](angle)


def _colors(color, first: np.ndarray, cmap: str) -> np.ndarray:
    """Per-point RGBA ``(B, 4)``: default angle colours, values ``(B,)`` through ``cmap``,
    RGB(A) rows ``(B, 3|4)`` or one matplotlib colour."""
    b = first.shape[0]
    if color is None:
        return angle_colors(first)
    if isinstance(color, str):
        return np.repeat(to_rgba_array(color), b, axis=0)
    arr = color.detach().cpu().numpy() if isinstance(color, torch.Tensor) else color
    arr = np.asarray(arr, dtype=float)
    if arr.shape == (b,):
        span = np.ptp(arr) or 1.0
        return colormaps[cmap]((arr - arr.min()) / span)
    if arr.shape in ((b, 3), (b, 4)):
        return to_rgba_array(arr)
    raise ValueError(
        f"color must be None, a colour name, ({b},) values or ({b}, 3|4) RGB(A) rows; "
        f"got shape {arr.shape}"
    )


def auto_lim(pts: np.ndarray) -> float:
    """A symmetric window holding 99.5% of the points' coordinates, with a 10% margin."""
    return 1.1 * float(np.quantile(np.abs(pts), 0.995)) or 1.0


def plot_flow_stages(
    states,
    names: Sequence[str] | None = None,
    *,
    stages: Sequence[int] | None = None,
    color=None,
    cmap: str = "viridis",
    lim: float | None = LIM,
    ncols: int | None = None,
    title: str | None = None,
) -> Figure:
    """One panel per selected state of a 2D trajectory, points coloured consistently across panels.

    Args:
        states: ``S`` states ``(B, 2)`` (tensors or arrays), e.g. ``[x, h_1, …, z]``, or one
            stacked ``(S, B, 2)`` tensor (a sampler's trajectory).
        names: one label per state (panel titles); default ``h_k``.
        stages: indices of the states to draw (negative ones count from the end); default
            :func:`default_stages` (~6 evenly spaced, first and last included).
        color: None (colour by angle in ``states[0]``, :func:`angle_colors`), one colour name,
            ``(B,)`` values mapped through ``cmap``, or ``(B, 3|4)`` RGB(A) rows.
        lim: half-width of every panel's window; None fits each panel to its own points.
        ncols: panels per row (default: all in one row, at most 6).
        title: figure title.

    Returns:
        The Figure; unused panels of the last row are hidden.
    """
    traj = _stack(states, ndim=2, what="(B, 2)", width=2)
    idx, labels = _stages(stages, len(traj)), _names(names, len(traj))
    rgba = _colors(color, traj[0], cmap)
    ncols = min(len(idx), 6) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1; got {ncols}")
    nrows = -(-len(idx) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PANEL * ncols, PANEL * nrows), squeeze=False, layout="constrained"
    )
    for ax, k in zip(axes.flat, idx):
        pts = traj[k]
        ax.scatter(pts[:, 0], pts[:, 1], c=rgba, rasterized=True, **STATE_KW)
        style_axes(ax, auto_lim(pts) if lim is None else lim, f"{k}: {labels[k]}")
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=9)
    for ax in axes.flat[len(idx) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_flow_paths(
    ax: Axes | None,
    states,
    *,
    stages: Sequence[int] | None = None,
    n_paths: int = 60,
    color=None,
    cmap: str = "viridis",
    lim: float | None = LIM,
    linewidth: float = 0.7,
    alpha: float = 0.7,
    title: str | None = None,
) -> Axes:
    """Each of the first ``n_paths`` points' polyline through the states ``(B, 2)``.

    Path ``i`` has vertices ``states[k][i]`` for ``k`` in ``stages`` (default: all ``S`` states,
    in order; e.g. only the ends of the flow steps for a less jagged picture), drawn as one line
    of a ``LineCollection``; starts are hollow circles, ends filled dots. ``color`` as in
    :func:`plot_flow_stages` (computed on all ``B`` points of ``states[0]``, so colours match that
    figure); ``lim=None`` fits the window to the paths. Returns the Axes.
    """
    traj = _stack(states, ndim=2, what="(B, 2)", width=2)
    if not isinstance(n_paths, int) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive int; got {n_paths!r}")
    rgba = _colors(color, traj[0], cmap)[:n_paths]
    idx = list(range(len(traj))) if stages is None else _stages(stages, len(traj))
    paths = traj[idx, :n_paths].transpose(1, 0, 2)  # (P, len(idx), 2)
    if ax is None:
        _, ax = plt.subplots(figsize=(PANEL * 1.4, PANEL * 1.4), layout="constrained")
    add_paths(ax, paths, colors=rgba, linewidth=linewidth, alpha=alpha)
    ax.scatter(
        paths[:, 0, 0],
        paths[:, 0, 1],
        s=14,
        facecolors="none",
        edgecolors=rgba,
        linewidths=0.8,
        zorder=3,
        label="start",
    )
    ax.scatter(paths[:, -1, 0], paths[:, -1, 1], s=10, c=rgba, zorder=3, label="end")
    return style_axes(ax, auto_lim(paths) if lim is None else lim, title)


def _to_image(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(C, H, W)`` → an ``(H, W)`` or ``(H, W, C)`` array clipped into ``[0, 1]``."""
    img = np.clip((x - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    return img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)


def flow_image_strip(
    states,
    names: Sequence[str] | None = None,
    *,
    stages: Sequence[int] | None = None,
    n_images: int | None = None,
    cmap: str = "gray",
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Images through a flow: rows = the first ``n_images`` examples, columns = selected states.

    Args:
        states: ``S`` states ``(B, C, H, W)`` with ``C`` = 1 (drawn with ``cmap``) or 3 (RGB).
        names, stages: as in :func:`plot_flow_stages` (column titles and selected states).
        n_images: rows, ``<= B`` (default ``min(4, B)``).
        value_range: ``(lo, hi)`` mapped to black/white in every column; default: each column's
            own 1st–99th percentile range (data and latents live on different scales).
        title: figure title.
    """
    traj = _stack(states, ndim=4, what="(B, C, H, W)")
    if traj.shape[2] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels; got C = {traj.shape[2]}")
    n_images = min(4, traj.shape[1]) if n_images is None else n_images
    if not isinstance(n_images, int) or not 1 <= n_images <= traj.shape[1]:
        raise ValueError(f"n_images must be an int in [1, {traj.shape[1]}]; got {n_images!r}")
    if value_range is not None and not float(value_range[1]) > float(value_range[0]):
        raise ValueError(f"value_range must be (lo, hi) with hi > lo; got {value_range}")
    idx, labels = _stages(stages, len(traj)), _names(names, len(traj))
    size = 1.35  # inches per image: room for 9 pt column titles
    fig, axes = plt.subplots(
        n_images,
        len(idx),
        figsize=(size * len(idx), size * n_images + 0.3),
        squeeze=False,
        layout="constrained",
    )
    for j, k in enumerate(idx):
        shown = traj[k, :n_images]
        lo, hi = (
            np.percentile(shown, [1, 99])
            if value_range is None
            else (float(value_range[0]), float(value_range[1]))
        )
        for i in range(n_images):
            ax = axes[i, j]
            ax.imshow(
                _to_image(shown[i], lo, hi), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest"
            )
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(labels[k], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
