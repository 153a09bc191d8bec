"""The pipeline of the ``demo`` command (its options: :mod:`dinof_lite.cli.demo`): an any-T_m
DiNof on a 2D toy — its sampling journey, and quality and speed against ``T_m`` next to the plain
diffusion sampler.

Pipeline (``python -m dinof_lite demo``):

1. train an any-T_m :class:`~dinof_lite.dinof.DiNof` (a :class:`~dinof_lite.nets.ScoreMLP` and a
   vector :class:`~dinof_lite.flows.Glow` conditioned on ``T_m ∈ [tm_min, T]``) with
   :class:`~dinof_lite.train.Trainer` on a fixed training set of the toy ``dataset``
   (``checkpoint.pt`` and ``metrics.jsonl`` land in ``out``; ``--resume`` continues), or, with
   ``--pretrained``, load the shipped ``dinof_8gaussians_vp_anytm`` (8gaussians, VP);
2. sample with trajectories at ``T_m = 0.1 … 1.0``: ``journey.png`` (the flow part and the SDE
   part of the journey at ``cfg.T_m``) and ``journey.html`` (one frame per ``T_m``, a slider);
3. :func:`~dinof_lite.evaluation.tm_study.tm_study` over the same grid plus the baseline (same score network,
   all ``sample_steps`` steps from ``p_T``) against held-out data, the noise floor of the metrics
   and the first ``T_m`` that matches the baseline: ``tm_study.png``, ``metrics.md``,
   ``metrics.json``.
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

from dinof_lite.data import toy
from dinof_lite.dinof import DiNof, training_loss
from dinof_lite.evaluation.tm_study import TM_GRID, first_match, noise_floor, tm_study
from dinof_lite.flows import Glow
from dinof_lite.nets import ScoreMLP
from dinof_lite.sde import SDE, get_sde
from dinof_lite.train import CHECKPOINT_NAME, TrainConfig, Trainer
from dinof_lite.train.lock import WorkdirLock
from dinof_lite.train.validation import check_dir, check_writable, resolve_device
from dinof_lite.utils import smoke_mode

__all__ = ["DemoConfig", "dataset_names", "run_demo", "render_markdown", "PRETRAINED"]

N_TRAIN = 50_000  # size of the fixed training set the minibatches are drawn from
N_JOURNEY = 1000  # samples per T_m for the journey figures (6 of them highlighted)
KDE_STD = 0.05  # std of the empirical mixture that stands in for a toy without an exact density
#: (dataset, sde) -> the shipped any-T_m checkpoint ``--pretrained`` loads
PRETRAINED = {("8gaussians", "vp"): "dinof_8gaussians_vp_anytm"}


def dataset_names() -> tuple[str, ...]:
    """Valid ``--dataset`` values: the toys of :data:`toy.DATASETS` plus the mixture presets."""
    return tuple(toy.DATASETS) + tuple(p for p in toy.PRESETS if p not in toy.DATASETS)


@dataclass
class DemoConfig:
    """Options of the demo; ``None`` fields get a default that depends on smoke mode."""

    out: str = "runs/demo"
    dataset: str = "8gaussians"
    sde: str = "vp"
    pretrained: bool = False  # load PRETRAINED[(dataset, sde)] instead of training
    steps: int | None = None  # training updates (default 2500; 150 in smoke mode)
    batch_size: int = 256
    lr: float = 2e-3
    hidden: int = 64  # ScoreMLP width and Glow coupling width
    flow_steps: int = 8  # Glow steps (one level)
    tm_min: float = 0.1  # the any-T_m range is [tm_min, T]
    T_m: float = 0.3  # T_m of journey.png: p_{T_m} is still a ring of modes there (VP)
    n_samples: int | None = None  # samples per study row (default 1000; 300 in smoke mode)
    sample_steps: int | None = None  # steps of the whole path [eps, T] (default 500; smoke 40)
    repeats: int | None = None  # timed runs per study row, best kept (default 2; smoke 1)
    predictor: str | None = None  # default per SDE, as in the paper's configs (sde.default_pc)
    corrector: str | None = None
    snr: float = 0.16
    seed: int = 0
    device: str = "auto"
    figure: str | None = None
    resume: bool = False
    progress: bool = True
    break_lock: bool = False  # remove a stale OUT/.lock left by a killed demo

    def resolved(self) -> DemoConfig:
        """A copy with the smoke-mode-dependent defaults filled in, validated."""
        smoke = smoke_mode()
        cfg = DemoConfig(**asdict(self))
        cfg.steps = cfg.steps if cfg.steps is not None else (150 if smoke else 2500)
        cfg.n_samples = cfg.n_samples if cfg.n_samples is not None else (300 if smoke else 1000)
        cfg.sample_steps = (
            cfg.sample_steps if cfg.sample_steps is not None else (40 if smoke else 500)
        )
        cfg.repeats = cfg.repeats if cfg.repeats is not None else (1 if smoke else 2)
        pc = make_sde(cfg.sde).default_pc  # also validates the SDE name
        cfg.predictor = cfg.predictor if cfg.predictor is not None else pc[0]
        cfg.corrector = cfg.corrector if cfg.corrector is not None else pc[1]
        from dinof_lite.sampling.correctors import CORRECTORS
        from dinof_lite.sampling.predictors import PREDICTORS

        for option, name, registry in (
            ("--predictor", cfg.predictor, PREDICTORS),
            ("--corrector", cfg.corrector, CORRECTORS),
        ):
            if name not in registry:
                raise ValueError(f"{option} {name!r} is unknown; valid: {', '.join(registry)}")
        if cfg.dataset not in dataset_names():
            raise ValueError(
                f"unknown dataset {cfg.dataset!r}; valid: {', '.join(dataset_names())}"
            )
        for name in (
            "steps",
            "n_samples",
            "sample_steps",
            "repeats",
            "batch_size",
            "hidden",
            "flow_steps",
        ):
            value = getattr(cfg, name)
            option = "--" + name.replace("_", "-")
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an integer; got {value!r} ({option})")
            if value < 1:
                raise ValueError(f"{name} must be >= 1; got {value} ({option})")
        if not 0 < cfg.tm_min < 1 or not cfg.tm_min <= cfg.T_m <= 1:
            raise ValueError(f"need 0 < tm_min <= T_m <= 1; got tm_min={cfg.tm_min}, T_m={cfg.T_m}")
        if cfg.pretrained and (cfg.dataset, cfg.sde) not in PRETRAINED:
            raise ValueError(
                f"--pretrained exists for {', '.join(map('/'.join, PRETRAINED))} only; "
                f"got {cfg.dataset}/{cfg.sde} (train instead: drop --pretrained)"
            )
        if cfg.pretrained and cfg.resume:
            raise ValueError(
                "--resume continues a training run; it makes no sense with --pretrained"
            )
        return cfg

    def grid(self) -> tuple[float, ...]:
        """The ``T_m`` values studied: :data:`TM_GRID` within ``[tm_min, 1]``, plus ``T_m``."""
        return tuple(sorted({t for t in TM_GRID if t >= self.tm_min - 1e-9} | {self.T_m}))


def _dataset(name: str) -> tuple[Callable[[int, int], Tensor], toy.GaussianMixture | None]:
    """``(sample(n, seed) -> (n, 2), exact mixture or None)`` for a dataset name."""
    gmm = toy.GaussianMixture.preset(name) if name in toy.PRESETS else None
    if name in toy.DATASETS:
        return (lambda n, seed: toy.sample(name, n, seed=seed)), gmm
    return (lambda n, seed: gmm.sample(n, torch.Generator().manual_seed(seed))), gmm


def make_sde(name: str) -> SDE:
    """The SDE by name; one with a ``sigma_max`` (VE) uses σ_max = 10 ≈ the largest pairwise
    distance of the 2D toys."""
    sde = get_sde(name)
    params = sde.params()
    if "sigma_max" in params:
        sde = type(sde)(**{**params, "sigma_max": 10.0})
    return sde


def _train(cfg: DemoConfig, out: Path, data: Tensor) -> tuple[DiNof, dict]:
    """Train an any-T_m DiNof (``Trainer`` workdir ``out``); returns its EMA copy and a summary."""
    torch.manual_seed(cfg.seed)
    sde = make_sde(cfg.sde)
    flow = Glow(
        (2,), levels=1, steps=cfg.flow_steps, hidden=cfg.hidden, context_dim=DiNof.CONTEXT_DIM
    )
    model = DiNof(
        sde,
        ScoreMLP.for_sde(sde, dim=2, hidden=cfg.hidden),
        flow,
        T_m=cfg.T_m,
        T_m_range=(cfg.tm_min, sde.T),
    )
    smoke = smoke_mode()  # warm-up and EMA do not depend on --steps, so --resume may extend a run
    tcfg = TrainConfig(
        n_steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        warmup=10 if smoke else 100,
        ema_decay=0.99 if smoke else 0.995,
        seed=cfg.seed,
        device=cfg.device,
        log_every=max(1, min(100, cfg.steps // 10)),
        ckpt_every=500,
        progress=cfg.progress,
    )
    trainer = Trainer(model, training_loss, data, tcfg, workdir=out, lock=False)  # demo holds it
    res = trainer.fit()
    summary = {
        "source": "trained",
        "steps": res.step,
        "resumed_from": res.resumed_from,
        "wall_time_s": res.wall_time,
        "final_loss": res.final_loss,
    }
    return trainer.ema_model.module.eval(), summary


def _load(cfg: DemoConfig, device: torch.device) -> tuple[DiNof, dict]:
    from dinof_lite.pretrained import checkpoint_meta, load_dinof

    name = PRETRAINED[(cfg.dataset, cfg.sde)]
    model, meta = load_dinof(name, device=device), checkpoint_meta(name)
    return model, {
        "source": f"pretrained {name}",
        "steps": meta.get("train_steps"),
        "resumed_from": None,
        "wall_time_s": None,
        "final_loss": meta.get("final_loss"),
    }


def _oracle(gmm: toy.GaussianMixture | None, ref: Tensor) -> toy.GaussianMixture:
    """The exact mixture, or for a toy without one the empirical mixture of ``ref`` (1000
    points, each a Gaussian of std 0.05): its diffused marginals are exact for that sample."""
    if gmm is not None:
        return gmm
    pts = ref[:1000].double()
    return toy.GaussianMixture(pts, torch.full((len(pts),), KDE_STD**2, dtype=torch.float64))


def _journeys(model: DiNof, cfg: DemoConfig, oracle: toy.GaussianMixture) -> dict:
    """``{T_m: JourneyFrame}`` for the grid: ``min(n_samples, N_JOURNEY)`` samples, 6 paths."""
    from dinof_lite.viz.journey_frame import journey_frame

    n = min(cfg.n_samples, N_JOURNEY)
    # the data entropy is the same in every frame: estimated once (as journey_frame would)
    entropy = oracle.entropy(generator=torch.Generator().manual_seed(cfg.seed + 3))
    out = {}
    for t in cfg.grid():
        kwargs = {
            "n_steps": model.sde.n_steps_from(t, cfg.sample_steps),
            "snr": cfg.snr,
            "predictor": cfg.predictor,
            "corrector": cfg.corrector,
        }
        out[t] = journey_frame(
            model,
            t,
            oracle,
            n=n,
            n_paths=6,
            seed=cfg.seed + 3,
            sample_kwargs=kwargs,
            entropy=entropy,
        )
    return out


def _figures(
    out: Path,
    journeys: dict,
    rows: list[dict],
    floor: dict,
    ref: Tensor,
    cfg: DemoConfig,
    sde: SDE,
    oracle: toy.GaussianMixture,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dinof_lite.evaluation.tm_study import plot_tm_study
    from dinof_lite.viz.journey import journey_dashboard
    from dinof_lite.viz.journey_frame import marginal_map
    from dinof_lite.viz.journey_plotly import journey_plotly

    mmap = marginal_map(sde, oracle)
    frames = list(journeys.values())
    fig = journey_dashboard(journeys[cfg.T_m], mmap, reference=ref, history=frames)
    fig.savefig(out / "journey.png", dpi=110)
    plt.close(fig)
    title = f"DiNof on {cfg.dataset} ({cfg.sde.upper()})"
    journey_plotly(frames, mmap, reference=ref[:1000], title=title).write_html(
        out / "journey.html", include_plotlyjs="cdn", auto_play=False
    )  # about 1 MB; the 3.5 MB plotly.js from its CDN
    fig = plot_tm_study(rows, floor=floor)
    fig.suptitle(f"{title}: quality and cost vs $T_m$ (n = {cfg.n_samples} samples per point)")
    fig.savefig(out / "tm_study.png", dpi=110)
    plt.close(fig)


def run_demo(config: DemoConfig) -> dict:
    """Run the whole demo (see module docstring); returns the ``metrics.json`` record."""
    t_start = time.perf_counter()
    cfg = config.resolved()
    out = check_writable("--out", check_dir("--out", cfg.out, must_exist=False))
    if cfg.figure is not None:
        check_writable("--figure", Path(cfg.figure).parent)
    # the first write: refuses while another demo uses OUT; released on exit, also on errors
    with WorkdirLock(out, break_stale=cfg.break_lock):
        return _run_demo(cfg, out, t_start)


def _run_demo(cfg: DemoConfig, out: Path, t_start: float) -> dict:
    """:func:`run_demo` once the options are checked and ``out`` is locked."""
    if not cfg.resume:  # a fresh run; --resume continues an interrupted one instead
        for name in (CHECKPOINT_NAME, "metrics.jsonl"):
            (out / name).unlink(missing_ok=True)
    device = resolve_device(cfg.device, "--device")
    sampler, gmm = _dataset(cfg.dataset)
    ref = sampler(cfg.n_samples, cfg.seed + 1)  # held-out reference for every metric
    if cfg.pretrained:
        model, train = _load(cfg, device)
    else:
        model, train = _train(cfg, out, sampler(N_TRAIN, cfg.seed))
    model = model.to(device)
    oracle = _oracle(gmm, ref)
    journeys = _journeys(model, cfg, oracle)
    rows = tm_study(
        model,
        cfg.grid(),
        n=cfg.n_samples,
        reference=ref,
        gmm=gmm,
        seed=cfg.seed + 3,
        repeats=cfg.repeats,
        predictor=cfg.predictor,
        corrector=cfg.corrector,
        snr=cfg.snr,
        n_steps_full=cfg.sample_steps,
    )
    floor = noise_floor(lambda n, s: sampler(n, cfg.seed + s), cfg.n_samples)
    entropy = (
        gmm.entropy(
            200_000 if not smoke_mode() else 20_000, torch.Generator().manual_seed(cfg.seed + 4)
        )
        if gmm is not None
        else None
    )
    files = {
        "journey": out / "journey.png",
        "journey_html": out / "journey.html",
        "tm_study": out / "tm_study.png",
        "metrics_md": out / "metrics.md",
        "metrics_json": out / "metrics.json",
    }
    if not cfg.pretrained:
        files["checkpoint"] = out / CHECKPOINT_NAME
    _figures(out, journeys, rows, floor, ref, cfg, model.sde, oracle)
    if cfg.figure:
        Path(cfg.figure).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "journey.png", cfg.figure)
        files["figure_copy"] = Path(cfg.figure)
    matches = {m: first_match(rows, m, floor) for m in ("mmd", "sw")}
    record = {
        "dataset": cfg.dataset,
        "sde": cfg.sde,
        "device": str(device),
        "smoke": smoke_mode(),
        "config": asdict(cfg),
        "train": train,
        "data_entropy_nats": entropy,
        "noise_floor": floor,
        "rows": rows,
        "first_match": {
            m: None if r is None else {"T_m": r["T_m"], "speedup": r["speedup"]}
            for m, r in matches.items()
        },
        "files": {k: str(v) for k, v in files.items()},
    }
    record["total_wall_time_s"] = time.perf_counter() - t_start
    (out / "metrics.md").write_text(render_markdown(record), encoding="utf-8")
    (out / "metrics.json").write_text(
        json.dumps(_finite(record), indent=2, allow_nan=False), encoding="utf-8"
    )
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
    """The ``metrics.md`` report: one table row per ``T_m`` plus the baseline, and a legend."""
    cols = [
        ("T_m", "T_m"),
        ("n_steps", "steps"),
        ("nfe", "NFE"),
        ("wall_s", "sampling (s)"),
        ("speedup", "speed-up"),
        ("mmd", "MMD² ↓"),
        ("sw", "sliced W2 ↓"),
        ("gmm_nll", "NLL under p0 (nats)"),
    ]
    lines = [
        f"# dinof_lite demo: any-T_m DiNof on {record['dataset']}, {record['sde'].upper()} SDE",
        "",
        "| sampler | " + " | ".join(h for _, h in cols) + " |",
        "|" + " --- |" * (len(cols) + 1),
    ]
    for row in record["rows"]:
        name = (
            "DiNof (flow → SDE from T_m)"
            if row["method"] == "dinof"
            else "**baseline** (SDE from T)"
        )
        lines.append(
            f"| {name} | "
            + " | ".join(_fmt(row[k], 3 if k in ("wall_s", "speedup") else 4) for k, _ in cols)
            + " |"
        )
    floor, tr, cfg = record["noise_floor"], record["train"], record["config"]
    match = [
        f"{m.upper()}: "
        + ("none" if r is None else f"T_m = {r['T_m']:g} ({r['speedup']:.2f}× faster)")
        for m, r in record["first_match"].items()
    ]
    lines += [
        "",
        f"- noise floor (two true sample sets of {floor['n']} points, worst of {floor['n_pairs']}): "
        f"MMD² {_fmt(floor['mmd'])}, sliced W2 {_fmt(floor['sw'])}",
        "- first T_m matching the baseline (metric ≤ baseline + noise floor): " + "; ".join(match),
        f"- sampler: {cfg['predictor']} predictor + {cfg['corrector']} corrector, {cfg['sample_steps']} "
        "steps over [eps, T]; DiNof takes round(steps·T_m) of them, from T_m",
        f"- data entropy H(p0) (floor of any model's NLL of data): {_fmt(record['data_entropy_nats'])} nats",
        f"- model: {tr['source']}, {tr['steps']} training steps"
        + ("" if tr["wall_time_s"] is None else f" in {tr['wall_time_s']:.1f} s")
        + f", final loss {_fmt(tr['final_loss'])} (device {record['device']}); total wall time "
        f"{record.get('total_wall_time_s', math.nan):.1f} s",
        "- rows are compared with one held-out data draw; MMD² (RBF mixture, unbiased) can be < 0.",
        "  'NLL under p0' scores the samples with the *true* density (not the model's likelihood).",
        "  NFE = score evaluations (the flow's single pass is not counted); speed-up = baseline",
        f"  sampling time / row sampling time, best of {cfg['repeats']} interleaved runs in this process.",
    ]
    return "\n".join(lines) + "\n"
