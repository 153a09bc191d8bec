"""Correctors: score-based MCMC at a fixed time ``t`` (Song et al. 2021, Alg. 4/5; annealed
Langevin dynamics, Song & Ermon 2019, Alg. 1).

A *corrector* does not move time: it nudges ``x`` towards ``p_t`` with a few steps of Langevin
dynamics, fixing the error the predictor made. Registry, like the predictors::

    >>> from dinof_lite.sampling import CORRECTORS
    >>> sorted(CORRECTORS)
    ['ald', 'langevin', 'none']

Shapes: ``x`` (B, *dims), ``t`` (B,), ``dt`` a Python float < 0 (the size of the sampler's time
step, used for the discrete ``α_i`` of the VP chain). ``update`` returns ``(x, x_mean)``.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import Tensor

from dinof_lite.registry import Registry
from dinof_lite.sampling.base import ScoreFn
from dinof_lite.sampling.predictors import check_dt, noise_like
from dinof_lite.sde import batch_view

__all__ = [
    "Corrector",
    "CORRECTORS",
    "register_corrector",
    "get_corrector",
    "LangevinCorrector",
    "AnnealedLangevinCorrector",
    "NoneCorrector",
    "langevin_step_size",
]

CORRECTORS: Registry = Registry("corrector")
"""Registered corrector classes by name; add one with ``@register_corrector("name")``."""


def register_corrector(name: str, *, overwrite: bool = False):
    """Class decorator: add a :class:`Corrector` subclass to :data:`CORRECTORS` under ``name``."""
    return CORRECTORS.register(name, overwrite=overwrite)


def get_corrector(name: str | type[Corrector]) -> type[Corrector]:
    """Look up a corrector class by name (a class is passed through); unknown names list the valid ones."""
    if isinstance(name, type) and not issubclass(name, Corrector):
        raise ValueError(f"{name.__name__} is not a Corrector subclass")
    return CORRECTORS.lookup(name)


class Corrector(abc.ABC):
    """Base class.

    Args:
        sde: a :class:`dinof_lite.sde.SDE`.
        score_fn: ``score_fn(x (B, *dims), t (B,)) -> (B, *dims)``.
        snr: signal-to-noise ratio ``r >= 0`` that sets the Langevin step size.
        n_steps: corrector iterations per call of :meth:`update` (``>= 0``).
    """

    name: str = ""

    def __init__(self, sde, score_fn: ScoreFn, snr: float, n_steps: int = 1) -> None:
        snr = float(snr)
        if not (math.isfinite(snr) and snr >= 0):
            raise ValueError(f"snr must be a finite number >= 0; got snr={snr}")
        if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
            raise ValueError(f"n_steps (corrector steps) must be an integer >= 0; got {n_steps!r}")
        self.sde = sde
        self.score_fn = score_fn
        self.snr = snr
        self.n_steps = int(n_steps)

    @abc.abstractmethod
    def update(
        self, x: Tensor, t: Tensor, dt: float, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Correct ``x`` (B, *dims) at time ``t`` (B,); returns ``(x, x_mean)``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(snr={self.snr}, n_steps={self.n_steps})"


def langevin_step_size(score: Tensor, z: Tensor, snr: float, alpha: Tensor) -> Tensor:
    """Song et al. 2021, Alg. 4/5: ``ε = 2 α (snr · mean‖z‖ / mean‖score‖)²``.

    ``‖·‖`` is the per-sample L2 norm over all non-batch dims and ``mean`` averages it over the
    batch, so the step size is shared by the batch apart from the per-sample ``α`` (B,).

    Args:
        score: (B, *dims); z: (B, *dims) the Gaussian noise of this step; alpha: (B,).

    Returns:
        ε, shape (B,); 0 when the score is identically zero (e.g. a freshly zero-initialised
        network), where the formula would give an infinite step (chosen on the device, with no
        host sync).
    """
    batch = score.shape[0]
    grad_norm = torch.linalg.vector_norm(score.reshape(batch, -1), dim=-1).mean()
    noise_norm = torch.linalg.vector_norm(z.reshape(batch, -1), dim=-1).mean()
    ratio = torch.where(grad_norm > 0, (snr * noise_norm / grad_norm) ** 2, 0.0)
    return 2.0 * alpha * ratio


@register_corrector("langevin")
class LangevinCorrector(Corrector):
    """Langevin MCMC with the signal-to-noise step rule (Song et al. 2021, App. G, Alg. 4/5).

    For ``n_steps`` iterations, with ``α = sde.discrete_alpha(t, |dt|)`` (``1 - β_i`` for VP and
    sub-VP, 1 for VE) and ε from :func:`langevin_step_size`::

        x_mean = x + ε score(x, t),   x = x_mean + sqrt(2 ε) z
    """

    def update(self, x, t, dt, generator=None):
        dt = check_dt(dt)
        x_mean = x
        if self.n_steps == 0:
            return x, x_mean
        alpha = self.sde.discrete_alpha(t, -dt)
        for _ in range(self.n_steps):
            score = self.score_fn(x, t)
            z = noise_like(x, generator)
            step = batch_view(langevin_step_size(score, z, self.snr, alpha), x)
            x_mean = (step * score).add_(x)
            x = z.mul_(torch.sqrt(2.0 * step)).add_(x_mean)
        return x, x_mean


@register_corrector("ald")
class AnnealedLangevinCorrector(Corrector):
    """Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1; score_sde's ``ald`` corrector).

    The step size follows the noise level instead of the score's norm: with ``s(t)`` the marginal
    std and ``α = sde.discrete_alpha(t, |dt|)`` (``1 − β_i`` for VP / sub-VP, 1 for VE), for
    ``n_steps`` iterations::

        ε = 2 α (snr · s(t))²,   x_mean = x + ε score(x, t),   x = x_mean + sqrt(2 ε) z
    """

    def update(self, x, t, dt, generator=None):
        dt = check_dt(dt)
        x_mean = x
        if self.n_steps == 0:
            return x, x_mean
        alpha = self.sde.discrete_alpha(t, -dt)
        std = self.sde.marginal_coeffs(t)[1]
        step = batch_view(2.0 * alpha * (self.snr * std) ** 2, x)
        for _ in range(self.n_steps):
            score = self.score_fn(x, t)
            z = noise_like(x, generator)
            x_mean = x + step * score
            x = x_mean + torch.sqrt(2.0 * step) * z
        return x, x_mean


@register_corrector("none")
class NoneCorrector(Corrector):
    """Do nothing (predictor-only sampling): returns ``(x, x)``."""

    def update(self, x, t, dt, generator=None):
        check_dt(dt)
        return x, x
