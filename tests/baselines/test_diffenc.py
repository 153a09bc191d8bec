"""DiffEnc (Nielsen et al. 2024) against ground truth: with the non-trainable encoder
``z_t = α_t³ x + σ_t ε`` is a Gaussian mixture in closed form, so the exact posterior gives the
diffusion loss of the optimal v-network independently; a trained model's bound stays above the
mixture's entropy; the trainable encoder starts as the non-trainable one; the JVP derivative;
seeds; checkpoints; errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from dinof_lite.baselines.diffenc import (
    DiffEnc,
    DiffEncConfig,
    diffenc_loss,
    load_diffenc,
    save_diffenc,
)
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.pretrained import checkpoint_meta
from dinof_lite.train import TrainConfig, Trainer
from dinof_lite.utils import make_generator as _gen

GMM = GaussianMixture.preset("8gaussians")  # isotropic components, variance C
C = 0.125


def _posterior(z: torch.Tensor, a: torch.Tensor, s: torch.Tensor):
    """For ``z = a x + s ε``, ``x ~ GMM``: ``E[x | z]`` (B, 2) and ``E[tr Cov(x | z)]`` (B,)."""
    mu = GMM.means
    var = a**2 * C + s**2  # (B,)
    d = z[:, None, :] - a[:, None, None] * mu  # (B, K, 2)
    log_n = -0.5 * d.square().sum(-1) / var[:, None] - torch.log(2 * math.pi * var)[:, None]
    w = torch.softmax(GMM.weights.log() + log_n, dim=1)
    m = mu + (a * C / var)[:, None, None] * d  # per-component posterior means
    mean = (w[..., None] * m).sum(1)
    trace = (w * m.square().sum(-1)).sum(1) - mean.square().sum(1) + 2 * C * s**2 / var
    return mean, trace


def _coeffs(gamma: torch.Tensor):
    s2 = torch.sigmoid(gamma)
    return (1 - s2).sqrt(), s2.sqrt()


class OracleV(nn.Module):
    """The optimal v-network of the non-trainable encoder: ``v̂ = (α z − E[x_nt | z]) / σ``."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the sampler a device and dtype

    def forward(self, z: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        alpha, sigma = _coeffs(gamma.to(z.dtype))
        mean, _ = _posterior(z, alpha**3, sigma)
        return (alpha[:, None] * z - alpha[:, None] ** 2 * mean) / sigma[:, None]


def _closed_form_diffusion(model: DiffEnc, t: float, n: int, gen) -> tuple[float, float]:
    """``E L_∞(t)`` for the oracle: ``½ γ' SNR (1 + σ²)² α⁴ E tr Cov(x | z_t)`` (mean, s.e.)."""
    gamma = model.gamma(torch.tensor(t, dtype=torch.float64))
    alpha, sigma = _coeffs(gamma)
    x = GMM.sample(n, gen).double()
    z = alpha**3 * x + sigma * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    _, trace = _posterior(z, alpha.expand(n) ** 3, sigma.expand(n))
    vals = 0.5 * model.gamma_prime * (alpha / sigma) ** 2 * (1 + sigma**2) ** 2 * alpha**4 * trace
    return vals.mean().item(), vals.std().item() / math.sqrt(n)


@pytest.fixture(scope="module")
def oracle_model() -> DiffEnc:
    return DiffEnc(DiffEncConfig(trainable_encoder=False), v_net=OracleV()).double()


@pytest.mark.parametrize("t", [0.3, 0.7, 0.85])
def test_nontrainable_diffusion_loss_matches_closed_form(oracle_model, t):
    """Eq. 20 with the optimal v̂ equals the closed-form posterior-variance expression."""
    n, gen = 20_000, _gen(1)
    x = GMM.sample(n, gen).double()
    eps = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    loss = oracle_model.diffusion_loss(x, torch.full((n,), t, dtype=torch.float64), eps)
    ref, ref_se = _closed_form_diffusion(oracle_model, t, n, _gen(2))
    se = math.hypot(loss.std().item() / math.sqrt(n), ref_se)
    assert abs(loss.mean().item() - ref) < 4 * se + 1e-3 * ref, (t, loss.mean().item(), ref, se)


def test_nontrainable_bound_matches_quadrature_and_exceeds_entropy(oracle_model):
    """nll_bound = recon + latent + ∫ E L_∞(t) dt (Gauss–Legendre over the closed form) ≥ H."""
    nodes, weights = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(16))
    ts, ws = (nodes + 1) / 2, weights / 2
    gen = _gen(3)
    diffusion = sum(
        w.item() * _closed_form_diffusion(oracle_model, t.item(), 3000, gen)[0]
        for t, w in zip(ts, ws, strict=True)
    )
    g0, g1 = torch.tensor(-13.3, dtype=torch.float64), torch.tensor(5.0, dtype=torch.float64)
    a1, s1 = _coeffs(g1)
    x = GMM.sample(20_000, gen).double()
    latent = 0.5 * ((a1**2 * (a1**2 * x).square()).sum(1) + 2 * (s1**2 - (s1**2).log() - 1))
    recon = 1.0 * (math.log(2 * math.pi) + g0 + 1)  # D/2 = 1; x_nt(0) ≈ x to O(σ_0²)
    assert torch.allclose(oracle_model.latent_loss(x), latent, rtol=1e-9, atol=1e-12)
    assert oracle_model.recon_loss(x).sub(recon).abs().max() < 1e-4
    bound = oracle_model.nll_bound(x, _gen(4), n_repeats=2)
    expected = recon.item() + latent.mean().item() + diffusion
    se = bound.std().item() / math.sqrt(2 * len(bound))
    assert abs(bound.mean().item() - expected) < 4 * se + 0.03, (bound.mean().item(), expected, se)
    assert bound.mean().item() > GMM.entropy(100_000, _gen(5)) + 0.05  # the counter-term is inexact


def test_oracle_sampler_recovers_mixture(oracle_model):
    """The ancestral sampler with Eq. 17's counter-term and the optimal v̂ gives the mixture."""
    x = oracle_model.sample(2000, n_steps=300, generator=_gen(6))
    assert x.shape == (2000, 2) and x.dtype == torch.float64
    ref = GMM.sample(2000, _gen(7))
    assert mmd(ref, x.float()) < 2e-3
    assert abs(x.float().norm(dim=1).mean().item() - ref.norm(dim=1).mean().item()) < 0.05


def test_trainable_encoder_starts_as_nontrainable():
    torch.manual_seed(0)
    trainable = DiffEnc(DiffEncConfig(trainable_encoder=True))
    fixed = DiffEnc(DiffEncConfig(trainable_encoder=False), v_net=trainable.v_net)
    assert fixed.encoder is None and sum(p.numel() for p in trainable.encoder.parameters()) > 0
    x, gen = GMM.sample(256, _gen(0)), _gen(1)
    gamma = trainable.gamma(torch.rand(256, generator=gen))
    y, dy = trainable.inner_encoder(x, gamma)
    assert y.abs().max() == 0 and dy.abs().max() == 0
    torch.testing.assert_close(trainable.encode(x, gamma), torch.sigmoid(-gamma)[:, None] * x)
    torch.testing.assert_close(trainable.loss(x, _gen(2)), fixed.loss(x, _gen(2)))
    trainable.loss(
        x, _gen(2)
    ).backward()  # ... but the encoder does learn: its last layer gets a gradient
    assert trainable.encoder.net[-1].weight.grad.abs().sum() > 0


def test_encoder_derivative_term():
    """∂y/∂γ by JVP equals a central difference, and it enters the loss as Eq. 19 says."""
    torch.manual_seed(0)
    model = DiffEnc(DiffEncConfig(trainable_encoder=True)).double()
    with torch.no_grad():
        nn.init.normal_(model.encoder.net[-1].weight, std=0.5)
    x = GMM.sample(64, _gen(0)).double()
    gamma = model.gamma(torch.rand(64, generator=_gen(1), dtype=torch.float64))
    y, dy = model.inner_encoder(x, gamma)
    h = 1e-5
    fd = (model.encoder(x, gamma + h) - model.encoder(x, gamma - h)) / (2 * h)
    torch.testing.assert_close(dy, fd, rtol=1e-5, atol=1e-8)
    assert dy.abs().mean() > 1e-3
    t, eps = (
        torch.rand(64, generator=_gen(2), dtype=torch.float64),
        torch.randn(64, 2, dtype=torch.float64),
    )
    g = model.gamma(t)
    y, dy = model.inner_encoder(x, g)
    s2 = torch.sigmoid(g)[:, None]
    alpha, sigma = (1 - s2).sqrt(), s2.sqrt()
    x_phi = (1 - s2) * x + s2 * y
    z = alpha * x_phi + sigma * eps
    v_hat = model.v_net(z, g)
    err = alpha * eps - sigma * x_phi - v_hat + sigma * (alpha * z - sigma * v_hat - x_phi + y + dy)
    ref = 0.5 * 18.3 * (1 - s2[:, 0]) * err.square().sum(1)
    torch.testing.assert_close(model.diffusion_loss(x, t, eps), ref)
    shift = model.encoder_shift(x, 0.6)  # σ_t² y_φ(x, γ_t)
    g6 = model.gamma(torch.full((64,), 0.6, dtype=torch.float64))
    torch.testing.assert_close(shift, torch.sigmoid(g6)[:, None] * model.encoder(x, g6))


@pytest.fixture(scope="module")
def trained() -> DiffEnc:
    torch.manual_seed(0)
    model = DiffEnc(DiffEncConfig(hidden=64, n_layers=2))
    cfg = TrainConfig(
        n_steps=400,
        batch_size=512,
        lr=3e-3,
        betas=(0.9, 0.99),
        warmup=100,
        ema_decay=0.99,
        seed=0,
        device="cpu",
        progress=False,
        ckpt_every=None,
    )
    trainer = Trainer(model, diffenc_loss, GMM.sample, cfg)
    trainer.fit()
    return trainer.ema_model.module.eval()


def test_trained_bound_above_entropy_and_samples(trained):
    x = GMM.sample(4000, _gen(10))
    bound = trained.nll_bound(x, _gen(11), n_repeats=2)
    se = bound.std().item() / math.sqrt(2 * len(bound))
    entropy = GMM.entropy(100_000, _gen(12))
    assert bound.mean().item() > entropy - 3 * se  # an upper bound on −log p: never below H
    assert bound.mean().item() < entropy + 1.0  # ... and a trained model's is not loose
    loss, parts = trained.loss_parts(x, _gen(13))
    assert set(parts) == {"recon", "latent", "diffusion"}
    assert torch.equal(trained.loss(x, _gen(13)), loss)
    assert loss.item() == pytest.approx(sum(parts.values()), rel=1e-6)
    assert abs(parts["recon"] - (math.log(2 * math.pi) - 13.3 + 1)) < 1e-3
    bpd = trained.bits_per_dim(x, _gen(14))
    assert abs(bpd - trained.nll_bound(x, _gen(14)).mean().item() / (2 * math.log(2))) < 1e-6
    samples = trained.sample(2000, n_steps=200, generator=_gen(15))
    assert mmd(GMM.sample(2000, _gen(16)), samples) < 0.01
    assert trained.nfe(n_steps=200) == 200


def test_sampling_is_reproducible(trained):
    a = trained.sample(50, n_steps=20, generator=_gen(0))
    res = trained.sample_result(50, n_steps=20, generator=_gen(0), trajectory_every=1)
    b, traj = res.x, res.trajectory  # the latents z_1 … z_0
    assert torch.equal(a, b) and traj.shape == (21, 50, 2) and res.nfe == 20
    torch.testing.assert_close(res.times, torch.linspace(1.0, 0.0, 21))
    thin = trained.sample_result(50, n_steps=20, generator=_gen(0), trajectory_every=8)
    assert torch.equal(thin.x, a) and torch.equal(thin.trajectory, traj[[0, 8, 16, 20]])
    assert not torch.equal(a, trained.sample(50, n_steps=20, generator=_gen(1)))
    assert torch.equal(trained.nll_bound(a, _gen(3)), trained.nll_bound(a, _gen(3)))


def test_save_load_roundtrip(trained, tmp_path):
    path = save_diffenc(tmp_path / "m.pt", trained, meta={"note": "x", "path": tmp_path})
    model, meta = load_diffenc(path), checkpoint_meta(path)
    assert meta == {"note": "x", "path": str(tmp_path)} and not model.training
    assert model.config == trained.config
    x = GMM.sample(64, _gen(0))
    torch.testing.assert_close(model.nll_bound(x, _gen(1)), trained.nll_bound(x, _gen(1)))
    with pytest.raises(ValueError, match="not a dinof_lite.diffenc/1"):
        torch.save({"format": "other"}, tmp_path / "bad.pt")
        load_diffenc(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="networks built from their config"):
        save_diffenc(
            tmp_path / "o.pt", DiffEnc(DiffEncConfig(trainable_encoder=False), v_net=OracleV())
        )


def test_input_errors(trained):
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        trained.loss(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        trained.nll_bound([[0.0, 0.0]])
    with pytest.raises(ValueError, match="n_repeats"):
        trained.nll_bound(torch.zeros(4, 2), n_repeats=0)
    with pytest.raises(ValueError, match="n_steps"):
        trained.sample(4, n_steps=0)
    with pytest.raises(ValueError, match="n must be"):
        trained.sample(0)
    with pytest.raises(ValueError, match="gamma_max > gamma_min"):
        DiffEncConfig(gamma_min=5.0, gamma_max=-13.3)
    with pytest.raises(TypeError, match="DiffEncConfig"):
        DiffEnc({"dim": 2})
    with pytest.raises(ValueError, match="trainable_encoder is False"):
        DiffEnc(DiffEncConfig(trainable_encoder=False), encoder=nn.Identity())
    with pytest.raises(ValueError, match="unknown pretrained model"):
        load_diffenc("no_such_model")


# --------------------------------------------------------------------------- images (digits)


class ZeroV(nn.Module):
    def forward(self, z: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(z)


def test_discretised_reconstruction_matches_quadrature():
    """VDM's discretised decoder: E_ε[−log softmax] per pixel equals a Gauss–Hermite integral."""
    cfg = DiffEncConfig(image_shape=(1, 2, 2), n_bins=5, gamma_min=-3.0, trainable_encoder=False)
    model = DiffEnc(cfg, v_net=ZeroV()).double()
    levels = torch.linspace(-1, 1, 5, dtype=torch.float64)
    x = levels[torch.tensor([0, 1, 3, 4])].reshape(1, 1, 2, 2)
    recon = model.recon_loss(x.expand(40_000, -1, -1, -1), _gen(0))
    nodes, weights = (torch.from_numpy(a) for a in np.polynomial.hermite_e.hermegauss(60))
    a2, sd = torch.sigmoid(torch.tensor(3.0, dtype=torch.float64)), math.exp(-1.5)
    expected = 0.0
    for k in (0, 1, 3, 4):  # z_0/α_0 = α_0² x + e^{γ_0/2} ε for the non-trainable encoder
        z = a2 * levels[k] + sd * nodes
        logits = -0.5 * math.exp(3.0) * (z[:, None] - levels).square()
        expected += -(weights * torch.log_softmax(logits, 1)[:, k]).sum().item() / math.sqrt(
            2 * math.pi
        )
    se = recon.std().item() / math.sqrt(len(recon))
    assert abs(recon.mean().item() - expected) < 4 * se + 1e-3, (recon.mean().item(), expected, se)
    assert 0.3 < expected < 3  # a loose decoder: the test has teeth
    with pytest.raises(ValueError, match="5 levels"):
        model.recon_loss(x + 0.1)


@pytest.fixture(scope="module")
def digits():
    from dinof_lite.data import load_digits

    return (
        load_digits(data_range=(-1.0, 1.0), split="train"),
        load_digits(data_range=(-1.0, 1.0), split="test"),
    )


def test_digits_tiny_config_trains_and_samples(digits, tmp_path):
    train_x, test_x = digits
    torch.manual_seed(0)
    cfg = DiffEncConfig(image_shape=(1, 8, 8), n_bins=17, hidden=8, enc_hidden=8)
    model = DiffEnc(cfg)
    gamma = model.gamma(torch.rand(8, generator=_gen(0)))
    torch.testing.assert_close(
        model.encode(test_x[:8], gamma), torch.sigmoid(-gamma)[:, None, None, None] * test_x[:8]
    )
    before = model.bits_per_dim(test_x, _gen(1))
    tcfg = TrainConfig(
        n_steps=60,
        batch_size=32,
        lr=2e-3,
        warmup=20,
        ema_decay=0.9,
        seed=0,
        device="cpu",
        progress=False,
        ckpt_every=None,
    )
    trainer = Trainer(model, diffenc_loss, train_x, tcfg)
    trainer.fit()
    ema = trainer.ema_model.module.eval()
    after = ema.bits_per_dim(test_x, _gen(1))
    assert after < before - 1.0, (before, after)
    _, parts = ema.loss_parts(test_x, _gen(2))
    assert 0 <= parts["recon"] < 1e-3  # γ_0 = −13.3: the decoder is sharp on 17 levels
    samples = ema.sample(3, n_steps=20, generator=_gen(3))
    assert samples.shape == (3, 1, 8, 8) and ema.recon_loss(samples).isfinite().all()  # on the grid
    assert torch.equal(samples, ema.sample(3, n_steps=20, generator=_gen(3)))
    loaded = load_diffenc(save_diffenc(tmp_path / "d.pt", ema))
    assert loaded.config.image_shape == (1, 8, 8)
    torch.testing.assert_close(
        loaded.nll_bound(test_x[:4], _gen(4)), ema.nll_bound(test_x[:4], _gen(4))
    )
    with pytest.raises(ValueError, match=r"shape \(batch, 1, 8, 8\)"):
        ema.loss(torch.zeros(2, 1, 16, 16))


# --------------------------------------------------------------------------- recipes, checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("name", ["diffenc_8gaussians", "diffenc_digits"])
def test_tiny_diffenc_recipes_write_loadable_checkpoints(
    make_checkpoints_script, tmp_path, monkeypatch, name
):
    script = make_checkpoints_script
    recipes = script.baseline_recipes  # shrink the evaluation: the numbers only need to exist
    for attr, value in (
        ("N_SAMPLES", 64),
        ("DIFFENC_N_NLL", 64),
        ("DIGITS_SAMPLES", 4),
        ("DIGITS_STEPS", 5),
        ("DIGITS_REPEATS", 1),
    ):
        monkeypatch.setattr(recipes, attr, value)
    argv = [
        "--only",
        name,
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--hidden",
        "8",
        "--out-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert script.main(argv) == 0
    path = tmp_path / f"{name}.pt"
    model, meta = load_diffenc(path), checkpoint_meta(path)
    assert not model.training and model.encoder is not None and meta["train_steps"] == 2
    q = meta["quality"]
    keys = ("test_bpd", "fid") if name == "diffenc_digits" else ("nll_bound", "kl_bound", "entropy")
    assert all(math.isfinite(q[k]) for k in keys), q
    if name == "diffenc_8gaussians":
        assert {"mmd", "sliced_wasserstein", "nfe", "s_per_1000"} <= set(q["steps1000"])


def test_shipped_8gaussians_checkpoint():
    from dinof_lite.pretrained import checkpoint_path

    if not checkpoint_path("diffenc_8gaussians").is_file():
        pytest.skip("diffenc_8gaussians not built (python scripts/make_checkpoints.py)")
    model, meta = load_diffenc("diffenc_8gaussians"), checkpoint_meta("diffenc_8gaussians")
    q = meta["quality"]
    assert q["kl_bound"] > -3 * q["kl_bound_se"] and q["kl_bound"] < 0.3  # a bound, and a tight one
    assert q["steps1000"]["mmd"] < 1e-3 and q["steps1000"]["nfe"] == 1000
    x = GMM.sample(4000, _gen(0))
    bound = model.nll_bound(x, _gen(1), n_repeats=2)
    gap = (bound + GMM.log_prob(x)).double()
    assert gap.mean() > -3 * gap.std() / math.sqrt(len(gap))
    assert mmd(GMM.sample(1000, _gen(2)), model.sample(1000, n_steps=100, generator=_gen(3))) < 3e-3
