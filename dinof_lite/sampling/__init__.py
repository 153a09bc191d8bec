"""Samplers and likelihoods for score-based diffusion models (Song et al. 2021).

- :mod:`~dinof_lite.sampling.base` — what every sampler shares: :data:`ScoreFn`,
  :class:`SampleResult`, :class:`CountingScoreFn`, the :class:`Trajectory` recorder every sampler
  uses, the time checks and the start state.
- :mod:`~dinof_lite.sampling.predictors` — one reverse-time step: ``euler_maruyama``,
  ``reverse_diffusion``, ``ancestral``, ``none`` (registry :data:`PREDICTORS`).
- :mod:`~dinof_lite.sampling.correctors` — Langevin MCMC at fixed t: ``langevin``, ``ald``, ``none``.
- :mod:`~dinof_lite.sampling.pc` — :func:`pc_sample`, the predictor–corrector sampler; it can
  start at any ``t_start <= T`` from a given state, which is how DiNof samples from ``T_m``.
- :mod:`~dinof_lite.sampling.ode` — :func:`ode_sample`, probability-flow ODE sampling.
- :mod:`~dinof_lite.sampling.fast` — :func:`~dinof_lite.sampling.fast.fast_sample` with a named
  fast solver of :data:`~dinof_lite.sampling.solvers.SOLVERS`: the probability-flow ODE solvers
  (:mod:`~dinof_lite.sampling.solvers`) and the stochastic samplers
  (:mod:`~dinof_lite.sampling.stochastic`).
- :mod:`~dinof_lite.sampling.likelihood` — :func:`ode_log_likelihood`, exact log-densities.

Each sampler comes as a pair with one return type each: ``pc_sample`` / ``ode_sample`` return
the samples ``x`` (B, *dims); ``pc_sample_result`` / ``ode_sample_result`` take the same
arguments (plus what to record) and always return a :class:`SampleResult` (``x``, ``nfe``,
``trajectory`` or None, ``times`` or None, ``wall_time_s``). Likewise ``ode_log_likelihood``
returns ``log p`` (B,) and ``ode_log_likelihood_result`` a :class:`LikelihoodResult`.
"""

from dinof_lite.sampling import stochastic  # noqa: F401  (registers the stochastic samplers)
from dinof_lite.sampling.base import (
    CountingScoreFn,
    SampleResult,
    ScoreFn,
    Trajectory,
    check_times,
    initial_state,
)
from dinof_lite.sampling.correctors import (
    CORRECTORS,
    AnnealedLangevinCorrector,
    Corrector,
    LangevinCorrector,
    NoneCorrector,
    get_corrector,
    langevin_step_size,
    register_corrector,
)
from dinof_lite.sampling.likelihood import (
    LikelihoodResult,
    ode_log_likelihood,
    ode_log_likelihood_result,
)
from dinof_lite.sampling.ode import ode_sample, ode_sample_result
from dinof_lite.sampling.pc import pc_sample, pc_sample_result
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
    "AnnealedLangevinCorrector",
    "NoneCorrector",
    "register_predictor",
    "get_predictor",
    "register_corrector",
    "get_corrector",
    "langevin_step_size",
    "pc_sample",
    "pc_sample_result",
    "ode_sample",
    "ode_sample_result",
    "ode_log_likelihood",
    "ode_log_likelihood_result",
    "ScoreFn",
    "SampleResult",
    "LikelihoodResult",
    "CountingScoreFn",
    "Trajectory",
    "check_times",
    "initial_state",
]
