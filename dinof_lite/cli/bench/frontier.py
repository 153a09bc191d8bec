"""``python -m dinof_lite bench frontier``: sample quality against NFE for every sampler.

Runs :func:`~dinof_lite.evaluation.frontier.frontier` on the shipped any-``T_m`` models —
``dinof_8gaussians_vp_anytm`` (2D mixture: MMD², sliced W2 and the samples' NLL under the exact
density, with the noise floor of two true sample sets) and ``dinof_digits`` (the FID-style
score against the test split, matched within two standard errors; the train split's score drawn
as its floor) — and prints, in one run, for each
method the first NFE that matches the plain sampler's reference, the speed-up there and the
quality at equal NFE; it draws the curves to ``<out>/frontier_2d.png`` and
``<out>/frontier_digits.png``. The returned rows are every measured point.

Sizes: ``full`` is what the report quotes (2D: 2000 samples × 3 seeds, plain NFE 20 … 1000;
digits: 200 samples × 3 seeds, plain NFE 10 … 100: the reference is the shipped recipe's
plain sampler, reverse diffusion with 100 steps, since a 1000-step baseline costs ~30 CPU
minutes per seed); the samples' NLL is matched two-sided (see
:func:`~dinof_lite.evaluation.frontier.summarize`);
``smoke`` is seconds.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from dinof_lite.data import load_image_dataset
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.digits_fid import digits_features, frechet_distance, load_classifier
from dinof_lite.evaluation.frontier import FrontierConfig, frontier, plot_frontier, summarize
from dinof_lite.evaluation.quality import sample_quality
from dinof_lite.evaluation.tm_study import noise_floor
from dinof_lite.pretrained import load_dinof
from dinof_lite.viz.diagnostics import format_table

__all__ = ["bench_frontier", "CONFIGS", "frontier_2d", "frontier_digits"]

SOLVERS = ("dpm_solver_pp_2m", "heun", "dpm_solver_2")
#: (dataset, size) -> the frontier's configuration
CONFIGS: dict[tuple[str, str], FrontierConfig] = {
    ("2d", "full"): FrontierConfig(
        plain_nfe=(20, 50, 100, 200, 500, 1000),
        tm_values=(0.3, 0.6),
        solvers=SOLVERS,
        solver_nfe=(4, 6, 10, 20, 30, 50),
        solver_tms=(0.3, 0.6),
        n=2000,
    ),
    ("2d", "smoke"): FrontierConfig(
        plain_nfe=(10, 40),
        tm_values=(0.6,),
        solvers=("dpm_solver_pp_2m",),
        solver_nfe=(6,),
        solver_tms=(0.6,),
        n=200,
        seeds=(0, 1),
    ),
    ("digits", "full"): FrontierConfig(
        plain_nfe=(10, 25, 50, 100),
        tm_values=(0.6,),
        solvers=("dpm_solver_pp_2m", "heun"),
        solver_nfe=(6, 10, 20, 40),
        solver_tms=(0.6,),
        n=200,
        seeds=(0, 1, 2, 3, 4),
    ),
    ("digits", "smoke"): FrontierConfig(
        plain_nfe=(4,),
        tm_values=(0.6,),
        solvers=("dpm_solver_pp_2m",),
        solver_nfe=(2,),
        solver_tms=(0.6,),
        n=16,
        seeds=(0, 1),
    ),
}
EQUAL_NFE = {"2d": (10, 20, 50, 100), "digits": (10, 20, 40)}
LABELS = {
    "mmd": "MMD² (lower is better)",
    "sw": "sliced W2 (lower is better)",
    "gmm_nll": "samples' NLL under p0, nats (ideal: H)",
    "fid": "FID-style score (lower is better)",
}
#: metrics whose ideal is not their minimum: matched two-sided against the reference
TWO_SIDED = {"gmm_nll"}


def frontier_2d(size: str = "full", progress=print) -> tuple[list[dict], dict]:
    """Rows of the 2D frontier and the floors: :func:`noise_floor` (``mmd``, ``sw``), the
    spread of true sets' mean NLL (``gmm_nll``), and the data entropy ``entropy``, the ideal
    value of the samples' NLL (a cross-entropy; lower than it is not better)."""
    cfg = CONFIGS[("2d", size)]
    model = load_dinof("dinof_8gaussians_vp_anytm")
    gmm = GaussianMixture.preset("8gaussians")

    def score(x, seed):
        ref = gmm.sample(cfg.n, torch.Generator().manual_seed(10_000 + seed))
        q = sample_quality(x, ref, gmm, seed=seed)
        return {"mmd": q["mmd"], "sw": q["sw"], "gmm_nll": q["gmm_nll"]}

    rows = frontier(model, cfg, score, progress)
    floor = noise_floor(gmm, cfg.n)
    floor["gmm_nll"] = gmm_nll_floor(gmm, cfg.n, len(cfg.seeds))
    floor["entropy"] = gmm.entropy(200_000, torch.Generator().manual_seed(30_000))
    return rows, floor


def gmm_nll_floor(gmm: GaussianMixture, n: int, n_seeds: int) -> float:
    """The spread (largest minus smallest) of the mean NLL of ``n_seeds`` true sample sets."""
    vals = [
        float(-gmm.log_prob(gmm.sample(n, torch.Generator().manual_seed(20_000 + k))).mean())
        for k in range(n_seeds)
    ]
    return max(vals) - min(vals)


def digits_scorer():
    """``fid(x, seed) -> float``: the FID-style score of digits ``x`` against the test split
    (classifier features, :mod:`~dinof_lite.evaluation.digits_fid`; ``seed`` is not used)."""
    net = load_classifier()
    test = load_image_dataset("digits", split="test", data_range=(0.0, 1.0), pad_to=16)
    ref_feat = digits_features(test.batch(torch.arange(len(test))), net)
    return lambda x, seed: frechet_distance(digits_features(x, net), ref_feat)


def frontier_digits(size: str = "full", progress=print) -> tuple[list[dict], dict]:
    """Rows of the digits frontier (``fid`` per point) and the floors: ``fid`` 0 (a match is
    within two standard errors) and ``train_fid``, the score of ``n`` train images against the
    test split — the metric's small-sample bias, drawn as the level no sampler can beat."""
    cfg = CONFIGS[("digits", size)]
    model = load_dinof("dinof_digits")
    fid = digits_scorer()

    rows = frontier(model, cfg, lambda x, seed: {"fid": fid(x, seed)}, progress)
    train = load_image_dataset("digits", split="train", data_range=(0.0, 1.0), pad_to=16)
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(train), generator=g)[: cfg.n]
    train_fid = fid(train.batch(idx), 0)
    return rows, {"fid": 0.0, "train_fid": train_fid, "n": cfg.n}


def _progress(name: str, line: str) -> None:
    print(f"[{name}] {line}", flush=True)


def _report(name: str, rows: list[dict], floor: dict, metrics: tuple[str, ...], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    for metric in metrics:
        two = metric in TWO_SIDED
        print(
            f"\n{name}: {metric} (floor {floor[metric]:.4g}); match = "
            + ("|metric - ref|" if two else "metric - ref")
            + " within max(floor, 2 SE)"
            + (f"; data entropy {floor['entropy']:.4f}" if two else "")
        )
        print(format_table(summarize(rows, metric, floor[metric], EQUAL_NFE[name], two)))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 5.5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        ideal = (floor["entropy"], "data entropy H") if metric in TWO_SIDED else None
        if metric == "fid":
            ideal = (floor["train_fid"], f"{floor['n']} train digits")
        plot_frontier(rows, metric, floor[metric] or None, ax=ax, ideal=ideal)
        ref = max((r for r in rows if r["method"] == "plain"), key=lambda r: r["nfe"])[metric]
        if metric == "fid":  # spans three decades from 10 NFE to the reference
            ax.set_yscale("log")
        else:  # zoom on the reference: the 2-NFE-per-step solvers at 4–6 NFE are far above
            lo = min(ref - 2 * floor[metric], ideal[0] - floor[metric] if ideal else ref)
            ax.set_ylim(lo, ref + 6 * floor[metric])
        ax.set_ylabel(LABELS.get(metric, metric))
        zoom = "" if metric == "fid" else "; zoomed"
        ax.set_title(f"{name}: {metric} vs NFE (mean ± SE over seeds{zoom})", fontsize=10)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"frontier_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"figure: {path}")


def bench_frontier(
    device: torch.device,
    repeats: int = 1,
    size: str = "full",
    out: str = "runs/frontier",
    datasets: tuple[str, ...] = ("2d", "digits"),
) -> list[dict]:
    """Both frontiers (CPU: the models are tiny; ``device`` and ``repeats`` are not used — NFE,
    not wall time, is the cost axis). Prints the summaries, writes the figures under ``out``."""
    unknown = sorted(set(datasets) - {"2d", "digits"})
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; valid: 2d, digits")
    rows = []
    for name in datasets:
        fn, metrics = {
            "2d": (frontier_2d, ("mmd", "sw", "gmm_nll")),
            "digits": (frontier_digits, ("fid",)),
        }[name]
        part, floor = fn(size, progress=functools.partial(_progress, name))
        _report(name, part, floor, metrics, Path(out))
        rows += [{"dataset": name, **r} for r in part]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k) for k in keys} for r in rows]  # one table: every row, every column
