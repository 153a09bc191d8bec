"""The full Glow model: exact inverse and log-det (vectors and images, with and without context,
before and after training), densities that integrate to one, NLL against a mixture's true
entropy, bounded sampling, intermediate states, bits/dim and input checks."""

from __future__ import annotations

import io
import math

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.flows import Glow
from dinof_lite.train import TrainConfig, Trainer
from tests.flow_check import check_flow_layer

CONFIGS = {  # id: (in_shape, levels, steps)
    "vec2": ((2,), 1, 3),
    "vec6": ((6,), 2, 2),
    "img1x4x4": ((1, 4, 4), 2, 2),
    "img3x4x4": ((3, 4, 4), 2, 2),
    "img3x8x8": ((3, 8, 8), 3, 2),
}


def _flow(key: str, context_dim: int = 0, dtype=torch.float32, seed: int = 0) -> Glow:
    torch.manual_seed(seed)
    shape, levels, steps = CONFIGS[key]
    return Glow(shape, levels, steps, hidden=16, context_dim=context_dim).to(dtype)


def _data(flow: Glow, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *flow.in_shape), generator=g, dtype=torch.float64)
    return (1.5 * x + 0.3 * x.pow(2)).to(next(flow.parameters()).dtype)  # skewed, not Gaussian


def _context(flow: Glow, n: int, seed: int = 2):
    if not flow.context_dim:
        return None
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, flow.context_dim), generator=g).to(next(flow.parameters()).dtype)


def _train(flow: Glow, steps: int = 15, lr: float = 3e-3) -> Glow:
    x, ctx = _data(flow, 64), _context(flow, 64)
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    for _ in range(steps):
        loss = -flow.log_prob(x, ctx).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return flow


@pytest.mark.parametrize("trained", [False, True], ids=["init", "trained"])
@pytest.mark.parametrize("context_dim", [0, 3], ids=["plain", "context"])
@pytest.mark.parametrize("key", list(CONFIGS))
def test_inverse_recovers_input_float32(key, context_dim, trained):
    flow = _flow(key, context_dim)
    x, ctx = _data(flow, 32), _context(flow, 32)
    flow(x, ctx)  # ActNorm init
    if trained:
        _train(flow)
    # both inverses, shapes and finite (B,) log-dets in float32 (the log-det itself: below)
    check_flow_layer(flow, x, ctx, atol=1e-4, rtol=0.0, n_jacobian=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("context_dim", [0, 2], ids=["plain", "context"])
@pytest.mark.parametrize("key", list(CONFIGS))
def test_flow_layer_contract_with_autograd_jacobian(key, context_dim, dtype):
    """The whole Glow keeps the flow-layer contract (inverse has no log-det, so (d) is skipped)."""
    flow = _flow(key, context_dim, dtype=torch.float64)
    x, ctx = _data(flow, 16), _context(flow, 16)
    flow(x, ctx)
    _train(flow, steps=10)  # away from the (near-identity) initialisation
    flow = flow.to(dtype)
    x = x[:3].to(dtype)
    ctx = None if ctx is None else ctx[:3].to(dtype)
    tol = 1e-8 if dtype == torch.float64 else 1e-4
    check_flow_layer(flow, x, ctx, atol=tol, rtol=tol)


def test_trajectories_trace_every_layer_both_ways():
    flow = _flow("img3x8x8", context_dim=2)
    x, ctx = _data(flow, 4), _context(flow, 4)
    flow(x, ctx)
    _train(flow, steps=5)
    z, logdet = flow(x, ctx)
    states = flow.trajectory(x, ctx)
    names = flow.layer_names()
    assert len(states) == len(names) + 1 == 3 * 3 * 2 + 2 + 1 + 1
    assert (
        names[:3] == ["L1.K1.actnorm", "L1.K1.invconv", "L1.K1.coupling"] and names[-1] == "prior"
    )
    for name in names[:-1]:  # every name is a module of the flow (derived, not hard-coded)
        level, *rest = name.split(".")
        j = int(level[1:]) - 1
        if rest == ["split"]:
            assert flow.splits[j] is not None
        else:
            step = flow.flows[j][int(rest[0][1:]) - 1]
            assert step.get_submodule(rest[1]) in step.sublayers
    assert all(s.shape == x.shape and not s.requires_grad for s in states)
    assert torch.equal(states[0], x) and torch.equal(states[-1], z.detach())
    back = flow.inverse_trajectory(z, ctx)
    assert len(back) == len(states)
    torch.testing.assert_close(back[-1], flow.inverse(z, ctx))
    for fwd, bwd in zip(states, reversed(back)):
        assert (fwd - bwd).abs().max() < 1e-4
    # the states are a path: consecutive states differ, and the split changes only the factored half
    assert all((a - b).abs().max() > 0 for a, b in zip(states[:-1], states[1:]))
    # every = k keeps x, the states after every k-th layer, and z
    thin = flow.trajectory(x, ctx, every=4)
    kept = sorted({0, len(names), *range(4, len(names), 4)})
    assert len(thin) == len(kept)
    for i, state in zip(kept, thin):
        torch.testing.assert_close(state, states[i])
    with pytest.raises(ValueError, match="every"):
        flow.inverse_trajectory(z, ctx, every=0)


def test_context_conditions_the_flow():
    flow = _flow("vec2", context_dim=1)
    x = _data(flow, 8)
    flow(x, torch.zeros(8, 1))
    _train(flow, steps=10)
    with torch.no_grad():
        lp0 = flow.log_prob(x, torch.zeros(8, 1))
        lp1 = flow.log_prob(x, torch.ones(8, 1))
        shared = flow.log_prob(x, torch.ones(1))  # one (context_dim,) vector for the batch
    assert (lp0 - lp1).abs().max() > 1e-3
    assert torch.allclose(shared, lp1)


def test_state_dict_roundtrip_is_exact_and_keeps_actnorm_init():
    flow = _flow("img1x4x4", context_dim=0)
    x = _data(flow, 16)
    flow(x)
    _train(flow, steps=3)
    buf = io.BytesIO()
    torch.save(flow.state_dict(), buf)
    buf.seek(0)
    fresh = Glow(**flow.kwargs)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    with torch.no_grad():
        assert torch.equal(fresh.log_prob(3 * x + 1), flow.log_prob(3 * x + 1))


# --------------------------------------------------------------------------- trained on 2D data

MIXTURE = "2gaussians"
ALLOWED_GAP = 0.10  # nats: NLL − entropy of the EMA flow after 1200 steps (measured 0.070 ± 0.002)


@pytest.fixture(scope="module")
def trained_2d():
    """A 2D Glow trained with the library's Trainer on the 2-Gaussian mixture (≈ 6 s)."""
    torch.manual_seed(0)
    gmm = GaussianMixture.preset(MIXTURE)
    flow = Glow((2,), levels=1, steps=4, hidden=32)
    config = TrainConfig(
        n_steps=1200,
        batch_size=512,
        lr=2e-3,
        warmup=100,
        grad_clip=1.0,
        ema_decay=0.99,
        seed=0,
        device="cpu",
        log_every=100,
        ckpt_every=None,
        progress=False,
    )

    def loss_fn(model, x0, generator):
        return -model.log_prob(x0).mean()

    trainer = Trainer(flow, loss_fn, lambda n, g: gmm.sample(n, g).float(), config)
    trainer.fit()
    return gmm, trainer


@pytest.mark.slow  # trains a model to convergence
def test_nll_approaches_mixture_entropy(trained_2d):
    gmm, trainer = trained_2d
    flow = trainer.ema_model.module
    g = torch.Generator().manual_seed(7)
    entropy = gmm.entropy(n_samples=200_000, generator=g)
    x = gmm.sample(50_000, generator=g).float()
    with torch.no_grad():
        nll = -flow.log_prob(x).double()
    gap = nll.mean().item() - entropy
    stderr = (nll + gmm.log_prob(x.double())).std().item() / math.sqrt(len(x))
    # the gap is a KL divergence: ≥ 0 up to Monte-Carlo error, and small after training
    assert -4 * stderr - 0.01 <= gap <= ALLOWED_GAP, (gap, stderr)


@pytest.mark.slow  # trains a model to convergence
def test_density_integrates_to_one(trained_2d):
    _, trainer = trained_2d
    flow = trainer.ema_model.module
    lim, n = 7.0, 600
    axis = torch.linspace(-lim, lim, n)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        p = torch.cat([flow.log_prob(chunk).exp() for chunk in grid.split(40_000)])
    mass = p.sum().item() * (axis[1] - axis[0]).item() ** 2
    assert abs(mass - 1.0) <= 0.01, mass


@pytest.mark.slow  # trains a model to convergence
def test_ema_copy_is_initialised_and_usable(trained_2d):
    _, trainer = trained_2d
    ema = trainer.ema_model.module
    assert bool(ema.flows[0][0].actnorm.initialized)
    assert not torch.equal(ema.flows[0][0].actnorm.log_scale, torch.zeros(2))


@pytest.mark.slow  # trains a model to convergence
def test_sampling_after_training_is_finite_and_reproducible(trained_2d):
    gmm, trainer = trained_2d
    flow = trainer.ema_model.module
    a = flow.sample(20_000, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b = flow.sample(20_000, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert torch.isfinite(a).all() and torch.equal(a, b)
    # samples land on the two modes in the right proportions
    assert abs((a[:, 0] > 0).float().mean().item() - 0.5) < 0.03
    assert abs(a[:, 0].abs().mean().item() - 2.0) < 0.15
    cold = flow.sample(2000, temperature=0.0)
    assert torch.allclose(cold, cold[:1].expand_as(cold))
    # sample() is inverse() of sample_latent(): the same draws, and the path ends at the sample
    z = flow.sample_latent(50, 0.8, torch.Generator().manual_seed(4))
    x = flow.sample(50, 0.8, torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(flow.inverse(z), x)
    assert torch.equal(flow.inverse_trajectory(z)[-1], x)


def test_extreme_weights_still_sample_finite_values():
    flow = _flow("img1x4x4")
    flow(_data(flow, 16))
    with torch.no_grad():
        for level in flow.flows:
            for step in level:
                step.coupling.net.out.bias.fill_(-1e4)  # scale sigmoid(raw + 2) → 0 unclamped
    x = flow.sample(64, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(x).all()


# --------------------------------------------------------------------------- bits/dim, paper config


def test_bits_per_dim_of_uniform_density_is_eight_bits():
    """A density equal to 1 on [0,1]^D codes 8-bit data with exactly 8 bits/dim."""
    flow = _flow("img1x4x4")
    x = torch.randint(0, 256, (8, 1, 4, 4)).float() / 255
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    bpd = flow.bits_per_dim(x, generator=g1)
    from dinof_lite.data.quantize import dequantize

    manual = -flow.log_prob(dequantize(x, generator=g2)) / (16 * math.log(2)) + 8
    assert torch.allclose(bpd, manual)
    centred = flow.bits_per_dim(2 * x - 1, data_range=(-1.0, 1.0), generator=g1)
    assert torch.isfinite(centred).all()


def test_paper_configuration_parameter_count():
    flow = Glow.paper()
    n = flow.num_parameters()
    assert 7_000_000 <= n <= 8_500_000, n  # DiNof §4.2.3: "~7M more parameters"
    assert n == 7_920_684
    z, logdet = flow(torch.rand(2, 3, 32, 32))
    assert z.shape == (2, 3, 32, 32) and logdet.shape == (2,)


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_give_clear_errors():
    flow = _flow("img3x4x4")
    with pytest.raises(ValueError, match=r"shape \(B, 3, 4, 4\), got \(2, 3, 8, 8\)"):
        flow(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"shape \(B, 3, 4, 4\), got \(3, 4, 4\)"):
        flow.log_prob(torch.zeros(3, 4, 4))
    with pytest.raises(TypeError, match=r"floating x of shape \(B, 3, 4, 4\), got torch.uint8"):
        flow(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="float64 but the flow's parameters are torch.float32"):
        flow(torch.zeros(2, 3, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"z of shape \(B, 3, 4, 4\)"):
        flow.inverse(torch.zeros(2, 48))
    with pytest.raises(ValueError, match="takes no context"):
        flow(torch.zeros(2, 3, 4, 4), torch.zeros(2, 1))
    cond = _flow("vec2", context_dim=2)
    with pytest.raises(ValueError, match=r"pass context of shape \(B, 2\)"):
        cond(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"context must have shape \(4, 2\)"):
        cond(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="divisible by 8"):
        Glow((3, 12, 12), levels=3)
    with pytest.raises(ValueError, match="use fewer levels"):
        Glow((2,), levels=2)
    with pytest.raises(ValueError, match="in_shape must be"):
        Glow((3, 32))
    with pytest.raises(ValueError, match="not on the 256-level grid"):
        flow.bits_per_dim(torch.full((1, 3, 4, 4), 0.5012))
    with pytest.raises(ValueError, match="outside data_range"):
        flow.bits_per_dim(torch.full((1, 3, 4, 4), -1.0))


def test_readme_glow_example_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "Glow.paper()" in b
    ]
    assert len(blocks) == 1, "README should show one Glow example"
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert scope["z"].shape == (512, 2) and scope["x_new"].shape == (1000, 2)
    assert len(scope["states"]) == len(scope["flow"].layer_names()) + 1


@pytest.mark.slow  # trains a model to convergence
def test_num_parameters_counts_frozen_copies_too(trained_2d):
    _, trainer = trained_2d
    live, ema = trainer.model, trainer.ema_model.module
    assert not any(p.requires_grad for p in ema.parameters())
    assert (
        ema.num_parameters() == live.num_parameters() == sum(p.numel() for p in live.parameters())
    )
