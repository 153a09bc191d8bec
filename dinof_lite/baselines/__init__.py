"""Comparison systems from the literature, built from the same library parts as DiNof.

- :mod:`dinof_lite.baselines.diffflow`: DiffFlow, "Diffusion Normalizing Flow" (Zhang & Chen,
  NeurIPS 2021, Alg. 1) — a learnable forward drift and a score network trained on the
  discretised trajectory KL, an upper bound on the NLL.
- :mod:`dinof_lite.baselines.diffenc`: DiffEnc, "Variational Diffusion with a Learned Encoder"
  (Nielsen et al. 2024, Eqs. 15–20) — the VDM bound with a time-dependent learned encoder.

DiNof and both measured side by side: :mod:`dinof_lite.evaluation.compare`.
"""

from dinof_lite.baselines.diffenc import (
    DiffEnc,
    DiffEncConfig,
    diffenc_loss,
    load_diffenc,
    save_diffenc,
)
from dinof_lite.baselines.diffflow import (
    DiffFlow,
    DiffFlowConfig,
    diffflow_loss,
    load_diffflow,
    progressive_n,
    save_diffflow,
)

__all__ = [
    "DiffFlow",
    "DiffFlowConfig",
    "diffflow_loss",
    "progressive_n",
    "save_diffflow",
    "load_diffflow",
    "DiffEnc",
    "DiffEncConfig",
    "diffenc_loss",
    "save_diffenc",
    "load_diffenc",
]
