"""A small, resumable training loop: :class:`Trainer`, :class:`TrainConfig`, checkpoints.

Typical use (denoising score matching on a 2D toy)::

    from dinof_lite.losses import dsm_loss, get_score_fn
    cfg = TrainConfig(n_steps=5000, batch_size=256, lr=1e-3)
    loss_fn = lambda net, x0, g: dsm_loss(sde, get_score_fn(sde, net), x0, generator=g)
    trainer = Trainer(net, loss_fn, data_tensor, cfg, workdir="runs/toy")
    result = trainer.fit()                      # resumes automatically from runs/toy/checkpoint.pt
    ema_net = trainer.ema_model.module          # the EMA weights, for sampling

Modules: :mod:`~dinof_lite.train.config` (``TrainConfig``, ``TrainResult``,
``NonFiniteLossError``, warm-up), :mod:`~dinof_lite.train.checkpoint` (atomic save, loading,
and the model-file helpers ``read_checkpoint``, ``plain``, ``cpu_state_dict``),
:mod:`~dinof_lite.train.trainer` (``Trainer``, ``train``), :mod:`~dinof_lite.train.shipped`
(``load_or_train``: a shipped checkpoint, or a model trained here when it is missing).
"""

from dinof_lite.train.checkpoint import (
    CHECKPOINT_NAME,
    atomic_save,
    cpu_state_dict,
    load_checkpoint,
    load_weights,
    plain,
    read_checkpoint,
)
from dinof_lite.train.config import NonFiniteLossError, TrainConfig, TrainResult, warmup_factor
from dinof_lite.train.shipped import load_or_train
from dinof_lite.train.trainer import Trainer, train

__all__ = [
    "CHECKPOINT_NAME",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "atomic_save",
    "cpu_state_dict",
    "load_checkpoint",
    "load_or_train",
    "load_weights",
    "plain",
    "read_checkpoint",
    "train",
    "warmup_factor",
]
