r"""Published diffusers score networks as library networks (docs/design.md §Published score networks).

``sde, net = from_diffusers(unet, scheduler)`` turns a diffusers ``UNet2DModel`` and the scheduler
it was trained with into the forward SDE and a network in the library's conventions, so that
``get_score_fn(sde, net)`` — and through it every sampler, ``DiNof``, the likelihoods and the
CLI — uses it unchanged. A hub id or a local folder works too: ``from_diffusers("google/ddpm-cifar10-32")``.

- ``DDPMScheduler`` (linear β, ε-prediction; Ho et al. 2020) → ``VPSDE(N β_start, N β_end, N)``,
  whose :math:`\beta(t_i)/N` at :math:`t_i = i/(N-1)` are the scheduler's betas. ``net`` predicts
  the noise, as the library's VP networks do; the UNet is given the fractional DDPM timestep
  :math:`\tau(t)` at which the chain's marginal equals the SDE's:
  :math:`\bar\alpha(\tau) = a(t)^2`, with :math:`\log\bar\alpha` interpolated linearly between
  integer timesteps and :math:`\bar\alpha(-1) = 1`. So :math:`s(t) = \sqrt{1 - \bar\alpha_i}` at
  the DDPM timestep ``i`` exactly, and ``score = −ε_θ(x, i) / √(1 − ᾱ_i)`` there.
- ``ScoreSdeVeScheduler`` with an NCSN++ ``UNet2DModel(time_embedding_type="fourier")``
  (Song et al. 2021) → ``VESDE(σ_min, σ_max, N, exact_marginal=False)``. The UNet is given
  :math:`\sigma(t)` and returns the score (it divides its last layer by σ itself), so
  ``net = s(t) · unet(x, σ(t))``, the σ-scaled output of the library's VE networks.

``net.data_range`` is the pixel range the network was trained on (DDPM ``(−1, 1)``, NCSN++
``(0, 1)``) and ``net.sde_spec`` the SDE as ``{"name", "params"}`` (what ``get_sde`` rebuilds).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import torch
from torch import Tensor, nn

from dinof_lite.sde import SDE, SDES, VESDE, VPSDE

__all__ = ["from_diffusers", "load_pretrained", "HubUnavailable", "DDPMNet", "NCSNppNet"]

PROBE_TIMEOUT_S = 5.0
"""Seconds to wait for a TCP connection to the hub before declaring it unreachable."""

INSTALL_HINT = 'pip install -e ".[hub]" (or pip install "diffusers>=0.30")'


class HubUnavailable(ConnectionError):
    """A hub id is neither cached nor downloadable now; the message names it and how to get it."""


def _import_diffusers():
    try:
        import diffusers
    except ImportError as err:
        raise ModuleNotFoundError(f"from_diffusers needs diffusers: {INSTALL_HINT}") from err
    return diffusers


# ----- the networks -----------------------------------------------------------------------
class DiffusersNet(nn.Module):
    """A diffusers ``UNet2DModel`` called as a library network ``net(x (B, C, H, W), label (B,))``.

    Attributes: ``unet``, ``sde`` (the SDE it was trained on), ``data_range`` and ``sde_spec``.
    """

    def __init__(self, unet: nn.Module, sde: SDE, data_range: tuple[float, float]) -> None:
        super().__init__()
        self.unet, self.sde = unet, sde
        self.data_range = (float(data_range[0]), float(data_range[1]))
        name = next(key for key, cls in SDES.items() if cls is type(sde))
        self.sde_spec = {"name": name, "params": sde.params()}

    def call_unet(self, x: Tensor, timestep: Tensor) -> Tensor:
        """The UNet's output on ``x`` at ``timestep`` (B,), in ``x``'s dtype."""
        out = self.unet(x.to(self.unet.dtype), timestep.to(torch.float32)).sample
        return out.to(x.dtype)


class DDPMNet(DiffusersNet):
    """ε-prediction at the DDPM timestep matched to the VP SDE's marginal (see the module doc)."""

    def __init__(self, unet, sde: VPSDE, betas: Tensor, data_range) -> None:
        super().__init__(unet, sde, data_range)
        log_alphas_cumprod = torch.cumsum(torch.log1p(-betas.double()), 0)
        # −log ᾱ for timesteps −1, 0, …, N−1 (increasing); not a buffer, so .half() keeps it exact
        self.neg_log_alphas_cumprod = torch.cat([torch.zeros(1, dtype=torch.float64), -log_alphas_cumprod])

    def timestep(self, t: Tensor) -> Tensor:
        """The fractional DDPM timestep ``τ(t)`` (B,) with ``ᾱ(τ) = a(t)²``; ``τ(0) = −1``."""
        dtype = torch.float32 if t.device.type == "mps" else torch.float64
        table = self.neg_log_alphas_cumprod.to(t.device, dtype)
        target = -2.0 * self.sde.log_mean_coeff(t.to(dtype))  # −log a(t)²
        k = torch.searchsorted(table, target.contiguous()).clamp(1, len(table) - 1)
        lo, hi = table[k - 1], table[k]
        return (k - 2).to(dtype) + (target - lo) / (hi - lo)

    def timestep_time(self, timesteps: Tensor) -> Tensor:
        """The SDE time ``t_i`` (float64) of integer DDPM timesteps ``i``: ``a(t_i)² = ᾱ_i``.

        The inverse of :meth:`timestep`; ``t_{N−1}`` lies a little beyond ``T = 1`` (the chain's
        last ``ᾱ`` is below ``a(1)²``), so the SDE's ``[0, T]`` covers timesteps ``−1 … ≈ N − 4``.
        """
        neg_log_ac = self.neg_log_alphas_cumprod[1:][torch.as_tensor(timesteps).long()]
        lam = -0.5 * (neg_log_ac + torch.log(-torch.expm1(-neg_log_ac)))  # ½ log(ᾱ / (1 − ᾱ))
        return self.sde.time_from_log_snr_half(lam)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        t = self.sde.label_to_time(label)
        return self.call_unet(x, self.timestep(t))  # ε: score = −ε / s(t), s(t) = √(1 − ᾱ(τ))


class NCSNppNet(DiffusersNet):
    """The NCSN++ UNet's score, σ-scaled as the library's VE networks: ``s(t) · unet(x, σ(t))``."""

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
        raise _refuse("a class-conditional UNet2DModel", cfg.num_class_embeds, "no class labels")
    if cfg.in_channels != cfg.out_channels:
        raise _refuse(
            "UNet2DModel out_channels",
            cfg.out_channels,
            f"a score has in_channels = {cfg.in_channels} channels",
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
    r = float(cfg.get("clip_sample_range", 1.0))
    return sde, DDPMNet(unet, sde, betas, (-r, r))


def _score_sde_ve(unet, cfg) -> tuple[VESDE, NCSNppNet]:
    _check_unet(unet, "fourier", "ScoreSdeVeScheduler")
    sde = VESDE(
        sigma_min=cfg.sigma_min,
        sigma_max=cfg.sigma_max,
        N=int(cfg.num_train_timesteps),
        exact_marginal=False,
    )
    return sde, NCSNppNet(unet, sde, (0.0, 1.0))


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
        ``sde`` (a ``VPSDE`` or ``VESDE``) and ``net`` (an ``nn.Module`` with ``data_range`` and
        ``sde_spec``) for ``get_score_fn(sde, net)``.

    Raises:
        HubUnavailable: a hub id that is not cached while offline (within ``PROBE_TIMEOUT_S``).
    """
    diffusers = _import_diffusers()
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
        return _ddpm(model, scheduler.config)
    if isinstance(scheduler, diffusers.ScoreSdeVeScheduler):
        return _score_sde_ve(model, scheduler.config)
    raise ValueError(
        f"cannot map scheduler {type(scheduler).__name__} onto the library's SDEs; supported: "
        "DDPMScheduler (linear betas, epsilon prediction) → VPSDE, ScoreSdeVeScheduler → VESDE"
    )


# ----- hub ids ----------------------------------------------------------------------------
def load_pretrained(repo_id: str, *, cache_dir: str | os.PathLike | None = None):
    """``(unet, scheduler)`` of a hub id or local folder: the cache first, the hub only if online.

    Both layouts are read: a pipeline repository (``unet/``, ``scheduler/``) and a flat one
    (``config.json``, ``scheduler_config.json``). Weights load through diffusers (safetensors,
    or ``torch.load(weights_only=True)``).
    """
    diffusers = _import_diffusers()
    try:
        return _load(diffusers, repo_id, cache_dir, local_files_only=True)
    except OSError as err:
        if os.path.isdir(repo_id):
            raise ValueError(
                f"folder {repo_id!r} holds no diffusers UNet2DModel with its scheduler: {err}"
            ) from None
    why = _offline_reason()
    if why is not None:
        from huggingface_hub import constants

        cache = os.fspath(cache_dir) if cache_dir is not None else constants.HF_HUB_CACHE
        raise HubUnavailable(
            f"{repo_id!r} is not in the Hugging Face cache ({cache}) and cannot be downloaded "
            f"now: {why}. Download it once with internet access — `huggingface-cli download "
            f"{repo_id}` (or run from_diffusers({repo_id!r}) once online) — into the same "
            "cache (HF_HOME / HF_HUB_CACHE); HF_HUB_OFFLINE=1 then keeps later runs offline."
        )
    return _load(diffusers, repo_id, cache_dir, local_files_only=False)


def _first_layout(load: Callable[[str | None], Any], subfolder: str) -> Any:
    """``load(subfolder)``, or ``load(None)`` for a flat repository."""
    try:
        return load(subfolder)
    except OSError:
        return load(None)


def _load(diffusers, repo_id: str, cache_dir, local_files_only: bool):
    kw = {"cache_dir": cache_dir, "local_files_only": local_files_only}
    unet = _first_layout(
        lambda sub: diffusers.UNet2DModel.from_pretrained(repo_id, subfolder=sub, **kw), "unet"
    )
    config = _first_layout(
        lambda sub: diffusers.DDPMScheduler.load_config(repo_id, subfolder=sub, **kw), "scheduler"
    )
    name = config.get("_class_name")
    cls = getattr(diffusers, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        raise ValueError(f"{repo_id!r}: its scheduler config names {name!r}, no diffusers scheduler")
    return unet, cls.from_config(config)


def _offline_reason() -> str | None:
    """Why the hub cannot be reached now (``HF_HUB_OFFLINE``, no TCP connection), or None."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}:
        return "HF_HUB_OFFLINE is set"
    url = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or constants.ENDPOINT
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _unreachable(parts.hostname or "", port, PROBE_TIMEOUT_S)


def _unreachable(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection to ``host:port`` opens within ``timeout`` s, else the reason.

    The connection (name lookup included, which ``socket`` cannot time out) runs in a daemon
    thread, so a black-holed network costs ``timeout`` seconds, not the HTTP client's retries.
    """
    errors: list[str] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as err:
            errors.append(f"cannot connect to {host}:{port} ({err})")

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"no connection to {host}:{port} within {timeout:g} s"
    return errors[0] if errors else None
