"""``python -m dinof_lite bench frontier``: sample quality against NFE for every sampler.

Runs :func:`~dinof_lite.evaluation.frontier.frontier` on the shipped any-``T_m`` models and
prints, in one run, for each method the first NFE that matches the plain sampler's 1000-step
reference, the speed-up there and the quality at equal NFE:

- ``dinof_8gaussians_vp_anytm`` (2D mixture), judged by the KL divergence between the samples'
  kernel density estimate and the true density smoothed by the same kernel
  (:func:`~dinof_lite.evaluation.density_kl.kde_kl`): MMD² and sliced W2 cannot separate the
  samplers, and the samples' NLL (a cross-entropy, also reported and matched two-sided) is
  lowered by samples piled onto the modes, which the KL penalises. The reference (1000 steps)
  is sampled in the run; its floor is the spread of the KL of true sample sets.
- ``dinof_digits``, judged by the FID-style score against the test split, matched within two
  standard errors; the reference — the plain sampler at 1000 steps — is the stored one
  (``data/frontier/digits.json``, made by ``python scripts/frontier_reference.py digits``, see
  :mod:`~dinof_lite.evaluation.reference`).

The samplers: the plain PC sampler from ``p_T``, DiNof's PC sampler from the flow at ``T_m``
with the same step density, the fast ODE solvers and the fast stochastic samplers from ``p_T``
and from the flow at ``T_m``. ``--json PATH`` writes one record per dataset
(:func:`~dinof_lite.evaluation.frontier_report.frontier_record`) and draws the curves from it
beside the file (``frontier_2d.png``, ``frontier_digits.png``; without ``--json`` under
``runs/frontier``; :func:`redraw` draws them again from the JSON alone); the README's table
comes from the committed ``docs/figures/frontier.json`` (``python scripts/frontier_report.py``).
Sizes: ``full`` (2D: 2000 samples × 3 seeds; digits:
200 images × 3 seeds) is what the report quotes, ``smoke`` takes seconds (its digits reference
is sampled in the run).
"""

from __future__ import annotations

import functools
import json
import statistics
from pathlib import Path

import torch

from dinof_lite.data import load_image_dataset
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.density_kl import kde_kl
from dinof_lite.evaluation.digits_fid import digits_features, frechet_distance, load_classifier
from dinof_lite.evaluation.frontier import FrontierConfig, frontier, summarize
from dinof_lite.evaluation.frontier_report import frontier_record, plot_record
from dinof_lite.evaluation.quality import sample_quality
from dinof_lite.evaluation.reference import load_reference
from dinof_lite.evaluation.tm_study import noise_floor
from dinof_lite.pretrained import load_dinof
from dinof_lite.viz.diagnostics import format_table

__all__ = ["bench_frontier", "CONFIGS", "frontier_2d", "frontier_digits", "redraw"]

SOLVERS = ("dpm_solver_pp_2m", "heun")
STOCHASTIC = ("edm_sde", "dpm_solver_pp_2m_sde")
#: (dataset, size) -> the frontier's configuration
CONFIGS: dict[tuple[str, str], FrontierConfig] = {
    ("2d", "full"): FrontierConfig(
        plain_nfe=(20, 50, 100, 200, 500, 1000),
        tm_values=(0.3, 0.6),
        solvers=SOLVERS,
        solver_nfe=(4, 6, 10, 20, 30, 50),
        solver_tms=(0.3, 0.6),
        n=2000,
        stochastic=STOCHASTIC,
        stochastic_nfe=(6, 10, 20, 30, 50),
        stochastic_tms=(0.3, 0.6),
    ),
    ("2d", "smoke"): FrontierConfig(
        plain_nfe=(10, 40),
        tm_values=(0.6,),
        solvers=("dpm_solver_pp_2m",),
        solver_nfe=(6,),
        solver_tms=(0.6,),
        n=200,
        seeds=(0, 1),
        stochastic=("dpm_solver_pp_2m_sde",),
        stochastic_nfe=(6,),
        stochastic_tms=(0.6,),
    ),
    ("digits", "full"): FrontierConfig(
        plain_nfe=(10, 25, 50, 100),
        tm_values=(0.6,),
        solvers=SOLVERS,
        solver_nfe=(6, 10, 20, 40),
        solver_tms=(0.6,),
        n=200,
        seeds=(0, 1, 2),
        stochastic=STOCHASTIC,
        stochastic_nfe=(10, 20, 40),
        stochastic_tms=(0.3, 0.6),
    ),
    ("digits", "smoke"): FrontierConfig(
        plain_nfe=(4,),
        tm_values=(0.6,),
        solvers=("dpm_solver_pp_2m",),
        solver_nfe=(2,),
        solver_tms=(0.6,),
        n=16,
        seeds=(0, 1),
        stochastic=("dpm_solver_pp_2m_sde",),
        stochastic_nfe=(2,),
        stochastic_tms=(0.6,),
    ),
}
EQUAL_NFE = {"2d": (10, 20, 50, 100), "digits": (10, 20, 40)}
#: the figures' names of a dataset and of a metric
DATASETS = {"2d": "8 Gaussians (2D)", "digits": "8×8 digits"}
TITLES = {"kde_kl": "KL of the samples' KDE", "gmm_nll": "samples' NLL", "fid": "FID-style score"}
LABELS = {
    "kde_kl": "KL(KDE of samples ‖ smoothed p0), nats",
    "mmd": "MMD² (lower is better)",
    "sw": "sliced W2 (lower is better)",
    "gmm_nll": "samples' NLL under p0, nats (ideal: H)",
    "fid": "FID-style score (lower is better)",
}
#: metrics whose ideal is not their minimum: matched two-sided against the reference
TWO_SIDED = {"gmm_nll"}


def frontier_2d(size: str = "full", progress=print) -> tuple[list[dict], dict]:
    """Rows of the 2D frontier and the floors: :func:`noise_floor` (``mmd``, ``sw``), the
    spread of true sets' mean NLL (``gmm_nll``) and of their KDE KL (``kde_kl``, with their
    mean ``true_kl``), and the data entropy ``entropy``, the ideal value of the samples' NLL (a
    cross-entropy; lower than it is not better)."""
    cfg = CONFIGS[("2d", size)]
    model = load_dinof("dinof_8gaussians_vp_anytm")
    gmm = GaussianMixture.preset("8gaussians")

    def score(x, seed):
        ref = gmm.sample(cfg.n, torch.Generator().manual_seed(10_000 + seed))
        q = sample_quality(x, ref, gmm, seed=seed)
        return {"kde_kl": kde_kl(gmm, x), "mmd": q["mmd"], "sw": q["sw"], "gmm_nll": q["gmm_nll"]}

    rows = frontier(model, cfg, score, progress)
    floor = noise_floor(gmm, cfg.n)
    floor["gmm_nll"] = gmm_nll_floor(gmm, cfg.n, len(cfg.seeds))
    true_kl = [
        kde_kl(gmm, gmm.sample(cfg.n, torch.Generator().manual_seed(20_000 + k)))
        for k in range(len(cfg.seeds))
    ]
    floor["kde_kl"], floor["true_kl"] = max(true_kl) - min(true_kl), statistics.mean(true_kl)
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
    """Rows of the digits frontier (``fid`` per point), the stored 1000-step reference among
    them for ``full``, and the floors: ``fid`` 0 (a match is within two standard errors) and
    ``train_fid``, the score of ``n`` train images against the test split — the metric's
    small-sample bias, drawn as the level no sampler can beat."""
    cfg = CONFIGS[("digits", size)]
    ref = None
    if size == "full":  # before the run: a missing or stale reference fails fast
        ref = load_reference("digits", model="dinof_digits", n=cfg.n, seeds=cfg.seeds)
    model = load_dinof("dinof_digits")
    fid = digits_scorer()
    rows = frontier(model, cfg, lambda x, seed: {"fid": fid(x, seed)}, progress)
    if ref is not None:
        rows.append(
            {"method": "plain", "T_m": 1.0, "steps": ref["nfe"], "nfe": ref["nfe"],
             "fid": ref["mean"], "fid_se": ref["se"]}
        )  # fmt: skip
    train = load_image_dataset("digits", split="train", data_range=(0.0, 1.0), pad_to=16)
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(train), generator=g)[: cfg.n]
    train_fid = fid(train.batch(idx), 0)
    return rows, {"fid": 0.0, "train_fid": train_fid, "n": cfg.n}


def _progress(name: str, line: str) -> None:
    print(f"[{name}] {line}", flush=True)


#: dataset -> (the judging metric, two-sided?, the metrics printed)
JUDGED = {
    "2d": ("kde_kl", False, ("kde_kl", "gmm_nll", "mmd", "sw")),
    "digits": ("fid", False, ("fid",)),
}


def _records(name: str, rows: list[dict], floor: dict, size: str) -> dict:
    """The dataset's JSON record (:func:`frontier_record`); 2D adds its two-sided NLL record."""
    cfg = CONFIGS[(name, size)]
    metric, two, _ = JUDGED[name]
    record = frontier_record(rows, metric, floor[metric], cfg.seeds, cfg.n, two)
    if name == "2d":
        record["true_samples"] = floor["true_kl"]
        record["nll"] = frontier_record(rows, "gmm_nll", floor["gmm_nll"], cfg.seeds, cfg.n, True)
        record["nll"]["entropy"] = floor["entropy"]
    else:
        record["train_images"] = floor["train_fid"]
    return record


def _print(name: str, rows: list[dict], floor: dict) -> None:
    for metric in JUDGED[name][2]:
        two = metric in TWO_SIDED
        print(
            f"\n{name}: {metric} (floor {floor[metric]:.4g}); match = "
            + ("|metric - ref|" if two else "metric - ref")
            + " within max(floor, 2 SE)"
            + (f"; data entropy {floor['entropy']:.4f}" if two else "")
        )
        print(format_table(summarize(rows, metric, floor[metric], EQUAL_NFE[name], two)))


def _legend(axes) -> tuple[list, list[str]]:
    """One entry per sampler (its colour), per start (its line style) and per level line, in
    place of one entry per curve: 15 curves need 6 colours and 3 styles, not 15 labels."""
    from matplotlib.lines import Line2D

    handles: dict[str, object] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if not hasattr(h, "lines"):  # a level line or the floor band
                handles.setdefault(label, h)
                continue
            line = h.lines[0]
            family, _, start = label.replace("dinof ", "dinof @").partition(" @")
            handles.setdefault(
                f"sampler: {family}",
                Line2D([], [], color=line.get_color(), marker=line.get_marker(), ms=4),
            )
            handles.setdefault(
                f"start: {'T_m = ' + start if start else 'p_T'}",
                Line2D([], [], color="0.2", ls=line.get_linestyle()),
            )
    group = {
        k: 0 if k.startswith("sampler") else 1 if k.startswith("start") else 2 for k in handles
    }
    order = sorted(handles, key=lambda k: (group[k], k if group[k] == 1 else ""))
    return [handles[k] for k in order], order


def draw(name: str, record: dict, path: Path) -> Path:
    """The curves of one dataset's record (2D: the KDE KL and the two-sided NLL, stacked), at
    ``path``: one colour per sampler, one line style per start, the legend beside the axes."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if name == "2d":
        panels = [
            (record, (record["true_samples"], "true samples' KL")),
            (record["nll"], (record["nll"]["entropy"], "data entropy H")),
        ]
    else:
        panels = [(record, (record["train_images"], f"{record['n']} train digits"))]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, 4.2 * len(panels) + 0.4), squeeze=False, sharex=True
    )
    axes = axes[:, 0]
    for ax, (rec, ideal) in zip(axes, panels):
        plot_record(rec, ax=ax, ideal=ideal)
        ref, metric = rec["reference"], rec["metric"]
        levels = {ideal[1]: "ideal: ", f"plain @ {ref['nfe']} NFE": "reference: "}
        if metric == "gmm_nll":  # zoom on the reference: the solvers at 4–6 NFE are far off
            ax.set_ylim(ideal[0] - 5 * rec["floor"], ref["mean"] + 8 * rec["floor"])
        else:  # log scale, zoomed on the last decade above the ideal
            ax.set_yscale("log")
            ax.set_ylim(0.8 * ideal[0], 10 * ideal[0])
            for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                axis(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_ylabel(LABELS.get(metric, metric), fontsize=10)
        ax.set_title(
            f"{DATASETS[name]}: {TITLES.get(metric, metric)} against NFE, mean ± SE over "
            f"{len(rec['seeds'])} seeds",
            fontsize=11,
        )
        ax.tick_params(labelsize=10)
        ax.get_legend().remove()
        for line in ax.get_lines():  # level lines named on the plot: their styles are the starts'
            if line.get_label() in levels:
                line.set_color("k")
                y = line.get_ydata()[0]
                ax.annotate(
                    levels[line.get_label()] + line.get_label(),
                    xy=(0.005, y),
                    xycoords=("axes fraction", "data"),
                    ha="left",
                    va="bottom",
                    fontsize=9,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1},
                )
                line.set_label("_level")
    axes[-1].set_xlabel("network evaluations (NFE)", fontsize=10)
    for ax in axes[:-1]:
        ax.set_xlabel("")
    fig.legend(*_legend(axes), loc="center right", fontsize=10, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 3.0 / fig.get_figwidth(), 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def redraw(json_path: str | Path = "docs/figures/frontier.json") -> list[Path]:
    """Draw every dataset's curves again from a written JSON (``frontier_<name>.png`` beside it),
    without running the benchmark (``python scripts/frontier_report.py`` calls it)."""
    path = Path(json_path)
    records = json.loads(path.read_text(encoding="utf-8"))
    return [draw(name, rec, path.parent / f"frontier_{name}.png") for name, rec in records.items()]


def bench_frontier(
    device: torch.device,
    repeats: int = 1,
    size: str = "full",
    out: str = "runs/frontier",
    datasets: tuple[str, ...] = ("2d", "digits"),
    json_path: str | None = None,
) -> list[dict]:
    """Both frontiers (CPU: the models are tiny; ``device`` and ``repeats`` are not used — NFE,
    not wall time, is the cost axis). Prints the summaries; with ``json_path`` writes each
    dataset's record into that file (keeping the records of datasets not run) and the figures
    beside it, else the figures under ``out``."""
    unknown = sorted(set(datasets) - {"2d", "digits"})
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; valid: 2d, digits")
    figures = Path(json_path).parent if json_path else Path(out)
    rows = []
    for name in datasets:
        fn = {"2d": frontier_2d, "digits": frontier_digits}[name]
        part, floor = fn(size, progress=functools.partial(_progress, name))
        _print(name, part, floor)
        record = _records(name, part, floor, size)
        record["command"] = f"python -m dinof_lite bench frontier --size {size} --datasets {name}"
        if json_path:  # the file keeps the other datasets' records
            record["command"] += f" --json {json_path}"
            path = Path(json_path)
            records = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            records[name] = record
            path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        print(f"figure: {draw(name, record, figures / f'frontier_{name}.png')}")
        rows += [{"dataset": name, **r} for r in part]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k) for k in keys} for r in rows]  # one table: every row, every column
