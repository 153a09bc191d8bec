"""Predictors: one reverse-time step of a predictor–corrector sampler (SPEC §2).

A *predictor* moves the state from time ``t`` to ``t + dt`` (``dt < 0``: we integrate the
reverse-time SDE of Song et al. 2021, Eq. 6, ``dx = [f - g² ∇log p_t(x)] dt + g dw̄``) with one
numerical step. They live in a name registry, like ``score_sde_pytorch``::

    >>> from dinof_lite.sampling import get_predictor, PREDICTORS
    >>> sorted(PREDICTORS)
    ['ancestral', 'euler_maruyama', 'none', 'reverse_diffusion']
    >>> Predictor = get_predictor("reverse_diffusion")
    >>> pred = Predictor(sde, score_fn)           # doctest: +SKIP
    >>> x, x_mean = pred.update(x, t, dt=-1e-3)   # doctest: +SKIP

Shapes everywhere: ``x`` (B, *dims), ``t`` (B,), ``dt`` a Python float < 0. ``update`` returns
``(x, x_mean)``: the new noisy state and its mean before the noise was added (the sampler returns
the last ``x_mean`` when it "denoises").
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable

import torch
from torch import Tensor

from dinof_lite.registry import Registry
from dinof_lite.sde import batch_view
from dinof_lite.utils import randn

__all__ = [
    "ScoreFn",
    "Predictor",
    "PREDICTORS",
    "register_predictor",
    "get_predictor",
    "EulerMaruyamaPredictor",
    "ReverseDiffusionPredictor",
    "AncestralSamplingPredictor",
    "NonePredictor",
    "noise_like",
]

ScoreFn = Callable[[Tensor, Tensor], Tensor]
"""``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``, an estimate of ∇_x log p_t(x)."""

PREDICTORS: Registry = Registry("predictor")
"""Registered predictor classes by name; add one with ``@register_predictor("name")``."""


def register_predictor(name: str, *, overwrite: bool = False):
    """Class decorator: add a :class:`Predictor` subclass to :data:`PREDICTORS` under ``name``."""
    return PREDICTORS.register(name, overwrite=overwrite)


def get_predictor(name: str | type[Predictor]) -> type[Predictor]:
    """Look up a predictor class by name (a class is passed through); unknown names list the valid ones."""
    if isinstance(name, type) and not issubclass(name, Predictor):
        raise ValueError(f"{name.__name__} is not a Predictor subclass")
    return PREDICTORS.lookup(name)


def noise_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``z ~ N(0, I)`` shaped like ``x`` (B, *dims), drawn from ``generator``.

    The draw happens on the generator's own device and is then moved to ``x.device``, so a CPU
    generator gives the same numbers whether the sampler runs on CPU or GPU.
    """
    return randn(x.shape, generator, x.device, x.dtype)


def _check_dt(dt: float) -> float:
    dt = float(dt)
    if not dt < 0:
        raise ValueError(f"dt must be negative (the sampler runs backwards in time); got dt={dt}")
    return dt


class Predictor(abc.ABC):
    """One step of a numerical solver for the reverse-time SDE (or probability-flow ODE).

    Args:
        sde: a :class:`dinof_lite.sde.SDE`.
        score_fn: ``score_fn(x, t)``, see :data:`ScoreFn`.
        probability_flow: if True, step the probability-flow ODE
            ``dx = [f - ½ g² score] dt`` (Song et al. 2021, Eq. 13) instead: no noise is added.
    """

    name: str = ""
    #: score-function calls per :meth:`update` (used for the sampler's NFE bookkeeping)
    evals_per_step: int = 1

    def __init__(self, sde, score_fn: ScoreFn, probability_flow: bool = False) -> None:
        self.sde = sde
        self.score_fn = score_fn
        self.probability_flow = bool(probability_flow)

    @abc.abstractmethod
    def update(
        self, x: Tensor, t: Tensor, dt: float, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Step ``x`` (B, *dims) from time ``t`` (B,) to ``t + dt`` (``dt < 0``).

        Returns ``(x_new, x_mean)``, both (B, *dims).
        """

    def __repr__(self) -> str:
        pf = ", probability_flow=True" if self.probability_flow else ""
        return f"{type(self).__name__}(sde={getattr(self.sde, 'name', '?')!r}{pf})"


@register_predictor("euler_maruyama")
class EulerMaruyamaPredictor(Predictor):
    """Euler–Maruyama on the reverse SDE (SPEC §2; Song et al. 2021, Eq. 6).

    ``x_mean = x + (f - g² score) dt``  (dt < 0),  ``x = x_mean + g sqrt(|dt|) z``.
    With ``probability_flow=True``: ``x = x_mean = x + (f - ½ g² score) dt`` (Euler on Eq. 13).
    """

    def update(self, x, t, dt, generator=None):
        dt = _check_dt(dt)
        drift, diffusion = self.sde.reverse(self.score_fn, self.probability_flow).sde(x, t)
        x_mean = x + drift * dt
        if self.probability_flow:
            return x_mean, x_mean
        z = noise_like(x, generator)
        return x_mean + batch_view(diffusion, x) * math.sqrt(-dt) * z, x_mean


@register_predictor("reverse_diffusion")
class ReverseDiffusionPredictor(Predictor):
    """Reverse diffusion: invert the SDE's own discretisation (Song et al. 2021, Eq. 46; SPEC §2).

    With the forward step ``x_{i} = x_{i-1} + f_i + G_i z`` from ``sde.discretize`` over
    ``[t - |dt|, t]``: ``x_mean = x - (f_i - G_i² score)``, ``x = x_mean + G_i z``.
    With ``probability_flow=True`` the score term is halved and no noise is added.
    """

    def update(self, x, t, dt, generator=None):
        dt = _check_dt(dt)
        rsde = self.sde.reverse(self.score_fn, self.probability_flow)
        rev_f, rev_g = rsde.discretize(x, t, dt=-dt)
        x_mean = x - rev_f
        if self.probability_flow:
            return x_mean, x_mean
        z = noise_like(x, generator)
        return x_mean + batch_view(rev_g, x) * z, x_mean


@register_predictor("ancestral")
class AncestralSamplingPredictor(Predictor):
    """Ancestral sampling: the exact reverse of a discrete Markov chain (Song et al. 2021, App. F).

    VP (DDPM, Ho et al. 2020), with ``β_i = sde.discrete_beta(t, |dt|) ≈ β(t)|dt|``::

        x_mean = (x + β_i score) / sqrt(1 - β_i),   x = x_mean + sqrt(β_i) z

    VE (SMLD), with ``σ = s(t)`` and ``σ' = s(t - |dt|)`` (``σ' = 0`` once ``t - |dt| <= 0``)::

        x_mean = x + (σ² - σ'²) score,   x = x_mean + sqrt(σ'² (σ² - σ'²) / σ²) z

    Only the VE and VP SDEs have these discrete chains; sub-VP raises ``ValueError``.
    Ancestral sampling is stochastic by construction, so ``probability_flow=True`` is rejected.
    """

    def __init__(self, sde, score_fn, probability_flow=False):
        super().__init__(sde, score_fn, probability_flow)
        name = getattr(sde, "name", None)
        if name not in ("ve", "vp"):
            raise ValueError(
                f"ancestral sampling supports the 've' and 'vp' SDEs only (SMLD / DDPM chains); "
                f"got sde.name={name!r}. Use 'reverse_diffusion' or 'euler_maruyama' instead."
            )
        if self.probability_flow:
            raise ValueError(
                "ancestral sampling has no probability-flow version; use predictor="
                "'reverse_diffusion' or 'euler_maruyama' with probability_flow=True"
            )

    def update(self, x, t, dt, generator=None):
        dt = _check_dt(dt)
        if self.sde.name == "vp":
            return self._vp_update(x, t, -dt, generator)
        return self._ve_update(x, t, -dt, generator)

    def _vp_update(self, x, t, step, generator):
        beta = batch_view(1.0 - self.sde.discrete_alpha(t, step), x)
        score = self.score_fn(x, t)
        x_mean = (x + beta * score) / torch.sqrt(1.0 - beta)
        return x_mean + torch.sqrt(beta) * noise_like(x, generator), x_mean

    def _ve_update(self, x, t, step, generator):
        sigma = self.sde.marginal_coeffs(t)[1]
        t_prev = t - step
        adj = self.sde.marginal_coeffs(t_prev.clamp(min=0.0))[1]
        adj = torch.where(t_prev > 0, adj, torch.zeros_like(adj))
        sigma, adj = batch_view(sigma, x), batch_view(adj, x)
        score = self.score_fn(x, t)
        var_step = sigma**2 - adj**2
        x_mean = x + score * var_step
        std = torch.sqrt(adj**2 * var_step / sigma**2)
        return x_mean + std * noise_like(x, generator), x_mean


@register_predictor("none")
class NonePredictor(Predictor):
    """Do nothing (corrector-only sampling): returns ``(x, x)``."""

    evals_per_step = 0

    def update(self, x, t, dt, generator=None):
        _check_dt(dt)
        return x, x
