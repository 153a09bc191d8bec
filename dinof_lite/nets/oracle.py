"""The Gaussian-mixture oracle as a score *network* (docs/design.md §Gaussian-mixture oracle).

:class:`OracleScoreNet` has no parameters; it returns exactly what a perfect network would output
under the SDE's convention, so ``get_score_fn(sde, OracleScoreNet(gmm, sde))`` is the exact score
``∇log p_t``. Anything that takes a raw network — :class:`~dinof_lite.dinof.DiNof`, the samplers
through :func:`~dinof_lite.losses.get_score_fn` — can thus be checked against ground truth::

    net = OracleScoreNet(GaussianMixture.preset("8gaussians"), sde)
    model = DiNof(sde, net, flow, T_m=0.5)          # only the flow is learned
"""

from __future__ import annotations

from torch import Tensor, nn

from dinof_lite.sde import SDE

__all__ = ["OracleScoreNet"]


class OracleScoreNet(nn.Module):
    """``net(x (B, D), label (B,)) -> (B, D)`` with ``get_score_fn(sde, net) == gmm.score``.

    The label is the SDE's :meth:`~dinof_lite.sde.SDE.noise_label`; it is mapped back to ``t`` by
    :meth:`~dinof_lite.sde.SDE.label_to_time` (``σ(t) → t`` for VE, ``999 t → t`` otherwise) and
    the exact score is turned into a network output by :meth:`~dinof_lite.sde.SDE.net_from_score`:
    ``s(t)·score`` for VE (σ-scaled output), ``−s(t)·score`` for VP / sub-VP (ε-prediction).
    """

    def __init__(self, gmm, sde: SDE) -> None:
        super().__init__()
        self.gmm, self.sde = gmm, sde

    def label_to_time(self, label: Tensor) -> Tensor:
        """Invert :meth:`SDE.noise_label`: ``(B,)`` labels → ``(B,)`` times."""
        return self.sde.label_to_time(label)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        t = self.label_to_time(label)
        return self.sde.net_from_score(self.gmm.score(x, t, self.sde).to(x.dtype), t, x)
