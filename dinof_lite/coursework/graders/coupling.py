"""A3, exercise (d): Glow's affine coupling and its inverse, graded outside the kernel.

The coupling network stays in the grader's process (the answer calls it back; the check's
autograd Jacobian of the answer's map runs through both processes). Secret part: a coupling
with a drawn number of channels (odd and even splits) and drawn weights, on a drawn batch,
against :class:`~dinof_lite.flows.coupling.AffineCoupling` computed here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks._core import Failed
from dinof_lite.coursework.checks.coupling import reference_coupling
from dinof_lite.coursework.graders._core import LIBRARY, Exercise, combined, expect_close, secret

__all__ = ["EXERCISES"]

_NAMES = {"torch": "torch"}
_FORBIDDEN = {name: LIBRARY.format(name) for name in ("reference_coupling", "AffineCoupling")}


def _drawn(rng: torch.Generator):
    channels = (3, 4, 6, 7)[int(torch.randint(4, (), generator=rng))]
    seed = int(torch.randint(1, 10_000, (), generator=rng))
    layer, net = reference_coupling(seed, channels)
    x = torch.randn(int(torch.randint(3, 9, (), generator=rng)), channels, generator=rng)
    return layer, net, x, f"with C = {channels} channels and drawn weights"


def _pair(out, what: str) -> tuple:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Failed(f"return a pair ({what}, logdet), got {type(out).__name__}.")
    return out


def grade_forward(answer: Callable, rng: torch.Generator):
    layer, net, x, where = _drawn(rng)

    def grade() -> str:
        y, logdet = _pair(answer(x, net), "y")
        with torch.no_grad():
            ref_y, ref_ld = layer(x)
        expect_close(y, ref_y, "y", 1e-5)
        expect_close(logdet, ref_ld, "logdet", 1e-5)
        return "right."

    default = checks.check_coupling_forward(answer)
    drawn = secret("coupling_forward", "(d.1)", grade) if default.passed else default
    return combined(default, drawn, where)


def grade_inverse(answer: Callable, rng: torch.Generator):
    layer, net, x, where = _drawn(rng)

    def grade() -> str:
        with torch.no_grad():
            y, ld = layer(x)
        x_rec, logdet = _pair(answer(y, net), "x")
        expect_close(x_rec, x, "f⁻¹(f(x))", 1e-4)
        expect_close(logdet, -ld, "logdet", 1e-4)
        return "right."

    default = checks.check_coupling_inverse(answer)
    drawn = secret("coupling_inverse", "(d.2)", grade) if default.passed else default
    return combined(default, drawn, where)


EXERCISES = [
    Exercise(
        "coupling_forward", "check_coupling_forward", "(d.1)", grade_forward, _FORBIDDEN,
        names=_NAMES,
    ),
    Exercise(
        "coupling_inverse", "check_coupling_inverse", "(d.2)", grade_inverse, _FORBIDDEN,
        names=_NAMES,
    ),
]  # fmt: skip
