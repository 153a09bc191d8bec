"""The cost–quality frontier: sample quality against network evaluations (NFE) per sampler.

One any-``T_m`` DiNof model (score network trained on ``[eps, T]``, flow conditioned on
``T_m``) runs every sampler with the *same* score network, so the curves isolate the sampler:

- ``plain``: the SDE's predictor (Euler–Maruyama for VP, reverse diffusion for VE; no corrector)
  from ``p_T``, NFE = steps;
- ``dinof T_m``: the same predictor from the flow's sample at ``T_m`` with the same step
  density (``round(N·T_m/T)`` steps for each ``N`` of the plain grid) — the paper's sampler;
- ``<solver>`` / ``<solver> @T_m``: a fast probability-flow ODE solver
  (:mod:`~dinof_lite.sampling.solvers`) from ``p_T`` or from the flow's sample at ``T_m``;
- the same for the fast stochastic samplers (:mod:`~dinof_lite.sampling.stochastic`), each
  with its own starts and NFE budgets and its default noise settings.

Each point is averaged over ``seeds`` (mean and standard error). A method *matches* the
reference (the plain sampler at its largest NFE) where ``metric <= ref + tol`` with
``tol = max(floor, 2·√(se_ref² + se²))``: the metric's own noise (two true sample sets; for
digits the train split against the test split) or twice the seeds' standard error of the
difference, whichever is larger. For a metric where lower is not better — the samples' NLL
under the exact density is a cross-entropy ``H(q) + KL(q‖p)``, which a sampler that piles its
samples onto the modes (small ``H(q)``) pushes *below* the data entropy — pass
``two_sided=True``: a match is then ``|metric − ref| <= tol``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from dinof_lite.sampling import pc_sample
from dinof_lite.sampling.fast import fast_sample
from dinof_lite.sampling.solvers import get_solver

__all__ = ["FrontierConfig", "frontier", "summarize", "quality_at", "plot_frontier"]


@dataclass
class FrontierConfig:
    """What to measure.

    Attributes:
        plain_nfe: NFE (= steps over ``[eps, T]``) of the plain sampler; the largest is the
            reference. DiNof's PC sampler at each ``T_m`` takes ``round(N·T_m/T)`` of each.
        tm_values: hand-over times of DiNof's rows.
        solvers: fast ODE solvers run from ``p_T`` and from each ``T_m`` in ``solver_tms``.
        solver_nfe: their NFE budgets (steps = NFE / the solver's NFE per step).
        solver_tms: the ``T_m`` the solvers start from (the flow's sample there).
        n: samples per point; seeds: independent repetitions per point.
        stochastic, stochastic_nfe, stochastic_tms: the same for fast stochastic samplers.
    """

    plain_nfe: Sequence[int]
    tm_values: Sequence[float]
    solvers: Sequence[str]
    solver_nfe: Sequence[int]
    solver_tms: Sequence[float]
    n: int
    seeds: Sequence[int] = (0, 1, 2)
    stochastic: Sequence[str] = ()
    stochastic_nfe: Sequence[int] = ()
    stochastic_tms: Sequence[float] = ()


def _points(cfg: FrontierConfig, sde) -> list[dict]:
    """Every (method, T_m, steps, nfe) to run; DiNof's steps by :meth:`SDE.n_steps_from`."""
    T = float(sde.T)
    pts = [
        {"method": "plain", "T_m": T, "solver": None, "flow": False, "steps": k}
        for k in cfg.plain_nfe
    ]
    for tm in cfg.tm_values:
        pts += [
            {
                "method": f"dinof {tm:g}",
                "T_m": tm,
                "solver": None,
                "flow": True,
                "steps": sde.n_steps_from(tm, k),
            }
            for k in cfg.plain_nfe
        ]
    fast = [(name, cfg.solver_nfe, cfg.solver_tms) for name in cfg.solvers]
    fast += [(name, cfg.stochastic_nfe, cfg.stochastic_tms) for name in cfg.stochastic]
    for name, budgets, tms in fast:
        per = get_solver(name).nfe_per_step
        for tm in (None, *tms):
            label = name if tm is None else f"{name} @{tm:g}"
            pts += [
                {
                    "method": label,
                    "T_m": T if tm is None else tm,
                    "solver": name,
                    "flow": tm is not None,
                    "steps": k // per,
                }
                for k in budgets
                if k % per == 0
            ]
    return pts


def _sample(model, pt: dict, n: int, seed: int) -> tuple[Tensor, int]:
    """Samples and the NFE counted by the sampler for one point and seed."""
    gen = torch.Generator().manual_seed(seed)
    sde, score = model.sde, model.score_fn
    predictor = sde.default_pc[0]
    if pt["solver"] is None and not pt["flow"]:
        x = pc_sample(
            sde,
            score,
            (n, *model.dims),
            n_steps=pt["steps"],
            predictor=predictor,
            corrector="none",
            eps=model.sample_eps,
            generator=gen,
        )
        return x, pt["steps"]
    if not pt["flow"]:
        x = fast_sample(
            sde,
            score,
            (n, *model.dims),
            solver=pt["solver"],
            n_steps=pt["steps"],
            eps=model.sample_eps,
            generator=gen,
        )
        return x, pt["steps"] * get_solver(pt["solver"]).nfe_per_step
    res = model.sample_result(
        n,
        T_m=pt["T_m"],
        n_steps=pt["steps"],
        predictor=predictor,
        corrector="none",
        solver=pt["solver"],
        generator=gen,
    )
    return res.x, res.nfe


@torch.no_grad()
def frontier(
    model,
    cfg: FrontierConfig,
    score: Callable[[Tensor, int], dict[str, float]],
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per point: ``method``, ``T_m``, ``steps``, ``nfe`` and, for each metric of
    ``score(samples, seed) -> {name: value}``, its mean and standard error over ``cfg.seeds``
    (``<name>``, ``<name>_se``)."""
    rows = []
    for pt in _points(cfg, model.sde):
        vals: dict[str, list[float]] = {}
        for seed in cfg.seeds:
            x, nfe = _sample(model, pt, cfg.n, seed)
            for k, v in score(x, seed).items():
                vals.setdefault(k, []).append(float(v))
        row = {"method": pt["method"], "T_m": pt["T_m"], "steps": pt["steps"], "nfe": nfe}
        for k, v in vals.items():
            t = torch.tensor(v, dtype=torch.float64)
            row[k] = float(t.mean())
            row[f"{k}_se"] = float(t.std() / math.sqrt(len(v))) if len(v) > 1 else 0.0
        rows.append(row)
        if progress is not None:
            progress(
                f"{row['method']:>22s} NFE {nfe:5d}: "
                + ", ".join(f"{k} {row[k]:.4g}" for k in vals)
            )
    return rows


def quality_at(rows: Sequence[dict], method: str, nfe: float, metric: str) -> float | None:
    """``metric`` of ``method`` at ``nfe``, linear in ``log NFE`` between measured points; None
    outside the measured range."""
    pts = sorted((r["nfe"], r[metric]) for r in rows if r["method"] == method)
    for (n0, v0), (n1, v1) in zip(pts, pts[1:]):
        if n0 <= nfe <= n1:
            w = 0.0 if n1 == n0 else math.log(nfe / n0) / math.log(n1 / n0)
            return v0 + w * (v1 - v0)
    if pts and pts[-1][0] == nfe:
        return pts[-1][1]
    return None


def summarize(
    rows: Sequence[dict],
    metric: str,
    floor: float,
    nfe_grid: Sequence[int],
    two_sided: bool = False,
) -> list[dict]:
    """Per method: the first NFE that matches the reference (see the module docstring; one- or
    two-sided), the speed-up ``ref NFE / that NFE``, the best value (the lowest, or with
    ``two_sided`` the closest to the reference) and the metric at each NFE of ``nfe_grid``."""
    plain = [r for r in rows if r["method"] == "plain"]
    ref = max(plain, key=lambda r: r["nfe"])
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["nfe"])
        match = None
        for r in mine:
            tol = max(floor, 2 * math.hypot(ref[f"{metric}_se"], r[f"{metric}_se"]))
            gap = abs(r[metric] - ref[metric]) if two_sided else r[metric] - ref[metric]
            if gap <= tol:
                match = r
                break
        best = min(mine, key=lambda r: abs(r[metric] - ref[metric]) if two_sided else r[metric])
        row = {
            "method": method,
            f"ref {metric}": ref[metric],
            "first match NFE": None if match is None else match["nfe"],
            "speed-up": None if match is None else round(ref["nfe"] / match["nfe"], 1),
            f"{'closest' if two_sided else 'best'} {metric}": best[metric],
        }
        for k in nfe_grid:
            v = quality_at(rows, method, k, metric)
            row[f"@{k}"] = None if v is None else float(f"{v:.4g}")
        out.append(row)
    return out


def _family_and_start(method: str) -> tuple[str, str]:
    """``("dinof", "0.3")`` for ``"dinof 0.3"``, ``("heun", "0.6")`` for ``"heun @0.6"``,
    ``("heun", "p_T")`` for ``"heun"``: the sampler and where it starts."""
    if method.startswith("dinof "):
        return "dinof", method.split()[1]
    name, _, tm = method.partition(" @")
    return name, tm or "p_T"


def plot_frontier(
    rows: Sequence[dict],
    metric: str,
    floor: float | None = None,
    ax=None,
    ideal: tuple[float, str] | None = None,
):
    """Draw ``metric`` ± its standard error against NFE (log axis), one line per method — one
    colour per sampler, one line style per start (solid from ``p_T``) — with the reference's
    level, its tolerance band and, if given, an ``ideal = (value, label)`` line (e.g. the data
    entropy for an NLL); returns the Axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    ref = max((r for r in rows if r["method"] == "plain"), key=lambda r: r["nfe"])
    methods = list(dict.fromkeys(r["method"] for r in rows))
    families = list(dict.fromkeys(_family_and_start(m)[0] for m in methods))
    starts = sorted({_family_and_start(m)[1] for m in methods} - {"p_T"})
    dashes = dict(zip(["p_T", *starts], ["-", "--", ":", "-.", (0, (5, 1, 1, 1))]))
    for method in methods:
        fam, start = _family_and_start(method)
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["nfe"])
        ax.errorbar(
            [r["nfe"] for r in mine],
            [r[metric] for r in mine],
            yerr=[r[f"{metric}_se"] for r in mine],
            color=f"C{families.index(fam) % 10}",
            ls=dashes.get(start, "-"),
            marker="o" if fam == "plain" else "s" if fam == "dinof" else "^",
            ms=4,
            capsize=2,
            label=method,
        )
    ax.axhline(ref[metric], color="k", lw=0.8, ls=":", label=f"plain @ {ref['nfe']} NFE")
    if floor is not None:
        ax.axhspan(
            ref[metric] - floor, ref[metric] + floor, color="k", alpha=0.08, label="± noise floor"
        )
    if ideal is not None:
        ax.axhline(ideal[0], color="tab:red", lw=1.0, ls="-.", label=ideal[1])
    ax.set_xscale("log")
    ax.set_xlabel("network evaluations (NFE)")
    ax.set_ylabel(metric)
    ax.set_ylim(*_y_range(rows, metric, ref[metric], floor, ideal))
    # outside the data, to the right; bbox_inches="tight" (or constrained layout) keeps it
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax


def _y_range(
    rows: Sequence[dict], metric: str, ref: float, floor: float | None, ideal
) -> tuple[float, float]:
    """The y-range of :func:`plot_frontier`: the reference band, the ideal line and every point
    but the fewest-NFE one of each method, which joins only when it lies within one span of
    the others (a 2–4-NFE outlier would squash the curves that matter); points left outside
    are clipped at the edge of the plot."""
    keep = [ref, ref + (floor or 0.0), ref - (floor or 0.0)]
    if ideal is not None:
        keep.append(ideal[0])
    firsts = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["nfe"])
        keep += [r[metric] + s * r[f"{metric}_se"] for r in mine[1:] for s in (-1, 1)]
        firsts.append(mine[0][metric])
    lo, hi = min(keep), max(keep)
    keep += [v for v in firsts if lo - (hi - lo) <= v <= hi + (hi - lo)]
    lo, hi = min(keep), max(keep)
    pad = 0.08 * (hi - lo or abs(hi) or 1.0)
    return lo - pad, hi + pad
