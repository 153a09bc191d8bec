"""dinof_lite: diffusion models with deterministic normalizing-flow priors (DiNof), for learning.

The package is organised one concept per module:

- :mod:`dinof_lite.sde` — VE, VP and sub-VP SDEs with closed-form marginals (Song et al. 2021).
- :mod:`dinof_lite.data.toy` — 2D toy distributions and the exact Gaussian-mixture oracle.
- :mod:`dinof_lite.nets` — score networks.
- :mod:`dinof_lite.losses` — denoising score matching and the score conventions.
- :mod:`dinof_lite.sampling` — predictor–corrector and probability-flow ODE samplers, likelihoods.
- :mod:`dinof_lite.metrics` — sample-quality metrics (MMD, sliced Wasserstein, …).
- :mod:`dinof_lite.train` — a small, resumable training loop.
"""

from dinof_lite.sde import SDE, VESDE, VPSDE, get_sde, subVPSDE

__version__ = "0.1.0"

__all__ = ["SDE", "VESDE", "VPSDE", "subVPSDE", "get_sde", "__version__"]
