"""A training run on disk: ``train_run`` writes it, ``load_run`` reads it back.

Workdir layout (``python -m dinof_lite train --config NAME --workdir DIR``)::

    DIR/config.json                 ExperimentConfig.to_dict() — what `sample` / `eval` rebuild
    DIR/run.json                    how it was run: fake_data, data_root, world_size, amp, compile
    DIR/checkpoint.pt               Trainer checkpoint (model = DiNof, ema = AveragedModel state)
    DIR/metrics.jsonl               Trainer log lines, sample-grid lines, eval lines
    DIR/samples/step_{k:07d}.png    sample grids every ``cfg.sample_every`` updates (EMA model)
    DIR/tb/                         TensorBoard events (only if ``tensorboard`` is importable)

The model is trained with :class:`~dinof_lite.train.Trainer` on
``dinof_lite.dinof.training_loss`` (the joint DiNof loss, DiNof Eqs. 3 and 8). On CUDA the run
uses the precision policy (:mod:`dinof_lite.precision`: the score network in bf16 — fp16 with a
gradient scaler on GPUs without native bf16 — the flow, its log-dets, the SDE and the sampler
state in float32) for the loss and the sample grids, and the model and batches are
``channels_last``. See :mod:`dinof_lite.experiment.distributed` for ``torchrun`` runs.

**Flow only** (``--score HUB_ID`` or ``--score-checkpoint PATH``): the score network is a
published one (:mod:`dinof_lite.experiment.pretrained_score`), frozen; only the flow trains
(``ExperimentConfig.train_score = False``, recorded in ``config.json`` with the source, so a
resume without the same source is refused).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dinof_lite.dinof import training_loss
from dinof_lite.experiment.configs import ExperimentConfig, build_model, get_config
from dinof_lite.experiment.data import experiment_dataset
from dinof_lite.experiment.distributed import (
    RankTrainer,
    cleanup_distributed,
    data_dependent_init,
    init_distributed,
    on_main_then_share,
    wrap_ddp,
    write_rank_report,
)
from dinof_lite.experiment.pretrained_score import (
    describe_source,
    load_pretrained_score,
    score_source,
)
from dinof_lite.experiment.sample import save_grid, to_uint8
from dinof_lite.nets.unet import UNetConfig
from dinof_lite.precision import TRAIN_PRECISIONS, Precision, half_mode, resolve_precision
from dinof_lite.train import TrainConfig, load_weights
from dinof_lite.train.lock import WorkdirLock
from dinof_lite.train.validation import check_dir, check_int, check_writable, resolve_device

__all__ = [
    "TrainOptions",
    "train_run",
    "load_run",
    "load_run_options",
    "run_precision",
    "config_from_dict",
    "config_mismatch",
    "read_run_config",
    "unknown_config_keys",
    "append_metrics",
]

#: config keys that may change when a run is resumed (length, logging, device)
RESUME_FREE = {
    "train.n_steps",
    "train.device",
    "train.progress",
    "train.log_every",
    "train.ckpt_every",
    "sample_every",
}


@dataclass
class TrainOptions:
    """Arguments of ``python -m dinof_lite train`` (see its ``--help``).

    ``amp``: the precision policy's half precision (True: bf16, or fp16 on a GPU without native
    bf16) or float32 (False); ``None``: half precision exactly when training on CUDA
    (:func:`~dinof_lite.precision.resolve_precision`). ``precision``: a mode of
    :data:`~dinof_lite.precision.PRECISION_MODES` instead (``"fp16"`` forces the T4 path on any
    device). ``score`` (a hub id) or ``score_checkpoint`` (a score_sde_pytorch file, its
    architecture the config ``score_config``, default ``config``): train the flow alone on that
    published score network, frozen. ``rank_report``: each rank writes
    ``DIR/rank{r}.json`` (weight digests) at the end — a debugging/test hook for DDP.
    ``sample_every``: overrides the config's grid interval (0: no grids). ``callbacks``: extra
    ``Trainer`` callbacks of this rank (Python API; ``trial`` times the steps with one).
    """

    config: str
    workdir: str | os.PathLike
    steps: int | None = None
    seed: int | None = None
    device: str = "auto"
    compile: bool = False
    amp: bool | None = None
    precision: str | None = None
    score: str | None = None
    score_checkpoint: str | None = None
    score_config: str | None = None
    fake_data: bool = False
    data_root: str | None = None
    progress: bool = True
    rank_report: bool = False
    break_lock: bool = False
    sample_every: int | None = None
    callbacks: tuple = ()

    def check(self) -> None:
        """Refuse bad options before anything is written (names the option and the fix)."""
        if self.steps is not None:
            check_int("--steps", self.steps, min=1)
        if self.seed is not None:
            check_int("--seed", self.seed, min=0, max=2**63 - 1)
        if self.sample_every is not None:
            check_int("--sample-every", self.sample_every, min=0)
        if self.precision is not None:
            if self.precision not in TRAIN_PRECISIONS:
                raise ValueError(
                    f"--precision: unknown mode {self.precision!r}; valid: "
                    f"{', '.join(TRAIN_PRECISIONS)}"
                )
            if self.amp is not None:
                raise ValueError(
                    f"--precision {self.precision} and --{'' if self.amp else 'no-'}amp both "
                    "choose the precision; give one of them"
                )
        workdir = check_dir("--workdir", self.workdir, must_exist=False)
        check_writable("--workdir", workdir)
        if self.data_root is not None:
            check_dir("--data-root", self.data_root, must_exist=True)


def run_precision(
    amp: bool | None, device: torch.device, precision: str | None = None
) -> Precision:
    """The policy a run uses: ``--precision MODE``; ``--amp`` → the device's half precision
    (bf16, or fp16 where bf16 is not native), ``--no-amp`` → float32, neither → by device."""
    if precision is not None:
        return resolve_precision(precision, device)
    if amp is None:
        return resolve_precision(None, device)
    return resolve_precision(half_mode(device) if amp else "float32", device)


def config_from_dict(d: dict) -> ExperimentConfig:
    """Inverse of ``ExperimentConfig.to_dict()`` (lists back to tuples; unknown keys ignored)."""

    def tuples(obj: dict, names) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in obj.items() if k in names}

    unet = UNetConfig(**tuples(d["unet"], {f.name for f in dataclasses.fields(UNetConfig)}))
    names = {f.name for f in dataclasses.fields(ExperimentConfig)} - {"unet", "train"}
    return ExperimentConfig(unet=unet, train=TrainConfig.from_dict(d["train"]), **tuples(d, names))


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_mismatch(old: dict, new: dict) -> list[str]:
    """Dotted keys whose values differ (after a JSON round trip), except :data:`RESUME_FREE`."""
    a, b = _flat(json.loads(json.dumps(old))), _flat(json.loads(json.dumps(new)))
    return sorted(k for k in a.keys() | b.keys() if k not in RESUME_FREE and a.get(k) != b.get(k))


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def append_metrics(workdir: str | os.PathLike, record: dict) -> None:
    """Append one JSON line to ``workdir/metrics.jsonl``."""
    with open(Path(workdir) / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object from ``path``; ``ValueError`` naming the file if it is not one."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}); it is written by `train`: restore it, or train "
            "into a new --workdir"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a JSON object")
    return obj


def load_run_options(workdir: str | os.PathLike) -> dict:
    """``DIR/run.json`` (``{}`` if absent)."""
    path = Path(workdir) / "run.json"
    return read_json(path) if path.exists() else {}


def unknown_config_keys(d: dict) -> list[str]:
    """The keys of a stored config (``ExperimentConfig.to_dict()`` form) that no field has, each
    as ``'key'`` or ``'key' (did you mean 'T_m'?)``; dotted inside ``unet`` and ``train``."""
    found = []
    for section, cls in (("", ExperimentConfig), ("unet", UNetConfig), ("train", TrainConfig)):
        obj = d.get(section) if section else d
        if not isinstance(obj, dict):
            continue  # a missing or malformed section: config_from_dict names it
        prefix = f"{section}." if section else ""
        names = {f.name.lower(): f.name for f in dataclasses.fields(cls)}
        for key in obj:
            if key in names.values():
                continue
            close = difflib.get_close_matches(str(key).lower(), list(names), n=1)
            hint = f" (did you mean {prefix + names[close[0]]!r}?)" if close else ""
            found.append(f"{prefix + str(key)!r}{hint}")
    return found


def read_run_config(workdir: str | os.PathLike) -> dict:
    """``DIR/config.json`` as a dict, refusing a key that no config field has (a typo such as
    ``"Tm"`` would otherwise be ignored and the default used): ``ValueError`` naming each one."""
    path = Path(workdir) / "config.json"
    stored = read_json(path)
    unknown = unknown_config_keys(stored)
    if unknown:
        keys = ", ".join(unknown)
        raise ValueError(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} {keys}; fix or remove "
            f"{'them' if len(unknown) > 1 else 'it'} (the file is written by `train`), or "
            "train into a new --workdir"
        )
    return stored


def load_run(workdir: str | os.PathLike, device: str = "auto", *, ema: bool = True):
    """``(cfg, model)``: the config of ``DIR/config.json`` and its DiNof with the EMA weights
    (``ema=False``: the raw weights) of ``DIR/checkpoint.pt``, on ``device``, in eval mode."""
    workdir = check_dir("--workdir", workdir, must_exist=False)
    dev = resolve_device(device, "--device")
    path = workdir / "config.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{workdir} is not a training run (no config.json); create one "
            f"with `python -m dinof_lite train --config NAME --workdir {workdir}`"
        )
    stored = read_run_config(workdir)
    try:
        cfg = config_from_dict(stored)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} is not a valid run config ({type(err).__name__}: {err}); it is written by "
            "`train`: restore it, or train into a new --workdir"
        ) from None
    model = load_weights(build_model(cfg), workdir, ema=ema)
    return cfg, model.to(dev).eval()


def _with_defaults(stored: dict) -> dict:
    """``stored`` with the default of every top-level field it lacks (a run written before the
    field existed, e.g. ``train_score``, resumes as what it was)."""
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(ExperimentConfig)
        if f.default is not dataclasses.MISSING
    }
    return {**defaults, **stored}


def _check_workdir(workdir: Path, cfg: ExperimentConfig, meta: dict) -> None:
    """Refuse to resume a run whose config (or data) differs; write the JSON files (rank 0)."""
    cfg_path, meta_path = workdir / "config.json", workdir / "run.json"
    if cfg_path.exists():
        bad = config_mismatch(_with_defaults(read_run_config(workdir)), cfg.to_dict())
        old_fake = load_run_options(workdir).get("fake_data", False)
        if old_fake != meta["fake_data"]:
            bad.append("fake_data")
        if bad:
            old = read_run_config(workdir).get("pretrained_score")
            same = " and the same score network" if any("score" in k for k in bad) else ""
            trained = f" (it was trained with {describe_source(old)})" if old and same else ""
            raise ValueError(
                f"{workdir} holds a run with a different config ({', '.join(bad)}){trained}; "
                f"use a new --workdir, or the same config{same} to resume"
            )
    workdir.mkdir(parents=True, exist_ok=True)
    _write_json(cfg_path, cfg.to_dict())
    _write_json(meta_path, meta)


def _grid_callback(cfg: ExperimentConfig, workdir: Path, seed: int, precision: Precision):
    """Every ``cfg.sample_every`` updates: a grid of EMA samples at ``cfg.T_m`` (own generator,
    so training's random streams are untouched) and a ``metrics.jsonl`` line."""
    n = 64 if cfg.image_size <= 64 else 16

    def callback(trainer, step: int, loss: float) -> None:
        if not cfg.sample_every or step % cfg.sample_every:
            return
        model, t0 = trainer.ema_model.module, time.perf_counter()
        g = torch.Generator(device=trainer.device).manual_seed(seed)
        model.eval()
        with torch.no_grad(), precision.autocast():
            x = model.sample(
                n,
                T_m=cfg.T_m,
                predictor=cfg.predictor,
                corrector=cfg.corrector,
                snr=cfg.snr,
                n_corrector_steps=cfg.n_corrector_steps,
                generator=g,
            )
        path = save_grid(to_uint8(x, cfg.data_range), workdir / "samples" / f"step_{step:07d}.png")
        append_metrics(
            workdir,
            {
                "step": step,
                "sample_grid": str(path.relative_to(workdir)),
                "sample_T_m": cfg.T_m,
                "sample_time": time.perf_counter() - t0,
            },
        )

    return callback


def _tensorboard_callback(workdir: Path):
    """Scalars to ``DIR/tb`` when ``tensorboard`` is importable, else ``None``."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    writer = SummaryWriter(str(workdir / "tb"))

    def callback(trainer, step: int, loss: float) -> None:
        writer.add_scalar("train/loss", loss, step)
        if step % trainer.config.log_every == 0:
            writer.add_scalar("train/lr", trainer.last_lr, step)
            writer.add_scalar("train/grad_norm", trainer.last_grad_norm, step)
            writer.flush()

    return callback


def train_run(opts: TrainOptions) -> dict:
    """Train (or resume) the run in ``opts.workdir``; returns a summary dict (see module doc)."""
    cfg = get_config(opts.config)  # every check before the process group and the workdir
    opts.check()
    source = score_source(opts.score, opts.score_checkpoint, opts.score_config)
    score = None
    if source is not None:  # flow only, on a published score network (loaded and checked)
        cfg.pretrained_score, cfg.train_score = source, False
        score = load_pretrained_score(cfg)
    info, device = init_distributed(opts.device)
    lock = None
    try:
        overrides = {"device": str(device)}
        if opts.steps is not None:
            overrides["n_steps"] = opts.steps
        if opts.seed is not None:
            overrides["seed"] = opts.seed
        cfg.train = dataclasses.replace(cfg.train, **overrides)
        if opts.sample_every is not None:
            cfg.sample_every = opts.sample_every
        seed, workdir = cfg.train.seed, Path(opts.workdir)
        precision = run_precision(opts.amp, device, opts.precision)
        amp = precision.mixed
        meta = {
            "fake_data": opts.fake_data,
            "data_root": opts.data_root,
            "world_size": info.world_size,
            "amp": amp,
            "precision": precision.mode,
            "compile": opts.compile,
        }

        def claim_workdir() -> WorkdirLock:  # the first write: refuses if another run holds it
            held = WorkdirLock(workdir, break_stale=opts.break_lock).acquire()
            try:
                _check_workdir(workdir, cfg, meta)
            except BaseException:
                held.release()
                raise
            return held

        lock = on_main_then_share(info, claim_workdir)  # every rank stops if rank 0 refuses
        tcfg = dataclasses.replace(
            cfg.train,
            batch_size=info.split_batch(cfg.train.batch_size),
            seed=seed + info.rank,
            progress=opts.progress and info.is_main,
        )
        data = experiment_dataset(
            cfg, "train", fake=opts.fake_data, root=opts.data_root, flip=cfg.random_flip
        )
        fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format

        def sampler(batch_size: int, generator: torch.Generator) -> torch.Tensor:
            return data.sampler(batch_size, generator).to(device, memory_format=fmt)

        torch.manual_seed(seed)  # same initial weights on every rank
        model = build_model(cfg, score).to(device, memory_format=fmt).train()
        data_dependent_init(model, sampler, tcfg.batch_size, seed, device)
        if opts.compile:
            model.score_net.compile()
        callbacks = []
        if info.is_main:
            callbacks = [
                cb
                for cb in (
                    _grid_callback(cfg, workdir, seed, precision),
                    _tensorboard_callback(workdir),
                )
                if cb is not None
            ]
        callbacks += list(opts.callbacks)
        trainer = RankTrainer(
            wrap_ddp(model, info, device),
            training_loss,
            sampler,
            tcfg,
            workdir if info.is_main else None,
            callbacks,
            autocast=precision.autocast_dtype,  # the flow opts out (precision.float32)
            info=info,
            run_dir=workdir,
            meta={"config_name": cfg.name, "experiment": cfg.to_dict()},
            lock=False,  # held above by rank 0
        )
        resumed = trainer.step if trainer.resume() else 0
        result = trainer.fit()
        if opts.rank_report:
            write_rank_report(trainer, info, workdir)
        return {
            "config": cfg.name,
            "workdir": str(workdir),
            "step": result.step,
            "resumed_from": resumed,
            "final_loss": result.final_loss,
            "wall_time": result.wall_time,
            "device": str(device),
            "world_size": info.world_size,
            "rank": info.rank,
            "amp": amp,
            "precision": precision.describe(),
            "precision_mode": precision.mode,
            "train_score": cfg.train_score,
        }
    finally:
        if lock is not None:
            lock.release()
        cleanup_distributed(info)
