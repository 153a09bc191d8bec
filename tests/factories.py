"""Small models the tests build again and again, in one place.

:func:`tiny_dinof` is the untrained 2D DiNof most tests need: a :class:`~dinof_lite.ScoreMLP`
and a one-level Glow joined at ``T_m``, single-``T_m`` or any-``T_m``. Its defaults are the
smallest model that exercises every code path; tests that train it ask for more capacity.
Error tests that must show a constructor's refusal build ``DiNof(...)`` themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from dinof_lite.dinof import CONTEXT_DIM, DiNof
from dinof_lite.flows import Glow
from dinof_lite.nets import ScoreMLP
from dinof_lite.sde import SDE, get_sde


def tiny_dinof(
    sde: SDE | str = "vp",
    *,
    any_tm: bool = False,
    T_m: float = 0.5,
    T_m_range: tuple[float, float] = (0.1, 1.0),
    hidden: int = 16,
    n_layers: int | None = None,
    flow_steps: int = 2,
    flow_hidden: int | None = None,
    net: nn.Module | None = None,
    seed: int | None = 0,
    **kwargs,
) -> DiNof:
    """An untrained DiNof on 2D data.

    Args:
        sde: an SDE, or a registry name (``"vp"``, ``"ve"``, ``"subvp"``) with its defaults.
        any_tm: one flow for every ``T_m`` in ``T_m_range`` (the flow gets the ``T_m``
            context); else a single-``T_m`` model.
        T_m: the hand-over time (the default one of an any-``T_m`` model).
        hidden, n_layers: the ScoreMLP's width and depth (depth: ScoreMLP's default if None).
        flow_steps, flow_hidden: the Glow's steps (one level) and coupling width (default
            ``hidden``).
        net: a score network to use instead of the ScoreMLP (a spy, an oracle, a trained one).
        seed: ``torch.manual_seed(seed)`` before the weights are drawn (None: the global RNG as
            it is).
        kwargs: the other :class:`DiNof` options (``train_eps``, ``flow_reduction``, …).
    """
    sde = get_sde(sde) if isinstance(sde, str) else sde
    if seed is not None:
        torch.manual_seed(seed)
    if net is None:
        depth = {} if n_layers is None else {"n_layers": n_layers}
        net = ScoreMLP.for_sde(sde, hidden=hidden, **depth)
    context = CONTEXT_DIM if any_tm else 0
    flow = Glow((2,), 1, flow_steps, flow_hidden or hidden, context_dim=context)
    if any_tm:
        kwargs["T_m_range"] = T_m_range
    return DiNof(sde, net, flow, T_m=T_m, **kwargs)
