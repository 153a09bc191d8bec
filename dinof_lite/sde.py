r"""Linear SDEs with closed-form marginals: VE, VP and sub-VP (Song et al. 2021, §3.4).

The forward process is :math:`\mathrm{d}x = f(x, t)\,\mathrm{d}t + g(t)\,\mathrm{d}w` on
:math:`t \in [0, T]` with :math:`T = 1`. All three SDEs are linear, so
:math:`x(t) \mid x(0) \sim \mathcal{N}(a(t)\,x(0),\ s(t)^2 I)`: :meth:`SDE.marginal_coeffs` returns
``(a, s)`` and :meth:`SDE.marginal_prob` the mean and std (Song et al. 2021, Eqs. 29, 33 and 34).

Shapes: ``x`` is ``(B, *dims)``; times ``t`` are ``(B,)`` float tensors (a Python float or 0-d
tensor is broadcast to ``(B,)``); per-example scalars such as ``diffusion`` and ``std`` are ``(B,)``.
A *score function* is any callable ``score_fn(x, t) -> Tensor`` shaped like ``x``.

Each SDE also owns its *conventions* — how a network's output becomes a score, what the network is
conditioned on, which time embedding, sampler and loss reduction suit it — so no other module
branches on the SDE's name (see :class:`SDE`). SDEs live in the :data:`SDES` registry; register
your own subclass with ``@register_sde("name")`` and :func:`get_sde` builds it by name.
"""

from __future__ import annotations

import abc
import contextlib
import math
import numbers
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from dinof_lite.registry import Registry
from dinof_lite.utils import randn

if TYPE_CHECKING:  # importing the samplers here would be circular
    from dinof_lite.sampling.base import ScoreFn

__all__ = [
    "SDE",
    "n_steps_from",
    "ReverseSDE",
    "VESDE",
    "VPSDE",
    "subVPSDE",
    "get_sde",
    "SDES",
    "register_sde",
    "batch_view",
    "times_checked",
    "warn_eps_deprecated",
]

_TIMES = threading.local()  # .checked: the caller has checked every time it will pass


@contextlib.contextmanager
def times_checked() -> Iterator[None]:
    """Inside this block :meth:`SDE.time` checks shapes only, not values: for a sampler that
    checked its whole time grid once (:func:`~dinof_lite.sampling.base.check_times`), so that
    no step pays the value check again (a host sync on a GPU). Per thread; blocks nest."""
    before = getattr(_TIMES, "checked", False)
    _TIMES.checked = True
    try:
        yield
    finally:
        _TIMES.checked = before


def warn_eps_deprecated(spelling: str, means: str, stacklevel: int = 3) -> None:
    """The ``FutureWarning`` of a deprecated ``eps`` (``spelling``, e.g. ``"sde.eps"``), which
    stood for ``means``: the word had two meanings, and the two smallest times have their own
    names now."""
    warnings.warn(
        f"{spelling} is deprecated (here it means {means}): name the smallest time you mean, "
        "train_eps (training and the data side of likelihoods) or sample_eps (the sampler's "
        "last time)",
        FutureWarning,
        stacklevel=stacklevel,
    )


def batch_view(v: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-example ``(B,)`` tensor to broadcast against ``x`` of shape ``(B, *dims)``."""
    return v.reshape(-1, *([1] * (x.dim() - 1)))


SDES: Registry = Registry("SDE")
"""Registered SDE classes by name; add one with ``@register_sde("name")``."""


def register_sde(name: str, *, overwrite: bool = False) -> Callable[[type], type]:
    """Class decorator: add an :class:`SDE` subclass to :data:`SDES` (and set its ``name``)."""
    register = SDES.register(name, overwrite=overwrite)

    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, SDE)):
            raise TypeError(f"register_sde needs an SDE subclass, got {cls!r}")
        return register(cls)

    return decorator


def n_steps_from(t_start: float, N: int, T: float = 1.0) -> int:
    """Reverse-time steps from ``t_start`` down to the data side: ``max(1, round(N·t_start/T))``.

    The step size of an ``N``-step sampler over ``[0, T]`` kept on the shorter path
    ``[eps, t_start]`` — DiNof's ``round(N·T_m/T)`` steps from ``T_m``; ``t_start`` must lie in
    ``(0, T]``. The one place this rule is written (:meth:`SDE.n_steps_from` calls it).
    """
    if isinstance(N, bool) or not isinstance(N, numbers.Integral) or N < 1:
        raise ValueError(f"N (steps over [0, T]) must be a positive int; got {N!r}")
    ok = not isinstance(t_start, bool) and isinstance(t_start, numbers.Real)
    if not (ok and 0.0 < float(t_start) <= T):
        raise ValueError(f"t_start must be a number in (0, T] = (0, {T:g}]; got {t_start!r}")
    return max(1, round(int(N) * float(t_start) / T))


class SDE(abc.ABC):
    """Base class: a linear forward SDE with ``N`` discretisation steps on ``[0, T]``.

    Besides the maths, an SDE carries the conventions the rest of the library reads off it
    (the defaults below are those of ε-prediction, as for VP; VE overrides them):

    - :attr:`train_eps`: smallest time of training (DSM's ``t ~ U(train_eps, T)``) and the data
      side of ODE likelihoods; 1e-5 for every SDE (score_sde's ``losses.py`` / ``likelihood.py``).
    - :attr:`sample_eps`: the sampler's last time; 1e-3 for VP / sub-VP, 1e-5 for VE (score_sde's
      per-SDE ``sampling_eps``). ``sde.eps`` is a deprecated spelling of it (a ``FutureWarning``).
    - :meth:`noise_label` / :meth:`label_to_time`: what a score network is conditioned on.
    - :attr:`score_sign` with :meth:`score_scale`, :meth:`score_from_net` and
      :meth:`net_from_score`: the network's output ``net`` and the score are related by
      ``score = score_sign · net / s(t) = net / score_scale(t)``.
    - :attr:`default_embedding`: the time embedding that suits :meth:`noise_label`.
    - :attr:`default_pc`: the (predictor, corrector) pair of the authors' configs.
    - :attr:`dsm_reduce_mean`: whether :func:`~dinof_lite.losses.dsm_loss` averages over
      dimensions (True) or takes ½ × their sum (False) by default.
    - :meth:`ancestral_step`: the discrete Markov chain of ancestral sampling, where one exists.
    """

    name: str = "sde"  # set by @register_sde
    train_eps: float = 1e-5  # smallest training time and the likelihood's data side
    sample_eps: float = 1e-3  # the sampler's last time
    score_sign: float = -1.0  # ε-prediction: score = −net / s(t)
    default_embedding: str = "sinusoidal"
    default_pc: tuple[str, str] = ("euler_maruyama", "none")
    dsm_reduce_mean: bool = True

    def __init__(self, N: int = 1000) -> None:
        if not isinstance(N, int) or N < 1:
            raise ValueError(
                f"N (number of discretisation steps) must be a positive int, got {N!r}"
            )
        self.N = N

    @property
    def T(self) -> float:
        """End time of the forward process."""
        return 1.0

    def n_steps_from(self, t_start: float, N: int | None = None) -> int:
        """Reverse-time steps from ``t_start`` down to the data side: :func:`n_steps_from` with
        this SDE's ``T`` (``N`` defaults to :attr:`N`)."""
        return n_steps_from(t_start, self.N if N is None else N, float(self.T))

    @property
    def eps(self) -> float:
        """Deprecated (``FutureWarning``): :attr:`sample_eps`; training and likelihoods use
        :attr:`train_eps`."""
        warn_eps_deprecated("sde.eps", "sample_eps")
        return self.sample_eps

    # ----- the maths each SDE defines -------------------------------------------------------
    @abc.abstractmethod
    def sde(self, x: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """Drift ``f(x, t)`` ``(B, *dims)`` and diffusion ``g(t)`` ``(B,)``."""

    @abc.abstractmethod
    def marginal_coeffs(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean coefficient ``a(t)`` and std ``s(t)`` of ``x(t) | x(0)``, both shaped like ``t``."""

    @property
    @abc.abstractmethod
    def prior_std(self) -> float:
        """Standard deviation of the Gaussian prior ``N(0, prior_std² I)`` at ``t = T``."""

    @abc.abstractmethod
    def noise_label(self, t: Tensor) -> Tensor:
        """What a score network is conditioned on: ``σ(t)`` for VE, ``999 t`` for VP / sub-VP."""

    def label_to_time(self, label: Tensor) -> Tensor:
        """Invert :meth:`noise_label`: ``(B,)`` labels → ``(B,)`` times."""
        raise NotImplementedError(f"{type(self).__name__} does not define label_to_time")

    def log_snr_half(self, t: Tensor) -> Tensor:
        """``λ(t) = log(a(t) / s(t))``, half the log signal-to-noise ratio (Lu et al. 2022, §3.1);
        ``e^{−λ}`` is the noise level ``σ`` of Karras et al. 2022 (Eq. 4 with ``s(t) = a(t)``)."""
        a, s = self.marginal_coeffs(t)
        return a.log() - s.log()

    def time_from_log_snr_half(self, lam: Tensor) -> Tensor:
        """The inverse ``t(λ)`` of :meth:`log_snr_half` (closed form for every SDE here)."""
        raise NotImplementedError(f"{type(self).__name__} does not define time_from_log_snr_half")

    # ----- conventions ----------------------------------------------------------------------
    def score_scale(self, t: Tensor) -> Tensor:
        """``score_sign · s(t)`` ``(B,)`` for a validated ``(B,)`` time ``t`` (see :meth:`time`):
        the score is a network output divided by it (the sign folded into the scale changes no
        bit: ``(−out) / s == out / (−s)``)."""
        return self.score_sign * self.marginal_coeffs(t)[1]

    def score_from_net(self, out: Tensor, t: Tensor, x: Tensor) -> Tensor:
        """The score ``score_sign · out / s(t)`` from a network output ``out`` ``(B, *dims)``.

        ``t`` is a validated ``(B,)`` time (see :meth:`time`) and ``x`` the network's input.
        """
        return out / batch_view(self.score_scale(t), x)

    def net_from_score(self, score: Tensor, t: Tensor, x: Tensor) -> Tensor:
        """The network output ``score_sign · s(t) · score`` a perfect network would give."""
        return batch_view(self.score_scale(t), x) * score

    @property
    def supports_ancestral(self) -> bool:
        """Whether this SDE defines the discrete chain :meth:`ancestral_step` needs."""
        return type(self).ancestral_step is not SDE.ancestral_step

    def ancestral_step(
        self, x: Tensor, t: Tensor, dt: float, score: Tensor
    ) -> tuple[Tensor, Tensor]:
        """One ancestral-sampling step from ``t`` to ``t − dt`` (``dt > 0``; Song et al. 2021, App. F).

        ``score`` is ``score_fn(x, t)``. Returns the mean ``x_mean`` ``(B, *dims)`` and the std
        ``(B,)`` of the step: the new state is ``x_mean + std · z``. Only SDEs that are the limit of
        a discrete Markov chain (VE: SMLD, VP: DDPM) define it.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no discrete Markov chain for ancestral sampling (the "
            f"'ve' and 'vp' SDEs have one); use 'reverse_diffusion' or 'euler_maruyama' instead"
        )

    # ----- shared behaviour -----------------------------------------------------------------
    def time(self, t: Tensor | float, x: Tensor) -> Tensor:
        """Validate ``t`` against ``x`` and return it as a ``(B,)`` tensor on ``x``'s device/dtype.

        Inside :func:`times_checked` only the shape is checked (a sampler checked its grid)."""
        if x.dim() < 2:
            raise ValueError(f"x must have shape (batch, *dims), got shape {tuple(x.shape)}")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(
                f"t must be a float or have shape (batch,) = ({x.shape[0]},), got {tuple(t.shape)}"
            )
        if getattr(_TIMES, "checked", False):  # inside times_checked(): checked once, upstream
            return t
        if not bool(((t >= 0) & (t <= self.T * (1 + 1e-6))).all()):  # NaN fails both: one sync
            raise ValueError(
                f"t must lie in [0, T] = [0, {self.T}], got min {t.min().item():.4g}, "
                f"max {t.max().item():.4g}"
            )
        return t

    def marginal_prob(self, x0: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """Mean ``a(t) x0`` ``(B, *dims)`` and std ``s(t)`` ``(B,)`` of ``x(t) | x(0) = x0``."""
        t = self.time(t, x0)
        a, s = self.marginal_coeffs(t)
        return batch_view(a, x0) * x0, s

    def perturb(
        self,
        x0: Tensor,
        t: Tensor | float,
        z: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw ``x(t) = a(t) x0 + s(t) z`` from the closed-form forward marginal."""
        mean, std = self.marginal_prob(x0, t)
        if z is None:
            z = randn(x0.shape, generator, x0.device, x0.dtype)
        return mean + batch_view(std, x0) * z

    def prior_sampling(
        self,
        shape: tuple[int, ...],
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Samples ``(B, *dims)`` from the prior ``N(0, prior_std² I)`` at ``t = T``."""
        return self.prior_std * randn(shape, generator, device, dtype)

    def prior_logp(self, z: Tensor) -> Tensor:
        """``log N(z; 0, prior_std² I)`` summed over all but the batch dimension: ``(B,)``."""
        D = z[0].numel()
        var = self.prior_std**2
        return -0.5 * D * math.log(2 * math.pi * var) - z.flatten(1).pow(2).sum(1) / (2 * var)

    def discretize(self, x: Tensor, t: Tensor | float, dt: float | None = None):
        """Forward step over ``[t - dt, t]``: ``x_t ≈ x_{t-dt} + f + G z``; returns ``(f, G)``.

        Euler–Maruyama by default (``f = f(x,t) dt``, ``G = g(t) √dt``); VE and VP override it
        with the SMLD and DDPM discretisations. ``dt > 0`` defaults to ``T / N``.
        """
        dt = self.T / self.N if dt is None else dt
        drift, diffusion = self.sde(x, t)
        return drift * dt, diffusion * math.sqrt(dt)

    def discrete_alpha(self, t: Tensor, dt: float | None = None) -> Tensor:
        """``α_i`` of the Langevin corrector's step size (Song et al. 2021, Alg. 4/5): ones unless
        overridden."""
        return torch.ones_like(t)

    def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> ReverseSDE:
        """The reverse-time SDE (Song et al. 2021, Eq. 6) or probability-flow ODE (Eq. 13)."""
        return ReverseSDE(self, score_fn, probability_flow)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{type(self).__name__}({params})"

    def params(self) -> dict:
        """Constructor arguments: ``type(sde)(**sde.params())`` rebuilds an identical SDE."""
        return {"N": self.N}


class ReverseSDE:
    r""":math:`\mathrm{d}x = [f - g^2 \nabla_x \log p_t(x)]\,\mathrm{d}t + g\,\mathrm{d}\bar w`
    or, with ``probability_flow``, :math:`\mathrm{d}x = [f - \tfrac12 g^2 \nabla_x \log p_t(x)]\,\mathrm{d}t`
    (Song et al. 2021, Eqs. 6 and 13).

    Time still runs forward in the formulas: a solver integrating from ``T`` to ``0`` uses ``dt < 0``.
    """

    def __init__(self, forward: SDE, score_fn: ScoreFn, probability_flow: bool = False) -> None:
        self.forward, self.score_fn, self.probability_flow = forward, score_fn, probability_flow
        self.N, self.T, self.sample_eps = forward.N, forward.T, forward.sample_eps

    @property
    def eps(self) -> float:
        """Deprecated (``FutureWarning``): :attr:`sample_eps`, the sampler's last time."""
        warn_eps_deprecated("ReverseSDE.eps", "sample_eps")
        return self.sample_eps

    def _g2(self, g: Tensor) -> Tensor:
        """``g²``, halved for the probability flow (the ``½`` of Song et al. 2021, Eq. 13)."""
        return 0.5 * g**2 if self.probability_flow else g**2

    def sde(self, x: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """Reverse drift ``(B, *dims)`` and diffusion ``(B,)`` (zero for the probability flow)."""
        t = self.forward.time(t, x)
        drift, diffusion = self.forward.sde(x, t)
        score = self.score_fn(x, t)
        drift = drift - batch_view(self._g2(diffusion), x) * score
        return drift, (torch.zeros_like(diffusion) if self.probability_flow else diffusion)

    def discretize(self, x: Tensor, t: Tensor | float, dt: float | None = None):
        """Reverse-diffusion discretisation: ``rev_f = f − G² score (×½)``, ``rev_G = G (or 0)``."""
        t = self.forward.time(t, x)
        f, G = self.forward.discretize(x, t, dt)
        rev_f = f - batch_view(self._g2(G), x) * self.score_fn(x, t)
        return rev_f, (torch.zeros_like(G) if self.probability_flow else G)


@register_sde("ve")
class VESDE(SDE):
    r"""Variance exploding SDE (SMLD / NCSN): :math:`f = 0`,
    :math:`g(t) = \sigma(t) \sqrt{2 \ln(\sigma_\max / \sigma_\min)}`.

    :math:`\sigma(t) = \sigma_\min (\sigma_\max / \sigma_\min)^t`. The exact marginal std is
    :math:`s(t) = \sqrt{\sigma(t)^2 - \sigma_\min^2}` (``exact_marginal=True``); score_sde_pytorch
    uses :math:`s(t) = \sigma(t)`, i.e. data pre-blurred by :math:`\mathcal{N}(0, \sigma_\min^2)`
    (``exact_marginal=False``). Networks are conditioned on :math:`\sigma(t)` either way.
    """

    sample_eps = 1e-5
    score_sign = 1.0  # σ-scaled output: score = net / s(t)
    default_embedding = "fourier"
    default_pc = ("reverse_diffusion", "langevin")  # NCSN++
    dsm_reduce_mean = False

    def __init__(
        self,
        sigma_min: float = 0.01,
        sigma_max: float = 50.0,
        N: int = 1000,
        exact_marginal: bool = True,
    ) -> None:
        super().__init__(N)
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self.exact_marginal = exact_marginal

    def sigma(self, t: Tensor) -> Tensor:
        """Noise scale ``σ(t) = σmin (σmax/σmin)^t``."""
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def sde(self, x, t):
        t = self.time(t, x)
        g = self.sigma(t) * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))
        return torch.zeros_like(x), g

    def marginal_coeffs(self, t):
        sigma = self.sigma(t)
        std = (sigma**2 - self.sigma_min**2).clamp(min=0).sqrt() if self.exact_marginal else sigma
        return torch.ones_like(t), std

    @property
    def prior_std(self) -> float:
        return self.sigma_max

    def noise_label(self, t):
        return self.sigma(t)

    def label_to_time(self, label):
        return (label / self.sigma_min).log() / math.log(self.sigma_max / self.sigma_min)

    def time_from_log_snr_half(self, lam):
        """``σ(t)² = e^{−2λ} + σmin²`` (exact marginal) or ``e^{−2λ}``, then invert ``σ(t)``."""
        sigma2 = torch.exp(-2 * lam) + (self.sigma_min**2 if self.exact_marginal else 0.0)
        return 0.5 * (sigma2 / self.sigma_min**2).log() / math.log(self.sigma_max / self.sigma_min)

    def adjacent_std(self, t: Tensor, dt: float) -> Tensor:
        """``σ' = s(t − dt)``, the noise level a step from ``t`` reaches, and 0 where ``t − dt <
        0``: score_sde's adjacent σ, ``discrete_sigmas[k − 1]`` and 0 at timestep ``k = 0``. At
        ``t − dt = 0`` it is ``s(0)``: ``σ_min`` for score_sde's ``s(t) = σ(t)``
        (``exact_marginal=False``), 0 for the exact marginal."""
        adj = self.marginal_coeffs((t - dt).clamp(min=0.0))[1]
        return torch.where(t - dt < 0, torch.zeros_like(adj), adj)

    def ancestral_step(self, x, t, dt, score):
        """SMLD: ``x_mean = x + (σ² − σ'²) score``, ``std = √(σ'² (σ² − σ'²) / σ²)``, with
        ``σ = s(t)`` and ``σ'`` = :meth:`adjacent_std`."""
        sigma = self.marginal_coeffs(t)[1]
        adj = self.adjacent_std(t, dt)
        var_step = sigma**2 - adj**2
        x_mean = x + score * batch_view(var_step, x)
        return x_mean, torch.sqrt(adj**2 * var_step / sigma**2)

    def discretize(self, x, t, dt=None):
        """SMLD: ``f = 0``, ``G = √(s(t)² − σ'²)`` with ``σ'`` = :meth:`adjacent_std`: the step
        from score_sde's timestep 0 (``t < dt``) has ``G = s(t)``, ``σ_min`` at ``t = 0`` with
        ``exact_marginal=False``, as score_sde's last step."""
        t = self.time(t, x)
        dt = self.T / self.N if dt is None else dt
        s = self.marginal_coeffs(t)[1]
        return torch.zeros_like(x), (s**2 - self.adjacent_std(t, dt) ** 2).clamp(min=0).sqrt()

    def params(self):
        return {
            "sigma_min": self.sigma_min,
            "sigma_max": self.sigma_max,
            "N": self.N,
            "exact_marginal": self.exact_marginal,
        }


@register_sde("vp")
class VPSDE(SDE):
    r"""Variance preserving SDE (DDPM): :math:`f = -\tfrac12 \beta(t)\,x`,
    :math:`g = \sqrt{\beta(t)}`, :math:`\beta(t) = \beta_0 + t\,(\beta_1 - \beta_0)`."""

    sample_eps = 1e-3

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000) -> None:
        super().__init__(N)
        if not 0 < beta_min < beta_max:
            raise ValueError(f"need 0 < beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_0, self.beta_1 = float(beta_min), float(beta_max)

    def beta(self, t: Tensor) -> Tensor:
        """``β(t) = β0 + t (β1 − β0)``."""
        return self.beta_0 + t * (self.beta_1 - self.beta_0)

    def log_mean_coeff(self, t: Tensor) -> Tensor:
        """``log a(t) = −¼ t² (β1 − β0) − ½ t β0``, as ``t (−¼ (β1 − β0) t − ½ β0)``."""
        return t * (-0.25 * (self.beta_1 - self.beta_0) * t - 0.5 * self.beta_0)

    def sde(self, x, t):
        t = self.time(t, x)
        beta = self.beta(t)
        return -0.5 * batch_view(beta, x) * x, beta.sqrt()

    def marginal_coeffs(self, t):
        lmc = self.log_mean_coeff(t)
        return lmc.exp(), (-torch.expm1(2 * lmc)).clamp(min=0).sqrt()

    @property
    def prior_std(self) -> float:
        return 1.0

    def noise_label(self, t):
        return 999.0 * t

    def label_to_time(self, label):
        return label / 999.0

    def _time_from_log_mean_coeff(self, lmc: Tensor) -> Tensor:
        """Solve ``−¼ t² (β1 − β0) − ½ t β0 = lmc`` for ``t >= 0``."""
        delta = self.beta_1 - self.beta_0
        return (torch.sqrt(self.beta_0**2 - 4 * delta * lmc) - self.beta_0) / delta

    def time_from_log_snr_half(self, lam):
        """``log a = −½ log(1 + e^{−2λ})`` (as ``a² + s² = 1``), then the quadratic in ``t``
        (Lu et al. 2022, App. D.1 ``t_λ``)."""
        return self._time_from_log_mean_coeff(-0.5 * torch.nn.functional.softplus(-2 * lam))

    def discrete_beta(self, t: Tensor, dt: float | None = None) -> Tensor:
        """DDPM's ``β_i`` for the step ``[t − dt, t]``: ``1 − a(t)² / a(t − dt)²`` (clamped at 0).

        This is the exact variance of one forward transition, ``1 − exp(−∫β)``; it equals
        score_sde's ``β̄_i / N = β(t) dt`` to first order in ``dt`` but stays in [0, 1) for coarse
        grids (``β(t) dt ≥ 1`` would make ``√(1 − β_i)`` NaN).
        """
        dt = self.T / self.N if dt is None else dt
        prev = (t - dt).clamp(min=0)
        return -torch.expm1(2 * (self.log_mean_coeff(t) - self.log_mean_coeff(prev)))

    def discretize(self, x, t, dt=None):
        """DDPM: ``f = (√(1 − β_i) − 1) x``, ``G = √β_i`` with ``β_i`` from :meth:`discrete_beta`."""
        t = self.time(t, x)
        beta_i = self.discrete_beta(t, dt)
        return batch_view((1 - beta_i).sqrt() - 1, x) * x, beta_i.sqrt()

    def discrete_alpha(self, t, dt=None):
        """``α_i = 1 − β_i`` (Langevin corrector step size, Song et al. 2021, Alg. 5)."""
        return 1 - self.discrete_beta(t, dt)

    def ancestral_step(self, x, t, dt, score):
        """DDPM: ``x_mean = (x + β_i score) / √(1 − β_i)``, ``std = √β_i`` (``β_i = 1 − α_i``)."""
        beta = 1.0 - self.discrete_alpha(t, dt)
        x_mean = (x + batch_view(beta, x) * score) / batch_view(torch.sqrt(1.0 - beta), x)
        return x_mean, torch.sqrt(beta)

    def params(self):
        return {"beta_min": self.beta_0, "beta_max": self.beta_1, "N": self.N}


@register_sde("subvp")
class subVPSDE(VPSDE):
    r"""Sub-VP SDE: VP drift,
    :math:`g = \sqrt{\beta(t)\,\bigl(1 - e^{-2\beta_0 t - (\beta_1 - \beta_0) t^2}\bigr)}`;
    std :math:`1 - a(t)^2`.

    Uses the Euler–Maruyama discretisation for reverse diffusion (as score_sde_pytorch does) and
    has no discrete chain for ancestral sampling.
    """

    ancestral_step = SDE.ancestral_step

    def sde(self, x, t):
        t = self.time(t, x)
        beta = self.beta(t)
        discount = -torch.expm1(-2 * self.beta_0 * t - (self.beta_1 - self.beta_0) * t**2)
        return -0.5 * batch_view(beta, x) * x, (beta * discount).sqrt()

    def marginal_coeffs(self, t):
        lmc = self.log_mean_coeff(t)
        return lmc.exp(), -torch.expm1(2 * lmc)

    def time_from_log_snr_half(self, lam):
        """``s = 1 − a²`` and ``s / a = e^{−λ}`` give ``a = (√(e^{−2λ} + 4) − e^{−λ}) / 2``."""
        sig = torch.exp(-lam)
        return self._time_from_log_mean_coeff(torch.log(0.5 * (torch.sqrt(sig**2 + 4) - sig)))

    def discretize(self, x, t, dt=None):
        return SDE.discretize(self, x, t, dt)


def _normalise(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def get_sde(name: str, **kwargs) -> SDE:
    """Build a registered SDE by name (``"ve"``, ``"vp"``, ``"sub-VP"``, …: case, ``-`` and ``_``
    are ignored); keyword arguments go to its class."""
    by_key = {_normalise(k): cls for k, cls in SDES.items()}
    cls = by_key.get(_normalise(name)) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown SDE {name!r}; valid: {', '.join(SDES)}")
    return cls(**kwargs)
