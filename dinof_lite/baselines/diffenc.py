"""DiffEnc, "Variational Diffusion with a Learned Encoder" (Nielsen et al. 2024, ICLR).

A VDM (Kingma et al. 2021) in continuous time with a fixed linear log-SNR schedule, v-prediction
and a time-dependent encoder of the data. Notation (VDM): ``γ(t) = −log SNR(t)``,
``σ_t² = sigmoid(γ_t)``, ``α_t² = sigmoid(−γ_t)``, ``γ(t) = γ_min + (γ_max − γ_min) t``.

* encoder (DiffEnc Eq. 15 / 16): ``x_φ(t) = α_t² x + σ_t² y_φ(x, γ_t)``, with
  ``y_φ = tanh(net)`` zero-initialised (trainable) or ``y_φ ≡ 0`` (non-trainable);
* forward process: ``z_t = α_t x_φ(t) + σ_t ε``; target ``v = α_t ε − σ_t x_φ``; prediction
  ``x̂ = α_t z_t − σ_t v̂``;
* diffusion loss (DiffEnc Eq. 19, Eq. 20 with ``y ≡ 0``), one antithetic ``t`` per example::

      L_∞ = ½ γ'(t) α_t² ‖v − v̂ + σ_t (x̂ − x_φ + y_φ + ∂y_φ/∂γ)‖²

  with ``∂y_φ/∂γ`` by a forward-mode JVP (``torch.func.jvp``);
* latent loss ``½ Σ (α_1² x_φ(1)² + σ_1² − log σ_1² − 1)`` (KL to ``N(0, I)``);
* reconstruction: a Gaussian decoder ``p(x | z_0) = N(z_0/α_0, e^{γ_0} I)`` for continuous data,
  its expectation over ``z_0`` in closed form (the authors draw one ``z_0``); for discrete data on
  ``n_bins`` levels of ``[−1, 1]`` (images) VDM's discretised decoder, a softmax over the levels
  ``v`` of ``−½ e^{−γ_0} (z_0/α_0 − x_v)²`` per pixel, with one draw of ``z_0``.

``recon + latent + diffusion`` is an upper bound on ``−log p(x)`` in nats. Sampling is VDM's
ancestral sampler with the counter-term of DiffEnc Eq. 17 (the encoder is not used).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import jvp

from dinof_lite.baselines.diffenc_nets import EncoderConv, EncoderMLP, VNetMLP, VNetUNet, build_nets
from dinof_lite.pretrained import resolve
from dinof_lite.sampling.base import SampleResult, is_int, synchronize
from dinof_lite.train import atomic_save, cpu_state_dict, plain, read_checkpoint
from dinof_lite.utils import make_generator, rand, randn

__all__ = ["DiffEnc", "DiffEncConfig", "diffenc_loss", "save_diffenc", "load_diffenc"]

DIFFENC_FORMAT = "dinof_lite.diffenc/1"


@dataclass
class DiffEncConfig:
    """Hyper-parameters of :class:`DiffEnc` (defaults: the fixed linear schedule, sized for 2D toys).

    Vectors ``(B, dim)``: ``hidden``/``n_layers``/``emb_dim`` size the v-network
    (:class:`VNetMLP`), ``enc_hidden``/``enc_layers`` the encoder (:class:`EncoderMLP`).
    Images: ``image_shape = (C, H, W)`` (``dim`` is then unused) selects :class:`VNetUNet` with
    ``nf = hidden`` and :class:`EncoderConv`. ``n_bins``: ``None`` for continuous data (Gaussian
    decoder), else the number of levels of discrete data on ``[−1, 1]`` (discretised decoder).
    """

    dim: int = 2
    trainable_encoder: bool = True
    gamma_min: float = -13.3
    gamma_max: float = 5.0
    hidden: int = 128
    n_layers: int = 3
    emb_dim: int = 64
    enc_hidden: int = 64
    enc_layers: int = 2
    image_shape: tuple[int, int, int] | None = None
    n_bins: int | None = None

    def __post_init__(self) -> None:
        if self.image_shape is not None:
            self.image_shape = tuple(int(v) for v in self.image_shape)  # type: ignore[assignment]
            if len(self.image_shape) != 3 or min(self.image_shape) < 1:
                raise ValueError(f"image_shape must be (C, H, W); got {self.image_shape}")
        if self.n_bins is not None and (not isinstance(self.n_bins, int) or self.n_bins < 2):
            raise ValueError(
                f"n_bins must be None (continuous data) or an int >= 2; got {self.n_bins!r}"
            )
        if not isinstance(self.trainable_encoder, bool):
            raise TypeError(f"trainable_encoder must be a bool; got {self.trainable_encoder!r}")
        if self.dim < 1:
            raise ValueError(f"dim must be >= 1; got {self.dim}")
        if not self.gamma_max > self.gamma_min:
            raise ValueError(f"need gamma_max > gamma_min; got {self.gamma_min}, {self.gamma_max}")

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one example: ``(dim,)`` or ``image_shape``."""
        return self.image_shape or (self.dim,)


def _bc(a: Tensor, x: Tensor) -> Tensor:
    """Per-example ``(B,)`` → broadcastable against ``x (B, ...)``."""
    return a.reshape(-1, *([1] * (x.dim() - 1)))


def _sum(x: Tensor) -> Tensor:
    """Sum over all but the batch dimension: ``(B, ...)`` → ``(B,)``."""
    return x.flatten(1).sum(1)


class DiffEnc(nn.Module):
    """DiffEnc on ``(B, *config.data_shape)`` data; ``v_net``/``encoder`` override the networks
    of ``config``. Shapes below write ``(B, D)`` for ``(B, *data_shape)``.

    ``v_net(z (B, D), γ (B,)) -> v̂ (B, D)``; ``encoder(x (B, D), γ (B,)) -> y_φ (B, D)``
    (already squashed, e.g. ``tanh``). ``encoder`` is ``None`` for the non-trainable model.
    """

    def __init__(
        self,
        config: DiffEncConfig | None = None,
        *,
        v_net: nn.Module | None = None,
        encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        config = config or DiffEncConfig()
        if not isinstance(config, DiffEncConfig):
            raise TypeError(f"config must be a DiffEncConfig; got {type(config).__name__}")
        self.config = config
        if encoder is not None and not config.trainable_encoder:
            raise ValueError("an encoder was given but config.trainable_encoder is False")
        if v_net is None or (encoder is None and config.trainable_encoder):
            built_v, built_enc = build_nets(config)
            v_net = built_v if v_net is None else v_net
            encoder = built_enc if encoder is None else encoder
        self.v_net, self.encoder = v_net, encoder

    # ------------------------------------------------------------------ schedule and encoder

    @property
    def gamma_prime(self) -> float:
        """``γ'(t) = γ_max − γ_min`` (fixed linear schedule)."""
        return self.config.gamma_max - self.config.gamma_min

    def gamma(self, t: Tensor) -> Tensor:
        """``γ(t) = γ_min + (γ_max − γ_min) t``, elementwise."""
        return self.config.gamma_min + self.gamma_prime * t

    def _check_x(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        shape = self.config.data_shape
        if tuple(x.shape[1:]) != shape or x.shape[0] < 1:
            raise ValueError(
                f"x must have shape (batch, {', '.join(map(str, shape))}); got {tuple(x.shape)}"
            )

    def inner_encoder(self, x: Tensor, gamma: Tensor) -> tuple[Tensor, Tensor]:
        """``(y_φ, ∂y_φ/∂γ)``, both ``(B, D)``; zeros for the non-trainable encoder (Eq. 16)."""
        if self.encoder is None:
            return torch.zeros_like(x), torch.zeros_like(x)
        return jvp(lambda g: self.encoder(x, g), (gamma,), (torch.ones_like(gamma),))

    def encode(self, x: Tensor, gamma: Tensor) -> Tensor:
        """``x_φ = α² x + σ² y_φ(x, γ)`` (DiffEnc Eq. 15 / 16): ``(B, D)``."""
        y = torch.zeros_like(x) if self.encoder is None else self.encoder(x, gamma)
        return _bc(torch.sigmoid(-gamma), x) * x + _bc(torch.sigmoid(gamma), x) * y

    @torch.no_grad()
    def encoder_shift(self, x: Tensor, t: float | Tensor) -> Tensor:
        """``x_φ(t) − α_t² x = σ_t² y_φ(x, γ_t)``: how far the learned encoder moves the forward
        mean, ``(B, D)`` (zeros for the non-trainable encoder); ``t`` a float or ``(B,)``."""
        self._check_x(x)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        gamma = self.gamma(t)
        return self.encode(x, gamma) - _bc(torch.sigmoid(-gamma), x) * x

    # ------------------------------------------------------------------ the three loss terms

    def diffusion_loss(self, x: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """``L_∞`` integrand at times ``t (B,)`` with noise ``eps (B, D)`` (DiffEnc Eq. 19): ``(B,)``."""
        gamma = self.gamma(t)
        y, dy = self.inner_encoder(x, gamma)
        s2, a2 = _bc(torch.sigmoid(gamma), x), _bc(torch.sigmoid(-gamma), x)
        alpha, sigma = a2.sqrt(), s2.sqrt()
        x_phi = a2 * x + s2 * y
        z = alpha * x_phi + sigma * eps
        v = alpha * eps - sigma * x_phi
        v_hat = self.v_net(z, gamma)
        x_hat = alpha * z - sigma * v_hat
        err = v - v_hat + sigma * (x_hat - x_phi + y + dy)
        return 0.5 * self.gamma_prime * a2.flatten() * _sum(err.square())

    def latent_loss(self, x: Tensor) -> Tensor:
        """``KL(q(z_1|x) ‖ N(0, I)) = ½ Σ (α_1² x_φ(1)² + σ_1² − log σ_1² − 1)``: ``(B,)``."""
        g1 = torch.full((x.shape[0],), self.config.gamma_max, dtype=x.dtype, device=x.device)
        s2 = torch.sigmoid(g1)
        kl = _bc(torch.sigmoid(-g1), x) * self.encode(x, g1).square() + _bc(s2 - s2.log() - 1, x)
        return 0.5 * _sum(kl)

    def levels(self, x: Tensor) -> Tensor:
        """Discrete data: the grid ``x_v = −1 + 2v/(n_bins − 1)`` ``(n_bins,)``, as ``x``'s dtype."""
        return torch.linspace(-1.0, 1.0, self.config.n_bins, dtype=x.dtype, device=x.device)

    def recon_loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Reconstruction ``E_{z_0}[−log p(x | z_0)]``: ``(B,)`` nats.

        Continuous data, in closed form: ``D/2 (log 2π + γ_0 + 1) + ½ σ_0² α_0² ‖x − y_φ(x, γ_0)‖²``
        (as ``x − x_φ(0) = σ_0² (x − y_φ)``). Discrete data: one draw
        ``z_0/α_0 = x_φ(0) + e^{γ_0/2} ε`` and ``−Σ log softmax_v(−½ e^{−γ_0}(z_0/α_0 − x_v)²)[x]``.
        """
        g0 = torch.full((x.shape[0],), self.config.gamma_min, dtype=x.dtype, device=x.device)
        if self.config.n_bins is None:
            y = torch.zeros_like(x) if self.encoder is None else self.encoder(x, g0)
            s2 = math.exp(-math.log1p(math.exp(-self.config.gamma_min)))  # sigmoid(γ_0)
            const = 0.5 * x[0].numel() * (math.log(2 * math.pi) + self.config.gamma_min + 1)
            return const + 0.5 * s2 * (1 - s2) * _sum((x - y).square())
        levels = self.levels(x)
        idx = ((x + 1) * (self.config.n_bins - 1) / 2).round().long()
        inside = bool(idx.min() >= 0) and bool(idx.max() < len(levels))
        if not inside or (levels[idx.clamp(0, len(levels) - 1)] - x).abs().max() > 1e-4:
            raise ValueError(
                f"discrete data must lie on the {self.config.n_bins} levels of [-1, 1]"
            )
        eps = randn(x.shape, generator, device=x.device, dtype=x.dtype)
        z_scaled = self.encode(x, g0) + math.exp(0.5 * self.config.gamma_min) * eps
        logits = -0.5 * math.exp(-self.config.gamma_min) * (z_scaled[..., None] - levels).square()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, idx[..., None])[..., 0]
        return -_sum(logp)

    # ------------------------------------------------------------------ bound, loss, bpd

    def _times(self, n: int, generator: torch.Generator | None, device) -> Tensor:
        """Antithetic (stratified) times ``(u + i/n) mod 1``: ``(n,)``, each ``U(0, 1)``."""
        u = rand((1,), generator, device=device)
        return torch.remainder(u + torch.arange(n, device=device) / n, 1.0)

    def _terms(self, x0: Tensor, generator: torch.Generator | int | None, n_repeats: int):
        self._check_x(x0)
        if not isinstance(n_repeats, int) or n_repeats < 1:
            raise ValueError(f"n_repeats must be an int >= 1; got {n_repeats!r}")
        b, generator = x0.shape[0], make_generator(generator)
        t = self._times(b * n_repeats, generator, x0.device)
        eps = randn((b * n_repeats, *x0.shape[1:]), generator, device=x0.device, dtype=x0.dtype)
        xr = x0.repeat(n_repeats, *([1] * (x0.dim() - 1)))
        diff = self.diffusion_loss(xr, t, eps).reshape(n_repeats, b).mean(0)
        return self.recon_loss(x0, generator), self.latent_loss(x0), diff

    def loss(self, x0: Tensor, generator: torch.Generator | int | None = None) -> Tensor:
        """Mean bound ``recon + latent + diffusion`` over the batch ``x0 (B, D)``, nats/example."""
        recon, latent, diff = self._terms(x0, generator, 1)
        return (recon + latent + diff).mean()

    def loss_parts(
        self, x0: Tensor, generator: torch.Generator | int | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """``(loss, {"recon", "latent", "diffusion"})``: :meth:`loss` (same draws, same number)
        and the batch means of its three terms as floats."""
        recon, latent, diff = self._terms(x0, generator, 1)
        loss = (recon + latent + diff).mean()
        parts = {
            "recon": recon.mean().item(),
            "latent": latent.mean().item(),
            "diffusion": diff.mean().item(),
        }
        return loss, parts

    @torch.no_grad()
    def nll_bound(
        self, x0: Tensor, generator: torch.Generator | int | None = None, n_repeats: int = 1
    ) -> Tensor:
        """Per-example upper bound on ``−log p(x0)``, nats: ``(B,)``; ``n_repeats`` draws of
        ``(t, ε)`` per example average down the diffusion term's Monte-Carlo noise."""
        recon, latent, diff = self._terms(x0, generator, n_repeats)
        return recon + latent + diff

    def bits_per_dim(self, x0: Tensor, generator: torch.Generator | int | None = None) -> float:
        """Mean bound in bits per dimension: ``mean(nll_bound) / (D ln 2)`` (Nielsen et al. 2024,
        Table 1)."""
        return self.nll_bound(x0, generator).mean().item() / (x0[0].numel() * math.log(2))

    # ------------------------------------------------------------------ sampling

    def nfe(self, n_steps: int = 1000) -> int:
        """Network evaluations per sample: one v-network call per ancestral step."""
        _check_steps(n_steps)
        return n_steps

    @torch.no_grad()
    def sample_result(
        self,
        n: int,
        *,
        n_steps: int = 1000,
        generator: torch.Generator | int | None = None,
        trajectory_every: int | None = None,
    ) -> SampleResult:
        """VDM ancestral sampling with DiffEnc's counter-term (Eq. 17), as a
        :class:`~dinof_lite.sampling.SampleResult` (``x (n, *data_shape)``, ``nfe = n_steps``).

        From ``z_1 ~ N(0, I)``, for ``t = i/N → s = (i−1)/N``::

            x̂   = α_t z_t − σ_t v̂(z_t, γ_t)
            z_s = α_s/α_t · e^{γ_s−γ_t} z_t − α_s expm1(γ_s−γ_t) x̂ − α_s (γ_s−γ_t) σ_t² x̂
                  + σ_s sqrt(−expm1(γ_s−γ_t)) ε

        then ``x ~ N(z_0/α_0, e^{γ_0} I)`` (Gaussian decoder) or, for discrete data, the most
        likely level of the discretised decoder (VDM's default). ``generator``: a
        ``torch.Generator`` or an int seed. With ``trajectory_every = k`` the result's
        ``trajectory`` holds every k-th latent from ``z_1`` to ``z_0`` (the decoder then maps
        ``z_0`` to ``x``) and ``times`` their ``t``; None (default): no trajectory.
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1; got {n!r}")
        _check_steps(n_steps)
        record = trajectory_every is not None
        if record and (not is_int(trajectory_every) or trajectory_every < 1):
            raise ValueError(
                f"trajectory_every must be None or an integer >= 1; got {trajectory_every!r}"
            )
        every = int(trajectory_every) if record else 1
        generator = make_generator(generator)
        p = next(self.v_net.parameters(), None)
        device, dtype = (p.device, p.dtype) if p is not None else ("cpu", torch.float32)
        synchronize(device)
        start = time.perf_counter()
        z = randn((n, *self.config.data_shape), generator, device=device, dtype=dtype)
        traj, kept = ([z], [1.0]) if record else (None, None)
        for i in range(n_steps, 0, -1):
            g_t = self.gamma(torch.tensor(i / n_steps, dtype=torch.float64))
            g_s = self.gamma(torch.tensor((i - 1) / n_steps, dtype=torch.float64))
            s2_t, s2_s = torch.sigmoid(g_t), torch.sigmoid(g_s)
            a_t, a_s, sig_t, sig_s = (1 - s2_t).sqrt(), (1 - s2_s).sqrt(), s2_t.sqrt(), s2_s.sqrt()
            em1 = torch.expm1(g_s - g_t)  # SNR_t/SNR_s − 1 < 0
            v_hat = self.v_net(z, torch.full((n,), float(g_t), device=device, dtype=dtype))
            x_hat = float(a_t) * z - float(sig_t) * v_hat
            mean = (
                float(a_s / a_t * (em1 + 1)) * z
                - float(a_s * em1) * x_hat
                - float(a_s * (g_s - g_t) * s2_t) * x_hat
            )
            noise = randn(z.shape, generator, device=device, dtype=dtype)
            z = mean + float(sig_s * (-em1).sqrt()) * noise
            if record and (i == 1 or (n_steps - i + 1) % every == 0):
                traj.append(z)
                kept.append((i - 1) / n_steps)
        z_scaled = z / math.sqrt(torch.sigmoid(torch.tensor(-self.config.gamma_min)).item())
        if self.config.n_bins is None:
            noise = randn(z.shape, generator, device=device, dtype=dtype)
            x = z_scaled + math.exp(0.5 * self.config.gamma_min) * noise
        else:
            levels = self.levels(z)
            x = levels[(z_scaled[..., None] - levels).abs().argmin(-1)]
        synchronize(device)
        wall = time.perf_counter() - start
        if not record:
            return SampleResult(x, n_steps, None, None, wall)
        times = torch.tensor(kept, dtype=dtype, device=device)
        return SampleResult(x, n_steps, torch.stack(traj), times, wall)

    def sample(
        self, n: int, *, n_steps: int = 1000, generator: torch.Generator | int | None = None
    ) -> Tensor:
        """``(n, *data_shape)`` samples: :meth:`sample_result`'s ``x`` (same arguments, same
        numbers)."""
        return self.sample_result(n, n_steps=n_steps, generator=generator).x


def _check_steps(n_steps: int) -> None:
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an int >= 1; got {n_steps!r}")


def diffenc_loss(model: DiffEnc, x0: Tensor, generator: torch.Generator | None) -> Tensor:
    """The :class:`~dinof_lite.train.Trainer` loss: ``model.loss(x0, generator)`` (nats/example)."""
    return model.loss(x0, generator)


def save_diffenc(
    path: str | os.PathLike, model: DiffEnc, meta: dict[str, Any] | None = None
) -> Path:
    """Write ``{"format", "config", "state_dict", "meta"}`` atomically to ``path``."""
    if not isinstance(model, DiffEnc):
        raise TypeError(f"model must be a DiffEnc; got {type(model).__name__}")
    if not isinstance(model.v_net, (VNetMLP, VNetUNet)) or not (
        model.encoder is None or isinstance(model.encoder, (EncoderMLP, EncoderConv))
    ):
        raise ValueError(
            "only DiffEnc models with the networks built from their config can be saved"
        )
    ckpt = {
        "format": DIFFENC_FORMAT,
        "config": plain(dataclasses.asdict(model.config)),
        "state_dict": cpu_state_dict(model),
        "meta": plain(meta or {}),
    }
    return atomic_save(ckpt, path)


def load_diffenc(name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu") -> DiffEnc:
    """A saved :class:`DiffEnc` in eval mode (a name in ``data/checkpoints`` or a ``.pt`` path);
    its stored ``meta`` via :func:`dinof_lite.pretrained.checkpoint_meta`."""
    ckpt = read_checkpoint(resolve(name_or_path), DIFFENC_FORMAT)
    model = DiffEnc(DiffEncConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()
