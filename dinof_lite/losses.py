"""Score conventions and denoising score matching (Song et al. 2021, Eq. 7).

The SDE owns the score convention (:meth:`~dinof_lite.sde.SDE.score_from_net`);
:func:`get_score_fn` applies it, so every other module works with plain score functions
``score_fn(x, t) -> ∇_x log p_t(x)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dinof_lite.sampling.base import ScoreFn
from dinof_lite.sde import SDE, batch_view
from dinof_lite.trained_on import check_data_range, check_sde, record_of
from dinof_lite.utils import check_batch, rand, randn

__all__ = ["get_score_fn", "dsm_loss", "sample_times"]


def get_score_fn(sde: SDE, net: nn.Module, *, allow_sde_mismatch: bool = False) -> ScoreFn:
    """Wrap a raw network ``net(x, label)`` as a score function ``(x (B,*dims), t (B,)) -> score``.

    - VP / sub-VP (ε-prediction): ``score = −net(x, 999 t) / s(t)``.
    - VE (σ-scaled output): ``score = net(x, σ(t)) / s(t)``.

    Here ``s(t)`` is the marginal std from :meth:`SDE.marginal_coeffs`; the label and the sign
    are the SDE's (:meth:`SDE.noise_label`, :meth:`SDE.score_from_net`).

    A network that records what it was trained on (``net.trained_on``, set by the loaders of
    :mod:`dinof_lite.pretrained`) must be used with that SDE: another one raises
    :class:`~dinof_lite.trained_on.SDEMismatchError` naming both, unless
    ``allow_sde_mismatch=True``. The score function carries the record on, so losses and
    likelihoods check their data against its range (:mod:`dinof_lite.trained_on`).
    """
    check_sde(sde, net, allow=allow_sde_mismatch)

    # The last time tensor seen, unchanged since (same object, same in-place version), with its
    # label and score scale: a predictor–corrector step calls the score twice at one ``t``.
    memo: list = [None]

    def score_fn(x: Tensor, t: Tensor) -> Tensor:
        t = sde.time(t, x)
        last = memo[0]
        if last is None or last[0] is not t or last[1] != t._version or t.requires_grad:
            last = memo[0] = (t, t._version, sde.noise_label(t), sde.score_scale(t))
        return net(x, last[2]) / batch_view(last[3], x)  # sde.score_from_net, memoised

    score_fn.trained_on = record_of(net)
    return score_fn


def sample_times(
    batch: int,
    sde: SDE,
    eps: float | None = None,
    t_max: float | None = None,
    generator: torch.Generator | None = None,
    device=None,
    dtype=None,
) -> Tensor:
    """``t ~ U(eps, t_max)`` of shape ``(batch,)``; ``eps`` defaults to the SDE's training eps
    :attr:`~dinof_lite.sde.SDE.train_eps` (1e-5, score_sde's ``losses.py``), ``t_max`` to ``T``."""
    eps = sde.train_eps if eps is None else eps
    t_max = sde.T if t_max is None else t_max
    if not 0 < eps < t_max <= sde.T:
        raise ValueError(f"need 0 < eps < t_max <= T = {sde.T}, got eps={eps}, t_max={t_max}")
    u = rand((batch,), generator, device, dtype)
    return u * (t_max - eps) + eps


def dsm_loss(
    sde: SDE,
    score_fn: ScoreFn,
    x0: Tensor,
    *,
    eps: float | None = None,
    likelihood_weighting: bool = False,
    reduce_mean: bool | None = None,
    t: Tensor | None = None,
    z: Tensor | None = None,
    generator: torch.Generator | None = None,
    per_example: bool = False,
) -> Tensor:
    r"""Denoising score matching loss (Song et al. 2021, Eq. 7).

    :math:`t \sim \mathcal{U}(\varepsilon, T)` (``eps`` default: ``sde.train_eps`` = 1e-5),
    :math:`z \sim \mathcal{N}(0, I)`, :math:`x_t = a(t)\,x_0 + s(t)\,z` and per example

    - unweighted: :math:`\operatorname{reduce} \lVert s_\theta(x_t, t)\,s(t) + z \rVert^2`
      (:math:`\lambda(t) = s(t)^2`),
    - likelihood-weighted:
      :math:`\operatorname{reduce} \lVert s_\theta(x_t, t) + z / s(t) \rVert^2\, g(t)^2`
      (Song et al. 2021b, Thm 1),

    where ``reduce`` is the mean over dimensions (``reduce_mean=True``) or ½ × the sum; the default
    is the SDE's :attr:`~dinof_lite.sde.SDE.dsm_reduce_mean` (mean for VP / sub-VP, sum for VE).
    Pass ``t`` and/or ``z`` to share them with another loss term (as DiNof does). Returns the
    batch mean, or ``(B,)`` with ``per_example=True``.
    """
    if not isinstance(x0, Tensor) or x0.dim() < 2 or not x0.is_floating_point():
        got = f"{tuple(x0.shape)} {x0.dtype}" if isinstance(x0, Tensor) else type(x0).__name__
        raise ValueError(f"x0 must be a floating-point tensor (batch, *dims); got {got}")
    check_batch(x0, "x0", "dsm_loss")
    check_data_range(score_fn, x0, "x0", "dsm_loss")
    B = x0.shape[0]
    if t is None:
        t = sample_times(B, sde, eps, generator=generator, device=x0.device, dtype=x0.dtype)
    if z is None:
        z = randn(x0.shape, generator, x0.device, x0.dtype)
    elif z.shape != x0.shape:
        raise ValueError(f"z must have the shape of x0 {tuple(x0.shape)}, got {tuple(z.shape)}")
    mean, std = sde.marginal_prob(x0, t)
    x_t = mean + batch_view(std, x0) * z
    score = score_fn(x_t, t)
    if likelihood_weighting:
        g2 = sde.sde(torch.zeros_like(x0), t)[1] ** 2
        sq = (score + z / batch_view(std, x0)) ** 2 * batch_view(g2, x0)
    else:
        sq = (score * batch_view(std, x0) + z) ** 2
    reduce_mean = sde.dsm_reduce_mean if reduce_mean is None else reduce_mean
    losses = sq.flatten(1).mean(1) if reduce_mean else 0.5 * sq.flatten(1).sum(1)
    return losses if per_example else losses.mean()
