"""dinof_lite: diffusion models with deterministic normalizing-flow priors (DiNof), for learning.

The package is organised one concept per module:

- :mod:`dinof_lite.sde` — VE, VP and sub-VP SDEs with closed-form marginals (Song et al. 2021).
- :mod:`dinof_lite.data.toy` — 2D toy distributions and the exact Gaussian-mixture oracle.
- :mod:`dinof_lite.nets` — score networks and the Glow normalizing flow (:mod:`dinof_lite.flows`).
- :mod:`dinof_lite.dinof` — DiNof: score network + flow prior at ``T_m``; joint loss, sampling, likelihood.
- :mod:`dinof_lite.losses` — denoising score matching and the score conventions.
- :mod:`dinof_lite.sampling` — predictor–corrector and probability-flow ODE samplers, likelihoods.
- :mod:`dinof_lite.evaluation.metrics` — sample-quality metrics (MMD, sliced Wasserstein, …).
- :mod:`dinof_lite.train` — a small, resumable training loop.
- :mod:`dinof_lite.viz` — matplotlib / plotly figures and the ``T_m`` widget for the notebooks.

The most used names are re-exported here, e.g. ``from dinof_lite import VPSDE, pc_sample``.
"""

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.dinof import DiNof
from dinof_lite.flows import Glow
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.nets import ScoreMLP
from dinof_lite.sampling import ode_log_likelihood, ode_sample, pc_sample
from dinof_lite.sde import SDE, VESDE, VPSDE, get_sde, subVPSDE
from dinof_lite.train import TrainConfig, Trainer

__version__ = "0.3.0"

__all__ = [
    "SDE",
    "VESDE",
    "VPSDE",
    "subVPSDE",
    "get_sde",
    "GaussianMixture",
    "ScoreMLP",
    "Glow",
    "DiNof",
    "get_score_fn",
    "dsm_loss",
    "pc_sample",
    "ode_sample",
    "ode_log_likelihood",
    "Trainer",
    "TrainConfig",
    "__version__",
]
