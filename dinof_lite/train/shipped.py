"""Use a shipped checkpoint when it is there, train a stand-in when it is not: :func:`load_or_train`.

The notebooks load the small models that ``scripts/make_checkpoints.py`` ships in
``data/checkpoints``; where a file is missing (a pip-installed package, a fresh
``DINOF_CHECKPOINT_DIR``) they train the same recipe here with :class:`~dinof_lite.train.Trainer`
instead::

    flow, meta = load_or_train(
        "glow_moons", load_flow, lambda: Glow((2,), levels=1, steps=8, hidden=64),
        nll_loss, data, TrainConfig(n_steps=3000, batch_size=512, lr=2e-3, ckpt_every=None),
    )
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dinof_lite.train.checkpoint import plain
from dinof_lite.train.config import TrainConfig
from dinof_lite.train.trainer import DataFn, LossFn, Trainer

__all__ = ["load_or_train"]


def load_or_train(
    name: str,
    load: Callable[[str], Any],
    build: Callable[[], nn.Module],
    loss_fn: LossFn,
    data: DataFn | Tensor,
    config: TrainConfig,
    *,
    save: Callable[[Path, nn.Module, dict[str, Any]], Any] | None = None,
    seed: int | None = 0,
    verbose: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """The shipped model ``name`` and its ``meta``, or a model trained here when the file is missing.

    Args:
        name: a checkpoint name of :data:`dinof_lite.pretrained.KNOWN_MODELS` (looked up in
            :func:`dinof_lite.pretrained.checkpoint_dir`, i.e. ``$DINOF_CHECKPOINT_DIR`` or
            ``<repo>/data/checkpoints``).
        load: the loader of that kind of file, ``load(name) -> model``:
            :func:`~dinof_lite.pretrained.load_flow`, :func:`~dinof_lite.pretrained.load_dinof`,
            :func:`~dinof_lite.baselines.load_diffflow`, … It must raise FileNotFoundError for a
            missing file (they all do); any other error (a foreign format, say) propagates.
        build: ``build() -> nn.Module``, a fresh untrained model (called after
            ``torch.manual_seed(seed)``, so its initial weights are reproducible).
        loss_fn, data, config: as for :class:`~dinof_lite.train.Trainer`; the run has no
            ``workdir``, so it writes no training checkpoint.
        save: ``save(path, model, meta)``, e.g. :func:`~dinof_lite.pretrained.save_flow`: write
            the trained (EMA) model to ``checkpoint_path(name)``, so the next call loads it.
            None (the default) keeps it in memory only.
        seed: the global torch seed set before ``build``; None leaves the global RNG alone.
        verbose: print what was loaded, or why it is trained.

    Returns:
        ``(model, meta)``. Loaded: the loader's model (eval mode) and the file's ``meta`` dict.
        Trained: the EMA model in eval mode and ``{"train_steps", "train_time_s", "final_loss",
        "train_config", "loss_curve": {"steps", "loss"}}`` (the keys every shipped file has).
    """
    from dinof_lite.pretrained import checkpoint_meta, checkpoint_path

    try:
        model = load(name)
    except FileNotFoundError as err:
        if verbose:
            print(f"{err}\n-> training {name} here for {config.n_steps} steps instead")
    else:
        meta = checkpoint_meta(name)
        if verbose:
            n_params = sum(p.numel() for p in model.parameters())
            trained = ""
            if "train_steps" in meta and "train_time_s" in meta:
                trained = f", {meta['train_steps']} steps in {meta['train_time_s']:.0f} s"
            print(f"loaded {name!r}: {n_params:,} parameters{trained}")
        return model, meta
    if seed is not None:
        torch.manual_seed(seed)
    trainer = Trainer(build(), loss_fn, data, config)
    result = trainer.fit()
    model = trainer.ema_model.module.eval()
    meta = {
        "train_steps": result.step,
        "train_time_s": result.wall_time,
        "final_loss": result.final_loss,
        "train_config": plain(config.to_dict()),
        "loss_curve": {"steps": list(range(1, result.step + 1)), "loss": list(result.losses)},
    }
    if save is not None:
        path = save(checkpoint_path(name), model, meta)
        if verbose:
            print(f"saved {name!r} to {path}")
    return model, meta
