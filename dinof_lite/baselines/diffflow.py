"""DiffFlow, "Diffusion Normalizing Flow" (Zhang & Chen, NeurIPS 2021).

A forward SDE ``dx = f_θ(x, t) dt + g dw`` with a *learned* drift and constant ``g`` carries data
at ``t_0`` to ``N(0, I)`` at ``T``; a learned score ``s_θ`` defines the backward SDE. On the
authors' time grid ``t_i = (t_0^e + (i/N)(T^e − t_0^e))^(1/e)`` (N = 30, t_0 = 1e-3, T = 0.05,
e = 0.9, g = 0.2 in 2D) one trajectory gives (Zhang & Chen 2021, Alg. 1)::

    x_{i+1} = x_i + f(x_i, t_i) Δt_i + g sqrt(Δt_i) δ_i^F
    δ_i^B   = [x_i − x_{i+1} + (f(x_{i+1}, t_{i+1}) − g² s(x_{i+1}, t_{i+1})) Δt_i] / (g sqrt(Δt_i))
    L(x_0)  = −log N(x_N; 0, I) + Σ_i ½ (‖δ_i^B‖² − ‖δ_i^F‖²)

``E[L(x_0) | x_0] ≥ −log p_model(x_0)``: the forward and backward transition densities share the
normaliser (same ``g``, same ``Δt_i``), so ``L`` is ``log p_F(τ|x_0) − log p_B(τ)`` and the KL
between the path measures bounds the NLL in nats. The drift at ``x_{i+1}`` serves both as the
backward drift of step ``i`` and the forward drift of step ``i + 1``: 2N + 1 network calls per
trajectory instead of the authors' 3N, the same numbers. Sampling runs the backward SDE with
drift ``f − (1 + λ²)/2 g² s`` and noise ``λ g`` (λ = 1); λ = 0 is the probability-flow ODE, whose
instantaneous change of variables gives :meth:`DiffFlow.log_likelihood`.

Deviations from the authors' code: the 2D data are used as they are (the authors standardise
their point sets to unit variance; the learned drift absorbs the scale); training goes through
the library's :class:`~dinof_lite.train.Trainer` (one Adam learning rate for both networks, no
per-epoch decay; schedule in ``scripts/baseline_recipes.py``); no stochastic adjoint (2D paths
are short enough to back-propagate through directly).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dinof_lite.baselines.fourier_mlp import FourierMLP
from dinof_lite.pretrained import resolve
from dinof_lite.sampling.base import SampleResult, is_int, synchronize
from dinof_lite.sampling.likelihood import divergence_exact
from dinof_lite.sampling.ode import solver_options
from dinof_lite.train import atomic_save, cpu_state_dict, plain, read_checkpoint
from dinof_lite.utils import rand, randn

__all__ = [
    "FORMAT",
    "DiffFlowConfig",
    "DiffFlow",
    "time_grid",
    "diffflow_loss",
    "progressive_n",
    "save_diffflow",
    "load_diffflow",
]

FORMAT = "dinof_lite.diffflow/1"


@dataclass
class DiffFlowConfig:
    """Hyper-parameters; the defaults are the authors' 2D configuration (Zhang & Chen 2021, App. E).

    Attributes:
        dim: data dimension D.
        n_steps: N, steps of the discretised SDE (the grid has N + 1 times).
        t0, T, exp: the time grid ``t_i = (t0^e + (i/N)(T^e − t0^e))^(1/e)``.
        g: the constant diffusion coefficient.
        hidden, n_layers: width and depth of both :class:`FourierMLP` networks.
        prior_std: the backward process starts from ``N(0, prior_std² I)`` (authors: 1).
        flexible_times: train on the paper's random grid ``L̂_β``: interior ``t_i`` drawn per
            batch, uniformly in ``[(i−1)/(N−1), i/(N−1)]`` of the ``exp``-warped axis.
    """

    dim: int = 2
    n_steps: int = 30
    t0: float = 1e-3
    T: float = 0.05
    exp: float = 0.9
    g: float = 0.2
    hidden: int = 128
    n_layers: int = 3
    prior_std: float = 1.0
    flexible_times: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("dim", self.dim >= 1, ">= 1"),
            ("n_steps", self.n_steps >= 1, ">= 1"),
            ("t0", 0 <= self.t0 < self.T, "in [0, T)"),
            ("exp", self.exp > 0, "> 0"),
            ("g", self.g > 0, "> 0"),
            ("prior_std", self.prior_std > 0, "> 0"),
            ("hidden", self.hidden >= 1, ">= 1"),
            ("n_layers", self.n_layers >= 0, ">= 0"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(
                    f"DiffFlowConfig.{name} must be {expected}; got {getattr(self, name)!r}"
                )


def time_grid(n_steps: int, t0: float, T: float, exp: float) -> Tensor:
    """``(N + 1,)`` float32: ``t_i = (t0^e + (i/N)(T^e − t0^e))^(1/e)`` (authors' code: the
    fixed grid ``(i/N)^β T`` of Zhang & Chen 2021, shifted to start at ``t0``)."""
    u = torch.linspace(0.0, 1.0, n_steps + 1, dtype=torch.float64)
    return (t0**exp + u * (T**exp - t0**exp)).pow(1.0 / exp).float()


class DiffFlow(nn.Module):
    """Learned drift ``f_θ`` (:attr:`drift_net`) and score ``s_θ`` (:attr:`score_net`).

    Args:
        config: a :class:`DiffFlowConfig` (default: the authors' 2D one).
        drift_net, score_net: ``net(x (B, D), t) -> (B, D)`` with ``t`` a 0-d tensor or ``(B,)``;
            default a :class:`FourierMLP` each. (Tests plug in a zero drift and the exact score.)
    """

    def __init__(
        self,
        config: DiffFlowConfig | None = None,
        drift_net: nn.Module | None = None,
        score_net: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.config = cfg = config if config is not None else DiffFlowConfig()
        if not isinstance(cfg, DiffFlowConfig):
            raise TypeError(f"config must be a DiffFlowConfig; got {type(cfg).__name__}")
        make = lambda: FourierMLP(cfg.dim, cfg.hidden, cfg.n_layers)
        self.drift_net = make() if drift_net is None else drift_net
        self.score_net = make() if score_net is None else score_net
        self.n_steps = cfg.n_steps  # N; progressive training (:func:`progressive_n`) raises it

    def set_n_steps(self, n_steps: int) -> None:
        """Change N (the grid keeps ``t0``, ``T`` and ``exp``): progressive training, sampling."""
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be an int >= 1; got {n_steps!r}")
        self.n_steps = n_steps

    def time_grid(self) -> Tensor:
        """``(N + 1,)`` times ``t_0 < … < t_N = T`` of the fixed grid."""
        cfg = self.config
        return time_grid(self.n_steps, cfg.t0, cfg.T, cfg.exp)

    def _train_times(self, generator: torch.Generator | None, flexible: bool) -> Tensor:
        """The fixed grid, or (``flexible`` and ``flexible_times``) one random grid ``L̂_β``."""
        cfg, n = self.config, self.n_steps
        if not (flexible and cfg.flexible_times and n > 1):
            return self.time_grid()
        u = (torch.arange(n - 1) + rand((n - 1,), generator).double()) / (n - 1)
        u = torch.cat([u.new_zeros(1), u, u.new_ones(1)])
        return (cfg.t0**cfg.exp + u * (cfg.T**cfg.exp - cfg.t0**cfg.exp)).pow(1 / cfg.exp).float()

    def _check_x(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.config.dim:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (batch, {self.config.dim}); got {got}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor; got {x.dtype}")
        return x

    def prior_logp(self, z: Tensor) -> Tensor:
        """``log N(z; 0, prior_std² I)`` per example: ``(B, D) -> (B,)``."""
        var = self.config.prior_std**2
        return -0.5 * (z.pow(2).sum(1) / var + z.shape[1] * math.log(2 * math.pi * var))

    def _path(
        self,
        x0: Tensor,
        generator: torch.Generator | None,
        keep: bool = False,
        flexible: bool = False,
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Simulate the forward SDE from ``x0``: ``(x_N, Σ_i ½(‖δ^B‖² − ‖δ^F‖²) (B,), states)``."""
        x, g = self._check_x(x0), self.config.g
        times = self._train_times(generator, flexible).to(x.device)
        states, path = [x] if keep else [], x.new_zeros(x.shape[0])
        f = self.drift_net(x, times[0])
        for i in range(len(times) - 1):
            dt, t_next = times[i + 1] - times[i], times[i + 1]
            noise_scale = g * dt.sqrt()
            delta_f = randn(x.shape, generator, device=x.device, dtype=x.dtype)
            x_next = x + f * dt + noise_scale * delta_f
            f_next = self.drift_net(x_next, t_next)
            back = f_next - g**2 * self.score_net(x_next, t_next)
            delta_b = (x - x_next + back * dt) / noise_scale
            path = path + 0.5 * (delta_b.pow(2).sum(1) - delta_f.pow(2).sum(1))
            x, f = x_next, f_next
            if keep:
                states.append(x)
        return x, path, states

    def _loss_terms(
        self, x0: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(loss, prior (B,), path (B,))`` of :meth:`loss`, with gradients."""
        x_n, path = self._path(x0, generator, flexible=self.training)[:2]
        prior = -self.prior_logp(x_n)
        return (prior + path).mean(), prior, path

    def loss(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mean of :meth:`nll_bound`'s ``L(x_0)`` over the batch (nats/example), with gradients
        (in training mode on a random grid if ``flexible_times``)."""
        return self._loss_terms(x0, generator)[0]

    def loss_parts(
        self, x0: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """``(loss, {"prior": −log N(x_N) mean, "path": Σ½(‖δ^B‖²−‖δ^F‖²) mean})``: :meth:`loss`
        (same draws, same number) and its two terms as floats."""
        loss, prior, path = self._loss_terms(x0, generator)
        return loss, {"prior": prior.mean().item(), "path": path.mean().item()}

    @torch.no_grad()
    def nll_bound(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``(B,)`` one-trajectory estimate of the bound ``L(x_0)`` (nats); its mean over the
        forward noise is ≥ the model's NLL ``−log p_model(x_0)`` (Zhang & Chen 2021, App. B)."""
        x_n, path = self._path(x0, generator)[:2]
        return -self.prior_logp(x_n) + path

    @torch.no_grad()
    def forward_trajectory(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``(N + 1, B, D)``: the forward SDE from ``x0``; index ``i`` is time ``t_i``."""
        return torch.stack(self._path(x0, generator, keep=True)[2])

    @torch.no_grad()
    def sample_result(
        self,
        n: int,
        *,
        lam: float = 1.0,
        generator: torch.Generator | None = None,
        trajectory_every: int | None = None,
    ) -> SampleResult:
        """``n`` samples of the backward SDE with noise ``lam`` from ``N(0, prior_std² I)``
        (Zhang & Chen 2021), as a :class:`~dinof_lite.sampling.SampleResult`.

        Step ``i`` (from ``N − 1`` down to 0): ``x_i = x_{i+1} − [f − (1+λ²)/2 g² s](x_{i+1},
        t_{i+1}) Δt_i + λ g sqrt(Δt_i) z``. ``lam = 0``: Euler steps of the probability-flow ODE.
        ``nfe`` counts drift and score calls (:meth:`nfe`). With ``trajectory_every = k`` the
        result's ``trajectory`` holds every k-th state in sampling order, ``[0]`` the prior draw
        at ``T`` and ``[-1]`` the samples at ``t_0``, with their ``times``; None (default): no
        trajectory.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}")
        lam = self._check_lam(lam)
        record = trajectory_every is not None
        if record and (not is_int(trajectory_every) or trajectory_every < 1):
            raise ValueError(
                f"trajectory_every must be None or an integer >= 1; got {trajectory_every!r}"
            )
        every = int(trajectory_every) if record else 1
        device = next(self.parameters(), torch.empty(0)).device
        synchronize(device)
        start = time.perf_counter()
        cfg, times = self.config, self.time_grid().to(device)
        x = cfg.prior_std * randn((n, cfg.dim), generator, device=device)
        states, kept = [x], [self.n_steps]
        for i in reversed(range(self.n_steps)):
            dt, t = times[i + 1] - times[i], times[i + 1]
            drift = self.drift_net(x, t) - 0.5 * (1 + lam**2) * cfg.g**2 * self.score_net(x, t)
            x = x - drift * dt
            if lam > 0:
                x = x + lam * cfg.g * dt.sqrt() * randn(x.shape, generator, device=device)
            if record and (i == 0 or (self.n_steps - i) % every == 0):
                states.append(x)
                kept.append(i)
        synchronize(device)
        wall = time.perf_counter() - start
        if not record:
            return SampleResult(x, self.nfe(lam), None, None, wall)
        return SampleResult(x, self.nfe(lam), torch.stack(states), times[kept].to(x.dtype), wall)

    def sample(
        self, n: int, *, lam: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """``(n, D)`` samples of the backward SDE with noise ``lam``: :meth:`sample_result`'s
        ``x`` (same arguments, same numbers)."""
        return self.sample_result(n, lam=lam, generator=generator).x

    def log_likelihood(
        self, x0: Tensor, *, rtol: float = 1e-5, atol: float = 1e-5, method: str = "dopri5"
    ) -> Tensor:
        """``(B,)`` ``log p(x0)`` in nats by the λ = 0 probability-flow ODE (Zhang & Chen, App. H).

        ``dx/dt = v = f(x, t) − ½ g² s(x, t)`` from ``t_0`` to ``T`` with ``torchdiffeq``; then
        ``log p(x0) = log N(x(T); 0, prior_std² I) + ∫ div v dt`` (exact divergence, one backward
        pass per dimension). The nets are evaluated at continuous ``t ∈ [t_0, T]``.
        """
        x = self._check_x(x0).detach()
        cfg = self.config

        def func(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            tt = t.to(x.dtype).clamp(cfg.t0, cfg.T)
            with torch.enable_grad():
                xt = state[0].detach().requires_grad_(True)
                v = self.drift_net(xt, tt) - 0.5 * cfg.g**2 * self.score_net(xt, tt)
                div = divergence_exact(v, xt)
            return v.detach(), div.detach()

        times = torch.tensor([cfg.t0, cfg.T], dtype=x.dtype, device=x.device)
        with torch.no_grad():
            from torchdiffeq import odeint  # lazily: it imports scipy (~1 s)

            xs, deltas = odeint(
                func,
                (x, x.new_zeros(x.shape[0])),
                times,
                rtol=rtol,
                atol=atol,
                method=method,
                options=solver_options(method, times, None),
            )
            return self.prior_logp(xs[-1]) + deltas[-1]

    @staticmethod
    def _check_lam(lam: float) -> float:
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise ValueError(f"lam must be a number >= 0; got {lam!r}")
        return float(lam)

    def nfe(self, lam: float = 1.0) -> int:
        """Network evaluations per sample of :meth:`sample`: drift and score at each of the N
        steps, counted separately (2N, whatever ``lam``)."""
        self._check_lam(lam)
        return 2 * self.n_steps


def diffflow_loss(model: DiffFlow, x0: Tensor, generator: torch.Generator) -> Tensor:
    """The :class:`~dinof_lite.train.Trainer` loss: ``model.loss(x0, generator)`` (nats)."""
    return model.loss(x0, generator)


def progressive_n(schedule: Mapping[int, int]):
    """A :class:`~dinof_lite.train.Trainer` callback for progressive training (paper §3.3):
    after update ``k`` in ``schedule``, N becomes ``schedule[k]`` (model and its EMA copy)."""
    plan = {int(k): int(v) for k, v in schedule.items()}

    def callback(trainer, step: int, loss: float) -> None:
        if step in plan:
            for model in (trainer.module, trainer.ema_model.module):
                model.set_n_steps(plan[step])

    return callback


def save_diffflow(
    path: str | os.PathLike, model: DiffFlow, meta: dict[str, Any] | None = None
) -> Path:
    """Write ``{"format", "config", "state_dict", "meta"}`` atomically; FourierMLP nets only."""
    nets = (model.drift_net, model.score_net)
    if not all(type(net) is FourierMLP for net in nets):
        raise ValueError(
            "save_diffflow stores FourierMLP drift and score networks only; got "
            f"{', '.join(type(net).__name__ for net in nets)}"
        )
    config = dataclasses.replace(model.config, n_steps=model.n_steps)
    ckpt = {
        "format": FORMAT,
        "config": dataclasses.asdict(config),
        "state_dict": cpu_state_dict(model),
        "meta": plain(meta or {}),
    }
    return atomic_save(ckpt, path)


def load_diffflow(name: str | os.PathLike, *, device: str | torch.device = "cpu") -> DiffFlow:
    """A saved DiffFlow (eval mode) from a checkpoint name (``"diffflow_8gaussians"``) or a
    ``.pt`` path; its stored ``meta`` via :func:`dinof_lite.pretrained.checkpoint_meta`. Errors
    as in :func:`dinof_lite.pretrained.load_score_model`."""
    path = resolve(name)
    ckpt = read_checkpoint(path, FORMAT)
    model = DiffFlow(DiffFlowConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()
