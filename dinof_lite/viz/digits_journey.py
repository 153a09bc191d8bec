"""DiNof's journey on images: the strip ``z → x(T_m) → SDE frames → x(eps)`` and a sample grid.

:func:`digits_frame` samples an image DiNof (the shipped ``dinof_digits``: 1×16×16 digits on
[0, 1]) at one ``T_m`` and keeps, for a few images, the latent ``z``, the flow's output
``x(T_m)`` (one deterministic pass), a few frames of the reverse SDE and the final sample, plus
a grid of final samples. :func:`digits_dashboard` draws both at a size where every digit is at
least 48 pixels wide on screen (``dpi=80``; 88 at the notebooks' 110) and every title is 9 pt,
so the noise left at ``x(T_m)`` and the digits at the end can be judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["DigitsFrame", "digits_frame", "digits_dashboard", "DIGIT_INCHES"]

DIGIT_INCHES = 0.8  #: inches per digit: 64 px at dpi 80, 88 px at dpi 110
IMAGE_RANGE = (-0.25, 1.25)  #: grey scale of x(T_m), the SDE frames and the samples
LATENT_RANGE = (-2.5, 2.5)  #: grey scale of the latent z ~ N(0, I)


@dataclass
class DigitsFrame:
    """What the digits views draw for one ``T_m`` (numpy arrays of ``(H, W)`` images).

    Attributes:
        T_m, n_steps, nfe, n_flow_layers, flow_time_s, sde_time_s: as in a DiNof sample.
        z, x_Tm: (k, H, W) the strip's latents and flow outputs.
        sde_frames: (F, k, H, W) states of the reverse SDE at ``sde_frame_times`` (F,), strictly
            between ``T_m`` and the end; x: (n, H, W) every final sample (the strip's are first).
    """

    T_m: float
    n_steps: int
    nfe: int
    n_flow_layers: int
    flow_time_s: float
    sde_time_s: float
    z: np.ndarray
    x_Tm: np.ndarray
    sde_frames: np.ndarray
    sde_frame_times: np.ndarray
    x: np.ndarray

    @property
    def time_s(self) -> float:
        return self.flow_time_s + self.sde_time_s


def _img(x: torch.Tensor) -> np.ndarray:
    """``(..., 1, H, W)`` or ``(..., H, W)`` tensor → float numpy ``(..., H, W)``."""
    a = x.detach().cpu().float().numpy()
    return a[..., 0, :, :] if a.ndim >= 3 and a.shape[-3] == 1 else a


@torch.no_grad()
def digits_frame(
    model,
    T_m: float,
    *,
    n: int = 16,
    n_strip: int = 4,
    n_frames: int = 3,
    seed: int = 0,
    sample_kwargs: dict | None = None,
) -> DigitsFrame:
    """Sample ``n`` images of ``model`` at ``T_m`` (seed ``seed``); the first ``n_strip`` make
    the strip, with ``n_frames`` SDE states spread evenly between ``x(T_m)`` and ``x(eps)``."""
    dims = tuple(model.dims)
    if len(dims) != 3 or dims[0] != 1:
        raise ValueError(f"digits frames need a one-channel image model; dims are {dims}")
    for name, v, lo in (("n", n, 1), ("n_strip", n_strip, 1), ("n_frames", n_frames, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")
    if n_strip > n:
        raise ValueError(f"n_strip ({n_strip}) must not exceed n ({n})")
    T_m = model.resolve_T_m(float(T_m))
    res = model.sample_result(
        n,
        T_m=T_m,
        generator=torch.Generator().manual_seed(seed),
        trajectory_every=1,
        **(sample_kwargs or {}),
    )
    S = len(res.sde_times)
    keep = np.unique(np.round(np.linspace(0, S - 1, n_frames + 2)).astype(int))[1:-1]
    return DigitsFrame(
        T_m=T_m,
        n_steps=int(res.n_steps),
        nfe=int(res.nfe),
        n_flow_layers=int(res.n_flow_layers),
        flow_time_s=float(res.flow_time_s),
        sde_time_s=float(res.sde_time_s),
        z=_img(res.z[:n_strip]),
        x_Tm=_img(res.x_Tm[:n_strip]),
        sde_frames=_img(res.sde_states[keep, :n_strip]),
        sde_frame_times=res.sde_times[keep].detach().cpu().numpy(),
        x=_img(res.x),
    )


def _show(ax, img: np.ndarray, vrange: tuple[float, float]) -> None:
    ax.imshow(img, cmap="gray", vmin=vrange[0], vmax=vrange[1], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def digits_dashboard(
    frame: DigitsFrame, *, figure: Figure | None = None, grid_cols: int = 4
) -> Figure:
    """The strip (rows: images; columns: ``z``, ``x(T_m)``, SDE frames, ``x(eps)``) beside a
    ``grid_cols``-wide grid of every final sample; each digit :data:`DIGIT_INCHES` wide."""
    k, F, n = len(frame.z), len(frame.sde_frames), len(frame.x)
    cols = 3 + F
    rows_grid = -(-n // grid_cols)
    rows = max(k, rows_grid)
    d = DIGIT_INCHES
    width, height = d * (cols + grid_cols) + 1.2, d * rows + 1.3
    fig = figure if figure is not None else plt.figure(figsize=(width, height))
    fig.clear()
    fig.set_size_inches(width, height)
    left = fig.add_gridspec(
        k,
        cols,
        left=0.5 / width,
        right=(0.5 + d * cols) / width,
        bottom=0.3 / height,
        top=(0.3 + d * k) / height,
        wspace=0.06,
        hspace=0.06,
    )
    titles = ["z (latent)", "x(Tₘ)\n= flow⁻¹(z)"]
    titles += [f"SDE\nt = {t:.2f}" for t in frame.sde_frame_times] + ["x(ε)\nthe sample"]
    for i in range(k):
        strip = [frame.z[i], frame.x_Tm[i], *frame.sde_frames[:, i], frame.x[i]]
        for j, img in enumerate(strip):
            ax = fig.add_subplot(left[i, j])
            _show(ax, img, LATENT_RANGE if j == 0 else IMAGE_RANGE)
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
            if j == 1:
                for side in ax.spines.values():
                    side.set_edgecolor("#e6550d")
                    side.set_linewidth(2)
    x0 = (0.5 + d * cols + 0.4) / width
    right = fig.add_gridspec(
        rows_grid,
        grid_cols,
        left=x0,
        right=x0 + d * grid_cols / width,
        bottom=0.3 / height,
        top=(0.3 + d * rows_grid) / height,
        wspace=0.04,
        hspace=0.04,
    )
    for i in range(rows_grid * grid_cols):
        ax = fig.add_subplot(right[i // grid_cols, i % grid_cols])
        if i < n:
            _show(ax, frame.x[i], IMAGE_RANGE)
        else:
            ax.axis("off")
    fig.text(
        0.5 / width,
        1 - 0.15 / height,
        f"Tₘ = {frame.T_m:g} · flow: {frame.n_flow_layers} layers, one deterministic pass "
        f"({frame.flow_time_s * 1e3:.0f} ms) · reverse SDE: {frame.n_steps} steps, NFE "
        f"{frame.nfe} ({frame.sde_time_s:.1f} s)",
        fontsize=10,
        va="top",
    )
    fig.text(
        x0,
        (0.35 + d * rows_grid) / height,
        f"{n} samples x(ε) at Tₘ = {frame.T_m:g}",
        fontsize=9,
        va="bottom",
    )
    return fig
