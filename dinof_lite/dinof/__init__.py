"""DiNof — diffusion models with deterministic normalizing-flow priors (Zand et al. 2023; SPEC §4).

- :mod:`~dinof_lite.dinof.model` — :class:`DiNof` (score network + flow joined at ``T_m``), its
  joint loss and the any-T_m context :func:`tm_context`.
- :mod:`~dinof_lite.dinof.sampling` — flow pass + PC sampler from ``T_m``, :class:`DiNofSample`.
- :mod:`~dinof_lite.dinof.likelihood` — the joint exact likelihood (ODE to ``T_m`` + flow).

The ``T_m`` study (quality and cost against ``T_m``) lives in :mod:`dinof_lite.evaluation.tm_study`.
"""

from dinof_lite.dinof.likelihood import dinof_bits_per_dim, dinof_log_likelihood
from dinof_lite.dinof.model import CONTEXT_DIM, FLOW_REDUCTIONS, DiNof, tm_context, training_loss
from dinof_lite.dinof.sampling import PC_DEFAULTS, DiNofSample, default_pc, dinof_sample

__all__ = [
    "DiNof",
    "DiNofSample",
    "tm_context",
    "training_loss",
    "dinof_sample",
    "dinof_log_likelihood",
    "dinof_bits_per_dim",
    "default_pc",
    "PC_DEFAULTS",
    "CONTEXT_DIM",
    "FLOW_REDUCTIONS",
]
