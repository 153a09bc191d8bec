"""How far each part of DiNof moves when it runs under a :class:`~dinof_lite.precision.Precision`.

Every function compares a model under ``precision`` with the same model in float32 on the same
inputs and random draws, and returns plain floats:

- :func:`flow_errors`: the flow's log-density (in bits/dim) and its inverse;
- :func:`score_net_error`: the score network's output (relative RMS and max);
- :func:`joint_step_agreement`: one joint DiNof loss and its gradients (cosine similarity per
  network and over all parameters);
- :func:`likelihood_error`: DiNof's exact bits/dim through the probability-flow ODE.

``python -m dinof_lite bench precision`` runs them on the paper's sizes; the tests on small ones.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dinof_lite.dinof import DiNof, training_loss
from dinof_lite.precision import Precision

__all__ = ["flow_errors", "score_net_error", "joint_step_agreement", "likelihood_error"]


def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@torch.no_grad()
def flow_errors(
    flow: nn.Module, x: Tensor, precision: Precision, context: Tensor | None = None
) -> dict[str, float]:
    """``{"logp_bpd", "inverse"}``: the largest change over the batch of ``log p(x)`` in bits
    per dimension, and of ``inverse(z)`` with ``z`` the float32 latents of ``x`` (so the
    inverse is tested where the data are)."""
    dim = math.prod(x.shape[1:])
    logp = flow.log_prob(x, context)
    z = flow(x, context)[0]
    x_back = flow.inverse(z, context)
    with precision.autocast():
        logp_p = flow.log_prob(x, context)
        x_back_p = flow.inverse(z, context)
    return {
        "logp_bpd": float((logp_p.float() - logp).abs().max()) / (dim * math.log(2)),
        "inverse": float((x_back_p.float() - x_back).abs().max()),
        "round_trip_float32": float((x_back - x).abs().max()),
    }


@torch.no_grad()
def score_net_error(
    model: DiNof, x0: Tensor, precision: Precision, seed: int = 0
) -> dict[str, float]:
    """The score network's output at ``x_t`` (``t ~ U(train_eps, T_m)``, as in training) under
    ``precision`` against float32: ``{"rel_rms", "rel_max"}`` (relative to the float32 output's
    RMS)."""
    g = _generator(seed, x0.device)
    hi = model.T_m_range[1] if model.any_T_m else model.T_m
    t = model.train_eps + (hi - model.train_eps) * torch.rand(
        x0.shape[0], generator=g, device=x0.device
    )
    z = torch.randn(x0.shape, generator=g, device=x0.device)
    a, s = model.sde.marginal_coeffs(t)
    x_t = a.view(-1, *[1] * (x0.dim() - 1)) * x0 + s.view(-1, *[1] * (x0.dim() - 1)) * z
    label = model.sde.noise_label(t)
    out = model.score_net(x_t, label)
    with precision.autocast():
        out_p = model.score_net(x_t, label).float()
    rms = out.pow(2).mean().sqrt()
    return {
        "rel_rms": float((out_p - out).pow(2).mean().sqrt() / rms),
        "rel_max": float((out_p - out).abs().max() / rms),
    }


def _cosine(a: list[Tensor], b: list[Tensor]) -> float:
    va = torch.cat([g.flatten() for g in a]).double()
    vb = torch.cat([g.flatten() for g in b]).double()
    return float(va @ vb / (va.norm() * vb.norm()))


def _grads(model: DiNof, x0: Tensor, seed: int, precision: Precision | None):
    model.zero_grad(set_to_none=True)
    g = _generator(seed, x0.device)
    if precision is None:
        loss = training_loss(model, x0, g)
    else:
        with precision.autocast():
            loss = training_loss(model, x0, g)
    loss = loss.float()
    loss.backward()
    grads = {
        name: [p.grad.detach().clone() for p in part.parameters() if p.grad is not None]
        for name, part in (("score_net", model.score_net), ("flow", model.flow))
    }
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


def joint_step_agreement(
    model: DiNof, x0: Tensor, precision: Precision, seed: int = 0
) -> dict[str, float]:
    """One joint loss and its gradients under ``precision`` against float32 (same noise):
    ``{"loss", "loss_float32", "loss_rel", "finite", "cos_score_net", "cos_flow", "cos_all"}``."""
    loss, g32 = _grads(model, x0, seed, None)
    loss_p, gp = _grads(model, x0, seed, precision)
    finite = math.isfinite(loss_p) and all(
        bool(torch.isfinite(t).all()) for part in gp.values() for t in part
    )
    return {
        "loss": loss_p,
        "loss_float32": loss,
        "loss_rel": abs(loss_p - loss) / abs(loss),
        "finite": float(finite),
        "cos_score_net": _cosine(gp["score_net"], g32["score_net"]),
        "cos_flow": _cosine(gp["flow"], g32["flow"]),
        "cos_all": _cosine(gp["score_net"] + gp["flow"], g32["score_net"] + g32["flow"]),
    }


def likelihood_error(
    model: DiNof,
    x: Tensor,
    precision: Precision,
    *,
    data_range: tuple[float, float] = (0.0, 1.0),
    T_m: float | None = None,
    rtol: float = 1e-3,
    seed: int = 0,
) -> dict[str, float]:
    """DiNof's bits/dim of ``x`` (dequantised) under ``precision`` against float32 (same
    Hutchinson probes): ``{"bpd_float32", "bpd", "max_abs"}``."""

    def bpd() -> Tensor:
        return model.bits_per_dim(
            x,
            data_range=data_range,
            T_m=T_m,
            rtol=rtol,
            atol=rtol,
            generator=_generator(seed, x.device),
        )

    ref = bpd()
    with precision.autocast():
        got = bpd()
    return {
        "bpd_float32": float(ref.mean()),
        "bpd": float(got.float().mean()),
        "max_abs": float((got.float() - ref).abs().max()),
    }
