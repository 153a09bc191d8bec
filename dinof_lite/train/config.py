"""Training configuration, result record, the non-finite-loss error and the warm-up schedule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        checks = [
            ("n_steps", self.n_steps >= 0, ">= 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", self.lr >= 0, ">= 0"),
            (
                "betas",
                len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                "two in [0, 1)",
            ),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup", self.warmup >= 0, ">= 0"),
            ("grad_clip", self.grad_clip is None or self.grad_clip > 0, "> 0 or None"),
            ("ema_decay", 0 <= self.ema_decay <= 1, "in [0, 1]"),
            ("log_every", self.log_every >= 1, ">= 1"),
            ("ckpt_every", self.ckpt_every is None or self.ckpt_every >= 0, ">= 0 or None"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(
                    f"TrainConfig.{name} must be {expected}; got {getattr(self, name)!r}"
                )

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
