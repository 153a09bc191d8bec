"""Training and sampling diagnostics: loss curves, score error vs ``t``, sampler grids, sweeps.

Two computations (no plotting) that the figures need:

- :func:`score_error` — one number, ``E_{t ~ U(t0, t1), x_t}[s(t)² ‖s_θ(x_t, t) − ∇log p_t(x_t)‖²]``:
  the DSM weighting λ(t) = s(t)² applied to the *true* score error (for an ε-network it is
  ``E‖ε̂ − ε*‖²``, in units of the unit Gaussian noise; Song et al. 2021, Eq. 7, with the
  exact score of docs/design.md §Gaussian-mixture oracle).
- :func:`score_error_by_time` — the same at fixed times, weighted or relative.

and the figures (matplotlib; nothing calls ``plt.show()``; end notebook cells with ``;``):
:func:`plot_loss_curve`, :func:`plot_score_error`, :func:`score_field_comparison`,
:func:`pc_grid_figure`, :func:`plot_sweep`, plus :func:`format_table` for plain-text tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from dinof_lite.sampling.base import ScoreFn
from dinof_lite.viz.plots import LIM, PANEL, plot_density, plot_samples, plot_score_field

__all__ = [
    "score_error",
    "score_error_by_time",
    "plot_loss_curve",
    "plot_score_error",
    "score_field_comparison",
    "pc_grid_figure",
    "plot_sweep",
    "format_table",
]


def _check_x0(x0: Tensor) -> Tensor:
    if not isinstance(x0, Tensor) or x0.ndim != 2 or x0.shape[0] < 1:
        got = tuple(x0.shape) if isinstance(x0, Tensor) else type(x0).__name__
        raise ValueError(f"x0 must be a tensor of shape (N, D) with N >= 1; got {got}")
    return x0


def _vector(v, name: str, min_len: int = 1) -> np.ndarray:
    arr = v.detach().cpu().double().numpy() if isinstance(v, Tensor) else np.asarray(v, dtype=float)
    if arr.ndim != 1 or arr.shape[0] < min_len:
        raise ValueError(
            f"{name} must be 1-D with at least {min_len} entries; got shape {arr.shape}"
        )
    return arr


@torch.no_grad()
def score_error(
    sde,
    score_fn: ScoreFn,
    oracle_fn: ScoreFn,
    x0: Tensor,
    *,
    t_range: tuple[float, float] = (0.05, 1.0),
    generator: torch.Generator | None = None,
) -> float:
    """``E[s(t)² ‖score_fn(x_t, t) − oracle_fn(x_t, t)‖²]`` with ``t ~ U(t_range)``, one ``t`` per row.

    Args:
        sde: the SDE (``x_t = a(t) x0 + s(t) z`` via ``sde.perturb``).
        score_fn, oracle_fn: ``(x (N, D), t (N,)) -> (N, D)``; the oracle is the exact score.
        x0: data samples (N, D).
        t_range: ``(t0, t1)`` with ``0 < t0 < t1 <= T``.

    Returns:
        The Monte-Carlo mean (float; squared norm summed over the D dimensions).
    """
    x0 = _check_x0(x0)
    t0, t1 = (float(v) for v in t_range)
    if not 0 < t0 < t1 <= sde.T:
        raise ValueError(f"t_range must satisfy 0 < t0 < t1 <= T = {sde.T}; got {t_range}")
    t = t0 + (t1 - t0) * torch.rand(x0.shape[0], generator=generator, dtype=x0.dtype)
    xt = sde.perturb(x0, t, generator=generator)
    s = sde.marginal_coeffs(t)[1]
    diff = (score_fn(xt, t) - oracle_fn(xt, t)).flatten(1).pow(2).sum(1)
    return float((s**2 * diff).mean())


@torch.no_grad()
def score_error_by_time(
    sde,
    score_fn: ScoreFn,
    oracle_fn: ScoreFn,
    x0: Tensor,
    times: Sequence[float],
    *,
    kind: str = "weighted",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Score error at each of ``times`` (K,), the same ``x0`` (N, D) diffused to every time.

    ``kind="weighted"``: ``E[s(t)² ‖Δ‖²]`` (see :func:`score_error`); ``kind="relative"``:
    ``E‖Δ‖² / E‖oracle‖²`` (0 is perfect, 1 is as wrong as predicting zero). Returns (K,) float64.
    """
    if kind not in ("weighted", "relative"):
        raise ValueError(f"unknown kind {kind!r}; valid: weighted, relative")
    x0 = _check_x0(x0)
    ts = _vector(times, "times")
    if (ts <= 0).any() or (ts > sde.T).any():
        raise ValueError(f"times must lie in (0, T] = (0, {sde.T}]; got {ts.tolist()}")
    out = []
    for t in ts:
        tt = torch.full((x0.shape[0],), float(t), dtype=x0.dtype)
        xt = sde.perturb(x0, tt, generator=generator)
        true = oracle_fn(xt, tt)
        diff = (score_fn(xt, tt) - true).flatten(1).pow(2).sum(1).mean()
        if kind == "weighted":
            out.append(float(sde.marginal_coeffs(tt[:1])[1]) ** 2 * float(diff))
        else:
            out.append(float(diff) / float(true.flatten(1).pow(2).sum(1).mean()))
    return torch.tensor(out, dtype=torch.float64)


def plot_loss_curve(
    ax: Axes | None,
    losses,
    *,
    steps=None,
    smooth: int = 50,
    log_y: bool = True,
    label: str | None = None,
    title: str | None = "DSM training loss",
) -> Axes:
    """Per-step losses (S,) in light colour plus a moving average over ``smooth`` points.

    ``steps`` (S,) are the x values (default 1..S), e.g. for a curve stored per bin of steps.
    """
    y = _vector(losses, "losses")
    if not np.isfinite(y).all():
        raise ValueError("losses contain NaN or Inf")
    x = np.arange(1, len(y) + 1) if steps is None else _vector(steps, "steps")
    if x.shape != y.shape:
        raise ValueError(f"steps must have shape {y.shape} like losses; got {x.shape}")
    if not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive int; got {smooth!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
    line = ax.plot(x, y, alpha=0.3, lw=0.8)[0]
    if smooth > 1 and len(y) >= smooth:
        avg = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(
            x[smooth - 1 :],
            avg,
            color=line.get_color(),
            lw=1.6,
            label=f"{label or 'loss'} ({smooth}-point mean)",
        )
    if log_y and (y > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if smooth > 1 and len(y) >= smooth:
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_score_error(
    ax: Axes | None,
    times,
    errors: Mapping[str, object],
    *,
    log_y: bool = True,
    ylabel: str = r"$\sigma_t^2\,\mathbb{E}\|s_\theta - \nabla\log p_t\|^2$",
    title: str | None = "score error vs time",
) -> Axes:
    """One line per ``label -> errors (K,)`` against ``times`` (K,) (from :func:`score_error_by_time`)."""
    ts = _vector(times, "times")
    if not isinstance(errors, Mapping) or not errors:
        raise ValueError("errors must be a non-empty mapping label -> (K,) values")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
    for label, e in errors.items():
        ev = _vector(e, f"errors[{label!r}]")
        if ev.shape != ts.shape:
            raise ValueError(f"errors[{label!r}] must have shape {ts.shape}; got {ev.shape}")
        ax.plot(ts, ev, marker="o", ms=3, label=str(label))
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("diffusion time $t$")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def score_field_comparison(
    score_fns: Mapping[str, ScoreFn],
    times: Sequence[float],
    *,
    lim: float = LIM,
    n_grid: int = 17,
    log_prob_fns: Sequence[Callable[[Tensor], Tensor]] | None = None,
) -> Figure:
    """Grid of score fields: one row per ``name -> score_fn``, one column per time.

    ``log_prob_fns`` (one per time, e.g. the exact ``p_t.log_prob``) draws the density beneath
    as filled contours. Arrows have unit length; colour is ``log10 |score|``
    (see :func:`~dinof_lite.viz.plots.plot_score_field`).
    """
    if not isinstance(score_fns, Mapping) or not score_fns:
        raise ValueError("score_fns must be a non-empty mapping name -> score_fn")
    ts = _vector(times, "times")
    if log_prob_fns is not None and len(log_prob_fns) != len(ts):
        raise ValueError(
            f"log_prob_fns must have one entry per time ({len(ts)}); got {len(log_prob_fns)}"
        )
    nrows, ncols = len(score_fns), len(ts)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PANEL * ncols, PANEL * nrows), squeeze=False, layout="constrained"
    )
    for i, (name, fn) in enumerate(score_fns.items()):
        for j, t in enumerate(ts):
            if log_prob_fns is not None:  # contours keep the PNG small (a heatmap does not)
                plot_density(
                    axes[i, j], log_prob_fns[j], lim=lim, n_grid=80, kind="contour", cmap="Blues"
                )
            plot_score_field(
                axes[i, j],
                fn,
                float(t),
                lim=lim,
                n_grid=n_grid,
                title=f"$t = {t:g}$" if i == 0 else None,
            )
        axes[i, 0].set_ylabel(str(name), fontsize=10)
    return fig


def pc_grid_figure(
    samples: Mapping[tuple[str, str], object],
    *,
    reference=None,
    lim: float = LIM,
    notes: Mapping[tuple[str, str], str] | None = None,
    rows: str = "predictor",
    suptitle: str | None = None,
) -> Figure:
    """Samples of every ``(predictor, corrector) -> (N, 2)`` on a grid of panels.

    ``rows="predictor"``: one row per predictor, one column per corrector (``"corrector"``:
    the transpose). ``reference`` (M, 2) (e.g. the data) is drawn in grey behind each panel;
    ``notes`` adds a line (e.g. ``"MMD 0.002"``) to a panel's title. Missing combinations are
    left blank.
    """
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("samples must be a non-empty mapping (predictor, corrector) -> (N, 2)")
    if not all(isinstance(k, tuple) and len(k) == 2 for k in samples):
        raise ValueError(f"samples keys must be (predictor, corrector) pairs; got {list(samples)}")
    if rows not in ("predictor", "corrector"):
        raise ValueError(f"unknown rows {rows!r}; valid: predictor, corrector")
    preds = list(dict.fromkeys(k[0] for k in samples))
    corrs = list(dict.fromkeys(k[1] for k in samples))
    nr, nc = (len(preds), len(corrs)) if rows == "predictor" else (len(corrs), len(preds))
    fig, axes = plt.subplots(
        nr, nc, figsize=(PANEL * nc, PANEL * nr), squeeze=False, layout="constrained"
    )
    for i, p in enumerate(preds):
        for j, c in enumerate(corrs):
            ax = axes[i, j] if rows == "predictor" else axes[j, i]
            if (p, c) not in samples:
                ax.set_visible(False)
                continue
            if reference is not None:
                plot_samples(ax, reference, lim=lim, color="0.8", alpha=0.4)
            title = f"{p} + {c}"
            if notes and (p, c) in notes:
                title += f"\n{notes[(p, c)]}"
            plot_samples(ax, samples[(p, c)], lim=lim, title=title)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def plot_sweep(
    ax: Axes | None,
    values,
    results: Mapping[str, object],
    *,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    log_y: bool = False,
    yerr: Mapping[str, object] | None = None,
    reference: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Axes:
    """Metric vs a swept parameter: ``label -> (V,)`` or ``(V, n_seeds)`` (mean ± std over seeds).

    ``values`` (V,) are the swept settings; ``yerr`` gives error bars ``label -> (V,)`` (e.g.
    standard errors) for 1-D results; ``reference`` draws horizontal dashed lines
    (``label -> level``, e.g. the data-vs-data noise floor).
    """
    xs = _vector(values, "values")
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty mapping label -> (V,) or (V, n_seeds)")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
    for label, r in results.items():
        arr = np.asarray(r.detach().cpu() if isinstance(r, Tensor) else r, dtype=float)
        arr = arr[:, None] if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[0] != len(xs):
            raise ValueError(
                f"results[{label!r}] must have shape ({len(xs)},) or ({len(xs)}, "
                f"n_seeds); got {np.shape(r)}"
            )
        mean = arr.mean(1)
        err = arr.std(1, ddof=1) if arr.shape[1] > 1 else None
        if yerr is not None and label in yerr:
            err = _vector(yerr[label], f"yerr[{label!r}]")
            if err.shape != mean.shape:
                raise ValueError(f"yerr[{label!r}] must have shape {mean.shape}; got {err.shape}")
        ax.errorbar(xs, mean, yerr=err, marker="o", ms=4, capsize=3, label=str(label))
    for k, (label, level) in enumerate((reference or {}).items()):
        ax.axhline(float(level), ls="--", lw=1, color=f"C{7 + k % 3}", label=str(label))
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def format_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str] | None = None,
    digits: int | Mapping[str, int] = 4,
) -> str:
    """A plain-text table of ``rows`` (dicts); floats get ``digits`` significant digits.

    ``digits`` may be one int or ``column -> int``. ``columns`` defaults to the first row's keys.
    """
    if not rows:
        raise ValueError("rows must contain at least one row")
    cols = list(columns) if columns is not None else list(rows[0].keys())
    missing = [c for r in rows for c in cols if c not in r]
    if missing:
        raise ValueError(f"rows lack columns {sorted(set(missing))}")

    def cell(col: str, v) -> str:
        if isinstance(v, float):
            d = digits.get(col, 4) if isinstance(digits, Mapping) else digits
            return "nan" if math.isnan(v) else f"{v:.{d}g}"
        return str(v)

    body = [[cell(c, r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cols, widths)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(v.rjust(w) if k else v.ljust(w) for k, (v, w) in enumerate(zip(b, widths)))
        for b in body
    ]
    return "\n".join(lines)
