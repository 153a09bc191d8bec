"""Samplers and likelihoods for score-based diffusion models (Song et al. 2021; SPEC §2, §4).

- :mod:`~dinof_lite.sampling.predictors` — one reverse-time step: ``euler_maruyama``,
  ``reverse_diffusion``, ``ancestral``, ``none`` (registry :data:`PREDICTORS`).
- :mod:`~dinof_lite.sampling.correctors` — Langevin MCMC at fixed t: ``langevin``, ``none``.
- :mod:`~dinof_lite.sampling.pc` — :func:`pc_sample`, the predictor–corrector sampler; it can
  start at any ``t_start <= T`` from a given state, which is how DiNof samples from ``T_m``.
- :mod:`~dinof_lite.sampling.ode` — :func:`ode_sample`, probability-flow ODE sampling.
- :mod:`~dinof_lite.sampling.likelihood` — :func:`ode_log_likelihood`, exact log-densities.

Every sampler returns the samples ``x`` (B, *dims), ``(x, trajectory)`` with
``return_trajectory=True``, or a :class:`SampleResult` (``x``, ``nfe``, ``trajectory``,
``times``) with ``return_info=True``.
"""

from dinof_lite.sampling.correctors import (
    CORRECTORS,
    Corrector,
    LangevinCorrector,
    NoneCorrector,
    get_corrector,
    langevin_step_size,
    register_corrector,
)
from dinof_lite.sampling.likelihood import LikelihoodResult, ode_log_likelihood
from dinof_lite.sampling.ode import ode_sample
from dinof_lite.sampling.pc import SampleResult, pc_sample
from dinof_lite.sampling.predictors import (
    PREDICTORS,
    AncestralSamplingPredictor,
    EulerMaruyamaPredictor,
    NonePredictor,
    Predictor,
    ReverseDiffusionPredictor,
    get_predictor,
    register_predictor,
)

__all__ = [
    "PREDICTORS",
    "CORRECTORS",
    "Predictor",
    "Corrector",
    "EulerMaruyamaPredictor",
    "ReverseDiffusionPredictor",
    "AncestralSamplingPredictor",
    "NonePredictor",
    "LangevinCorrector",
    "NoneCorrector",
    "register_predictor",
    "get_predictor",
    "register_corrector",
    "get_corrector",
    "langevin_step_size",
    "pc_sample",
    "ode_sample",
    "ode_log_likelihood",
    "SampleResult",
    "LikelihoodResult",
]
