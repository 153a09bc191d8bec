"""Predictors: one reverse-time step of a predictor–corrector sampler (Song et al. 2021, §4.2).

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

import torch
from torch import Tensor

from dinof_lite.registry import Registry
from dinof_lite.sampling.base import ScoreFn
from dinof_lite.sde import batch_view
from dinof_lite.utils import randn

__all__ = [
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


def check_dt(dt: float) -> float:
    """``dt`` as a float, or a ValueError unless it is negative (a reverse-time step)."""
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
    """Euler–Maruyama on the reverse SDE (Song et al. 2021, Eq. 6).

    ``x_mean = x + (f - g² score) dt``  (dt < 0),  ``x = x_mean + g sqrt(|dt|) z``.
    With ``probability_flow=True``: ``x = x_mean = x + (f - ½ g² score) dt`` (Euler on Eq. 13).
    """

    def update(self, x, t, dt, generator=None):
        dt = check_dt(dt)
        drift, diffusion = self.sde.reverse(self.score_fn, self.probability_flow).sde(x, t)
        x_mean = drift.mul_(dt).add_(x)  # x + drift dt, in the new tensor drift
        if self.probability_flow:
            return x_mean, x_mean
        z = noise_like(x, generator)
        return z.mul_(batch_view(diffusion, x) * math.sqrt(-dt)).add_(x_mean), x_mean


@register_predictor("reverse_diffusion")
class ReverseDiffusionPredictor(Predictor):
    """Reverse diffusion: invert the SDE's own discretisation (Song et al. 2021, Eq. 46).

    With the forward step ``x_{i} = x_{i-1} + f_i + G_i z`` from ``sde.discretize`` over
    ``[t - |dt|, t]``: ``x_mean = x - (f_i - G_i² score)``, ``x = x_mean + G_i z``.
    With ``probability_flow=True`` the score term is halved and no noise is added.
    """

    def update(self, x, t, dt, generator=None):
        dt = check_dt(dt)
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

    The chain is the SDE's: ``x_mean, std = sde.ancestral_step(x, t, |dt|, score)`` and
    ``x = x_mean + std z`` (:meth:`dinof_lite.sde.VPSDE.ancestral_step` for DDPM, Ho et al. 2020;
    :meth:`dinof_lite.sde.VESDE.ancestral_step` for SMLD). An SDE without a chain (sub-VP) raises
    ``ValueError``. Ancestral sampling is stochastic by construction, so ``probability_flow=True``
    is rejected.
    """

    def __init__(self, sde, score_fn, probability_flow=False):
        super().__init__(sde, score_fn, probability_flow)
        if not getattr(sde, "supports_ancestral", False):
            raise ValueError(
                f"ancestral sampling needs a discrete Markov chain (SDE.ancestral_step), which "
                f"{type(sde).__name__} does not define (the 've' and 'vp' SDEs do: SMLD / DDPM). "
                f"Use 'reverse_diffusion' or 'euler_maruyama' instead."
            )
        if self.probability_flow:
            raise ValueError(
                "ancestral sampling has no probability-flow version; use predictor="
                "'reverse_diffusion' or 'euler_maruyama' with probability_flow=True"
            )

    def update(self, x, t, dt, generator=None):
        dt = check_dt(dt)
        x_mean, std = self.sde.ancestral_step(x, t, -dt, self.score_fn(x, t))
        return x_mean + batch_view(std, x) * noise_like(x, generator), x_mean


@register_predictor("none")
class NonePredictor(Predictor):
    """Do nothing (corrector-only sampling): returns ``(x, x)``."""

    def update(self, x, t, dt, generator=None):
        check_dt(dt)
        return x, x
