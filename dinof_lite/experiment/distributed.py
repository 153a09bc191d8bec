"""Multi-process data-parallel training (``torchrun --nproc_per_node=K -m dinof_lite train ...``).

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`init_distributed` reads them
and joins the process group (NCCL on CUDA, Gloo on CPU). The conventions of a K-process run:

* the config's ``batch_size`` B is the *global* batch: each rank draws ``B / K`` images (B must be
  divisible by K), so one update averages the same number of images as a 1-process run;
* rank r seeds its ``Trainer`` (minibatch indices, flips, the loss's noise) with ``seed + r``;
* the model is built with the same seed on every rank, ActNorm is initialised on one batch
  *before* wrapping (same batch on every rank), and DDP's constructor broadcasts rank 0's
  parameters and buffers anyway; DDP then all-reduces (averages) gradients in ``backward``, so
  the weights, the Adam state and the EMA (kept on every rank) stay identical;
* only rank 0 takes the workdir's lock and writes ``checkpoint.pt``, logs and grids; what it finds
  there (a lock held by another run, a different config) is shared with every rank by
  :func:`on_main_then_share`, so all ranks stop with the same error instead of the others
  waiting forever in a collective rank 0 never joins; every rank reads the checkpoint to resume.
  The checkpoint stores each rank's RNG states (``"rank_rng"``), so a resumed run with the same
  number of processes continues every rank's random stream.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from dinof_lite.train import Trainer
from dinof_lite.train.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from dinof_lite.train.validation import resolve_device

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup_distributed",
    "data_dependent_init",
    "on_main_then_share",
    "wrap_ddp",
    "RankTrainer",
    "param_digest",
    "write_rank_report",
]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run: ``rank`` of ``world_size``, GPU ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files."""
        return self.rank == 0

    def split_batch(self, batch_size: int) -> int:
        """The per-rank batch ``B / K`` of a global batch ``B``."""
        if batch_size % self.world_size:
            raise ValueError(
                f"the global batch size {batch_size} is not divisible by the "
                f"{self.world_size} processes"
            )
        return batch_size // self.world_size


def init_distributed(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group if ``WORLD_SIZE > 1`` (set by ``torchrun``); pick the device.

    Returns ``(info, device)``: ``cuda:LOCAL_RANK`` with NCCL when CUDA is chosen, else the CPU
    (or ``device``) with Gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    dev = resolve_device(device, "--device")
    if not info.enabled:
        return info, dev
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but torch.distributed is not available in this build")
    if dev.type == "cuda":
        dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return info, dev


def cleanup_distributed(info: DistInfo) -> None:
    """Wait for every rank, then leave the process group."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def on_main_then_share(info: DistInfo, fn: Callable[[], object]) -> object:
    """Run ``fn()`` on rank 0 only; every rank learns whether it failed.

    Returns ``fn()``'s value on rank 0 and ``None`` elsewhere. If ``fn`` raises on rank 0, the
    exception is broadcast and every rank raises it (an exception that cannot be pickled arrives
    as a ``RuntimeError`` with its message).
    """
    error: BaseException | None = None
    result = None
    if info.is_main:
        try:
            result = fn()
        except Exception as err:  # shared below, then re-raised on every rank
            error = err
    if info.enabled:
        box = [error]
        if info.is_main and error is not None:
            try:
                pickle.loads(pickle.dumps(error))
            except Exception:
                box = [RuntimeError(f"{type(error).__name__}: {error}")]
        dist.broadcast_object_list(box, src=0)
        error = error if info.is_main else box[0]
    if error is not None:
        raise error
    return result


@torch.no_grad()
def data_dependent_init(
    model: nn.Module, sampler, batch_size: int, seed: int, device: torch.device
) -> None:
    """One forward pass on the batch ``sampler(batch_size, Generator(seed))``: ActNorm's
    data-dependent initialisation, before DDP wraps the model. Every rank passes the same
    ``seed``, so every rank draws the same batch and its ActNorm layers start identical."""
    g = torch.Generator(device=device).manual_seed(seed)
    model(sampler(batch_size, torch.Generator().manual_seed(seed)), g)


def wrap_ddp(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` in a multi-process run, else ``model`` unchanged."""
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


class RankTrainer(Trainer):
    """A :class:`Trainer` for one rank: rank 0 writes ``checkpoint.pt`` (with every rank's RNG
    states), the others pass ``workdir=None`` and read the checkpoint with :meth:`resume`.

    Args: as :class:`Trainer`, plus ``info`` (:class:`DistInfo`) and ``run_dir`` (the shared
    run directory whose ``checkpoint.pt`` every rank resumes from).
    """

    def __init__(self, *args, info: DistInfo, run_dir: str | os.PathLike, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.info, self.run_dir = info, Path(run_dir)
        self._rank_rng: list | None = None

    def save_checkpoint(self) -> Path | None:
        """Collective: gather every rank's RNG states, then rank 0 writes the file."""
        if self.info.enabled:
            states = [None] * self.info.world_size
            dist.all_gather_object(states, (self.generator.get_state(), torch.get_rng_state()))
            self._rank_rng = states
        path = super().save_checkpoint()
        self.last_checkpoint = (self.run_dir / CHECKPOINT_NAME, self.step)
        return path

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self._rank_rng is not None:
            state["rank_rng"] = self._rank_rng
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore; a rank seeds ``seed + rank`` by design, so that difference is not a warning."""
        state = {**state, "config": {**state.get("config", {}), "seed": self.config.seed}}
        super().load_state_dict(state)
        rng = state.get("rank_rng")
        if rng is not None and len(rng) == self.info.world_size:
            gen, cpu = rng[self.info.rank]
            self.generator.set_state(gen)
            self._torch_rng = cpu

    def resume(self) -> bool:
        """Load ``run_dir/checkpoint.pt`` if it exists (every rank); True if it did."""
        path = self.run_dir / CHECKPOINT_NAME
        if self.info.is_main and self.workdir is not None:
            self.remove_stale_tmp()
        if not path.exists():
            return False
        try:
            self.load_state_dict(load_checkpoint(path))
        except CheckpointError as err:
            raise CheckpointError(f"cannot resume the run in {path.parent}: {err}") from None
        self.last_checkpoint = (path, self.step)
        return True


def param_digest(module: nn.Module) -> str:
    """SHA-256 of every tensor of ``module.state_dict()`` (sorted keys, CPU bytes)."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_rank_report(trainer: Trainer, info: DistInfo, run_dir: str | os.PathLike) -> Path:
    """Debug hook (``train --rank-report``): ``run_dir/rank{r}.json`` with this rank's step,
    digest of the weights and of the EMA, and its losses; equal digests across ranks show that
    gradients were all-reduced (the ranks saw different minibatches)."""
    path = Path(run_dir) / f"rank{info.rank}.json"
    record = {
        "rank": info.rank,
        "world_size": info.world_size,
        "step": trainer.step,
        "params": param_digest(trainer.module),
        "ema": param_digest(trainer.ema_model),
        "losses": trainer.losses,
    }
    path.write_text(json.dumps(record), encoding="utf-8")
    return path
