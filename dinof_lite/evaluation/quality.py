"""One 2D sample-quality evaluation: MMD², sliced W2 and the samples' NLL under the true density.

Every place that scores 2D samples against data (the ``T_m`` study, the model comparison, the
checkpoint recipes, the notebooks) calls :func:`sample_quality`, so the numbers of one model are
the same wherever they are printed::

    q = sample_quality(x, reference, gmm, seed=0)   # {"n_nonfinite", "mmd", "sw", "gmm_nll"}

The metrics are those of :mod:`dinof_lite.evaluation.metrics`: the unbiased MMD² with an RBF
mixture kernel (Gretton et al. 2012), the sliced Wasserstein-2 distance (Bonneel et al. 2015)
and the mean negative log-density of the samples under the true density.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from dinof_lite.evaluation.metrics import gmm_nll, mmd, sliced_wasserstein
from dinof_lite.utils import make_generator

if TYPE_CHECKING:
    from dinof_lite.data.toy import GaussianMixture

__all__ = ["QUALITY_KEYS", "SW_PROJECTIONS", "sample_quality"]

#: Keys of :func:`sample_quality`'s dict, in order.
QUALITY_KEYS = ("n_nonfinite", "mmd", "sw", "gmm_nll")
#: Directions of the sliced W2 Monte-Carlo estimate (the default of
#: :func:`~dinof_lite.evaluation.metrics.sliced_wasserstein`).
SW_PROJECTIONS = 256


def sample_quality(
    x: Tensor,
    reference: Tensor,
    gmm: GaussianMixture | None = None,
    *,
    seed: int | torch.Generator = 0,
    n_projections: int = SW_PROJECTIONS,
    bandwidth_from: str = "reference",
    drop_nonfinite: bool = False,
) -> dict[str, float | int | None]:
    """Score samples ``x (n, D)`` against held-out data ``reference (M, D)`` (lower is better).

    Args:
        x: the model's samples.
        reference: data the samples are compared with (the same set for every model).
        gmm: the exact :class:`~dinof_lite.data.toy.GaussianMixture` (anything with
            ``log_prob``) for ``gmm_nll``, or None (``gmm_nll`` is then None).
        seed: the sliced W2 projections' source: an int seed (a fresh CPU generator) or a CPU
            ``torch.Generator``, which is advanced in place (the only random draw made here).
        n_projections: directions of the sliced W2 estimate.
        bandwidth_from: whose median pairwise distance sets the MMD kernel widths:
            ``"reference"`` (the default: one kernel for every model scored against the same
            data) or ``"samples"`` (the model's own samples, as
            :func:`dinof_lite.evaluation.compare.compare` does).
        drop_nonfinite: drop the rows of ``x`` holding NaN or Inf (their count is
            ``n_nonfinite``) and return NaN metrics when fewer than 2 rows are left; otherwise
            non-finite samples raise the metrics' ValueError.

    Returns:
        ``{"n_nonfinite", "mmd", "sw", "gmm_nll"}`` (:data:`QUALITY_KEYS`): the number of dropped
        rows, MMD² (can be slightly < 0, it is unbiased), sliced W2 (in the units of ``x``) and
        the mean NLL (nats) of the samples under ``gmm``; for samples of ``gmm`` itself the last
        estimates its entropy ``H(p0)``, and samples piled on the modes score below it.
    """
    if bandwidth_from not in ("reference", "samples"):
        raise ValueError(f"bandwidth_from must be 'reference' or 'samples'; got {bandwidth_from!r}")
    out: dict[str, float | int | None] = {
        "n_nonfinite": 0,
        "mmd": math.nan,
        "sw": math.nan,
        "gmm_nll": None if gmm is None else math.nan,
    }
    if drop_nonfinite:
        x = x.detach().to("cpu", torch.float64)
        finite = torch.isfinite(x).all(dim=1)
        x = x[finite]
        out["n_nonfinite"] = int((~finite).sum())
        if x.shape[0] < 2:
            return out
    if bandwidth_from == "reference":
        out["mmd"] = mmd(reference, x)
    else:
        out["mmd"] = mmd(x, reference)
    out["sw"] = sliced_wasserstein(
        reference, x, n_projections=n_projections, generator=make_generator(seed)
    )
    if gmm is not None:
        out["gmm_nll"] = gmm_nll(gmm, x)
    return out
