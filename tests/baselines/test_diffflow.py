"""DiffFlow (Zhang & Chen 2021): grid, loss against an independent computation, analytic reductions,
a small trained model (bound ≥ entropy, MMD), sampling reproducibility, checkpoints, errors."""

import math

import pytest
import torch
from torch import nn

from dinof_lite.baselines.diffflow import (
    DiffFlow,
    DiffFlowConfig,
    diffflow_loss,
    load_diffflow,
    progressive_n,
    save_diffflow,
    time_grid,
)
from dinof_lite.baselines.fourier_mlp import FourierMLP
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.pretrained import checkpoint_meta
from dinof_lite.train import TrainConfig, Trainer
from dinof_lite.utils import make_generator as gen

GMM = GaussianMixture.preset("8gaussians")


class ZeroDrift(nn.Module):
    def forward(self, x, t):
        return torch.zeros_like(x)


class _Brownian:
    """The zero-drift forward SDE ``dx = g dw`` from ``t0``: ``x_t | x0 ~ N(x0, g²(t − t0) I)``."""

    def __init__(self, g: float, t0: float) -> None:
        self.g, self.t0 = g, t0

    def time(self, t, x):
        t = torch.as_tensor(t, dtype=x.dtype)
        return t.expand(x.shape[0]) if t.dim() == 0 else t

    def marginal_coeffs(self, t):
        return torch.ones_like(t), self.g * (t - self.t0).clamp_min(0).sqrt()


class OracleScore(nn.Module):
    """The exact score of ``gmm`` diffused by the zero-drift forward SDE.

    See docs/design.md §Gaussian-mixture oracle.
    """

    def __init__(self, gmm: GaussianMixture, g: float, t0: float) -> None:
        super().__init__()
        self.gmm, self.sde = gmm, _Brownian(g, t0)

    def forward(self, x, t):
        return self.gmm.score(x, t, self.sde)


def oracle_flow(
    gmm: GaussianMixture, n_steps: int, g: float, T: float, data_var: float, exp: float = 0.5
) -> DiffFlow:
    """Zero drift + exact score: a plain (VE-like) diffusion model, prior N(0, data_var + g²T)."""
    cfg = DiffFlowConfig(
        dim=2, n_steps=n_steps, t0=0.0, T=T, exp=exp, g=g, prior_std=math.sqrt(data_var + g * g * T)
    )
    return DiffFlow(cfg, ZeroDrift(), OracleScore(gmm, g, 0.0))


@pytest.fixture(scope="module")
def trained():
    """A small DiffFlow (32 wide) trained on fresh 8-Gaussians samples (authors' grid, g = 0.2)."""
    torch.manual_seed(0)
    model = DiffFlow(DiffFlowConfig(dim=2, hidden=32, n_layers=1))
    cfg = TrainConfig(
        n_steps=150,
        batch_size=256,
        lr=1e-2,
        warmup=20,
        ema_decay=0.9,
        device="cpu",
        ckpt_every=None,
        progress=False,
    )
    trainer = Trainer(model, diffflow_loss, lambda n, g: GMM.sample(n, g).float(), cfg)
    trainer.fit()
    return trainer.ema_model.module.eval()


def test_time_grid_is_the_authors():
    grid = DiffFlow().time_grid()
    assert grid.shape == (31,)
    assert grid[0].item() == pytest.approx(1e-3) and grid[-1].item() == pytest.approx(0.05)
    i = 7  # t_i = (t0^e + (i/N)(T^e − t0^e))^(1/e)
    expected = (1e-3**0.9 + (i / 30) * (0.05**0.9 - 1e-3**0.9)) ** (1 / 0.9)
    assert grid[i].item() == pytest.approx(expected, rel=1e-6)
    assert (grid.diff() > 0).all() and grid.diff()[-1] > grid.diff()[0]  # finer near the data
    assert torch.equal(time_grid(30, 1e-3, 0.05, 0.9), grid)


def test_flexible_times_stay_in_their_bins():
    model = DiffFlow(DiffFlowConfig(n_steps=10, flexible_times=True, hidden=8, n_layers=0))
    a, b = model._train_times(gen(0), True), model._train_times(gen(1), True)
    fixed = model.time_grid()
    assert a[0] == fixed[0] and a[-1] == fixed[-1] and not torch.equal(a, b)
    warped = (a.double() ** 0.9 - 1e-3**0.9) / (0.05**0.9 - 1e-3**0.9)  # back to [0, 1]
    i = torch.arange(1, 10)
    assert ((warped[1:-1] >= (i - 1) / 9 - 1e-5) & (warped[1:-1] <= i / 9 + 1e-5)).all()
    assert torch.equal(model._train_times(gen(0), False), fixed)
    x0 = GMM.sample(16, gen(2)).float()  # bound and evaluation-mode loss: the fixed grid
    torch.testing.assert_close(model.eval().loss(x0, gen(3)), model.nll_bound(x0, gen(3)).mean())
    assert model.train().loss(x0, gen(3)).item() != pytest.approx(
        model.eval().loss(x0, gen(3)).item()
    )


def test_bound_matches_an_independent_path_computation():
    """L = −log N(x_N) + log p_F(τ | x0) − log p_B(τ), transition densities by torch.distributions."""
    torch.manual_seed(1)
    model = DiffFlow(DiffFlowConfig(n_steps=6, hidden=16, n_layers=1))
    with torch.no_grad():  # a non-trivial drift and score
        for net in (model.drift_net, model.score_net):
            net.layers[-1].weight.normal_(0, 3.0)
    x0 = GMM.sample(64, gen(2)).float()
    bound = model.nll_bound(x0, generator=gen(3))
    path = model.forward_trajectory(x0, generator=gen(3)).double()  # same noise, same states
    times, g = model.time_grid().double(), model.config.g
    expected = -torch.distributions.Normal(0.0, 1.0).log_prob(path[-1]).sum(1)
    with torch.no_grad():
        for i in range(6):
            dt, x, y = times[i + 1] - times[i], path[i], path[i + 1]
            f_x = model.drift_net(x.float(), times[i].float()).double()
            back = (
                model.drift_net(y.float(), times[i + 1].float())
                - g**2 * model.score_net(y.float(), times[i + 1].float())
            ).double()
            std = g * dt.sqrt()
            log_f = torch.distributions.Normal(x + f_x * dt, std).log_prob(y).sum(1)
            log_b = torch.distributions.Normal(y - back * dt, std).log_prob(x).sum(1)
            expected += log_f - log_b
    torch.testing.assert_close(bound.double(), expected, rtol=1e-4, atol=1e-3)
    loss, parts = model.loss_parts(x0, generator=gen(3))
    assert torch.equal(model.loss(x0, generator=gen(3)), loss)
    assert loss.item() == pytest.approx(bound.mean().item(), rel=1e-5)
    assert parts["prior"] + parts["path"] == pytest.approx(loss.item(), rel=1e-5)


def test_bound_is_tight_for_the_exact_reverse_process():
    """Gaussian data, zero drift, exact score, exact prior: E[L] → H as N grows, never below."""
    v0 = 0.5
    gauss = GaussianMixture(torch.zeros(1, 2), torch.tensor([v0]))
    x0 = gauss.sample(4000, gen(0)).float()
    gaps = []
    for n_steps in (10, 50):
        bound = oracle_flow(gauss, n_steps, g=1.0, T=4.0, data_var=v0).nll_bound(x0, gen(1))
        gap = bound.double() + gauss.log_prob(x0.double())  # paired: E[gap] = bound − H
        gaps.append(gap.mean().item())
        assert gap.mean().item() > -3 * gap.std().item() / math.sqrt(len(gap))
    assert gaps[1] < 0.07 and gaps[0] > gaps[1] + 0.05  # discretisation gap shrinks with N


def test_ode_likelihood_is_exact_for_the_exact_reverse_process():
    v0 = 0.5
    gauss = GaussianMixture(torch.zeros(1, 2), torch.tensor([v0]))
    x0 = gauss.sample(200, gen(0)).float()
    logp = oracle_flow(gauss, 20, g=1.0, T=4.0, data_var=v0).log_likelihood(x0)
    torch.testing.assert_close(logp, gauss.log_prob(x0), atol=2e-3, rtol=0)


def test_zero_drift_and_oracle_score_is_plain_diffusion_and_recovers_the_mixture():
    model = oracle_flow(GMM, 100, g=10.0, T=1.0, data_var=4.125)
    res = model.sample_result(1000, generator=gen(0), trajectory_every=1)
    x, traj = res.x, res.trajectory  # sampling order: the prior draw first, the samples last
    assert res.nfe == model.nfe() == 200 and torch.equal(model.sample(1000, generator=gen(0)), x)
    # the same draws through a hand-written reverse-time Euler–Maruyama for dx = g dw
    g, times, score = 10.0, model.time_grid(), model.score_net
    g0 = gen(0)
    y = model.config.prior_std * torch.randn(1000, 2, generator=g0)
    assert torch.equal(traj[0], y)
    for i in reversed(range(100)):
        dt = times[i + 1] - times[i]
        y = (
            y
            + g**2 * score(y, times[i + 1]) * dt
            + g * dt.sqrt() * torch.randn(y.shape, generator=g0)
        )
    torch.testing.assert_close(x, y)
    assert traj.shape == (101, 1000, 2) and torch.equal(traj[-1], x)
    torch.testing.assert_close(res.times, times.flip(0))
    thin = model.sample_result(1000, generator=gen(0), trajectory_every=30)
    assert torch.equal(thin.trajectory, traj[[0, 30, 60, 90, 100]])
    torch.testing.assert_close(thin.times, res.times[[0, 30, 60, 90, 100]])
    ref = GMM.sample(1000, gen(1))  # MMD² of two fresh data sets of this size: about ±5e-4
    assert mmd(ref, x) < 2e-3 and mmd(ref, model.sample(1000, lam=0.0, generator=gen(2))) < 2e-3
    assert mmd(ref, model.config.prior_std * torch.randn(1000, 2, generator=gen(3))) > 0.05


@pytest.mark.slow  # trains a model to convergence
def test_trained_bound_never_falls_below_the_entropy(trained):
    x0 = GMM.sample(2000, gen(10)).float()
    bound = trained.nll_bound(x0, generator=gen(11)).double()
    gap = bound + GMM.log_prob(x0.double())  # paired estimate of bound − H (≥ KL ≥ 0)
    se = gap.std().item() / math.sqrt(len(gap))
    assert gap.mean().item() > -3 * se
    assert bound.mean().item() < 4.5  # it learned: N(0, I) on the raw data costs ≈ 5.9 nats
    ode = -trained.log_likelihood(x0[:300]).double()
    assert (
        ode.mean().item() < bound[:300].mean().item() + 0.3
    )  # the ODE sits near or under the bound


@pytest.mark.slow  # trains a model to convergence
def test_trained_samples_match_the_mixture_and_are_reproducible(trained):
    a = trained.sample(1500, generator=gen(20))
    assert torch.equal(a, trained.sample(1500, generator=gen(20)))
    assert not torch.equal(a, trained.sample(1500, generator=gen(21)))
    ref = GMM.sample(1500, gen(22))
    untrained = DiffFlow(DiffFlowConfig(hidden=32, n_layers=1)).sample(1500, generator=gen(20))
    assert mmd(ref, a) < 0.02 < mmd(ref, untrained)
    assert trained.nfe() == trained.nfe(lam=0.0) == 60


def test_progressive_n_changes_the_grid_during_training():
    torch.manual_seed(0)
    model = DiffFlow(DiffFlowConfig(n_steps=4, hidden=8, n_layers=0))
    cfg = TrainConfig(
        n_steps=4, batch_size=8, lr=1e-3, device="cpu", ckpt_every=None, progress=False
    )
    trainer = Trainer(
        model,
        diffflow_loss,
        lambda n, g: GMM.sample(n, g).float(),
        cfg,
        callbacks=[progressive_n({2: 8})],
    )
    trainer.fit()
    assert model.n_steps == trainer.ema_model.module.n_steps == 8
    assert model.time_grid().shape == (9,) and model.nfe() == 16


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = DiffFlow(DiffFlowConfig(n_steps=5, hidden=16, n_layers=1))
    path = save_diffflow(tmp_path / "m.pt", model, meta={"note": "x", "path": tmp_path})
    loaded, meta = load_diffflow(path), checkpoint_meta(path)
    assert meta == {"note": "x", "path": str(tmp_path)} and not loaded.training
    assert loaded.config == model.config
    torch.testing.assert_close(
        loaded.sample(50, generator=gen(0)), model.sample(50, generator=gen(0))
    )
    with pytest.raises(ValueError, match="FourierMLP"):
        save_diffflow(tmp_path / "z.pt", DiffFlow(drift_net=ZeroDrift()))
    with pytest.raises(ValueError, match="unknown pretrained model"):
        load_diffflow("no_such_model")


def test_errors():
    model = DiffFlow(DiffFlowConfig(hidden=8, n_layers=0))
    with pytest.raises(ValueError, match="n_steps"):
        DiffFlowConfig(n_steps=0)
    with pytest.raises(ValueError, match="t0"):
        DiffFlowConfig(t0=0.1, T=0.05)
    with pytest.raises(TypeError, match="DiffFlowConfig"):
        DiffFlow({"dim": 2})
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        model.loss(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="floating"):
        model.nll_bound(torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="lam"):
        model.sample(4, lam=-1.0)
    with pytest.raises(ValueError, match="positive int"):
        model.sample(0)
    with pytest.raises(ValueError, match="n_steps"):
        model.set_n_steps(0)
    with pytest.raises(ValueError, match="shape"):
        FourierMLP(2, 8)(torch.zeros(4, 2), torch.zeros(3))


def test_shipped_checkpoint_is_a_bound_and_samples_the_mixture(monkeypatch):
    monkeypatch.delenv("DINOF_CHECKPOINT_DIR", raising=False)
    model, meta = load_diffflow("diffflow_8gaussians"), checkpoint_meta("diffflow_8gaussians")
    assert model.config == DiffFlowConfig() and not model.training  # the authors' 2D setup
    q = meta["quality"]
    assert -3 * q["kl_bound_se"] < q["kl_bound"] < 0.2 and -3 * q["kl_ode_se"] < q["kl_ode"] < 0.1
    assert q["lam1"]["nfe"] == 60 and q["lam1"]["mmd"] < 3e-3
    x0 = GMM.sample(1000, gen(30)).float()
    for nll in (model.nll_bound(x0, gen(31)), -model.log_likelihood(x0)):
        gap = nll.double() + GMM.log_prob(x0.double())  # paired: never below 0 beyond noise
        assert -3 * gap.std().item() / math.sqrt(1000) < gap.mean().item() < 0.2
    assert mmd(GMM.sample(1000, gen(32)), model.sample(1000, generator=gen(33))) < 3e-3


@pytest.mark.slow
def test_a_tiny_recipe_writes_a_loadable_checkpoint(tmp_path, monkeypatch, make_checkpoints_script):
    script = make_checkpoints_script
    monkeypatch.setattr(script.baseline_recipes, "N_SAMPLES", 50)
    monkeypatch.setattr(script.baseline_recipes, "N_NLL", 20)
    assert (
        script.main(
            [
                "--only",
                "diffflow_8gaussians",
                "--steps",
                "3",
                "--batch-size",
                "16",
                "--hidden",
                "8",
                "--n-layers",
                "1",
                "--out-dir",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    path = tmp_path / "diffflow_8gaussians.pt"
    model, meta = load_diffflow(path), checkpoint_meta(path)
    assert model.config == DiffFlowConfig(hidden=8, n_layers=1) and meta["train_steps"] == 3
    q = meta["quality"]
    assert q["lam1"]["nfe"] == 60 and q["n_nll"] == 20
    for key in ("mmd", "sliced_wasserstein", "s_per_1000"):
        assert math.isfinite(q["lam1"][key]) and math.isfinite(q["lam0"][key])
    for key in ("nll_bound", "nll_ode", "kl_bound", "kl_ode", "entropy"):
        assert math.isfinite(q[key])
