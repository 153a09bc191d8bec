"""The shared flow-layer check (tests/flow_check.py) passes a right layer and catches wrong ones,
and the FlowLayer base class is abstract, adds no state, and its docstring example is a valid
layer."""

from __future__ import annotations

import re

import pytest
import torch

from dinof_lite.flows import AffineCoupling, FlowLayer, base
from tests.flow_check import check_flow_layer, perturb


class Broken(FlowLayer):
    """A correct coupling with one deliberate mistake, named by ``mode``."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inner = perturb(AffineCoupling(3, 8, image=False, context_dim=2).double())
        self.mode = mode

    def forward(self, x, context=None):
        y, logdet = self.inner(x, context)
        if self.mode == "sign":  # both directions flipped: consistent, but not log|det J|
            logdet = -logdet
        elif self.mode == "constant":
            logdet = logdet + 0.1
        elif self.mode == "shape":
            logdet = logdet[:, None]
        elif self.mode == "batch":  # invertible, but y_b depends on the batch (its size)
            y = y + 1e-3 * (x.shape[0] - 1)
        return y, logdet

    def inverse(self, y, context=None):
        x, logdet = self.inner.inverse(y, context)
        if self.mode == "sign":
            logdet = -logdet
        elif self.mode == "constant":
            logdet = logdet - 0.1
        elif self.mode == "inverse_sign":  # the inverse's log-det not negated
            logdet = -logdet
        elif self.mode == "inverse":  # not quite the inverse
            x = x * (1 + 1e-4)
        elif self.mode == "shape":
            logdet = logdet[:, None]
        elif self.mode == "batch":
            x, logdet = self.inner.inverse(y - 1e-3 * (y.shape[0] - 1), context)
        return x, logdet


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(
        4, 2, generator=g, dtype=torch.float64
    )


def test_a_right_layer_passes():
    x, ctx = _inputs()
    y, logdet = check_flow_layer(Broken("none"), x, ctx)
    assert y.shape == x.shape and logdet.shape == (4,)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("sign", "log|det| of its Jacobian"),
        ("constant", "log|det| of its Jacobian"),
        ("inverse_sign", "inverse log-det != −forward's"),
        ("inverse", r"inverse\(forward\(x\)\) != x"),
        ("shape", r"log-det must have shape \(4,\)"),
        ("batch", "alone != its batched row"),
    ],
)
def test_a_wrong_layer_fails(mode, message):
    x, ctx = _inputs()
    with pytest.raises(AssertionError, match=message):
        check_flow_layer(Broken(mode), x, ctx)


def test_flow_layer_is_abstract_and_adds_no_state():
    with pytest.raises(TypeError, match="abstract"):
        FlowLayer()

    class ForwardOnly(FlowLayer):
        def forward(self, x, context=None):
            return x, x.new_zeros(x.shape[0])

    with pytest.raises(TypeError, match="inverse"):
        ForwardOnly()
    coupling = AffineCoupling(4, 8, image=False)
    assert isinstance(coupling, torch.nn.Module)
    assert all(k.startswith("net.") for k in coupling.state_dict())


def test_the_docstring_example_is_a_valid_flow_layer():
    block = re.search(r"::\n\n((?:    .*\n|\n)+)", base.__doc__).group(1)
    scope = {"FlowLayer": FlowLayer, "nn": torch.nn, "torch": torch}
    exec(compile(block.replace("\n    ", "\n").strip(), "base.py", "exec"), scope)
    layer = perturb(scope["Scale"](3).double())
    check_flow_layer(layer, torch.randn(2, 3, 4, 4, dtype=torch.float64))
    check_flow_layer(layer, torch.randn(5, 3, dtype=torch.float64))
