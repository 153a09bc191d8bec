"""DiNof — diffusion models with deterministic normalizing-flow priors (Zand et al. 2023).

- :mod:`~dinof_lite.dinof.model` — :class:`DiNof` (score network + flow joined at ``T_m``) with
  its loss (``loss`` / ``loss_parts``), sampling (``sample`` / ``sample_result``) and exact
  likelihood (``log_likelihood`` / ``log_likelihood_result`` / ``bits_per_dim``).
- :mod:`~dinof_lite.dinof.result` — :class:`DiNofSample`, what ``sample_result`` returns.
- :mod:`~dinof_lite.dinof.conditioning` — the ``T_m`` checks and the any-T_m context
  :func:`tm_context`.
- :mod:`~dinof_lite.dinof.loss` — the joint loss (DSM below ``T_m`` + the flow's NLL at ``T_m``).

The ``T_m`` study (quality and cost against ``T_m``) lives in :mod:`dinof_lite.evaluation.tm_study`.
"""

from dinof_lite.dinof.conditioning import CONTEXT_DIM, tm_context
from dinof_lite.dinof.loss import FLOW_REDUCTIONS, training_loss
from dinof_lite.dinof.model import DiNof
from dinof_lite.dinof.result import DiNofSample
from dinof_lite.dinof.sampling import default_pc

__all__ = [
    "DiNof",
    "DiNofSample",
    "tm_context",
    "training_loss",
    "default_pc",
    "CONTEXT_DIM",
    "FLOW_REDUCTIONS",
]
