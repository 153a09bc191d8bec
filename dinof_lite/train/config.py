"""Training configuration, result record, the non-finite-loss error and the warm-up schedule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dinof_lite.train.validation import check_device, check_float, check_int

__all__ = ["TrainConfig", "TrainResult", "NonFiniteLossError", "warmup_factor"]


@dataclass
class TrainConfig:
    """Hyper-parameters of :class:`~dinof_lite.train.Trainer` (defaults: DiNof's code / score_sde).

    Attributes:
        n_steps: total number of optimizer updates.
        batch_size: minibatch size passed to the data sampler.
        lr: Adam learning rate after warm-up (paper: 2e-4).
        betas, weight_decay: Adam's (β1, β2) and L2 weight decay.
        warmup: linear warm-up length in updates; update k (1-based) uses
            ``lr · min(1, k / warmup)`` (0 disables; the paper uses 5000).
        grad_clip: clip the global gradient norm over *all* parameters to this value
            (``None`` disables clipping; the norm is still measured and logged).
        ema_decay: decay of the exponential moving average of the weights (and buffers).
        seed: seeds the trainer's ``torch.Generator`` (minibatches and loss noise) and, through
            ``torch.manual_seed``, anything that does not take a generator.
        device: ``"auto"`` (CUDA > MPS > CPU), or any ``torch.device`` string.
        log_every: write a line to ``metrics.jsonl`` every this many updates (and at the end).
        ckpt_every: write ``checkpoint.pt`` every this many updates (0 or ``None``: only at the end).
        progress: show a tqdm progress bar.
    """

    n_steps: int = 1000
    batch_size: int = 256
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup: int = 0
    grad_clip: float | None = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    device: str = "auto"
    log_every: int = 100
    ckpt_every: int | None = 1000
    progress: bool = True

    def __post_init__(self) -> None:
        # every field checked here, at construction, so a bad value never reaches fit()
        def field_name(name: str) -> str:
            return f"TrainConfig.{name}"

        self.n_steps = check_int(field_name("n_steps"), self.n_steps, min=0)
        self.batch_size = check_int(field_name("batch_size"), self.batch_size, min=1)
        self.lr = check_float(field_name("lr"), self.lr, min=0)
        betas = self.betas
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1); got {betas!r}")
        self.betas = tuple(  # type: ignore[assignment]
            check_float(field_name("betas"), b, min=0, max=1, max_open=True) for b in betas
        )
        self.weight_decay = check_float(field_name("weight_decay"), self.weight_decay, min=0)
        self.warmup = check_int(field_name("warmup"), self.warmup, min=0)
        if self.grad_clip is not None:
            self.grad_clip = check_float(
                field_name("grad_clip"), self.grad_clip, min=0, min_open=True
            )
        self.ema_decay = check_float(field_name("ema_decay"), self.ema_decay, min=0, max=1)
        self.seed = check_int(field_name("seed"), self.seed, min=0, max=2**63 - 1)
        self.device = check_device(field_name("device"), self.device)
        self.log_every = check_int(field_name("log_every"), self.log_every, min=1)
        if self.ckpt_every is not None:
            self.ckpt_every = check_int(field_name("ckpt_every"), self.ckpt_every, min=0)
        if not isinstance(self.progress, bool):
            raise TypeError(f"TrainConfig.progress must be True or False; got {self.progress!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict (stored in checkpoints and ``metrics.jsonl``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        step: number of completed updates (== ``config.n_steps`` after a full run).
        losses: loss of every update so far, including those before a resume (length ``step``).
        final_loss: mean loss of the last ``log_every`` updates (``nan`` if none ran).
        wall_time: seconds spent in this call of ``fit``.
        resumed_from: the step the run resumed from (0 for a fresh run).
        checkpoint: path of the last checkpoint written, if any.
    """

    step: int
    losses: list[float] = field(repr=False)
    final_loss: float
    wall_time: float
    resumed_from: int = 0
    checkpoint: Path | None = None


class NonFiniteLossError(FloatingPointError):
    """The loss (or the gradient norm) became NaN/Inf; training stopped before the bad update.

    Attributes: ``step`` (1-based update that failed), ``value``, ``checkpoint`` (last good
    checkpoint path, or ``None``) and ``checkpoint_step``.
    """

    def __init__(
        self,
        what: str,
        value: float,
        step: int,
        checkpoint: Path | None,
        checkpoint_step: int | None,
    ) -> None:
        self.step, self.value = step, value
        self.checkpoint, self.checkpoint_step = checkpoint, checkpoint_step
        where = (
            f"last good checkpoint at {checkpoint} (step {checkpoint_step})"
            if checkpoint is not None
            else "no checkpoint was written"
        )
        hint = "try a lower lr, a longer warmup or grad_clip"
        super().__init__(f"{what} became {value} at step {step}; {where}; {hint}")


def warmup_factor(step: int, warmup: int) -> float:
    """LR multiplier for the update *after* ``step`` completed ones: ``min(1, (step + 1)/warmup)``.

    Used as the :class:`torch.optim.lr_scheduler.LambdaLR` lambda, so update k = step + 1
    (1-based) runs at ``lr · min(1, k / warmup)``; unlike score_sde's ``step / warmup`` no
    update is wasted at lr 0.
    """
    if warmup <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup)
