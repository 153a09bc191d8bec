"""DiNof sampling: one deterministic flow pass, then the reverse SDE from ``T_m`` (SPEC §4).

``z ~ N(0, I)`` → ``x(T_m) = flow⁻¹(z)`` (the flow's layers ``h_M = z, …, h_0 = x(T_m)``, DiNof
Eq. 8, read backwards) → predictor–corrector sampler from ``T_m`` down to ``eps`` with
``round(N·T_m)`` steps: a fraction ``1 − T_m`` of the plain sampler's network evaluations is saved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from dinof_lite.sampling import pc_sample
from dinof_lite.utils import randn

__all__ = ["DiNofSample", "dinof_sample", "PC_DEFAULTS", "default_pc"]

#: (predictor, corrector) per SDE, as in the authors' configs (SPEC §4): NCSN++ (VE) uses reverse
#: diffusion + Langevin, DDPM++ (VP, sub-VP) Euler–Maruyama alone.
PC_DEFAULTS = {
    "ve": ("reverse_diffusion", "langevin"),
    "vp": ("euler_maruyama", "none"),
    "subvp": ("euler_maruyama", "none"),
}


def default_pc(sde) -> tuple[str, str]:
    """The (predictor, corrector) pair :data:`PC_DEFAULTS` gives ``sde``."""
    return PC_DEFAULTS[sde.name]


@dataclass
class DiNofSample:
    """What :func:`dinof_sample` returns with ``return_trajectory`` or ``return_info``.

    Attributes:
        x: (B, *dims) final samples ``x(eps)`` (the last predictor mean if ``denoise``).
        x_Tm: (B, *dims) the flow's output, start of the reverse SDE.
        z: (B, *dims) the Gaussian latent (already multiplied by the temperature).
        T_m: hand-over time; n_steps: reverse-SDE predictor steps.
        nfe: score-network evaluations (the flow's single pass is not counted).
        n_flow_layers: M, the layers of the flow's pass (``len(flow.layer_names())``).
        flow_states: (F, B, *dims) ``[z, …, x_Tm]``, the deterministic part in sampling order
            (every ``flow_every``-th layer), or None.
        flow_layers: F labels: ``"z"``, the inverted layers' names (``"L1.K3.coupling⁻¹"``),
            ``"x(T_m)"``; or None.
        sde_states: (S, B, *dims) ``[x_Tm, …, x]``, the stochastic part (every
            ``trajectory_every``-th step), or None; sde_times: (S,) their times, ``T_m`` → ``eps``.
        flow_time_s, sde_time_s: wall-clock seconds of the two parts.
    """

    x: Tensor
    x_Tm: Tensor
    z: Tensor
    T_m: float
    n_steps: int
    nfe: int
    n_flow_layers: int = 0
    flow_states: Tensor | None = None
    flow_layers: list[str] | None = None
    sde_states: Tensor | None = None
    sde_times: Tensor | None = None
    flow_time_s: float = 0.0
    sde_time_s: float = 0.0


def _flow_labels(flow, every: int) -> list[str]:
    names = flow.layer_names()
    m = len(names)
    return [
        "z" if i == 0 else "x(T_m)" if i == m else f"{names[m - i]}⁻¹"
        for i in flow.intermediate_indices(every)
    ]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def dinof_sample(
    model,
    n: int,
    *,
    T_m: float | None = None,
    n_steps: int | None = None,
    predictor: str | None = None,
    corrector: str | None = None,
    snr: float = 0.16,
    n_corrector_steps: int = 1,
    temperature: float = 1.0,
    denoise: bool = True,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
    trajectory_every: int = 1,
    flow_every: int = 1,
    return_info: bool = False,
    progress: bool = False,
):
    """Draw ``n`` DiNof samples (SPEC §4; DiNof §4, sampling).

    Args:
        model: a :class:`~dinof_lite.dinof.DiNof`.
        n: number of samples.
        T_m: hand-over time (default ``model.T_m``); any value in ``model.T_m_range`` for an
            any-T_m model.
        n_steps: reverse-SDE steps from ``T_m`` to ``eps`` (default ``round(N·T_m/T)``).
        predictor, corrector: registry names; default per SDE (:data:`PC_DEFAULTS`).
        snr, n_corrector_steps: Langevin corrector settings (paper: 0.16 CIFAR-10, 0.17 CelebA-HQ).
        temperature: scales ``z`` (1 in the paper).
        denoise: return the last predictor mean (no noise at the last step).
        generator: the source of all noise (latent, predictor, corrector): same seed, same samples.
        return_trajectory: record both parts (see :class:`DiNofSample`); ``trajectory_every``
            and ``flow_every`` keep only every k-th SDE step / flow layer so memory stays bounded
            on images (only the kept states are ever stored).
        return_info: return a :class:`DiNofSample` even without a trajectory.
        progress: a ``tqdm.auto`` bar over the SDE steps.

    Returns:
        ``x (n, *dims)``, or a :class:`DiNofSample` with ``return_trajectory`` / ``return_info``.
    """
    T_m = model.resolve_T_m(T_m)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0; got {temperature}")
    if n_steps is None:
        n_steps = max(1, round(model.sde.N * T_m / model.sde.T))
    default_pred, default_corr = default_pc(model.sde)
    ref = next(model.flow.parameters())
    z = temperature * randn((n, *model.dims), generator, ref.device, ref.dtype)

    t0 = time.perf_counter()
    ctx = model.context(T_m, n)
    flow_states = flow_layers = None
    if return_trajectory:
        x_Tm, states = model.flow.inverse(z, ctx, return_intermediates=True, every=flow_every)
        flow_states, flow_layers = torch.stack(states), _flow_labels(model.flow, flow_every)
    else:
        x_Tm = model.flow.inverse(z, ctx)
    _sync(ref.device)
    t1 = time.perf_counter()
    if not torch.isfinite(x_Tm).all():
        raise FloatingPointError(
            f"the flow's inverse produced NaN/inf at T_m={T_m} (an untrained "
            "or diverged flow); try a lower temperature"
        )
    res = pc_sample(
        model.sde,
        model.score_fn,
        x_Tm,
        t_start=T_m,
        n_steps=n_steps,
        predictor=predictor or default_pred,
        corrector=corrector or default_corr,
        snr=snr,
        n_corrector_steps=n_corrector_steps,
        eps=model.eps,
        denoise=denoise,
        return_trajectory=return_trajectory,
        trajectory_every=trajectory_every,
        return_info=True,
        generator=generator,
        progress=progress,
    )
    _sync(ref.device)
    t2 = time.perf_counter()
    if not (return_trajectory or return_info):
        return res.x
    return DiNofSample(
        x=res.x,
        x_Tm=x_Tm,
        z=z,
        T_m=T_m,
        n_steps=int(n_steps),
        nfe=res.nfe,
        n_flow_layers=len(model.flow.layer_names()),
        flow_states=flow_states,
        flow_layers=flow_layers,
        sde_states=res.trajectory,
        sde_times=res.times,
        flow_time_s=t1 - t0,
        sde_time_s=t2 - t1,
    )
