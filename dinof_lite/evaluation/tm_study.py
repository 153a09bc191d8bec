"""The ``T_m`` study ("Table 1" of DiNof): quality and speed of sampling from ``T_m`` vs from ``T``.

One any-T_m model answers the paper's question without retraining: sample at each ``T_m`` of a
grid, score the samples against held-out data, time them, and put the plain diffusion sampler
(same score network, started from ``p_T`` with all ``N`` steps) next to them::

    rows = tm_study(model, TM_GRID, n=2000, reference=ref, gmm=gmm)
    floor = noise_floor(gmm, 2000)                       # what two true sample sets differ by
    best = first_match(rows, "mmd", floor=floor["mmd"])  # smallest T_m as good as the baseline
    fig = plot_tm_study(rows, floor=floor)

Used by the notebook, ``python -m dinof_lite demo`` and ``python -m dinof_lite bench sampling``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from dinof_lite.evaluation.quality import sample_quality
from dinof_lite.sampling import pc_sample_result

if TYPE_CHECKING:  # matplotlib is imported only when plotting
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["tm_study", "noise_floor", "first_match", "plot_tm_study", "STUDY_METRICS", "TM_GRID"]

#: The paper-style grid ``T_m = 0.1, 0.2, …, 1.0`` (exact decimals, usable as dict keys).
TM_GRID = tuple(round(0.1 * k, 1) for k in range(1, 11))

#: Quality columns of a study row (lower is better); ``gmm_nll``/``nll`` are ``None`` when absent.
STUDY_METRICS = ("mmd", "sw", "gmm_nll", "nll")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def tm_study(
    model,
    T_m_values: Sequence[float],
    *,
    n: int = 2000,
    reference: Tensor,
    gmm=None,
    seed: int = 0,
    baseline: bool = True,
    n_likelihood: int = 0,
    repeats: int = 1,
    predictor: str | None = None,
    corrector: str | None = None,
    snr: float = 0.16,
    n_steps_full: int | None = None,
    quality: Callable[[Tensor], dict] | None = None,
) -> list[dict]:
    """Sample ``model`` at each ``T_m`` (and the plain diffusion baseline), score and time it.

    Args:
        model: a :class:`~dinof_lite.dinof.DiNof`; an any-T_m model runs every value of
            ``T_m_values``, a single-T_m model only its own ``T_m`` (``T_m_values`` is ignored).
        T_m_values: hand-over times (sorted ascending in the output).
        n: samples per row, all drawn with ``generator.manual_seed(seed)``.
        reference: held-out data ``(M, *dims)`` every metric compares with.
        gmm: the exact :class:`~dinof_lite.data.toy.GaussianMixture` (adds ``gmm_nll``), or None.
        baseline: add the row ``method="baseline"``: :func:`~dinof_lite.sampling.pc_sample` from
            the prior ``p_T`` with ``model.score_fn`` and ``n_steps_full`` steps. Needs a score
            network trained up to ``T`` (any-T_m with ``T_m_range[1] == T``).
        n_likelihood: if > 0, ``nll`` = mean ``−model.log_likelihood`` (nats) of the first
            ``n_likelihood`` reference points at each ``T_m`` (exact ODE likelihood; slow).
        repeats: timed runs per row, interleaved across rows (forwards, then backwards, …, so
            slow drifts of a shared machine and order effects hit every row alike); ``wall_s``
            is the best one.
        predictor, corrector, snr: sampler settings (default per SDE, ``sde.default_pc``).
        n_steps_full: steps of the whole path ``[eps, T]`` (default ``sde.N``); a DiNof row
            takes ``round(n_steps_full · T_m / T)`` of them.
        quality: ``quality(samples) -> dict`` of scores replacing the 2D metrics (MMD², sliced
            W2, mixture NLL), e.g. an FID-style score for images.

    Returns:
        One dict per row: ``method`` ("dinof" / "baseline"), ``T_m`` (``T`` for the baseline),
        ``n``, ``n_steps``, ``nfe``, ``wall_s``, ``flow_time_s``, ``sde_time_s`` (of the best
        run), ``mmd``, ``sw``, ``gmm_nll``, ``nll``, ``n_nonfinite`` and ``speedup`` (baseline
        ``wall_s`` / row ``wall_s``; None without a baseline). The baseline row comes last.
    """
    sde = model.sde
    T = float(sde.T)
    if repeats < 1 or n < 1:
        raise ValueError(f"n and repeats must be >= 1; got n={n}, repeats={repeats}")
    values = sorted(float(t) for t in T_m_values) if model.any_T_m else [model.T_m]
    if not values:
        raise ValueError("T_m_values must not be empty")
    for t in values:
        model.resolve_T_m(t)  # a clear error before any sampling
    trained_to = model.T_m_range[1] if model.any_T_m else model.T_m
    if baseline and trained_to < T - 1e-9:
        raise ValueError(
            f"the baseline samples from p_T with the score network, which was "
            f"trained on [train_eps, {trained_to:g}] only (T = {T:g}); train an any-T_m "
            f"model with T_m_range=(lo, {T:g}) or pass baseline=False"
        )
    N = int(n_steps_full or sde.N)
    pred, corr = sde.default_pc
    pred, corr = predictor or pred, corrector or corr
    ref_param = next(model.parameters())
    device, dims = ref_param.device, tuple(model.dims)

    def run_dinof(t: float) -> dict:
        gen = torch.Generator(device=device).manual_seed(seed)
        start = time.perf_counter()
        s = model.sample_result(
            n,
            T_m=t,
            n_steps=sde.n_steps_from(t, N),
            predictor=pred,
            corrector=corr,
            snr=snr,
            generator=gen,
        )
        _sync(device)
        return {
            "x": s.x,
            "wall_s": time.perf_counter() - start,
            "n_steps": s.n_steps,
            "nfe": s.nfe,
            "flow_time_s": s.flow_time_s,
            "sde_time_s": s.sde_time_s,
        }

    def run_baseline() -> dict:
        gen = torch.Generator(device=device).manual_seed(seed)
        start = time.perf_counter()
        res = pc_sample_result(
            sde,
            model.score_fn,
            (n, *dims),
            n_steps=N,
            predictor=pred,
            corrector=corr,
            snr=snr,
            eps=model.sample_eps,
            generator=gen,
            device=device,
        )
        _sync(device)
        wall = time.perf_counter() - start
        return {
            "x": res.x,
            "wall_s": wall,
            "n_steps": N,
            "nfe": res.nfe,
            "flow_time_s": 0.0,
            "sde_time_s": wall,
        }

    jobs: list[tuple[str, float, Callable[[], dict]]] = [
        ("dinof", t, lambda t=t: run_dinof(t)) for t in values
    ]
    if baseline:
        jobs.append(("baseline", T, run_baseline))
    best: list[dict | None] = [None] * len(jobs)
    for rep in range(repeats):
        order = range(len(jobs)) if rep % 2 == 0 else reversed(range(len(jobs)))
        for i in order:
            out = jobs[i][2]()
            if best[i] is None or out["wall_s"] < best[i]["wall_s"]:
                best[i] = out
    reference = reference.detach().to("cpu", torch.float64)
    held_out = reference[:n_likelihood]
    rows = []
    for (method, t, _), res in zip(jobs, best):
        row = {
            "method": method,
            "T_m": t,
            "n": n,
            "n_steps": res["n_steps"],
            "nfe": res["nfe"],
            "wall_s": res["wall_s"],
            "flow_time_s": res["flow_time_s"],
            "sde_time_s": res["sde_time_s"],
            **(
                quality(res["x"])
                if quality
                else sample_quality(res["x"], reference, gmm, seed=seed, drop_nonfinite=True)
            ),
            "nll": None,
        }
        if n_likelihood > 0 and method == "dinof":
            x = held_out.to(device=device, dtype=ref_param.dtype)
            row["nll"] = float(-model.log_likelihood(x, T_m=t).mean())
        rows.append(row)
    base = rows[-1]["wall_s"] if baseline else None
    for row in rows:
        row["speedup"] = None if base is None else base / row["wall_s"]
    return rows


def noise_floor(source, n: int, seed: int = 0, n_pairs: int = 3) -> dict:
    """The metrics' estimation noise at sample size ``n``: two *true* sample sets still differ.

    Args:
        source: a sampler ``source(n, seed) -> (n, D)`` or an object with
            ``source.sample(n, generator)`` (a :class:`~dinof_lite.data.toy.GaussianMixture`).
        n: points per set (use the ``n`` of :func:`tm_study`).
        n_pairs: independent pairs of true sets (seeds ``seed + 1000 + 2k``, ``+ 2k + 1``).

    Returns:
        ``{"n", "n_pairs", "mmd", "sw"}``: the largest ``|MMD²|`` and sliced W2 over the pairs.
    """
    if hasattr(source, "sample"):

        def draw(s: int) -> Tensor:
            return source.sample(n, torch.Generator().manual_seed(s))
    else:

        def draw(s: int) -> Tensor:
            return source(n, s)

    out = {"n": n, "n_pairs": n_pairs, "mmd": 0.0, "sw": 0.0}
    for k in range(n_pairs):
        a = draw(seed + 1000 + 2 * k).to(torch.float64)
        b = draw(seed + 1001 + 2 * k).to(torch.float64)
        q = sample_quality(b, a, seed=seed, drop_nonfinite=True)
        out["mmd"], out["sw"] = max(out["mmd"], abs(q["mmd"])), max(out["sw"], q["sw"])
    return out


def first_match(rows: Sequence[Mapping], metric: str = "mmd", floor: float | Mapping = 0.0):
    """The DiNof row with the smallest ``T_m`` that is as good as the baseline, or None.

    Rule: ``row[metric] <= baseline[metric] + floor`` (lower is better), where ``floor`` is the
    metric's estimation noise (a number, or the dict of :func:`noise_floor`, whose ``metric``
    entry is used): a difference smaller than what two true sample sets differ by is no
    difference. Returns None without a baseline row or when no DiNof row qualifies.
    """
    if metric not in STUDY_METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(STUDY_METRICS)}")
    tol = float(floor[metric]) if isinstance(floor, Mapping) else float(floor)
    base = [r for r in rows if r["method"] == "baseline"]
    if not base or base[0].get(metric) is None:
        return None
    limit = base[0][metric] + tol
    ok = [
        r
        for r in rows
        if r["method"] == "dinof" and r.get(metric) is not None and r[metric] <= limit
    ]
    return min(ok, key=lambda r: r["T_m"]) if ok else None


def plot_tm_study(
    rows: Sequence[Mapping], *, axes: Sequence[Axes] | None = None, floor: Mapping | None = None
) -> Figure:
    """Three panels over ``T_m``: MMD², sliced W2 (baseline dashed, ``± floor`` band) and the
    wall time (left axis) with the NFE (right axis). ``axes``: three Axes to draw into."""
    import matplotlib.pyplot as plt

    dinof = sorted((r for r in rows if r["method"] == "dinof"), key=lambda r: r["T_m"])
    base = next((r for r in rows if r["method"] == "baseline"), None)
    if not dinof:
        raise ValueError("rows hold no DiNof row")
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
    else:
        fig = axes[0].figure
    tm = [r["T_m"] for r in dinof]
    for ax, key, label in ((axes[0], "mmd", "MMD² ↓"), (axes[1], "sw", "sliced W2 ↓")):
        ax.plot(tm, [r[key] for r in dinof], "o-", color="C1", label="DiNof from $T_m$")
        if base is not None:
            ax.axhline(
                base[key], color="k", ls="--", lw=1, label=f"diffusion from T ({base['nfe']} NFE)"
            )
            if floor is not None:
                ax.axhspan(
                    base[key] - floor[key],
                    base[key] + floor[key],
                    color="0.85",
                    zorder=0,
                    label="± noise floor",
                )
        ax.set(xlabel="$T_m$", ylabel=label, title=label.split(" ↓")[0] + " vs $T_m$")
        ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(tm, [r["wall_s"] for r in dinof], "o-", color="C0", label="wall time (s)")
    if base is not None:
        ax.axhline(base["wall_s"], color="C0", ls="--", lw=1, label="baseline wall time")
    ax.set(xlabel="$T_m$", ylabel="sampling wall time (s)", title="cost vs $T_m$")
    twin = ax.twinx()
    twin.plot(tm, [r["nfe"] for r in dinof], "s:", color="C2", label="NFE")
    twin.set_ylabel("score evaluations (NFE)", color="C2")
    ax.legend(fontsize=7, loc="upper left")
    for a in (*axes[:2], ax):
        a.grid(alpha=0.3)
    return fig
