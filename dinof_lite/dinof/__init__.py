"""DiNof — diffusion models with deterministic normalizing-flow priors (Zand et al. 2023).

- :mod:`~dinof_lite.dinof.model` — :class:`DiNof` (score network + flow joined at ``T_m``) with
  its joint loss (``loss`` / ``loss_parts``; :func:`training_loss` for ``Trainer``), sampling
  (``sample`` / ``sample_result``) and exact likelihood (``log_likelihood`` /
  ``log_likelihood_result`` / ``bits_per_dim``).
- :mod:`~dinof_lite.dinof.result` — :class:`DiNofSample`, what ``sample_result`` returns.
- :mod:`~dinof_lite.dinof.conditioning` — :class:`TmSpec`, the ``T_m`` a model accepts and how
  training draws it, and the any-T_m context :func:`tm_context`.

What DiNof needs of its flow is :class:`dinof_lite.flows.FlowPrior`. The ``T_m`` study (quality
and cost against ``T_m``) lives in :mod:`dinof_lite.evaluation.tm_study`.
"""

from dinof_lite.dinof.conditioning import CONTEXT_DIM, TmSpec, tm_context
from dinof_lite.dinof.model import FLOW_REDUCTIONS, DiNof, training_loss
from dinof_lite.dinof.result import DiNofSample

__all__ = [
    "DiNof",
    "DiNofSample",
    "TmSpec",
    "tm_context",
    "training_loss",
    "CONTEXT_DIM",
    "FLOW_REDUCTIONS",
]
