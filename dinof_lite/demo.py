"""The ``demo`` command: train a small score model on a 2D toy, sample it, score the samples.

Pipeline (``python -m dinof_lite demo``):

1. draw a fixed training set (N, 2) of the toy ``dataset`` and train
   :class:`~dinof_lite.nets.ScoreMLP` with :func:`~dinof_lite.losses.dsm_loss` via
   :class:`~dinof_lite.train.Trainer` (checkpoint and ``metrics.jsonl`` land in ``out``);
2. sample with :func:`~dinof_lite.sampling.pc_sample` from the EMA network and, for Gaussian
   mixture datasets, from the exact oracle score (the "perfect network" reference);
3. compare each sample set with a held-out data draw — MMD, sliced W2, energy distance, exact W2
   and, for mixtures, the NLL of the samples under the true density next to the data entropy
   H(p0) — and write ``samples.png``, ``metrics.md`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from dinof_lite import metrics
from dinof_lite.data import toy
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.nets import ScoreMLP
from dinof_lite.sampling import pc_sample
from dinof_lite.sde import SDE, get_sde
from dinof_lite.train import CHECKPOINT_NAME, TrainConfig, Trainer
from dinof_lite.utils import pick_device, smoke_mode

__all__ = ["DemoConfig", "dataset_names", "run_demo", "evaluate", "render_markdown"]

N_TRAIN = 50_000  # size of the fixed training set the minibatches are drawn from
W2_POINTS = 1000  # exact W2 (O(N^3)) uses this many points of each set
#: (predictor, corrector) per SDE when none is given, following the authors' configs (SPEC §4):
#: NCSN++ (VE) uses reverse diffusion + Langevin, DDPM++ (VP, sub-VP) Euler–Maruyama alone.
PC_DEFAULTS = {"ve": ("reverse_diffusion", "langevin"), "vp": ("euler_maruyama", "none"),
               "subvp": ("euler_maruyama", "none")}
ROWS = {"data": "data (2nd draw)", "oracle": "oracle score + PC", "model": "trained net (EMA) + PC"}


def dataset_names() -> tuple[str, ...]:
    """Valid ``--dataset`` values: the toys of :data:`toy.DATASETS` plus the mixture presets."""
    return tuple(toy.DATASETS) + tuple(p for p in toy.PRESETS if p not in toy.DATASETS)


@dataclass
class DemoConfig:
    """Options of the demo; ``None`` fields get a default that depends on smoke mode."""

    out: str = "runs/demo"
    dataset: str = "8gaussians"
    sde: str = "vp"
    steps: int | None = None  # training updates (default 4000; 150 in smoke mode)
    batch_size: int = 256
    lr: float = 2e-3
    hidden: int = 64
    n_samples: int | None = None  # samples per set (default 2000; 500 in smoke mode)
    sample_steps: int | None = None  # PC steps (default 500; 40 in smoke mode)
    predictor: str | None = None  # default per SDE, as in the paper's configs (see PC_DEFAULTS)
    corrector: str | None = None
    snr: float = 0.16
    seed: int = 0
    device: str = "auto"
    figure: str | None = None
    resume: bool = False
    progress: bool = True

    def resolved(self) -> DemoConfig:
        """A copy with the smoke-mode-dependent defaults filled in, validated."""
        smoke = smoke_mode()
        cfg = DemoConfig(**asdict(self))
        cfg.steps = cfg.steps if cfg.steps is not None else (150 if smoke else 4000)
        cfg.n_samples = cfg.n_samples if cfg.n_samples is not None else (500 if smoke else 2000)
        cfg.sample_steps = cfg.sample_steps if cfg.sample_steps is not None else (40 if smoke else 500)
        default_pc = PC_DEFAULTS[make_sde(cfg.sde).name]  # also validates the SDE name
        cfg.predictor = cfg.predictor if cfg.predictor is not None else default_pc[0]
        cfg.corrector = cfg.corrector if cfg.corrector is not None else default_pc[1]
        if cfg.dataset not in dataset_names():
            raise ValueError(f"unknown dataset {cfg.dataset!r}; valid: {', '.join(dataset_names())}")
        for name in ("steps", "n_samples", "sample_steps", "batch_size"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(cfg, name)}")
        return cfg


def _dataset(name: str) -> tuple[Callable[[int, int], Tensor], toy.GaussianMixture | None]:
    """``(sample(n, seed) -> (n, 2), exact mixture or None)`` for a dataset name."""
    gmm = toy.GaussianMixture.preset(name) if name in toy.PRESETS else None
    if name in toy.DATASETS:
        return (lambda n, seed: toy.sample(name, n, seed=seed)), gmm
    return (lambda n, seed: gmm.sample(n, torch.Generator().manual_seed(seed))), gmm


def make_sde(name: str) -> SDE:
    """The SDE by name; VE uses σ_max = 10 ≈ the largest pairwise distance of the 2D toys."""
    return get_sde(name, sigma_max=10.0) if name.lower() == "ve" else get_sde(name)


def evaluate(ref: Tensor, samples: Tensor, gmm: toy.GaussianMixture | None, seed: int = 0) -> dict:
    """Model-free sample metrics of ``samples`` (N, D) against held-out data ``ref`` (M, D)."""
    samples = samples.detach().to("cpu", torch.float64)
    finite = torch.isfinite(samples).all(dim=1)
    row: dict[str, float | int | None] = {"n_nonfinite": int((~finite).sum())}
    samples = samples[finite]
    if samples.shape[0] < 2:
        return row | dict.fromkeys(("mmd", "sw2", "energy", "w2", "nll_true"), math.nan)
    g = torch.Generator().manual_seed(seed)
    row["mmd"] = metrics.mmd(ref, samples)
    row["sw2"] = metrics.sliced_wasserstein(ref, samples, n_projections=256, generator=g)
    row["energy"] = metrics.energy_distance(ref, samples)
    row["w2"] = metrics.wasserstein2(ref[:W2_POINTS], samples[:W2_POINTS])
    row["nll_true"] = metrics.gmm_nll(gmm, samples) if gmm is not None else None
    return row


def _sample(sde: SDE, score_fn, cfg: DemoConfig, device: torch.device, seed: int) -> dict:
    """PC-sample ``cfg.n_samples`` points; returns {"x": (N, 2) CPU, "nfe", "wall_time_s"}."""
    gen = torch.Generator(device=device).manual_seed(seed)
    t0 = time.perf_counter()
    res = pc_sample(sde, score_fn, (cfg.n_samples, 2), n_steps=cfg.sample_steps, predictor=cfg.predictor,
                    corrector=cfg.corrector, snr=cfg.snr, return_info=True, generator=gen, device=device,
                    progress=cfg.progress)
    return {"x": res.x.detach().cpu(), "nfe": int(res.nfe), "wall_time_s": time.perf_counter() - t0}


def run_demo(config: DemoConfig) -> dict:
    """Run the whole demo (see module docstring); returns the ``metrics.json`` record."""
    t_start = time.perf_counter()
    cfg = config.resolved()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if not cfg.resume:  # a fresh run; --resume continues an interrupted one instead
        for name in (CHECKPOINT_NAME, "metrics.jsonl"):
            (out / name).unlink(missing_ok=True)
    device = pick_device(cfg.device)
    sde = make_sde(cfg.sde)
    sampler, gmm = _dataset(cfg.dataset)
    train_data = sampler(N_TRAIN, cfg.seed)
    ref = sampler(cfg.n_samples, cfg.seed + 1)  # held-out reference for every metric
    data2 = sampler(cfg.n_samples, cfg.seed + 2)  # second independent draw: the noise floor

    torch.manual_seed(cfg.seed)
    net = ScoreMLP.for_sde(sde, dim=2, hidden=cfg.hidden)
    tcfg = TrainConfig(
        n_steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, warmup=min(100, cfg.steps // 10),
        ema_decay=0.995 if cfg.steps >= 2000 else 0.99, seed=cfg.seed, device=cfg.device,
        log_every=max(1, min(100, cfg.steps // 10)), ckpt_every=1000, progress=cfg.progress,
    )

    def loss_fn(model, x0, g):
        return dsm_loss(sde, get_score_fn(sde, model), x0, generator=g)

    trainer = Trainer(net, loss_fn, train_data, tcfg, workdir=out)
    result = trainer.fit()
    ema_net = trainer.ema_model.module.eval()

    sets = {"data": {"x": data2, "nfe": 0, "wall_time_s": 0.0}}
    if gmm is not None:
        sets["oracle"] = _sample(sde, gmm.score_fn(sde), cfg, torch.device("cpu"), cfg.seed + 3)
    sets["model"] = _sample(sde, get_score_fn(sde, ema_net), cfg, device, cfg.seed + 3)
    rows = {}
    for key, s in sets.items():
        rows[key] = evaluate(ref, s["x"], gmm, seed=cfg.seed) | {
            "nfe": s["nfe"], "sample_wall_time_s": s["wall_time_s"]}
    entropy = gmm.entropy(200_000 if not smoke_mode() else 20_000,
                          torch.Generator().manual_seed(cfg.seed + 4)) if gmm is not None else None
    record = {
        "dataset": cfg.dataset, "sde": cfg.sde, "device": str(device), "smoke": smoke_mode(),
        "config": asdict(cfg),
        "train": {"steps": result.step, "resumed_from": result.resumed_from,
                  "wall_time_s": result.wall_time, "final_loss": result.final_loss},
        "data_entropy_nats": entropy,
        "rows": rows,
        "files": {"figure": str(out / "samples.png"), "checkpoint": str(out / CHECKPOINT_NAME),
                  "metrics_md": str(out / "metrics.md"), "metrics_json": str(out / "metrics.json")},
    }
    _plot(out / "samples.png", ref, sets, rows, cfg)
    if cfg.figure:
        Path(cfg.figure).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "samples.png", cfg.figure)
        record["files"]["figure_copy"] = str(cfg.figure)
    record["total_wall_time_s"] = time.perf_counter() - t_start
    (out / "metrics.md").write_text(render_markdown(record), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(_finite(record), indent=2, allow_nan=False),
                                      encoding="utf-8")
    return record


def _finite(obj):
    """JSON-safe copy: NaN/Inf floats become ``None`` (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}" if math.isfinite(v) else str(v)


def render_markdown(record: dict) -> str:
    """The ``metrics.md`` report: a Markdown table (one row per sample set) and a legend."""
    head = ("| samples | MMD² ↓ | sliced W2 ↓ | energy ↓ | W2 (exact) ↓ | NLL under p0 (nats) | "
            "NFE | sampling (s) |")
    lines = [f"# dinof_lite demo: {record['dataset']}, {record['sde'].upper()} SDE", "", head,
             "|" + " --- |" * 8]
    for key, row in record["rows"].items():
        cells = [ROWS[key], *(_fmt(row.get(k)) for k in ("mmd", "sw2", "energy", "w2", "nll_true")),
                 _fmt(row["nfe"]), _fmt(row["sample_wall_time_s"], 3)]
        lines.append("| " + " | ".join(cells) + " |")
    tr = record["train"]
    lines += [
        "",
        f"- sampler: {record['config']['predictor']} predictor + {record['config']['corrector']} corrector, "
        f"{record['config']['sample_steps']} steps",
        f"- data entropy H(p0) (floor of any model's NLL of data): {_fmt(record['data_entropy_nats'])} nats",
        f"- training: {tr['steps']} steps in {tr['wall_time_s']:.1f} s, final loss {_fmt(tr['final_loss'])}"
        f" (device {record['device']}); total wall time {record.get('total_wall_time_s', math.nan):.1f} s",
        "- every row is compared with a held-out data draw; 'data (2nd draw)' is the noise floor",
        "  at this sample size. MMD² (RBF mixture, unbiased) can be < 0; W2 uses the first",
        f"  {W2_POINTS} points of each set. 'NLL under p0' scores the samples with the *true*",
        "  density: it is not the model's likelihood, and samples piled on the modes can go below",
        "  H(p0). NFE = score-function evaluations.",
    ]
    return "\n".join(lines) + "\n"


def _plot(path: Path, ref: Tensor, sets: dict, rows: dict, cfg: DemoConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("data", ref)] + [(k, s["x"]) for k, s in sets.items() if k != "data"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.6), squeeze=False,
                             layout="constrained")
    lim = float(torch.quantile(ref.abs().max(dim=1).values, 0.999)) * 1.15 + 0.5
    for ax, (key, x) in zip(axes[0], panels):
        x = x[torch.isfinite(x).all(dim=1)]
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="C0" if key == "data" else "C1")
        title = f"data ({cfg.dataset})" if key == "data" else ROWS[key]
        if key != "data":
            title += f"\nMMD²={rows[key]['mmd']:.2g}, SW2={rows[key]['sw2']:.2g}, NFE={rows[key]['nfe']}"
        ax.set_title(title, fontsize=10)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    fig.savefig(path, dpi=110)
    plt.close(fig)
