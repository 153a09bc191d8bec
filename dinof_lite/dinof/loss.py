r"""DiNof's joint loss: denoising score matching below ``T_m`` plus the flow's NLL at ``T_m``.

One optimizer trains both networks (DiNof Eqs. 3 and 8; the authors' code): the score network
by DSM (Song et al. 2021, Eq. 7) on ``[eps, T_m)``, the flow by maximum likelihood on the
closed-form samples ``x(T_m) = a(T_m) x0 + s(T_m) z`` of ``p_{T_m}``. With one draw of
:math:`z` shared by both terms,

.. math::

    \mathcal{L}(\theta, \phi) =
    \mathbb{E}_{t \sim U(\varepsilon, T_m),\; z \sim \mathcal{N}(0, I)}
    \Bigl[\, s(t)^2 \,\bigl\lVert s_\theta(x_t, t) + z / s(t) \bigr\rVert^2 \Bigr]
    + w\, \mathbb{E}_z\bigl[-\log p_\phi\bigl(x(T_m)\bigr)\bigr],
    \qquad x_t = a(t)\, x_0 + s(t)\, z,

up to the reduction over dimensions (:func:`~dinof_lite.losses.dsm_loss`: the mean, or half
the sum) and the flow's (``flow_reduction``); ``w`` is ``flow_weight`` (the authors': 1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dinof_lite.losses import dsm_loss
from dinof_lite.sde import batch_view
from dinof_lite.utils import rand, randn

__all__ = ["FLOW_REDUCTIONS", "joint_loss_terms", "training_loss"]

#: How the flow's NLL enters the loss: nats per example (authors' code) or per dimension.
FLOW_REDUCTIONS = ("sum", "mean")


def joint_loss_terms(
    model: nn.Module, x0: Tensor, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``(total, dsm, flow_nll)`` of a :class:`~dinof_lite.dinof.DiNof` on ``x0 (B, *dims)``,
    all scalars with gradients::

        T_m   = model.T_m, or U(lo, hi) per example (any-T_m)
        t     ~ U(eps, T_m)   (any-T_m: U(eps, hi))      # score times, eps = model.train_eps
        z     ~ N(0, I)                                  # one draw, shared by both terms
        x_t   = a(t) x0 + s(t) z                         # DSM input
        x_Tm  = a(T_m) x0 + s(T_m) z                     # closed-form sample of p_{T_m}
        L     = L_DSM(t, z) + w · reduce(−log p_flow(x_Tm))

    The flow sees ``x(T_m)`` at ``T_m`` exactly, the time the sampler starts from. The authors
    draw ``t = T_m·(U(1 − eps) + eps)`` and evaluate the flow at ``t_f = T_m·(1 − eps) + eps``
    (``T_m + 1e-5·(1 − T_m)``); here ``t ~ U(eps, T_m)`` and ``t_f = T_m``. ``flow_nll`` is in
    the unit ``model.flow_reduction`` chooses.
    """
    model.check_x(x0)
    B, dev, dt = x0.shape[0], x0.device, x0.dtype
    z = randn(x0.shape, generator, dev, dt)
    if model.any_T_m:
        lo, hi = model.T_m_range
        T_m = lo + (hi - lo) * rand((B,), generator, dev, dt)
        t_max = hi
    else:
        T_m, t_max = torch.full((B,), model.T_m, device=dev, dtype=dt), model.T_m
    eps = model.train_eps
    t = eps + (t_max - eps) * rand((B,), generator, dev, dt)
    dsm = dsm_loss(
        model.sde,
        model.score_fn,
        x0,
        t=t,
        z=z,
        reduce_mean=model.reduce_mean,
        likelihood_weighting=model.likelihood_weighting,
    )
    a, s = model.sde.marginal_coeffs(T_m)
    x_Tm = batch_view(a, x0) * x0 + batch_view(s, x0) * z
    nll = -model.flow.log_prob(x_Tm, model.context(T_m, B))
    if model.flow_reduction == "mean":
        nll = nll / math.prod(model.dims)
    nll = nll.mean()
    return dsm + model.flow_weight * nll, dsm, nll


def training_loss(model: nn.Module, x0: Tensor, generator: torch.Generator) -> Tensor:
    """``Trainer`` loss function: ``model(x0, generator)``, the joint loss of a :class:`DiNof`
    (also when it is wrapped in ``DistributedDataParallel``)."""
    return model(x0, generator)
