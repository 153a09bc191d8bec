"""A small, generic, exactly resumable training loop (Adam + warm-up + clipping + EMA).

One Adam optimizer over the trainable parameters of ``model``; ``model`` may be a container of
several networks (DiNof puts the score network and the flow in one ``nn.Module``), in which case
the single gradient-norm clip spans both and the EMA of the container is an EMA of each network
(docs/design.md §DiNof loss). Parameters with ``requires_grad=False`` are frozen
(:mod:`dinof_lite.train.frozen`): no optimizer state, no EMA, weights unchanged — DiNof on a
published score network trains only its flow this way. Every random draw of the loop —
minibatch indices and the loss's noise — comes from one ``torch.Generator`` seeded with
``config.seed`` and saved in the checkpoint, so an interrupted run that is resumed ends with
bitwise the same weights as an uninterrupted one (on the same device).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm

from dinof_lite.train.checkpoint import (
    CHECKPOINT_NAME,
    TRAIN_FORMAT,
    CheckpointError,
    atomic_save,
    describe_checkpoint,
    interrupts_deferred,
    load_checkpoint,
    plain,
    remove_stale_tmp,
)
from dinof_lite.train.config import NonFiniteLossError, TrainConfig, TrainResult, warmup_factor
from dinof_lite.train.frozen import ema_model, frozen_names, frozen_state_keys
from dinof_lite.train.lock import LOCK_NAME, WorkdirLock
from dinof_lite.train.validation import resolve_device

__all__ = ["Trainer", "train", "LossFn", "DataFn", "Callback"]

#: ``loss_fn(model, x0 (B, *dims), generator) -> scalar loss``
LossFn = Callable[[nn.Module, Tensor, torch.Generator], Tensor]
#: ``data(batch_size, generator) -> x0 (B, *dims)``
DataFn = Callable[[int, torch.Generator], Tensor]
#: ``callback(trainer, step, loss)``, called after every completed update (step is 1-based)
Callback = Callable[["Trainer", int, float], None]

_RESUME_FREE = {"n_steps", "log_every", "ckpt_every", "progress", "device"}


def _freeze(v):
    """Lists (as stored in checkpoints) compare equal to the tuples of a live config."""
    return tuple(v) if isinstance(v, (list, tuple)) else v


class Trainer:
    """Train ``model`` by minimising ``loss_fn`` on minibatches from ``data``.

    Args:
        model: any ``nn.Module`` (moved to the chosen device).
        loss_fn: ``loss_fn(model, x0, generator) -> scalar``; draw all noise from ``generator``.
        data: a sampler ``data(batch_size, generator) -> (B, *dims)`` or a fixed dataset tensor
            (N, *dims), from which minibatches are drawn uniformly *with* replacement.
        config: a :class:`TrainConfig`.
        workdir: where ``checkpoint.pt`` and ``metrics.jsonl`` go (``None``: nothing is written).
            If it already holds a checkpoint, :meth:`fit` resumes from it.
        callbacks: ``callback(trainer, step, loss)`` after each update; raising
            ``KeyboardInterrupt`` there saves a checkpoint and stops (as Ctrl-C between steps does).
        autocast: run the loss under ``torch.autocast(device.type, dtype=autocast)`` (e.g.
            ``torch.bfloat16`` on CUDA); backward and the optimizer stay in full precision.
            ``torch.float16`` (GPUs without native bf16) adds a ``torch.amp.GradScaler``: the
            loss is scaled before backward and the gradients unscaled before the clip; a step
            whose gradients overflow is skipped (weights unchanged, the scale halved) and
            counted, and only a non-finite gradient at a scale of 1 raises.
        meta: JSON-like facts stored in every checkpoint (``"meta"``), e.g. the experiment
            config a ``train`` run was made with.
        lock: hold ``workdir``'s lock (:class:`~dinof_lite.train.lock.WorkdirLock`) while
            :meth:`fit` runs, so two trainers (or a trainer and a ``train`` run) never write one
            workdir at once; pass ``False`` only when the caller already holds it (the CLI does).
        break_lock: take over a lock that only a record guards (a dinof_lite 0.2 record from
            another host, or a dead owner's on a system without ``fcntl``) instead of refusing.
            A killed kernel or run needs nothing: its OS lock died with it. A live owner's lock
            is never broken.

    On :meth:`fit` (and on a resume) temporary files ``.checkpoint.pt.*.tmp`` that killed
    writes left in ``workdir`` are removed (only those older than the workdir's lock, or than
    this trainer when there is no lock).

    A ``DistributedDataParallel`` (or any wrapper with the underlying network in ``.module``) may
    be passed as ``model``: the loss calls the wrapper (so gradients are all-reduced), while the
    EMA, ``state_dict`` and checkpoints use the unwrapped :attr:`module`.

    Attributes:
        model: the network trained (as passed, wrapper included).
        frozen: the frozen part of the model (:func:`~dinof_lite.train.frozen.frozen_names`,
            e.g. ``["score_net"]``; ``[]`` when everything trains), stored in the checkpoint.
        ema_model: an ``AveragedModel`` with ``use_buffers=True``; the averaged copy is
            ``ema_model.module``. It equals the weights after update 1, then
            ``ema ← d·ema + (1 − d)·weights`` after every update; integer/bool buffers are
            copied; the frozen part is shared with the model, not copied.
        optimizer: Adam over the model's trainable parameters.
        scaler: the ``torch.amp.GradScaler`` (enabled only under a float16 ``autocast``).
        skipped_steps: updates a gradient overflow under the scaler skipped.
        scheduler: the warm-up learning-rate schedule.
        generator: the ``torch.Generator`` behind minibatches and noise.
        step: completed updates.
        losses: the loss of each update.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: DataFn | Tensor,
        config: TrainConfig | None = None,
        workdir: str | os.PathLike | None = None,
        callbacks: Sequence[Callback] = (),
        autocast: torch.dtype | None = None,
        meta: dict | None = None,
        lock: bool = True,
        break_lock: bool = False,
    ) -> None:
        self.created = time.time()
        self.config = config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
        self.device = resolve_device(config.device, "TrainConfig.device")
        self.meta = plain(dict(meta or {}))
        self.model = model.to(self.device)
        # DDP's wrapped network: averaged, saved and loaded without the wrapper's "module." prefix
        ddp = torch.nn.parallel.DistributedDataParallel
        self.module: nn.Module = self.model.module if isinstance(self.model, ddp) else self.model
        self.autocast = autocast
        self.loss_fn = loss_fn
        if isinstance(data, Tensor):
            if data.ndim < 1 or data.shape[0] == 0:
                raise ValueError(
                    f"data tensor must be (N, *dims) with N >= 1; got {tuple(data.shape)}"
                )
            self.data: DataFn | Tensor = data.to(self.device)
        elif callable(data):
            self.data = data
        else:
            raise ValueError(
                f"data must be a tensor (N, *dims) or a callable; got {type(data).__name__}"
            )
        self.workdir = Path(workdir) if workdir is not None else None
        self.lock, self.break_lock = lock, break_lock
        self.callbacks = list(callbacks)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters")
        self.optimizer = torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        self.scheduler = LambdaLR(self.optimizer, lambda s: warmup_factor(s, config.warmup))
        self.frozen = frozen_names(self.module)
        self.ema_model = ema_model(self.module, config.ema_decay)
        self.scaler = self._new_scaler()
        self.skipped_steps = 0
        # No update here: the first update_parameters (after update 1) *copies* the weights, so
        # data-dependent initialisations done in the first forward (Glow's ActNorm) are captured.
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.step = 0
        self.losses: list[float] = []
        self.last_checkpoint: tuple[Path, int] | None = None
        self.last_lr = self.last_grad_norm = math.nan
        self._mid_step = self._updating = False
        self._step_rng: tuple | None = None
        self._step_scaler: dict | None = None
        self._torch_rng: Tensor | None = None

    def _new_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.autocast == torch.float16)

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return self.workdir / CHECKPOINT_NAME if self.workdir is not None else None

    def state_dict(self) -> dict:
        """Everything needed to continue exactly (see :mod:`dinof_lite.train.checkpoint`)."""
        cuda_rng = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return {
            "format": TRAIN_FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            "meta": self.meta,
            "model": self.module.state_dict(),
            "ema": self.ema_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": cuda_rng,
            "losses": torch.tensor(self.losses, dtype=torch.float64),
            "frozen": list(self.frozen),
            "grad_scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "skipped_steps": self.skipped_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` (e.g. from :func:`load_checkpoint`)."""
        kind = describe_checkpoint(state)
        if kind != "a dinof_lite training checkpoint":
            raise CheckpointError(
                f"cannot resume from {kind}; expected a training checkpoint ({TRAIN_FORMAT})"
            )
        old = {k: _freeze(v) for k, v in state.get("config", {}).items()}
        new = {k: _freeze(v) for k, v in self.config.to_dict().items()}
        changed = [k for k in new if k not in _RESUME_FREE and k in old and old[k] != new[k]]
        if changed:
            warnings.warn(
                f"resuming with a changed config ({', '.join(changed)}); "
                "the run will not match an uninterrupted one",
                stacklevel=2,
            )
        self._check_frozen(state)
        try:
            self.module.load_state_dict(state["model"])
            self.ema_model.load_state_dict(state["ema"])
        except RuntimeError as err:
            first = str(err).splitlines()[1:2] or [str(err)]
            raise CheckpointError(
                f"the checkpoint does not fit this {type(self.module).__name__} "
                f"({first[0].strip()}); it was written for another architecture: resume "
                "with the model it was trained with, or use a new workdir"
            ) from None
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self._torch_rng = state.get("torch_rng")
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if self.scaler.is_enabled() and state.get("grad_scaler"):
            self.scaler.load_state_dict(state["grad_scaler"])
        self.skipped_steps = int(state.get("skipped_steps", 0))
        self.step = int(state["step"])
        self.losses = [float(v) for v in state["losses"]]

    def _check_frozen(self, state: dict) -> None:
        """Refuse a checkpoint whose frozen part differs from this model's, in extent (it trained
        what is frozen here, or the reverse) or in value (another score network)."""
        stored = list(state.get("frozen", []))
        if stored != self.frozen:

            def say(names: list[str]) -> str:
                return f"froze {', '.join(names)}" if names else "trained every parameter"

            raise CheckpointError(
                f"the checkpoint {say(stored)} but this {type(self.module).__name__} "
                f"{say(self.frozen)}; resume with the model it was trained with (the same "
                "frozen part), or use a new workdir"
            )
        ours, theirs = self.module.state_dict(), state.get("model", {})
        for key in frozen_state_keys(self.module, self.frozen):
            if key not in theirs or theirs[key].shape != ours[key].shape:
                continue  # an architecture mismatch: load_state_dict names it below
            if not torch.equal(theirs[key].to(ours[key].device), ours[key]):
                raise CheckpointError(
                    f"the frozen {key} differs from the one the run was trained with; resume "
                    "with the same frozen network (same source and weights), or use a new workdir"
                )

    def remove_stale_tmp(self) -> list[Path]:
        """Delete the ``.checkpoint.pt.*.tmp`` files killed writes left in ``workdir``: those
        older than the workdir's lock (when one is held), else than this trainer."""
        if self.workdir is None:
            return []
        lock = self.workdir / LOCK_NAME
        try:
            cutoff = lock.stat().st_mtime
        except OSError:
            cutoff = self.created
        return remove_stale_tmp(self.workdir, CHECKPOINT_NAME, older_than=cutoff)

    def save_checkpoint(self) -> Path | None:
        """Atomically write ``workdir/checkpoint.pt`` (no-op without a workdir)."""
        path = self.checkpoint_path
        if path is None:
            return None
        atomic_save(self.state_dict(), path)
        self.last_checkpoint = (path, self.step)
        return path

    # ------------------------------------------------------------------ logging
    def _log(self, record: dict) -> None:
        if self.workdir is None:
            return
        with open(self.workdir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after ``step`` by a run that died before its next checkpoint."""
        path = self.workdir / "metrics.jsonl" if self.workdir is not None else None
        if path is None or not path.exists():
            return
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    keep.append(line)
            except (ValueError, AttributeError):  # a torn last line from a crash
                continue
        path.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")

    # ------------------------------------------------------------------ training
    def sample_batch(self) -> Tensor:
        """One minibatch (B, *dims) on the device, drawn with ``self.generator``."""
        b = self.config.batch_size
        if isinstance(self.data, Tensor):
            idx = torch.randint(
                self.data.shape[0], (b,), generator=self.generator, device=self.device
            )
            return self.data[idx]
        return self.data(b, self.generator).to(self.device)

    def train_step(self) -> float:
        """One update: loss → backward → clip → Adam → LR schedule → EMA. Returns the loss.

        Raises :class:`NonFiniteLossError` *before* touching the weights if the loss or the
        gradient norm is NaN/Inf.
        """
        cfg, k = self.config, self.step + 1
        self._mid_step, self._updating = True, False
        self._step_rng = self._rng_states()  # an interrupt before the update rewinds to here
        scaler = self.scaler
        self._step_scaler = scaler.state_dict() if scaler.is_enabled() else None
        self.model.train()
        x0 = self.sample_batch()
        self.optimizer.zero_grad(set_to_none=True)
        amp = (
            torch.autocast(self.device.type, dtype=self.autocast)
            if self.autocast is not None
            else contextlib.nullcontext()
        )
        with amp:
            loss = self.loss_fn(self.model, x0, self.generator)
        if self.autocast is not None:  # a bf16/fp16 loss is reported (and checked) in float32
            loss = loss.float()
        if loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar; got shape {tuple(loss.shape)}")
        value = float(loss.detach())
        if not math.isfinite(value):
            raise self._nonfinite("loss", value, k)
        scaler.scale(loss).backward()  # unscaled when the scaler is off
        scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = cfg.grad_clip if cfg.grad_clip is not None else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        overflow = not math.isfinite(norm)
        if overflow and (not scaler.is_enabled() or scaler.get_scale() <= 1.0):
            raise self._nonfinite("gradient norm", norm, k)
        self.last_grad_norm = norm
        self.last_lr = self.optimizer.param_groups[0]["lr"]
        with interrupts_deferred():  # Ctrl-C / SIGTERM wait until the update is complete
            self._updating = True  # from here on the weights change: no rewinding
            with warnings.catch_warnings():  # a skipped first step is the scaler's design
                warnings.filterwarnings(
                    "ignore", "Detected call of `lr_scheduler.step", UserWarning
                )
                scaler.step(self.optimizer)  # skipped on overflow (float16 only)
                self.scheduler.step()
            scaler.update()
            self.skipped_steps += overflow
            self.ema_model.update_parameters(self.module)
            self.step = k
            self.losses.append(value)
            self._mid_step = False
        return value

    def _rng_states(self) -> tuple:
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return self.generator.get_state(), torch.get_rng_state(), cuda

    def _rewind_step(self) -> None:
        """Undo an interrupted step that had not reached the optimizer: its draws and grads."""
        generator, cpu, cuda = self._step_rng
        self.generator.set_state(generator)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state(cuda, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        if self._step_scaler is not None:  # a fresh scaler forgets an unscale_ of this step
            self.scaler = self._new_scaler()
            self.scaler.load_state_dict(self._step_scaler)
        self._mid_step = False

    def _nonfinite(self, what: str, value: float, step: int) -> NonFiniteLossError:
        path, at = self.last_checkpoint if self.last_checkpoint else (None, None)
        return NonFiniteLossError(what, value, step, path, at)

    def fit(self, max_steps: int | None = None) -> TrainResult:
        """Train up to ``config.n_steps`` updates (resuming from ``workdir`` if possible).

        Args:
            max_steps: stop (with a checkpoint) once ``step`` reaches this, even if below
                ``n_steps`` — handy to split a run; a later ``fit()`` continues it.

        Returns:
            A :class:`TrainResult`. Writes ``checkpoint.pt`` every ``ckpt_every`` updates and
            at the end, and ``metrics.jsonl`` lines every ``log_every`` updates.

        Raises:
            NonFiniteLossError: the loss became NaN/Inf; the last good checkpoint is kept.
            WorkdirLockedError: another run holds ``workdir`` (nothing was written).
        """
        if self.workdir is None or not self.lock:
            return self._fit(max_steps)
        hint = "pass break_lock=True to the Trainer"
        with WorkdirLock(self.workdir, break_stale=self.break_lock, break_hint=hint):
            return self._fit(max_steps)

    def _fit(self, max_steps: int | None) -> TrainResult:
        cfg, t0 = self.config, time.perf_counter()
        path = self.checkpoint_path
        if path is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.remove_stale_tmp()
            if self.step == 0 and path.exists():
                try:
                    self.load_state_dict(load_checkpoint(path))
                except CheckpointError as err:
                    raise CheckpointError(
                        f"cannot resume the run in {path.parent}: {err}"
                    ) from None
                self.last_checkpoint = (path, self.step)
            self._truncate_log(self.step)
        start = self.step
        stop = cfg.n_steps if max_steps is None else min(cfg.n_steps, max_steps)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), self._progress(start) as bar:
            # Global RNG (dropout etc.): seeded per run, saved/restored with the checkpoint.
            if self._torch_rng is not None:
                torch.set_rng_state(self._torch_rng)
            elif start == 0:
                torch.manual_seed(cfg.seed)
            try:
                while self.step < stop:
                    loss = self.train_step()
                    self._after_step(loss, bar)
                    for cb in self.callbacks:
                        cb(self, self.step, loss)
            except KeyboardInterrupt:
                # Between updates (or in a callback) the state is consistent: save it. Before a
                # step touched the weights, undoing its random draws makes it consistent again.
                # Mid-update it is not (weights stepped, counter not): keep the last checkpoint.
                if self._mid_step and not self._updating:
                    self._rewind_step()
                saved_at = self.last_checkpoint[1] if self.last_checkpoint else -1
                if not self._mid_step and self.step > start and self.step != saved_at:
                    self.save_checkpoint()
                raise
            finally:
                self._torch_rng = torch.get_rng_state()
            if self.last_checkpoint is None or self.last_checkpoint[1] != self.step:
                self.save_checkpoint()
        tail = self.losses[-cfg.log_every :]
        return TrainResult(
            step=self.step,
            losses=list(self.losses),
            final_loss=sum(tail) / len(tail) if tail else math.nan,
            wall_time=time.perf_counter() - t0,
            resumed_from=start,
            checkpoint=path if self.last_checkpoint else None,
        )

    def _progress(self, start: int):
        if not self.config.progress:
            return contextlib.nullcontext(None)
        return tqdm(total=self.config.n_steps, initial=start, desc="train", dynamic_ncols=True)

    def _after_step(self, loss: float, bar) -> None:
        cfg, k = self.config, self.step
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        if k % cfg.log_every == 0 or k == cfg.n_steps:
            tail = self.losses[-cfg.log_every :]
            self._log(
                {
                    "step": k,
                    "loss": sum(tail) / len(tail),
                    "last_loss": loss,
                    "lr": self.last_lr,
                    "grad_norm": self.last_grad_norm,
                    "time": time.time(),
                }
            )
        if cfg.ckpt_every and k % cfg.ckpt_every == 0 and k < cfg.n_steps:
            self.save_checkpoint()


def train(
    model: nn.Module,
    loss_fn: LossFn,
    data: DataFn | Tensor,
    config: TrainConfig | None = None,
    workdir: str | os.PathLike | None = None,
) -> tuple[Trainer, TrainResult]:
    """Functional shortcut: build a :class:`Trainer`, run :meth:`~Trainer.fit`, return both."""
    trainer = Trainer(model, loss_fn, data, config, workdir)
    return trainer, trainer.fit()
