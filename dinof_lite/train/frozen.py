"""The frozen part of a trained model: what the ``Trainer`` leaves alone, and its EMA.

A parameter with ``requires_grad=False`` is *frozen*: the :class:`~dinof_lite.train.Trainer`
gives it no optimizer state and no EMA, and no loss in this package gives it a gradient; its
weights stay bitwise unchanged. DiNof on a published score network
(``DiNof(..., train_score=False)``, ``train --score``) freezes its ``score_net`` this way and
trains only the flow.

- :func:`frozen_names` names the frozen part compactly — the largest submodules whose parameters
  are all frozen (``["score_net"]``), plus any other frozen parameter by its own name. The
  training checkpoint stores it (``"frozen"``), and a resume with another frozen part is refused.
- :func:`ema_model` is the ``Trainer``'s ``AveragedModel`` whose copy *shares* the frozen
  tensors (parameters, and the buffers of frozen submodules) with the live model instead of
  copying them: no second copy of a large score network in memory, and, since ``torch.save``
  writes a shared storage once, none in the checkpoint either. :func:`ema_update` skips them.
- :func:`frozen_state_keys` lists the ``state_dict`` keys of the frozen part, which a resume
  compares with the checkpoint's (a run resumed on another score network is refused).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

__all__ = ["frozen_names", "frozen_tensors", "frozen_state_keys", "ema_model", "ema_update"]


def _is_frozen(module: nn.Module) -> bool:
    params = list(module.parameters())
    return bool(params) and not any(p.requires_grad for p in params)


def frozen_names(module: nn.Module) -> list[str]:
    """The frozen part of ``module``: the largest submodules whose parameters are all frozen, and
    every other frozen parameter, by name (``[]`` when everything trains)."""

    def walk(mod: nn.Module, prefix: str) -> list[str]:
        if prefix and _is_frozen(mod):
            return [prefix.rstrip(".")]
        names = [prefix + n for n, p in mod.named_parameters(recurse=False) if not p.requires_grad]
        for name, child in mod.named_children():
            names += walk(child, f"{prefix}{name}.")
        return names

    return walk(module, "")


def frozen_tensors(module: nn.Module, names: list[str] | None = None) -> list[Tensor]:
    """The tensors of the frozen part: frozen parameters and the buffers of frozen submodules
    (``names``: :func:`frozen_names`); the EMA shares them rather than copying them."""
    names = frozen_names(module) if names is None else names
    tensors = []
    for name in names:
        try:
            part = module.get_submodule(name)
        except AttributeError:
            tensors.append(module.get_parameter(name))
        else:
            tensors += [*part.parameters(), *part.buffers()]
    return tensors


def frozen_state_keys(module: nn.Module, names: list[str] | None = None) -> list[str]:
    """The ``module.state_dict()`` keys of its frozen part (``names``: :func:`frozen_names`)."""
    names = frozen_names(module) if names is None else names
    return [k for k in module.state_dict() if any(k == n or k.startswith(n + ".") for n in names)]


def ema_update(decay: float):
    """``AveragedModel``'s ``multi_avg_fn``: ``ema ← d·ema + (1 − d)·weights`` for floating
    tensors (``get_ema_multi_avg_fn``), integer / bool buffers copied, and tensors the EMA shares
    with the model (the frozen part) skipped."""
    ema = get_ema_multi_avg_fn(decay)

    @torch.no_grad()
    def update(avg: list[Tensor], cur: list[Tensor], n_averaged: Tensor) -> None:
        pairs = [(a, c) for a, c in zip(avg, cur) if a.data_ptr() != c.data_ptr()]
        if not pairs:
            return
        avg, cur = [a for a, _ in pairs], [c for _, c in pairs]
        if avg[0].is_floating_point() or avg[0].is_complex():
            ema(avg, cur, n_averaged)
        else:
            for a, c in pairs:
                a.copy_(c)

    return update


def ema_model(module: nn.Module, decay: float) -> AveragedModel:
    """An ``AveragedModel`` (``use_buffers=True``, :func:`ema_update`) of ``module`` whose copy
    shares the frozen tensors with ``module``; the averaged copy is ``.module``."""
    shared = {id(t): t for t in frozen_tensors(module)}
    ema = AveragedModel(nn.Identity(), multi_avg_fn=ema_update(decay), use_buffers=True)
    ema.module = copy.deepcopy(module, shared)
    return ema.requires_grad_(False)
