r"""Published diffusers score networks as library networks (docs/design.md §Published score networks).

``sde, net = from_diffusers(unet, scheduler)`` turns a diffusers ``UNet2DModel`` and the scheduler
it was trained with into the forward SDE and a network in the library's conventions, so that
``get_score_fn(sde, net)`` — and through it every sampler, ``DiNof``, the likelihoods and the
CLI — uses it unchanged. A hub id or a local folder works too: ``from_diffusers("google/ddpm-cifar10-32")``
(diffusers' own ``from_pretrained`` and cache, :mod:`dinof_lite.hub.fetch`).

- ``DDPMScheduler`` (linear β, ε-prediction; Ho et al. 2020) → ``VPSDE(N β_start, N β_end, N)``,
  whose :math:`\beta(t_i)/N` at :math:`t_i = i/(N-1)` are the scheduler's betas. ``net`` is an
  ε-predictor labelled ``999 t`` like the library's VP networks; inside, the UNet is given the
  fractional DDPM timestep :math:`\tau(t)` at which the chain's marginal equals the SDE's,
  :math:`\bar\alpha(\tau) = a(t)^2` (:math:`\log\bar\alpha` interpolated linearly between integer
  timesteps, :math:`\bar\alpha(-1) = 1`). At the matched times :math:`t_i`
  (:meth:`DDPMNet.timestep_time`) it sees timestep ``i`` exactly, ``s(t_i) = √(1 − ᾱ_i)``, and
  one ancestral step from :math:`t_i` to :math:`t_{i-1}` is DDPM's step ``i``.
- ``ScoreSdeVeScheduler`` with an NCSN++ ``UNet2DModel(time_embedding_type="fourier")``
  (Song et al. 2021) → ``VESDE(σ_min, σ_max, N, exact_marginal=False)``. The UNet is given
  :math:`\sigma(t)` and returns the score (it divides its last layer by σ itself), so
  ``net = s(t) · unet(x, σ(t))``, the σ-scaled output of the library's VE networks.

``net.trained_on`` (:class:`~dinof_lite.trained_on.TrainedOn`) records the SDE and the pixel
range the network was trained on — DDPM ``(−1, 1)``, NCSN++ ``(0, 1)`` — so using it with
another SDE, or with data of another scale, is refused (:mod:`dinof_lite.trained_on`).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor, nn

from dinof_lite.hub.fetch import import_diffusers, load_pretrained
from dinof_lite.sde import SDE, VESDE, VPSDE
from dinof_lite.trained_on import TrainedOn

__all__ = ["from_diffusers", "DDPMNet", "NCSNppNet"]

DDPM_RANGE = (-1.0, 1.0)  # Ho et al. 2020, §3.3: images "scaled linearly to [−1, 1]"
SCORE_SDE_VE_RANGE = (0.0, 1.0)  # score_sde's VE configs: data.centered = False


# ----- the networks -----------------------------------------------------------------------
class DiffusersNet(nn.Module):
    """A diffusers ``UNet2DModel`` called as a library network ``net(x (B, C, H, W), label (B,))``.

    Attributes: ``unet``, ``sde`` (the SDE it was trained on) and ``trained_on``.
    """

    def __init__(self, unet: nn.Module, sde: SDE, data_range: tuple[float, float]) -> None:
        super().__init__()
        self.unet, self.sde = unet, sde
        self.trained_on = TrainedOn.of(sde, data_range)

    def call_unet(self, x: Tensor, timestep: Tensor) -> Tensor:
        """The UNet's output on ``x`` at ``timestep`` (B,), in ``x``'s dtype."""
        out = self.unet(x.to(self.unet.dtype), timestep.to(torch.float32)).sample
        return out.to(x.dtype)


class DDPMNet(DiffusersNet):
    """ε-prediction at the DDPM timestep matched to the VP SDE's marginal (see the module doc)."""

    def __init__(self, unet: nn.Module, sde: VPSDE, betas: Tensor) -> None:
        super().__init__(unet, sde, DDPM_RANGE)
        log_alphas_cumprod = torch.cumsum(torch.log1p(-betas.double()), 0)
        # −log ᾱ at timesteps −1, 0, …, N−1 (increasing); a plain tensor, so .half() leaves it
        zero = torch.zeros(1, dtype=torch.float64)
        self.neg_log_alphas_cumprod = torch.cat([zero, -log_alphas_cumprod])

    def timestep(self, t: Tensor) -> Tensor:
        """The fractional DDPM timestep ``τ(t)`` (B,) with ``ᾱ(τ) = a(t)²``; ``τ(0) = −1``."""
        dtype = torch.float32 if t.device.type == "mps" else torch.float64
        table = self.neg_log_alphas_cumprod.to(t.device, dtype)
        target = -2.0 * self.sde.log_mean_coeff(t.to(dtype))  # −log a(t)²
        k = torch.searchsorted(table, target.contiguous()).clamp(1, len(table) - 1)
        lo, hi = table[k - 1], table[k]
        return (k - 2).to(dtype) + (target - lo) / (hi - lo)

    def timestep_time(self, timesteps: Tensor) -> Tensor:
        """The SDE times ``t_i`` (float64) of integer DDPM timesteps ``i``: ``a(t_i)² = ᾱ_i``.

        The inverse of :meth:`timestep`. ``t_{N−1}`` lies a little beyond ``T = 1`` (the chain's
        last ``ᾱ`` is below ``a(1)²``): the SDE's ``[0, T]`` covers timesteps ``−1 … ≈ N − 4``.
        """
        neg_log_ac = self.neg_log_alphas_cumprod[1:][torch.as_tensor(timesteps).long()]
        lam = -0.5 * (neg_log_ac + torch.log(-torch.expm1(-neg_log_ac)))  # ½ log(ᾱ / (1 − ᾱ))
        return self.sde.time_from_log_snr_half(lam)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        t = self.sde.label_to_time(label)
        return self.call_unet(x, self.timestep(t))  # ε: score = −ε / s(t), s(t) = √(1 − ᾱ(τ))


class NCSNppNet(DiffusersNet):
    """The NCSN++ UNet's score, σ-scaled as the library's VE networks: ``s(t) · unet(x, σ(t))``."""

    def __init__(self, unet: nn.Module, sde: VESDE) -> None:
        super().__init__(unet, sde, SCORE_SDE_VE_RANGE)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        t = self.sde.label_to_time(label)
        return self.sde.net_from_score(self.call_unet(x, label), t, x)


# ----- scheduler → SDE --------------------------------------------------------------------
def _refuse(what: str, got: Any, why: str) -> ValueError:
    return ValueError(f"cannot map {what}={got!r} onto the library's SDEs: {why}")


def _check_unet(unet, embedding: str, scheduler: str) -> None:
    cfg = unet.config
    if cfg.time_embedding_type != embedding:
        raise _refuse(
            "UNet2DModel time_embedding_type",
            cfg.time_embedding_type,
            f"a {scheduler} model takes time_embedding_type={embedding!r}",
        )
    if cfg.num_class_embeds is not None or cfg.class_embed_type is not None:
        raise ValueError(
            "cannot map a class-conditional UNet2DModel (num_class_embeds="
            f"{cfg.num_class_embeds!r}, class_embed_type={cfg.class_embed_type!r}) onto the "
            "library's networks: they take no class labels"
        )
    if cfg.in_channels != cfg.out_channels:
        raise _refuse(
            "UNet2DModel out_channels",
            cfg.out_channels,
            f"a score has as many channels as the data, in_channels={cfg.in_channels}",
        )


def _ddpm(unet, cfg) -> tuple[VPSDE, DDPMNet]:
    if cfg.prediction_type != "epsilon":
        raise _refuse(
            "DDPMScheduler prediction_type",
            cfg.prediction_type,
            "only 'epsilon' is the library's VP parameterisation",
        )
    if cfg.trained_betas is not None:
        raise _refuse("DDPMScheduler trained_betas", "<table>", "only linear betas are a VP SDE")
    if cfg.beta_schedule != "linear":
        raise _refuse(
            "DDPMScheduler beta_schedule",
            cfg.beta_schedule,
            "only 'linear' betas are the VP SDE's β(t) = β_min + t (β_max − β_min)",
        )
    if cfg.get("rescale_betas_zero_snr", False):
        raise _refuse("DDPMScheduler rescale_betas_zero_snr", True, "it changes the linear betas")
    if cfg.variance_type in ("learned", "learned_range"):
        raise _refuse(
            "DDPMScheduler variance_type",
            cfg.variance_type,
            "the UNet also predicts a variance, which the library's networks do not",
        )
    _check_unet(unet, "positional", "DDPMScheduler")
    N = int(cfg.num_train_timesteps)
    sde = VPSDE(beta_min=N * cfg.beta_start, beta_max=N * cfg.beta_end, N=N)
    betas = torch.linspace(cfg.beta_start, cfg.beta_end, N, dtype=torch.float64)
    return sde, DDPMNet(unet, sde, betas)


def _score_sde_ve(unet, cfg) -> tuple[VESDE, NCSNppNet]:
    _check_unet(unet, "fourier", "ScoreSdeVeScheduler")
    sde = VESDE(
        sigma_min=cfg.sigma_min,
        sigma_max=cfg.sigma_max,
        N=int(cfg.num_train_timesteps),
        exact_marginal=False,
    )
    return sde, NCSNppNet(unet, sde)


def from_diffusers(
    model: Any, scheduler: Any = None, *, cache_dir: str | os.PathLike | None = None
) -> tuple[SDE, DiffusersNet]:
    """``(sde, net)`` for a diffusers ``UNet2DModel`` and its scheduler, or for a hub id / folder.

    Args:
        model: a ``diffusers.UNet2DModel``, or a hub id (``"google/ddpm-cifar10-32"``) or local
            folder holding one and its scheduler config (then ``scheduler`` is left out).
        scheduler: the model's ``DDPMScheduler`` (linear betas, ε-prediction) or
            ``ScoreSdeVeScheduler``; any other raises ``ValueError`` naming it.
        cache_dir: the Hugging Face cache to use instead of the default (``HF_HUB_CACHE``).

    Returns:
        ``sde`` (a ``VPSDE`` or ``VESDE``) and ``net``, a :class:`DDPMNet` or :class:`NCSNppNet`
        in eval mode with ``net.trained_on`` (the SDE and the data range), for
        ``get_score_fn(sde, net)``.

    Raises:
        ValueError: a scheduler or UNet the library cannot map, named with the reason.
        HubUnavailable: a hub id that is not cached while the hub cannot be reached (decided
            within ``fetch.PROBE_TIMEOUT_S`` seconds, or at once under ``HF_HUB_OFFLINE=1``).
        ModuleNotFoundError: diffusers is not installed (the ``hub`` extra).
    """
    diffusers = import_diffusers()
    if isinstance(model, (str, os.PathLike)):
        if scheduler is not None:
            raise ValueError(
                "pass a hub id / folder alone (its scheduler is read from it) or a UNet2DModel "
                f"and its scheduler; got model={os.fspath(model)!r} and a scheduler"
            )
        model, scheduler = load_pretrained(os.fspath(model), cache_dir=cache_dir)
    if not isinstance(model, diffusers.UNet2DModel):
        raise ValueError(f"model must be a diffusers UNet2DModel; got {type(model).__name__}")
    if isinstance(scheduler, diffusers.DDPMScheduler):
        sde, net = _ddpm(model, scheduler.config)
        return sde, net.eval()
    if isinstance(scheduler, diffusers.ScoreSdeVeScheduler):
        sde, net = _score_sde_ve(model, scheduler.config)
        return sde, net.eval()
    raise ValueError(
        f"cannot map scheduler {type(scheduler).__name__} onto the library's SDEs; supported: "
        "DDPMScheduler (linear betas, epsilon prediction) → VPSDE, ScoreSdeVeScheduler → VESDE"
    )
