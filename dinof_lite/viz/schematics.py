"""Schematics of DiNof and its parts, drawn with matplotlib boxes and arrows (no data needed).

- :func:`dinof_timeline` — the time axis ``0 → T_m → T``: forward SDE then flow (training), and
  back: ``flow⁻¹`` then the reverse SDE (sampling), with the loss term that trains each part.
- :func:`glow_step_diagram` — one Glow step: ActNorm → invertible 1×1 conv → affine coupling.
- :func:`multiscale_diagram` — Glow's multi-scale architecture, with the tensor shapes computed by
  :func:`multiscale_shapes`.
- :func:`pc_loop_diagram` — the predictor–corrector loop and its number of score evaluations.
- :func:`any_tm_conditioning_diagram` — how one flow is conditioned on ``T_m``.

Each returns a :class:`~matplotlib.figure.Figure`; nothing here calls ``plt.show()``.
Colours: the flow orange, the SDE blue, as everywhere in :mod:`dinof_lite.viz`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from dinof_lite.dinof.conditioning import CONTEXT_DIM
from dinof_lite.sde import n_steps_from
from dinof_lite.viz.journey import FLOW_COLOR, SDE_COLOR

__all__ = [
    "dinof_timeline",
    "glow_step_diagram",
    "multiscale_shapes",
    "multiscale_diagram",
    "pc_loop_diagram",
    "any_tm_conditioning_diagram",
]

GREY = "#555555"  #: neutral boxes, notes and log-determinants
LOSS_COLOR = "#31a354"  #: loss terms (green)


# --------------------------------------------------------------------------- drawing helpers


def _canvas(size: tuple[float, float], xlim: tuple[float, float], ylim: tuple[float, float]):
    fig, ax = plt.subplots(figsize=size)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    fig.subplots_adjust(0.01, 0.01, 0.99, 0.99)
    return fig, ax


def _box(ax: Axes, x, y, text, w, h, color=GREY, fontsize=10, alpha=0.13, **kw):
    """A rounded box of size ``w × h`` centred at ``(x, y)`` with centred text."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.12",
            fc=to_rgba(color, alpha),
            ec=color,
            lw=kw.pop("lw", 1.5),
            ls=kw.pop("ls", "-"),
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **kw)


def _label(ax: Axes, x, y, text, size=9.5, ha="center", va="center", **kw) -> None:
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, **kw)


def _frame(ax: Axes, x, y, w, h, color) -> None:
    """A dashed rounded frame around part of a diagram (a loop body, a layer in detail)."""
    style = "round,pad=0,rounding_size=0.15"
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=style, fc="none", ec=color, ls="--", lw=1.2))


def _arrow(ax: Axes, start, end, color=GREY, lw=1.5, style="-|>", **kw) -> None:
    props = dict(arrowstyle=style, color=color, lw=lw, shrinkA=0, shrinkB=0, mutation_scale=16)
    ax.annotate("", xy=end, xytext=start, arrowprops={**props, **kw})


def _wiggle(ax: Axes, x0: float, x1: float, y: float, color=SDE_COLOR, amp=0.22, seed=0) -> None:
    """A jagged horizontal arrow from ``x0`` to ``x1``: a Brownian-looking path (the SDE)."""
    rng = np.random.default_rng(seed)
    s = np.linspace(0.0, 1.0, 120)
    walk = np.cumsum(rng.normal(size=s.size))
    walk = walk - walk[0] - s * (walk[-1] - walk[0])  # a Brownian bridge: ends at 0
    ys = y + amp * walk / np.abs(walk).max()
    xs = x0 + 0.9 * (x1 - x0) * s
    ax.plot(xs, ys, color=color, lw=1.6, solid_capstyle="round")
    _arrow(ax, (xs[-1], y), (x1, y), color=color, lw=1.6)


# --------------------------------------------------------------------------- 1. timeline


def dinof_timeline(T_m: float = 0.4, T: float = 1.0, N: int = 1000, M: int = 1) -> Figure:
    """DiNof's time axis ``0 → T_m → T`` (DiNof §3.2, Eq. 8).

    Top: training / likelihood, data to latent — the forward SDE (stochastic) from ``x(0)`` to
    ``x(T_m)``, then the normalizing flow (deterministic) from ``x(T_m) = h_0`` to ``h_M = z``.
    Bottom: sampling back — ``flow⁻¹`` in one pass, then ``round(N·T_m/T)`` reverse-SDE steps with
    ``M`` corrector steps each. The bands on the axis mark what each loss term trains.
    ``T_m`` places ``x(T_m)`` on the axis; values in ``[0.3, 0.6]·T`` leave the labels most room.
    """
    steps = n_steps_from(T_m, N, T)
    fig, ax = _canvas((12.5, 6.3), (-2.2, 11.4), (0.5, 12.0))
    X = 10.0 / T  # data units per unit of time
    xm, xT = X * T_m, X * T
    yt, yb, ya = 9.7, 3.5, 6.6  # training row, sampling row, time axis
    # --- the time axis and the loss bands
    _arrow(ax, (-0.3, ya), (xT + 0.8, ya), color="black", lw=1.2)
    ax.text(xT + 0.9, ya, "time t", ha="left", va="center", fontsize=10)
    for x, lab in ((0.0, "0"), (xm, f"$T_m$ = {T_m:g}"), (xT, f"T = {T:g}")):
        ax.plot([x, x], [ya - 0.15, ya + 0.15], color="black", lw=1.2)
        ax.text(x, ya - 0.3, lab, ha="center", va="top", fontsize=10)
    ax.add_patch(Rectangle((0.05, ya + 0.05), xm - 0.05, 0.35, fc=to_rgba(SDE_COLOR, 0.35), lw=0))
    ax.add_patch(Rectangle((xm, ya + 0.05), xT - xm, 0.35, fc=to_rgba(FLOW_COLOR, 0.25), lw=0))
    _label(
        ax,
        xm / 2,
        ya + 0.6,
        "DSM trains the score net $s_\\theta(x, t)$\non $t \\in [\\epsilon, T_m)$ only",
        va="bottom",
        color=SDE_COLOR,
    )
    _label(
        ax,
        (xm + xT) / 2,
        ya + 0.6,
        "flow NLL $-\\log p_\\phi(x(T_m))$ trains the flow on\n"
        "closed-form samples $x(T_m) = a_{T_m}\\,x_0 + \\sigma_{T_m}\\,\\xi$",
        va="bottom",
        color=FLOW_COLOR,
    )
    for y0, y1 in ((yb + 0.5, ya - 0.85), (ya + 0.05, yt - 0.5)):  # the hand-over time
        ax.plot([xm, xm], [y0, y1], color="black", lw=0.8, ls=":", zorder=0)
    # --- training row: data → latent
    ax.text(-1.75, yt, "training: data → latent", rotation=90, ha="center", va="center")
    _box(ax, 0, yt, "data\n$x(0) \\sim p_{data}$", 1.8, 1.0, color=SDE_COLOR)
    _box(ax, xm, yt, "$x(T_m)$", 1.5, 1.0)
    _box(ax, xT, yt, "latent\n$z \\sim \\mathcal{N}(0, I)$", 1.9, 1.0, color=FLOW_COLOR)
    _wiggle(ax, 0.9, xm - 0.75, yt, seed=1)
    _label(
        ax,
        (0.9 + xm - 0.75) / 2,
        yt + 0.75,
        "forward SDE (stochastic)\n$dx = f(x, t)\\,dt + g(t)\\,dw$",
        va="bottom",
        color=SDE_COLOR,
    )
    _arrow(ax, (xm + 0.75, yt), (xT - 0.95, yt), color=FLOW_COLOR, lw=3.5)
    _label(
        ax,
        (xm + xT) / 2,
        yt + 0.75,
        "normalizing flow (deterministic, invertible)\n"
        "$h_0 = x(T_m) \\to h_1 \\to \\cdots \\to h_M = z$  (DiNof Eq. 8)",
        va="bottom",
        color=FLOW_COLOR,
    )
    # --- sampling row: latent → data
    ax.text(-1.75, yb, "sampling: latent → data", rotation=90, ha="center", va="center")
    _box(ax, xT, yb, "$z \\sim \\mathcal{N}(0, I)$", 1.9, 1.0, color=FLOW_COLOR)
    _box(ax, xm, yb, "$x(T_m)$", 1.5, 1.0)
    _box(ax, 0, yb, "sample\n$x(\\epsilon) \\approx x(0)$", 1.8, 1.0, color=SDE_COLOR)
    _arrow(ax, (xT - 0.95, yb), (xm + 0.75, yb), color=FLOW_COLOR, lw=3.5)
    _label(
        ax,
        (xm + xT) / 2,
        yb + 0.6,
        "flow$^{-1}$: one deterministic pass\n$z = h_M \\to \\cdots \\to h_0 = x(T_m)$",
        va="bottom",
        color=FLOW_COLOR,
    )
    _label(ax, (xm + xT) / 2, yb - 0.6, "no score evaluations", va="top", color=FLOW_COLOR, size=9)
    _wiggle(ax, xm - 0.75, 0.9, yb, seed=4)
    _label(
        ax,
        xm / 2,
        yb + 0.6,
        "reverse SDE, PC sampler\n$t$: $T_m \\to \\epsilon$ in round(N·$T_m$/T) steps",
        va="bottom",
        color=SDE_COLOR,
    )
    _label(
        ax,
        xm / 2,
        yb - 0.6,
        f"N = {N}: {steps} steps,\nNFE = {steps}·(1 + M) = {steps * (1 + M)} (M = {M})",
        va="top",
        color=SDE_COLOR,
        size=9,
    )
    _label(
        ax,
        xT / 2,
        1.75,
        "the flow's likelihood (change of variables):  $\\log p_\\phi(x(T_m)) = \\log \\mathcal{N}(z; 0, I)"
        " + \\sum_l \\log|\\det \\partial h_l / \\partial h_{l-1}|$",
        color=FLOW_COLOR,
        size=10,
    )
    _label(
        ax,
        xT / 2,
        1.0,
        "one loss, one optimiser:  L = $L_{DSM}$ + w · ($-\\log p_\\phi(x(T_m))$)",
        color=LOSS_COLOR,
        size=10.5,
    )
    return fig


# --------------------------------------------------------------------------- 2. one Glow step


def glow_step_diagram() -> Figure:
    """One step of Glow (Kingma & Dhariwal 2018, Fig. 2a and Table 1), data → latent.

    ActNorm → invertible 1×1 convolution (LU-parametrised) → affine coupling, each with its
    log-determinant; below, the coupling in this project's convention
    (``y_b = (x_b + t)·exp(log s)``, ``log s = log sigmoid(raw + 2)``, ``y_a = x_a``).
    """
    fig, ax = _canvas((12.5, 6.6), (0.0, 14.0), (-0.1, 10.0))
    _label(
        ax, 7.0, 9.6, "one step of flow (Kingma & Dhariwal 2018, Fig. 2a), data → latent", size=11
    )
    y0, h = 8.1, 1.5
    layers = [  # (x, width, text, log-det)
        (0.8, 1.2, "$x$\nC×H×W", None),
        (
            3.3,
            3.0,
            "ActNorm\n$y = (x + b) \\odot \\exp(\\log s)$\nper channel, data-initialised",
            "log|det| = H·W·Σ log|s|",
        ),
        (
            7.0,
            3.4,
            "invertible 1×1 conv (LU)\n$y_{:,i,j} = W\\,x_{:,i,j}$,\n"
            "$W = P\\,L\\,(U + \\mathrm{diag}(s))$",
            "log|det| = H·W·log|det W|\n= H·W·Σ log|s|  (O(C) with LU)",
        ),
        (
            10.7,
            3.0,
            "affine coupling\n(detail below)",
            "log|det| = Σ log s\n(over the entries of $y_b$)",
        ),
        (13.2, 1.2, "$y$\nC×H×W", None),
    ]
    for i, (x, w, text, logdet) in enumerate(layers):
        tensor = logdet is None
        _box(ax, x, y0, text, w, h, color=GREY if tensor else FLOW_COLOR, fontsize=9.5)
        if logdet:
            ax.text(x, y0 - h / 2 - 0.2, logdet, ha="center", va="top", fontsize=9, color=GREY)
        if i:
            px, pw = layers[i - 1][:2]
            _arrow(ax, (px + pw / 2, y0), (x - w / 2, y0), color=FLOW_COLOR)
    # --- the coupling in detail
    _frame(ax, 0.3, 0.0, 13.4, 5.4, FLOW_COLOR)
    ax.plot([11.95, 11.95], [y0 - h / 2, 5.4], color=FLOW_COLOR, ls="--", lw=1.2)
    _label(
        ax,
        0.5,
        5.05,
        "affine coupling (as in dinof_lite/flows/coupling.py)",
        ha="left",
        color=FLOW_COLOR,
        size=10,
    )
    ya, ym, yb = 4.0, 2.6, 1.2
    _box(ax, 1.7, ym, "split channels\n$x = [x_a, x_b]$", 2.2, 1.0)
    _box(ax, 4.3, ya, "$x_a$: first C − ⌊C/2⌋\nchannels", 2.4, 0.9)
    _box(ax, 4.3, yb, "$x_b$: last ⌊C/2⌋\nchannels", 2.4, 0.9)
    angle = "angle,angleA=90,angleB=0,rad=0"
    _arrow(ax, (1.7, ym + 0.5), (3.1, ya), connectionstyle=angle.replace("A=90", "A=-90"))
    _arrow(ax, (1.7, ym - 0.5), (3.1, yb), connectionstyle=angle.replace("A=90", "A=-90"))
    _box(
        ax,
        7.2,
        ym,
        "NN($x_a$)  (zero-initialised output)\n3×3 conv → ReLU → 1×1 conv\n→ ReLU → 3×3 conv",
        3.3,
        1.2,
        color=FLOW_COLOR,
        fontsize=9,
    )
    ax.plot([6.1], [ya], "o", color=GREY, ms=4)
    _arrow(ax, (6.1, ya), (6.1, ym + 0.6))
    _box(ax, 10.5, ya, "$y_a = x_a$", 2.0, 0.8)
    _arrow(ax, (5.5, ya), (9.5, ya))
    _box(
        ax,
        10.5,
        ym,
        "$t$,  $\\log s = \\log\\,\\mathrm{sigmoid}(\\mathrm{raw} + 2)$",
        3.1,
        0.8,
        fontsize=9,
    )
    _arrow(ax, (8.85, ym), (8.95, ym))
    _box(ax, 10.5, yb, "$y_b = (x_b + t) \\odot \\exp(\\log s)$", 3.1, 0.8)
    _arrow(ax, (10.5, ym - 0.4), (10.5, yb + 0.4))
    _arrow(ax, (5.5, yb), (8.95, yb))
    _box(ax, 12.95, ym, "$y = [y_a, y_b]$", 1.3, 0.8, fontsize=9)
    _arrow(
        ax,
        (11.5, ya),
        (12.95, ym + 0.4),
        connectionstyle=angle.replace("A=90", "A=0").replace("B=0", "B=90"),
    )
    _arrow(
        ax,
        (12.05, yb),
        (12.95, ym - 0.4),
        connectionstyle=angle.replace("A=90", "A=0").replace("B=0", "B=-90"),
    )
    _label(
        ax,
        0.5,
        0.35,
        "inverse: $x_b = y_b \\odot \\exp(-\\log s) - t$ with the same NN($y_a$), since $y_a = x_a$",
        ha="left",
        color=GREY,
        size=9,
    )
    return fig


# --------------------------------------------------------------------------- 3. multi-scale


def _shape(s: Sequence[int]) -> str:
    return "×".join(str(int(v)) for v in s)


def multiscale_shapes(in_shape: Sequence[int] = (3, 32, 32), levels: int = 3) -> list[dict]:
    """The tensor shapes through Glow's levels (as :class:`~dinof_lite.flows.glow.Glow` builds).

    One dict per level: ``"in"`` (before the squeeze), ``"squeezed"`` (``4C×H/2×W/2``, what the
    ``K`` flow steps see), ``"kept"`` (the first ``C − ⌊C/2⌋`` channels, the next level's input;
    ``None`` at the last level) and ``"z"`` (the latent factored out there).
    """
    c, h, w = (int(v) for v in in_shape)
    if levels < 1 or h % 2**levels or w % 2**levels:
        raise ValueError(
            f"need levels ≥ 1 and H, W divisible by 2**levels; got {in_shape}, {levels}"
        )
    out = []
    for level in range(levels):
        sq = (4 * c, h // 2, w // 2)
        last = level == levels - 1
        kept = None if last else (sq[0] - sq[0] // 2, *sq[1:])
        z = sq if last else (sq[0] // 2, *sq[1:])
        out.append({"in": (c, h, w), "squeezed": sq, "kept": kept, "z": z})
        if kept:
            c, h, w = kept
    return out


def multiscale_diagram(levels: int = 3, in_shape: Sequence[int] = (3, 32, 32)) -> Figure:
    """Glow's multi-scale architecture (Kingma & Dhariwal 2018, Fig. 2b; Dinh et al. 2017, §3.6).

    Each level: squeeze ``C×H×W → 4C×H/2×W/2``, ``K`` steps of flow, then split off half the
    channels as ``z_l`` (standardised by a learned Gaussian prior conditioned on the kept half);
    the last level ends with the top prior. Shapes are computed for ``in_shape``.
    """
    shapes = multiscale_shapes(in_shape, levels)
    dy = 2.4
    top = 1.6 + dy * (levels - 1)
    fig, ax = _canvas((12.5, 1.6 + 1.75 * levels), (0.0, 14.0), (-0.6, top + 2.7))
    _label(
        ax,
        7.0,
        top + 2.35,
        f"Glow's multi-scale architecture (Kingma & Dhariwal 2018, Fig. 2b), L = {levels}",
        size=11,
    )
    _box(ax, 1.6, top + 1.45, f"input $x$: {_shape(in_shape)}", 2.6, 0.6, fontsize=9.5)
    _arrow(ax, (1.6, top + 1.15), (1.6, top + 0.45))
    for level, s in enumerate(shapes):
        y, n, last = top - dy * level, level + 1, s["kept"] is None
        _box(ax, 1.6, y, "squeeze\n2×2 blocks → channels", 2.2, 0.9, fontsize=9)
        _arrow(ax, (2.7, y), (4.3, y), color=FLOW_COLOR)
        ax.text(3.5, y + 0.12, _shape(s["squeezed"]), ha="center", va="bottom", fontsize=9)
        _box(
            ax,
            5.6,
            y,
            "K steps of flow\n(ActNorm → 1×1 conv\n→ coupling) × K",
            2.6,
            1.1,
            color=FLOW_COLOR,
            fontsize=9,
        )
        _arrow(ax, (6.9, y), (8.2, y), color=FLOW_COLOR)
        ax.text(7.55, y + 0.12, _shape(s["squeezed"]), ha="center", va="bottom", fontsize=9)
        label = "top prior\nlearned μ, log σ" if last else "split\nhalf the channels"
        _box(ax, 9.2, y, label, 2.0, 0.9, color=FLOW_COLOR, fontsize=9)
        _arrow(ax, (10.2, y), (10.9, y), color=FLOW_COLOR)
        _box(ax, 12.35, y, f"$z_{n}$: {_shape(s['z'])}\n~ N(0, I)", 2.9, 0.8, fontsize=9.5)
        ax.text(0.25, y, f"level {n}", rotation=90, ha="center", va="center", fontsize=9)
        if not last:
            yk = y - 1.2
            ax.plot([9.2, 9.2, 1.6], [y - 0.45, yk, yk], color=GREY, lw=1.5)
            _arrow(ax, (1.6, yk), (1.6, y - dy + 0.45))
            _label(ax, 5.4, yk + 0.08, f"kept half: {_shape(s['kept'])}", va="bottom", size=9)
    sizes = [int(np.prod(s["z"])) for s in shapes]
    _label(
        ax,
        0.5,
        0.1,
        "squeeze: C×H×W → 4C×(H/2)×(W/2), a permutation of the entries (log-det 0)\n"
        "split: $z_l = (h_b - \\mu)\\,e^{-\\log\\sigma}$ with $(\\mu, \\log\\sigma)$ from a "
        "zero-initialised conv of the kept half $h_a$ (a learned Gaussian prior)\n"
        f"entries: {' + '.join(str(v) for v in sizes)} = {sum(sizes)} = {_shape(in_shape)}: "
        "unsqueezing the $z_l$ puts $z$ back in the layout of $x$",
        ha="left",
        color=GREY,
        size=9,
    )
    return fig


# --------------------------------------------------------------------------- 4. PC loop


def pc_loop_diagram(N: int = 1000, M: int = 1) -> Figure:
    """The predictor–corrector loop (Song et al. 2021, Alg. 1; App. G, Algs. 2–5).

    For ``i = N−1, …, 0``: one predictor step (reverse diffusion / Euler–Maruyama) then ``M``
    Langevin corrector steps, one score evaluation each, so ``NFE = N·(1 + M)``.
    """
    fig, ax = _canvas((12.5, 6.4), (0.0, 14.0), (-0.2, 10.0))
    _label(
        ax,
        7.0,
        9.6,
        "predictor–corrector sampling (Song et al. 2021, Alg. 1; App. G, Algs. 2–5)",
        size=11,
    )
    _frame(ax, 3.6, 3.4, 10.2, 5.6, SDE_COLOR)
    _label(
        ax,
        3.8,
        8.6,
        "for i = N−1, …, 0:   $t_i$ runs from T down to ε in steps of Δt = |dt| = (T − ε)/N",
        ha="left",
        color=SDE_COLOR,
        size=10,
    )
    y = 6.3
    _box(
        ax,
        1.7,
        y,
        "start: $x \\sim p_T$\n(DiNof: $x(T_m)$ =\nflow$^{-1}(z)$)",
        2.8,
        1.4,
        fontsize=9.5,
    )
    _arrow(ax, (3.1, y), (4.0, y), color=SDE_COLOR)
    _box(
        ax,
        6.15,
        y,
        "predictor: reverse diffusion / Euler–Maruyama\n"
        "$x \\leftarrow x - f\\,\\Delta t + g^2 s_\\theta(x, t_i)\\,\\Delta t + g\\sqrt{\\Delta t}\\,\\xi$\n"
        "$\\xi \\sim \\mathcal{N}(0, I)$\n1 score evaluation",
        4.3,
        2.0,
        color=SDE_COLOR,
        fontsize=9.5,
    )
    _arrow(ax, (8.3, y), (8.8, y), color=SDE_COLOR)
    _box(
        ax,
        11.2,
        y,
        "corrector: M Langevin steps, each\n"
        "$\\eta = 2\\alpha\\,(\\mathrm{snr}\\,\\|\\xi\\| / \\|s_\\theta(x, t_i)\\|)^2$\n"
        "$x \\leftarrow x + \\eta\\, s_\\theta(x, t_i) + \\sqrt{2\\eta}\\, \\xi$\n"
        "M score evaluations",
        4.8,
        2.0,
        color=SDE_COLOR,
        fontsize=9.5,
    )
    yl = 4.2
    ax.plot([11.2, 11.2, 6.15], [y - 1.0, yl, yl], color=SDE_COLOR, lw=1.5)
    _arrow(ax, (6.15, yl), (6.15, y - 1.0), color=SDE_COLOR)
    _label(ax, 8.7, yl + 0.1, "next step: i ← i − 1", va="bottom", color=SDE_COLOR)
    _box(
        ax,
        1.7,
        yl - 0.9,
        "output $x_0$\n(denoise: the last\npredictor's mean)",
        2.8,
        1.4,
        fontsize=9.5,
    )
    ax.plot([6.15, 4.4, 4.4], [yl, yl, yl - 0.9], color=GREY, lw=1.5)
    _arrow(ax, (4.4, yl - 0.9), (3.1, yl - 0.9))
    ax.text(4.5, yl - 0.35, "after i = 0", ha="left", va="center", fontsize=9, color=GREY)
    _box(
        ax,
        8.7,
        1.9,
        f"NFE = N·(1 + M) score evaluations:  N = {N}, M = {M}  →  NFE = {N * (1 + M)}\n"
        f"VP / sub-VP default: Euler–Maruyama alone (M = 0), NFE = N = {N}\n"
        "DiNof starts at $T_m$: round(N·$T_m$/T)·(1 + M)",
        9.4,
        1.4,
        color=LOSS_COLOR,
        fontsize=10,
    )
    _label(
        ax,
        0.2,
        0.3,
        "$\\alpha = 1 - \\beta_i$ for VP, 1 for VE.  dinof_lite/sampling/pc.py applies the corrector"
        " before the predictor at each $t_i$ (as the authors' code): same steps, same NFE.",
        ha="left",
        color=GREY,
        size=9,
    )
    return fig


# --------------------------------------------------------------------------- 5. any-T_m


def any_tm_conditioning_diagram(T_m_range: tuple[float, float] = (0.1, 1.0)) -> Figure:
    """How the any-``T_m`` flow is conditioned (``dinof_lite/dinof/conditioning.py``).

    ``T_m`` → ``tm_context`` features ``(B, 9)`` → every coupling network (a per-channel bias
    after the first conv; concatenated to ``x_a`` for vectors) and every Gaussian prior of Glow
    (a zero-initialised linear map added to ``(μ, log σ)``). Training draws ``T_m ~ U(lo, hi)``
    per example; sampling takes any ``T_m`` in ``[lo, hi]``.
    """
    lo, hi = T_m_range
    fig, ax = _canvas((12.5, 6.4), (0.0, 14.4), (-0.2, 10.0))
    _label(
        ax,
        7.2,
        9.6,
        "one flow for every $T_m$: conditioning Glow on $T_m$ (any-$T_m$ DiNof)",
        size=11,
    )
    ya, yb, yc = 7.4, 4.5, 2.0
    _box(
        ax,
        1.9,
        ya + 0.85,
        f"training: $T_m \\sim U(lo, hi)$\nper example, here U({lo:g}, {hi:g})",
        3.4,
        1.1,
        fontsize=9.5,
        color=LOSS_COLOR,
    )
    _box(
        ax,
        1.9,
        ya - 0.85,
        f"sampling: any $T_m \\in$ [{lo:g}, {hi:g}],\none value for the batch",
        3.4,
        1.1,
        fontsize=9.5,
        color=SDE_COLOR,
    )
    _box(ax, 5.0, ya, "$T_m$\n(B,)", 1.2, 0.9)
    _arrow(ax, (3.6, ya + 0.85), (4.4, ya + 0.2))
    _arrow(ax, (3.6, ya - 0.85), (4.4, ya - 0.2))
    _box(
        ax,
        9.7,
        ya,
        f"tm_context(sde, $T_m$, (lo, hi))  →  context (B, {CONTEXT_DIM})\n"
        "with $u = (T_m - lo)/(hi - lo) \\in [0, 1]$:\n"
        "$[\\,2u - 1,\\ \\sin(2^k \\pi u),\\ \\cos(2^k \\pi u)\\ (k = 0, 1, 2),"
        "\\ a_{T_m},\\ \\log \\sigma_{T_m}\\,]$\n"
        "1 + 6 + 2 features of the marginal $x(T_m) = a_{T_m}\\,x_0 + \\sigma_{T_m}\\,\\xi$",
        7.8,
        2.0,
        color=FLOW_COLOR,
        fontsize=9.5,
    )
    _arrow(ax, (5.6, ya), (5.8, ya))
    _box(
        ax,
        5.2,
        yb,
        "every coupling network\nLinear(context) added as a per-channel bias\n"
        "after its first conv (vectors: concatenated to $x_a$)",
        5.0,
        1.3,
        color=FLOW_COLOR,
        fontsize=9.5,
    )
    _box(
        ax,
        11.0,
        yb,
        "every Gaussian prior (each split and the top)\n"
        "zero-initialised Linear(context)\nadded to (μ, log σ)",
        5.0,
        1.3,
        color=FLOW_COLOR,
        fontsize=9.5,
    )
    _arrow(ax, (7.6, ya - 1.0), (5.8, yb + 0.65), color=FLOW_COLOR)
    _arrow(ax, (11.0, ya - 1.0), (11.0, yb + 0.65), color=FLOW_COLOR)
    _box(ax, 1.7, yc, "$x(T_m)$\n(B, *dims)", 2.2, 1.0)
    _box(
        ax,
        7.2,
        yc,
        "Glow( · ; context): the same weights for every $T_m$\n"
        "[ActNorm → 1×1 conv → coupling] × K per level, splits, top prior",
        7.4,
        1.0,
        color=FLOW_COLOR,
        fontsize=9.5,
    )
    _box(ax, 12.85, yc, "$z$ and\n$\\log p_\\phi(x(T_m) \\mid T_m)$", 2.8, 1.0, fontsize=9.5)
    _arrow(ax, (2.8, yc), (3.5, yc), color=FLOW_COLOR)
    _arrow(ax, (10.9, yc), (11.45, yc), color=FLOW_COLOR)
    _arrow(ax, (5.2, yb - 0.65), (5.2, yc + 0.5), color=FLOW_COLOR)
    _arrow(ax, (10.2, yb - 0.65), (9.6, yc + 0.5), color=FLOW_COLOR)
    _label(
        ax,
        0.2,
        0.35,
        "training scores each example's $x(T_m) = a_{T_m}\\,x_0 + \\sigma_{T_m}\\,\\xi$ at its own $T_m$"
        " (the score net sees $t \\sim U(\\epsilon, hi)$);\n"
        "sampling: flow$^{-1}(z;\\ T_m)$, then round(N·$T_m$/T) reverse-SDE steps;"
        " a $T_m$ outside [lo, hi] raises ValueError",
        ha="left",
        color=GREY,
        size=9,
    )
    return fig
