"""UNet score network (NCSN++ / DDPM++ family): shapes, conditioning, gradients, sizes, errors."""

import pytest
import torch

from dinof_lite.losses import get_score_fn
from dinof_lite.nets import UNet, UNetConfig
from dinof_lite.sde import VESDE, VPSDE

# Trainable parameters of the full presets, counted on the meta device (UNetConfig.num_parameters).
FULL_COUNTS = {
    "ncsnpp_cifar10": 62_758_787,
    "ncsnpp_cifar10_deep": 107_586_947,
    "ddpmpp_cifar10": 61_804_419,
    "ddpmpp_cifar10_deep": 106_632_579,
    "ncsnpp_celebahq256": 65_574_421,
}
# Commonly cited sizes of the score_sde models (≈62M for NCSN++ / DDPM++ cont., ≈108M for the
# deep variants). The exact counts of the reference's own networks are checked in
# tests/hub/test_hub_score_sde.py (they are equal).
PUBLISHED = {
    "ncsnpp_cifar10": 62e6,
    "ncsnpp_cifar10_deep": 108e6,
    "ddpmpp_cifar10": 62e6,
    "ddpmpp_cifar10_deep": 108e6,
}
TOLERANCE = 0.05

# Full presets shrunk so a forward pass takes milliseconds on one CPU thread.
SMOKE = {
    "ncsnpp_cifar10": UNetConfig.ncsnpp_cifar10(nf=16, image_size=16),
    "ncsnpp_cifar10_deep": UNetConfig.ncsnpp_cifar10_deep(nf=8, image_size=16),
    "ddpmpp_cifar10": UNetConfig.ddpmpp_cifar10(nf=16, image_size=16),
    "ddpmpp_cifar10_ddpm_blocks": UNetConfig.ddpmpp_cifar10(nf=16, image_size=16, resblock="ddpm"),
    "ncsnpp_celebahq256": UNetConfig.ncsnpp_celebahq256(nf=8, image_size=64, attn_resolutions=(8,)),
    "ncsnpp_residual_pyramids": UNetConfig.ncsnpp_cifar10(
        nf=16, image_size=16, progressive="residual", num_res_blocks=1
    ),
    "ncsnpp_ddpm_fir_cat": UNetConfig.ncsnpp_celebahq256(
        nf=8,
        image_size=16,
        ch_mult=(1, 2),
        resblock="ddpm",
        progressive_combine="cat",
        attn_resolutions=(8,),
    ),
    "tiny8": UNetConfig.tiny(8),
    "tiny16_rgb": UNetConfig.tiny(16, in_channels=3),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _inputs(cfg: UNetConfig, batch: int = 2):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g)
    label = torch.full((batch,), 0.5) if cfg.embedding == "fourier" else torch.full((batch,), 500.0)
    return x, label


@pytest.mark.parametrize("name", list(SMOKE))
def test_output_shape_matches_input(name):
    cfg = SMOKE[name]
    net = UNet(cfg).eval()
    x, label = _inputs(cfg)
    with torch.no_grad():
        out = net(x, label)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.equal(out, torch.zeros_like(out))  # init_scale = 0: zero output conv


@pytest.mark.parametrize("embedding", ["fourier", "sinusoidal"])
def test_time_conditioning_changes_output(embedding):
    torch.manual_seed(0)
    cfg = UNetConfig.tiny(8, embedding=embedding, init_scale=1.0)  # no zero-init
    net = UNet(cfg).eval()
    x, _ = _inputs(cfg)
    lo, hi = (0.05, 20.0) if embedding == "fourier" else (50.0, 900.0)
    with torch.no_grad():
        a, b = net(x, torch.full((2,), lo)), net(x, torch.full((2,), hi))
    assert (a - b).abs().mean() > 1e-3


@pytest.mark.parametrize(
    "layout",
    [
        {"resblock": "biggan"},
        {"resblock": "ddpm"},
        {"fir": True, "progressive": "residual", "progressive_input": "residual"},
        {"fir": True, "resblock": "ddpm", "progressive": "output_skip"},
        {"progressive_input": "input_skip", "progressive_combine": "cat", "centered": False},
    ],
    ids=lambda d: "-".join(f"{v}" for v in d.values()),
)
def test_gradients_reach_every_parameter(layout):
    torch.manual_seed(0)
    net = UNet(UNetConfig.tiny(8, init_scale=1.0, **layout))
    x, label = _inputs(net.config)
    net(x, label).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_zero_init_output_conv_still_gets_gradients():
    net = UNet(UNetConfig.tiny(8))
    x, label = _inputs(net.config)
    (net(x, label) - x).square().mean().backward()
    assert net.conv_out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", list(FULL_COUNTS))
def test_full_preset_parameter_counts(name):
    count = getattr(UNetConfig, name)().num_parameters()  # meta device: no memory
    assert count == FULL_COUNTS[name]
    if name in PUBLISHED:
        assert abs(count - PUBLISHED[name]) / PUBLISHED[name] < TOLERANCE


def test_num_parameters_matches_a_real_instance():
    cfg = UNetConfig.tiny(16)
    assert UNet(cfg).num_parameters() == cfg.num_parameters()


@pytest.mark.parametrize("sde", [VESDE(), VPSDE()], ids=lambda s: s.name)
def test_score_fn_with_unet(sde):
    torch.manual_seed(0)
    net = UNet.for_sde(sde, UNetConfig.tiny(8, init_scale=1.0)).eval()
    assert net.config.embedding == ("fourier" if sde.name == "ve" else "sinusoidal")
    x = torch.randn(3, 1, 8, 8)
    score = get_score_fn(sde, net)(x, torch.tensor([0.01, 0.5, 1.0]))
    assert score.shape == x.shape and torch.isfinite(score).all()
    assert score.abs().sum() > 0


def test_for_sde_keeps_an_explicit_embedding():
    net = UNet.for_sde(VPSDE(), UNetConfig.tiny(8), embedding="fourier")
    assert net.config.embedding == "fourier"


def test_clear_errors():
    net = UNet(UNetConfig.tiny(8))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 1, 8, 8\)"):
        net(torch.zeros(2, 3, 8, 8), torch.ones(2))  # channels
    with pytest.raises(ValueError, match=r"x must have shape"):
        net(torch.zeros(2, 1, 16, 16), torch.ones(2))  # image size
    with pytest.raises(ValueError, match=r"x must have shape"):
        net(torch.zeros(1, 8, 8), torch.ones(1))  # missing batch / channel dim
    with pytest.raises(ValueError, match=r"label must have shape \(2,\)"):
        net(torch.zeros(2, 1, 8, 8), torch.ones(2, 1))
    with pytest.raises(ValueError, match="valid: fourier, sinusoidal"):
        UNetConfig(embedding="positional")
    with pytest.raises(ValueError, match="valid: biggan, ddpm"):
        UNetConfig(resblock="resnet")
    with pytest.raises(ValueError, match="divisible"):
        UNetConfig(image_size=20)
    with pytest.raises(ValueError, match="valid: none, output_skip, residual"):
        UNetConfig(progressive="input_skip")
    with pytest.raises(ValueError, match="valid: none, input_skip, residual"):
        UNetConfig(progressive_input="output_skip")
    with pytest.raises(ValueError, match="valid: sum, cat"):
        UNetConfig(progressive_combine="add")
    with pytest.raises(ValueError, match="fir_kernel must hold at least 2 taps"):
        UNetConfig(fir_kernel=(1,))


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    torch.manual_seed(0)
    net = UNet(UNetConfig.tiny(8, dropout=0.5, init_scale=1.0))
    x, label = _inputs(net.config)
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x, label), net(x, label))
    net.train()
    with torch.no_grad():
        assert not torch.equal(net(x, label), net(x, label))


def test_channels_last_input_gives_the_same_output():
    torch.manual_seed(0)
    net = UNet(UNetConfig.tiny(16, in_channels=3, init_scale=1.0)).eval()
    x, label = _inputs(net.config)
    with torch.no_grad():
        a = net(x, label)
        b = net(x.contiguous(memory_format=torch.channels_last), label)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
