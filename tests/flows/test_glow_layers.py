"""Each Glow layer alone: the flow-layer contract (exact inverse both ways, log-det against the
autograd Jacobian, inverse log-det, shapes; :func:`tests.flow_check.check_flow_layer`), and the
properties of Kingma & Dhariwal 2018, §3, and docs/design.md §Flow numerics (ActNorm's
data-dependent init, LU weight, zero-initialised coupling, bounded scales, squeeze layout)."""

from __future__ import annotations

import io
import math

import pytest
import torch

from dinof_lite.flows import (
    ActNorm,
    AffineCoupling,
    FlowLayer,
    FlowStep,
    GaussianPrior,
    InvConv,
    Split,
    squeeze,
    unsqueeze,
)
from dinof_lite.flows.coupling import CHANNELS_LAST_FROM, ConvCouplingNet
from dinof_lite.utils import check_batch
from tests.flow_check import check_flow_layer, perturb

torch.set_default_dtype(torch.float32)


class SplitAsLayer(FlowLayer):
    """:class:`Split` as the bijection ``h ↔ [kept, z]`` (one output), to check it like the rest."""

    def __init__(self, split: Split) -> None:
        super().__init__()
        self.split = split

    def forward(self, x, context=None):
        kept, z, logdet = self.split(x, context)
        return torch.cat([kept, z], dim=1), logdet

    def inverse(self, y, context=None):
        n = self.split.n_keep
        return self.split.inverse(y[:, :n], y[:, n:], context)


class SqueezeAsLayer(FlowLayer):
    """:func:`squeeze` as a layer: a permutation, log-det 0 both ways."""

    def forward(self, x, context=None):
        return squeeze(x), x.new_zeros(x.shape[0])

    def inverse(self, y, context=None):
        return unsqueeze(y), y.new_zeros(y.shape[0])


def _layers(image: bool, context_dim: int):
    c = 4 if image else 3
    return {
        "actnorm": ActNorm(c),
        "invconv": InvConv(c),
        "coupling": AffineCoupling(c, 8, image=image, context_dim=context_dim),
        "step": FlowStep(c, 8, image=image, context_dim=context_dim),
        "prior": GaussianPrior(c, image=image, context_dim=context_dim),
    }


def test_every_layer_is_a_flow_layer():
    for layer in (*_layers(True, 2).values(), *_layers(False, 0).values()):
        assert isinstance(layer, FlowLayer), type(layer).__name__
    assert not isinstance(Split(4, image=False), FlowLayer)  # two outputs: see SplitAsLayer


@pytest.mark.parametrize("image", [False, True], ids=["vector", "image"])
@pytest.mark.parametrize("context_dim", [0, 2])
@pytest.mark.parametrize("name", ["actnorm", "invconv", "coupling", "step", "prior"])
def test_layer_contract(name, image, context_dim):
    """ActNorm and InvConv ignore the context they are handed, as the contract asks."""
    torch.manual_seed(0)
    layer = _layers(image, context_dim)[name].double()
    shape = (4, 4, 3, 3) if image else (4, 3)
    x = torch.randn(shape, dtype=torch.float64) * 2 + 0.5
    ctx = torch.randn(4, context_dim, dtype=torch.float64) if context_dim else None
    layer(x, ctx)  # ActNorm's data-dependent init happens here
    perturb(layer)
    check_flow_layer(layer, x, ctx)


@pytest.mark.parametrize("context_dim", [0, 2])
def test_coupling_contract_in_channels_last(context_dim):
    """From CHANNELS_LAST_FROM positions on the coupling CNN convolves in channels-last: the
    layer still passes the shared forward / inverse / log-det check (float64, autograd)."""
    torch.manual_seed(0)
    layer = AffineCoupling(4, 8, image=True, context_dim=context_dim).double()
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64) * 2 + 0.5
    ctx = torch.randn(2, context_dim, dtype=torch.float64) if context_dim else None
    perturb(layer)
    check_flow_layer(layer, x, ctx)


@pytest.mark.parametrize("hw", [4, 8, 16])
def test_coupling_cnn_layout_stays_inside(hw):
    """Channels-last or not, the coupling CNN gives the NCHW convolutions' values and gradients
    and returns a contiguous NCHW tensor."""
    torch.manual_seed(1)
    net = ConvCouplingNet(3, 4, 16, context_dim=2)
    perturb(net)  # a non-zero last layer
    x = torch.randn(5, 6, hw, hw)[:, :3].requires_grad_()  # a channel slice, as in a coupling
    ctx = torch.randn(5, 2)
    assert (x[0, 0].numel() >= CHANNELS_LAST_FROM) == (hw >= 8)

    def nchw(x):
        h = net.conv1(x) + net.context(ctx)[:, :, None, None]
        return net.out(torch.relu(net.conv2(torch.relu(h))))

    y, ref = net(x, ctx), nchw(x)
    assert y.is_contiguous() and y.shape == (5, 4, hw, hw)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)
    (g,) = torch.autograd.grad(y.square().sum(), x)
    (g_ref,) = torch.autograd.grad(ref.square().sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5 * float(g_ref.abs().max()))


@pytest.mark.parametrize("image", [False, True], ids=["vector", "image"])
def test_split_contract(image):
    torch.manual_seed(1)
    split = perturb(Split(5 if not image else 4, image=image, context_dim=3).double())
    x = torch.randn((3, 4, 2, 2) if image else (3, 5), dtype=torch.float64)
    ctx = torch.randn(3, 3, dtype=torch.float64)
    kept, z, _ = split(x, ctx)
    assert kept.shape[1] == (2 if image else 3) and z.shape[1] == 2
    assert torch.equal(kept, x[:, : kept.shape[1]])
    check_flow_layer(SplitAsLayer(split), x, ctx)


def test_squeeze_contract():
    x = torch.randn(3, 2, 4, 6, dtype=torch.float64)
    check_flow_layer(SqueezeAsLayer(), x, y_shape=(3, 8, 2, 3))


@pytest.mark.parametrize("shape", [(64, 3), (8, 2, 5, 5)], ids=["vector", "image"])
def test_actnorm_data_dependent_init(shape):
    torch.manual_seed(2)
    x = 3.0 + 5.0 * torch.randn(shape) * torch.arange(1, shape[1] + 1).view(
        1, -1, *[1] * (len(shape) - 2)
    )
    layer = ActNorm(shape[1])
    assert not bool(layer.initialized)
    y, logdet = layer(x)
    assert bool(layer.initialized)
    dims = [d for d in range(x.dim()) if d != 1]
    assert torch.allclose(y.mean(dims), torch.zeros(shape[1]), atol=1e-5)
    assert torch.allclose(y.std(dims, unbiased=False), torch.ones(shape[1]), atol=1e-4)
    spatial = x[0, 0].numel()
    assert torch.allclose(logdet, spatial * layer.log_scale.sum().expand(shape[0]))
    # a second, different batch does not re-initialise
    bias = layer.bias.detach().clone()
    layer(x * 10)
    assert torch.equal(layer.bias.detach(), bias)


def test_actnorm_flag_survives_state_dict_reload():
    torch.manual_seed(3)
    layer = ActNorm(3)
    x = torch.randn(32, 3) * 4 + 1
    y, _ = layer(x)
    assert "initialized" in layer.state_dict()
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    fresh = ActNorm(3)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert bool(fresh.initialized)
    y2, _ = fresh(x * 7 - 3)  # would re-initialise (and change) if the flag were lost
    assert torch.equal(fresh(x)[0], y)
    assert not torch.allclose(y2.std(0), torch.ones(3), atol=0.1)


def test_actnorm_reads_its_flag_once_and_again_after_a_load():
    """The flag is read back from the buffer until it is seen set (no host sync per forward
    after that), and again after load_state_dict: a loaded uninitialised state re-initialises
    on the next batch, and an initialised one copied (as DDP broadcasts it) is trusted."""
    torch.manual_seed(5)
    x = torch.randn(32, 3) * 4 + 1
    layer = ActNorm(3)
    layer(x)
    blank = ActNorm(3).state_dict()
    layer.load_state_dict(blank)
    y, _ = layer(x * 3)  # initialises from this batch
    assert bool(layer.initialized) and torch.allclose(
        y.std(0, unbiased=False), torch.ones(3), atol=1e-4
    )
    copy = ActNorm(3)
    with torch.no_grad():  # a broadcast of parameters and buffers, no load_state_dict
        for dst, src in zip(copy.state_dict().values(), layer.state_dict().values()):
            dst.copy_(src)
    assert torch.equal(copy(x)[0], layer(x)[0])


def test_check_batch_returns_the_extrema_in_one_pass():
    x = torch.tensor([[0.5, -2.0], [3.0, 1.0]])
    assert check_batch(x, "x", "T") == (-2.0, 3.0)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="NaN or inf in 1 of 2 examples"):
            check_batch(torch.tensor([[0.5, bad], [3.0, 1.0]]), "x", "T")


def test_invconv_lu_weight():
    torch.manual_seed(4)
    layer = InvConv(6).double()
    w = layer.weight()
    assert torch.allclose(
        w @ w.T, torch.eye(6, dtype=torch.float64), atol=1e-6
    )  # orthogonal init (float32)
    perturb(layer)
    w, w_inv = layer.weight(), layer.inverse_weight()
    assert torch.allclose(w_inv @ w, torch.eye(6, dtype=torch.float64), atol=1e-10)
    assert math.isclose(torch.linalg.slogdet(w)[1].item(), layer.log_s.sum().item(), rel_tol=1e-10)
    x = torch.randn(2, 6, 3, 5, dtype=torch.float64)
    y, logdet = layer(x)
    assert torch.allclose(y, torch.einsum("ij,bjhw->bihw", w, x))
    assert torch.allclose(logdet, 15 * layer.log_s.sum().expand(2))


@pytest.mark.parametrize("image", [False, True], ids=["vector", "image"])
def test_coupling_starts_as_fixed_scaling(image):
    torch.manual_seed(5)
    layer = AffineCoupling(4, 16, image=image)
    x = torch.randn((3, 4, 2, 2) if image else (3, 4))
    y, logdet = layer(x)
    s = torch.sigmoid(torch.tensor(2.0))
    assert torch.equal(y[:, :2], x[:, :2])
    assert torch.allclose(y[:, 2:], s * x[:, 2:])
    assert torch.allclose(logdet, torch.full((3,), x[0, 2:].numel() * math.log(s)))


def test_coupling_scale_is_bounded_so_inverse_cannot_overflow():
    layer = AffineCoupling(2, 8, image=False, clamp=6.0)
    with torch.no_grad():
        layer.net.net[-1].bias.copy_(torch.tensor([0.0, -1e6]))  # raw → −∞ without the clamp
    y = torch.full((5, 2), 1e3)
    x, _ = layer.inverse(y)
    assert torch.isfinite(x).all()
    scale = y[:, 1] / (x[:, 1])
    assert torch.all(scale >= torch.sigmoid(torch.tensor(2.0 - 6.0)) * 0.999)
    _, logdet = layer(x)
    assert torch.isfinite(logdet).all()


def test_coupling_needs_two_channels():
    with pytest.raises(ValueError, match="at least 2 channels"):
        AffineCoupling(1, 8, image=False)


def test_squeeze_layout_and_inverse():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    y = squeeze(x)
    assert y.shape == (2, 12, 2, 3)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                assert torch.equal(y[:, 4 * c + 2 * i + j], x[:, c, i::2, j::2])
    assert torch.equal(unsqueeze(y), x)
    with pytest.raises(ValueError, match="even height and width"):
        squeeze(torch.zeros(1, 1, 3, 4))
    with pytest.raises(ValueError, match="multiple of 4"):
        unsqueeze(torch.zeros(1, 6, 2, 2))


def test_prior_log_std_is_bounded_so_sampling_cannot_overflow():
    prior = GaussianPrior(2, image=False, clamp=6.0)
    with torch.no_grad():
        prior.bias.copy_(torch.tensor([0.0, 0.0, 1e4, -1e4]))  # log σ = ±1e4 without the clamp
    _, log_std = prior.mean_and_log_std(torch.zeros(3, 2))
    assert torch.all(log_std.abs() <= 6.0)
    h, logdet = prior.inverse(torch.full((3, 2), 5.0))
    assert torch.isfinite(h).all() and torch.isfinite(logdet).all()
    z, _ = prior(h)
    assert torch.allclose(z, torch.full((3, 2), 5.0), rtol=1e-4)
