"""Checks for exercise (d): Glow's affine coupling, its log-determinant and inverse (Glow §3.3).

The student writes, for ``x (B, C)`` split as ``x_a = x[:, :C − C//2]`` (conditions) and
``x_b = x[:, C − C//2:]`` (moves), with ``shift, log_s = net(x_a)`` (each ``(B, C//2)``):

- ``coupling_forward(x, net) -> (y, logdet)``: ``y = [x_a, (x_b + shift)·exp(log_s)]``,
  ``logdet = Σ log_s`` (B,);
- ``coupling_inverse(y, net) -> (x, logdet)``: ``x_b = y_b·exp(−log_s) − shift``, ``−Σ log_s``.

Both are compared with :class:`dinof_lite.flows.coupling.AffineCoupling` (random, non-zero
weights) and the log-det with an autograd Jacobian of the student's own map.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dinof_lite.coursework.checks._core import (
    CheckResult,
    Failed,
    close,
    diagnose,
    expect_tensor,
    fmt,
    run_check,
)
from dinof_lite.flows.coupling import AffineCoupling

__all__ = ["check_coupling_forward", "check_coupling_inverse", "reference_coupling"]

_B, _C = 4, 5
_HINT = (
    f"with C = {_C} channels x_a = x[:, :C - C // 2] has 3 and x_b = x[:, C - C // 2:] has 2; "
    "net(x_a) returns (shift, log_s), each shaped like x_b."
)


def reference_coupling(seed: int = 0, channels: int = _C) -> tuple[AffineCoupling, Callable]:
    """An :class:`AffineCoupling` with random weights and its ``net(x_a) -> (shift, log_s)``."""
    layer = AffineCoupling(channels, hidden=16, image=False)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)))
            seed += 1
    return layer, (lambda x_a: layer._shift_and_log_scale(x_a, None))


def _guarded(net: Callable, what: str) -> Callable:
    """``net`` that fails the check, naming the mistake, when it is given the wrong half."""
    k = _C - _C // 2

    def guarded(x_a: Tensor) -> tuple[Tensor, Tensor]:
        if not isinstance(x_a, Tensor) or x_a.dim() != 2 or x_a.shape[1] != k:
            width = tuple(x_a.shape) if isinstance(x_a, Tensor) else type(x_a).__name__
            raise Failed(
                f"wrong split: net takes the conditioning half x_a = {what}[:, :C − C//2], "
                f"{k} of the C = {_C} channels, shape ({_B}, {k}); you gave it {width}. "
                f"x_b = {what}[:, C − C//2:] ({_C // 2} channels) is the half that moves."
            )
        return net(x_a)

    return guarded


def _last_half_conditions(x: Tensor, net: Callable) -> dict[str, Tensor]:
    """The coupling that conditions on the *last* C − C//2 channels and moves the first C//2."""
    k = _C // 2
    shift, log_s = net(x[:, k:])
    return {
        f"wrong split: the conditioning half is x_a = x[:, :C − C//2] (the first {_C - k} "
        f"channels) and x_b = x[:, C − C//2:] moves; you conditioned on the last {_C - k} "
        f"channels and moved the first {k}.": torch.cat(
            [(x[:, :k] + shift) * log_s.exp(), x[:, k:]], 1
        )
    }


def _inputs() -> Tensor:
    return torch.randn(_B, _C, generator=torch.Generator().manual_seed(3))


def _pair(out: object, name: str, what: str) -> tuple[Tensor, Tensor]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Failed(f"{name} must return a pair ({what}, logdet), got {type(out).__name__}.")
    y, logdet = out
    y = expect_tensor(y, (_B, _C), what, "The coupling keeps the input's shape.")
    if isinstance(logdet, Tensor) and logdet.shape == (_B, _C // 2):
        raise Failed(
            "log-det not summed: return one log-determinant per example, Σ_j log_s_j "
            f"over the moved dimensions, shape ({_B},); yours is {tuple(logdet.shape)}."
        )
    if isinstance(logdet, Tensor) and logdet.dim() == 0:
        raise Failed(
            "log-det summed over the batch: sum over the moved dimensions only, one "
            f"value per example, shape ({_B},)."
        )
    return y, expect_tensor(logdet, (_B,), "logdet", "One log-determinant per example.")


def _jacobian_logdet(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``log|det ∂fn/∂x|`` per example ``(B,)`` via autograd (fn acts on each row separately)."""
    out = []
    for row in x:
        jac = torch.autograd.functional.jacobian(lambda r: fn(r[None])[0], row)
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


def check_coupling_forward(coupling_forward: Callable) -> CheckResult:
    """Grade ``coupling_forward(x, net)`` against ``AffineCoupling.forward``."""
    layer, net = reference_coupling()

    def grade() -> str:
        x = _inputs()
        y, logdet = _pair(coupling_forward(x.clone(), _guarded(net, "x")), "coupling_forward", "y")
        with torch.no_grad():
            ref_y, ref_ld = layer(x)
            k = _C - _C // 2
            x_a, x_b = x[:, :k], x[:, k:]
            shift, log_s = net(x_a)
        if not close(y, ref_y):
            diagnose(
                y,
                {
                    "using log_s as the scale: multiply by s = exp(log_s), not by log_s.": torch.cat(
                        [x_a, (x_b + shift) * log_s], 1
                    ),
                    "order of shift and scale: this Glow shifts first, y_b = (x_b + shift)·s "
                    "(you computed x_b·s + shift).": torch.cat([x_a, x_b * log_s.exp() + shift], 1),
                    "dividing instead of multiplying: y_b = (x_b + shift)·exp(log_s).": torch.cat(
                        [x_a, (x_b + shift) * (-log_s).exp()], 1
                    ),
                    "halves swapped: keep the conditioning half x_a first, unchanged: "
                    "y = [x_a, y_b].": torch.cat([(x_b + shift) * log_s.exp(), x_a], 1),
                    **_last_half_conditions(x, net),
                },
            )
            raise Failed(
                f"y differs from AffineCoupling's output by up to {fmt((y - ref_y).abs().max())}."
            )
        if not close(logdet, ref_ld):
            diagnose(
                logdet,
                {
                    "log-det sign: the forward map scales by s, so log|det| = +Σ log_s.": -ref_ld,
                    "wrong log-det: sum log_s, not s = exp(log_s).": log_s.exp().sum(1),
                    "wrong log-det: take the sum over the moved dimensions, not the mean.": log_s.mean(
                        1
                    ),
                },
            )
            jac = _jacobian_logdet(lambda v: coupling_forward(v, net)[0], x)
            raise Failed(
                f"wrong log-det: autograd's log|det ∂y/∂x| of your map is "
                f"{fmt(jac[0])} for the first example, your logdet is {fmt(logdet[0])}."
            )
        jac = _jacobian_logdet(lambda v: coupling_forward(v, net)[0], x)
        if not close(jac, logdet, 1e-4):
            raise Failed("the log-det does not match autograd's Jacobian of your map.")
        return "y and logdet match AffineCoupling, and logdet equals autograd's log|det J|."

    return run_check("coupling_forward", "(d)", grade, hint=_HINT)


def check_coupling_inverse(coupling_inverse: Callable) -> CheckResult:
    """Grade ``coupling_inverse(y, net)``: it must undo ``AffineCoupling.forward`` exactly and
    return ``−logdet``."""
    layer, net = reference_coupling()

    def grade() -> str:
        x = _inputs()
        with torch.no_grad():
            y, ld = layer(x)
            k = _C - _C // 2
            y_a, y_b = y[:, :k], y[:, k:]
            shift, log_s = net(y_a)
        x_rec, logdet = _pair(
            coupling_inverse(y.clone(), _guarded(net, "y")), "coupling_inverse", "x"
        )
        if not close(x_rec, x, 1e-4):
            diagnose(
                x_rec,
                {
                    "inverse not inverting: undo the steps in reverse order, first divide by s "
                    "then subtract the shift: x_b = y_b·exp(−log_s) − shift.": torch.cat(
                        [y_a, (y_b - shift) * (-log_s).exp()], 1
                    ),
                    "inverse not inverting: divide by s = exp(log_s), i.e. multiply by "
                    "exp(−log_s).": torch.cat([y_a, y_b * log_s.exp() - shift], 1),
                    "inverse not inverting: add the shift back with a minus sign, x_b = "
                    "y_b·exp(−log_s) − shift.": torch.cat([y_a, y_b * (-log_s).exp() + shift], 1),
                    "inverse not inverting: you applied the forward map again.": torch.cat(
                        [y_a, (y_b + shift) * log_s.exp()], 1
                    ),
                },
                tol=1e-4,
            )
            raise Failed(
                f"inverse not inverting: f⁻¹(f(x)) differs from x by up to "
                f"{fmt((x_rec - x).abs().max())}."
            )
        if not close(logdet, -ld, 1e-4):
            diagnose(
                logdet,
                {
                    "log-det sign: the inverse's log-det is −Σ log_s (it undoes the scaling).": ld,
                    "wrong log-det: −Σ log_s, not a sum of s = exp(log_s).": -log_s.exp().sum(1),
                },
                tol=1e-4,
            )
            raise Failed(
                f"wrong log-det: expected −Σ log_s = {fmt(-ld[0])} for the first example, "
                f"got {fmt(logdet[0])}."
            )
        return "f⁻¹(f(x)) = x and the inverse's log-det is −(forward log-det)."

    return run_check("coupling_inverse", "(d)", grade, hint=_HINT)
