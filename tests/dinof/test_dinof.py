"""DiNof (DiNof §3.2) against ground truth: the Gaussian-mixture oracle score with a flow fitted to
the exact T_m marginal, joint training on a mixture (samples and NLL against the true entropy),
any-T_m sampling, the trajectory's parts, seeds, the loss's shared noise, and input checks."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from dinof_lite import VESDE, VPSDE, GaussianMixture, Glow, ScoreMLP, TrainConfig, Trainer
from dinof_lite.dinof import CONTEXT_DIM, DiNof, DiNofSample, TmSpec, tm_context, training_loss
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.flows import FlowPrior, flow_prior_missing
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.nets.oracle import OracleScoreNet
from dinof_lite.sampling import ode_log_likelihood
from dinof_lite.sde import subVPSDE
from dinof_lite.utils import make_generator as _gen
from tests.factories import tiny_dinof

T_M = 0.5


def _fit(model, data, steps: int, lr: float = 3e-3, loss=None):
    cfg = TrainConfig(
        n_steps=steps, lr=lr, batch_size=256, warmup=50, ema_decay=0.99, progress=False, seed=0
    )
    trainer = Trainer(model, loss or training_loss, data, cfg)
    trainer.fit()
    return trainer.ema_model.module.eval()


def _small(sde, T_m=T_M, T_m_range=None, hidden=16, seed=0) -> DiNof:
    any_tm = {"any_tm": True, "T_m_range": T_m_range} if T_m_range is not None else {}
    return tiny_dinof(sde, T_m=T_m, hidden=hidden, n_layers=1, seed=seed, **any_tm)


# --------------------------------------------------------------------------- oracle ground truth
@pytest.fixture(scope="module")
def oracle_model():
    """The exact score and a Glow fitted by maximum likelihood to the exact p_{T_m}."""
    sde, gmm = VPSDE(), GaussianMixture.preset("8gaussians")
    p_tm = gmm.marginal(sde, T_M)
    torch.manual_seed(0)
    flow = _fit(
        Glow((2,), 1, 4, 32),
        lambda n, g: p_tm.sample(n, g).float(),
        800,
        loss=lambda m, x, g: -m.log_prob(x).mean(),
    )
    return DiNof(sde, OracleScoreNet(gmm, sde), flow, T_m=T_M).eval(), gmm, p_tm


@pytest.mark.parametrize(
    "sde", [VPSDE(), subVPSDE(), VESDE(sigma_max=10.0)], ids=["vp", "subvp", "ve"]
)
def test_oracle_net_gives_the_exact_score(sde):
    gmm = GaussianMixture.preset("aniso")
    x, t = torch.randn(64, 2, dtype=torch.float64), torch.rand(64, dtype=torch.float64) * 0.9 + 0.05
    got = get_score_fn(sde, OracleScoreNet(gmm, sde))(x, t)
    torch.testing.assert_close(got, gmm.score(x, t, sde), rtol=1e-9, atol=1e-9)


def test_oracle_dinof_samples_match_the_data(oracle_model):
    model, gmm, _ = oracle_model
    x = model.sample(2000, generator=_gen(0))
    ref, ref2 = gmm.sample(2000, _gen(1)).float(), gmm.sample(2000, _gen(2)).float()
    floor = abs(mmd(ref, ref2))
    # measured: 7e-6 (floor 2e-4); samples of p_{T_m} itself (no reverse SDE) give 0.2
    assert mmd(ref, x) < 2e-3 + floor
    assert mmd(ref, model.flow.sample(2000, generator=_gen(3))) > 0.05


def test_oracle_dinof_log_likelihood_matches_the_mixture(oracle_model):
    model, gmm, p_tm = oracle_model
    x0 = gmm.sample(200, _gen(3)).float()
    res = model.log_likelihood_result(x0)
    assert torch.equal(model.log_likelihood(x0), res.logp)
    # the ODE part is exact: with the exact prior p_{T_m} it reproduces p_eps to solver accuracy
    exact = ode_log_likelihood(
        model.sde,
        model.score_fn,
        x0,
        t_start=model.train_eps,
        t_end=T_M,
        prior_logp=lambda h: p_tm.log_prob(h).to(h.dtype),
    )
    p_eps = gmm.marginal(model.sde, model.train_eps).log_prob(x0).float()
    assert (exact - p_eps).abs().max() < 2e-3
    # DiNof's value = that + the flow's error at the latent x(T_m) (change of variables)
    flow_err = model.flow.log_prob(res.latent) - p_tm.log_prob(res.latent).float()
    torch.testing.assert_close(res.logp, exact + flow_err, atol=5e-3, rtol=0)
    torch.testing.assert_close(res.prior_logp, model.flow.log_prob(res.latent), atol=1e-5, rtol=0)
    # and the fitted flow is good: measured mean |Δ| 0.014 nats, max 0.17 against log p0
    diff = res.logp - gmm.log_prob(x0).float()
    assert diff.abs().mean() < 0.05 and diff.abs().max() < 0.5


# --------------------------------------------------------------------------- joint training
@pytest.fixture(scope="module")
def trained():
    sde, gmm = VPSDE(N=200), GaussianMixture.preset("2gaussians")
    model = tiny_dinof(sde, T_m=T_M, hidden=32, n_layers=2, flow_steps=4)
    return _fit(model, lambda n, g: gmm.sample(n, g).float(), 1000), gmm


@pytest.mark.slow  # trains a model to convergence
def test_trained_dinof_samples_pass_mmd(trained):
    model, gmm = trained
    x = model.sample(2000, generator=_gen(0))
    ref, ref2 = gmm.sample(2000, _gen(1)).float(), gmm.sample(2000, _gen(2)).float()
    assert mmd(ref, x) < 2e-3 + abs(mmd(ref, ref2))  # measured 9e-5 (floor 8e-5)


@pytest.mark.slow  # trains a model to convergence
def test_trained_dinof_nll_is_close_to_the_entropy(trained):
    model, gmm = trained
    x0 = gmm.sample(500, _gen(3)).float()
    logp = model.log_likelihood(x0)
    # bits/dim on the 2D points (no quantisation): −log p / (D ln 2) + log2(256)
    expected = -model.log_likelihood(x0[:8]) / (2 * math.log(2)) + 8.0  # the solver is per batch
    torch.testing.assert_close(model.bits_per_dim(x0[:8]), expected)
    # paired estimate of KL(p || p_model) = E_p[log p − log p_model] >= 0 (the entropy is the floor)
    d = gmm.log_prob(x0).float() - logp
    kl, se = d.mean().item(), d.std().item() / math.sqrt(len(d))
    assert -3 * se <= kl < 0.1, (kl, se)  # measured NLL 2.162 vs H 2.146
    nll, nll_se = -logp.mean().item(), logp.std().item() / math.sqrt(len(logp))
    assert abs(nll - gmm.entropy(generator=_gen(4))) < 0.1 + 3 * nll_se


def test_trainer_trains_both_networks_with_one_optimizer():
    sde, gmm = VPSDE(N=50), GaussianMixture.preset("2gaussians")
    model = _small(sde)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(
        model,
        training_loss,
        lambda n, g: gmm.sample(n, g).float(),
        TrainConfig(n_steps=3, progress=False, batch_size=32),
    )
    trainer.fit()
    assert len(trainer.optimizer.param_groups[0]["params"]) == len(list(model.parameters()))
    for prefix in ("score_net.", "flow."):
        moved = [
            k
            for k, v in model.state_dict().items()
            if k.startswith(prefix) and v.is_floating_point() and not torch.equal(v, before[k])
        ]
        assert moved, prefix
    assert isinstance(trainer.ema_model.module, DiNof)
    assert bool(trainer.ema_model.module.flow.flows[0][0].actnorm.initialized)


# --------------------------------------------------------------------------- the loss
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_is_dsm_plus_flow_nll_with_shared_noise(reduction):
    sde = VPSDE(N=50)
    model = _small(sde)
    model.flow_reduction = reduction
    x0 = torch.randn(16, 2)
    model.flow(x0)  # ActNorm's data init, so both evaluations see the same flow
    total, parts = model.loss_parts(x0, _gen(7))
    assert torch.equal(model.loss(x0, _gen(7)), total)
    g = _gen(7)  # replay the draws: z first, then t ~ U(eps, T_m)
    z = torch.randn(x0.shape, generator=g)
    t = model.train_eps + (T_M - model.train_eps) * torch.rand(16, generator=g)
    dsm = dsm_loss(sde, model.score_fn, x0, t=t, z=z)
    a, s = (float(v) for v in sde.marginal_coeffs(torch.tensor(T_M)))
    nll = -model.flow.log_prob(a * x0 + s * z)
    nll = (nll / 2 if reduction == "mean" else nll).mean()
    torch.testing.assert_close(total, dsm + nll)
    assert parts == pytest.approx({"dsm": dsm.item(), "flow_nll": nll.item()})
    assert (t < T_M).all() and (t >= model.train_eps).all()


def test_any_tm_loss_draws_tm_per_example_and_scores_up_to_hi():
    sde = VPSDE(N=50)
    model = _small(sde, T_m_range=(0.2, 0.8))
    seen = {}
    flow_log_prob = model.flow.log_prob

    def spy(x, context):
        seen["ctx"] = context
        return flow_log_prob(x, context)

    model.flow.log_prob = spy
    model.loss(torch.randn(512, 2), _gen(0))
    u = (seen["ctx"][:, 0] + 1) / 2  # first feature is 2u − 1
    assert u.min() >= 0 and u.max() <= 1 and u.std() > 0.25  # ≈ U(0, 1): 1/√12 = 0.29


# --------------------------------------------------------------------------- sampling
def test_trajectory_has_both_parts_with_the_promised_shapes():
    sde = VPSDE(N=100)
    model = _small(sde).eval()
    s = model.sample_result(7, generator=_gen(0), trajectory_every=10)
    assert isinstance(s, DiNofSample) and s.T_m == T_M and s.n_steps == 50 and s.nfe == 50
    n_layers = len(model.flow.layer_names())  # 2 steps × 3 layers + prior = 7
    assert s.flow_states.shape == (n_layers + 1, 7, 2) and len(s.flow_layers) == n_layers + 1
    assert s.flow_layers[0] == "z" and s.flow_layers[-1] == "x(T_m)"
    assert s.sde_states.shape == (6, 7, 2) and s.sde_times.shape == (6,)  # 50 steps / 10 + 1
    assert s.sde_times[0] == pytest.approx(T_M) and s.sde_times[-1] == pytest.approx(
        model.sample_eps
    )
    torch.testing.assert_close(s.flow_states[0], s.z)
    torch.testing.assert_close(s.flow_states[-1], s.x_Tm)
    torch.testing.assert_close(s.sde_states[0], s.x_Tm)
    torch.testing.assert_close(s.sde_states[-1], s.x)
    thin = model.sample_result(7, generator=_gen(0), trajectory_every=1, flow_every=3)
    assert thin.flow_states.shape[0] == 4  # states 0, 3, 6 and 7
    torch.testing.assert_close(thin.flow_states, s.flow_states[[0, 3, 6, 7]])
    assert thin.flow_layers == [s.flow_layers[i] for i in (0, 3, 6, 7)]
    assert thin.n_flow_layers == s.n_flow_layers == n_layers
    torch.testing.assert_close(thin.x, s.x)
    plain = model.sample_result(7, generator=_gen(0))
    assert plain.flow_states is None and plain.sde_states is None and plain.flow_layers is None
    # the samples are the same bits with or without a trajectory, and sample() is their x
    assert torch.equal(plain.x, s.x) and torch.equal(model.sample(7, generator=_gen(0)), s.x)


def test_sampling_is_reproducible_with_a_seed():
    model = _small(VESDE(sigma_max=10.0, N=60)).eval()  # VE: reverse diffusion + Langevin
    a = model.sample_result(32, generator=_gen(3))
    b = model.sample_result(32, generator=_gen(3))
    c = model.sample(32, generator=_gen(4))
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c)
    assert a.nfe == 2 * 30 and a.flow_states is None  # predictor + corrector per step


@pytest.mark.slow  # trains a model to convergence
def test_any_tm_samples_several_tm_without_retraining():
    sde, gmm = VPSDE(N=200), GaussianMixture.preset("2gaussians")
    model = tiny_dinof(sde, any_tm=True, T_m_range=(0.2, 1.0), hidden=32, n_layers=2, flow_steps=4)
    model = _fit(model, lambda n, g: gmm.sample(n, g).float(), 1000)
    ref = gmm.sample(1500, _gen(1)).float()
    for T_m in (0.2, 0.5, 0.9):
        s = model.sample_result(1500, T_m=T_m, generator=_gen(0))
        assert s.n_steps == round(200 * T_m) and s.T_m == T_m
        # the conditional flow hands over the right marginal p_{T_m} …
        p_tm = gmm.marginal(sde, T_m).sample(1500, _gen(2)).float()
        assert mmd(p_tm, s.x_Tm) < 0.01, T_m
        # … and the samples match the data
        assert mmd(ref, s.x) < 0.01, T_m
    # the same network runs the baseline from p_T at T_m = T
    assert model.sample_result(10, T_m=1.0, generator=_gen(0)).n_steps == 200


def test_glow_inverse_every_keeps_exactly_the_listed_states():
    flow = Glow((1, 4, 4), 2, 2, 8).eval()
    z = torch.randn(3, 1, 4, 4)
    x, full = flow.inverse(z), flow.inverse_trajectory(z)
    torch.testing.assert_close(full[-1], x)
    for every in (1, 2, 4, 100):
        kept = flow.inverse_trajectory(z, every=every)
        x2 = kept[-1]
        idx = flow.intermediate_indices(every)
        assert len(kept) == len(idx) and idx[0] == 0 and idx[-1] == len(full) - 1
        for i, state in zip(idx, kept):
            torch.testing.assert_close(state, full[i])
        torch.testing.assert_close(x2, x)


# --------------------------------------------------------------------------- context and errors
def test_tm_context_features():
    sde = VPSDE()
    T_m = torch.tensor([0.1, 0.55, 1.0])
    c = tm_context(sde, T_m, (0.1, 1.0))
    assert c.shape == (3, CONTEXT_DIM)
    torch.testing.assert_close(c[:, 0], torch.tensor([-1.0, 0.0, 1.0]))
    a, s = sde.marginal_coeffs(T_m)
    torch.testing.assert_close(c[:, -2], a)
    torch.testing.assert_close(c[:, -1], s.log())


def test_a_flow_without_the_flow_prior_contract_is_refused_naming_what_is_missing():
    """DiNof checks the flow against ``FlowPrior`` when it is built, not at the first sample."""
    sde = VPSDE(N=20)
    flow = Glow((2,), 1, 2, 8)
    assert isinstance(flow, FlowPrior) and flow_prior_missing(flow) == []

    class NoTrace(nn.Module):  # a flow with a density and an inverse but no states or names
        in_shape, context_dim = (2,), 0
        log_prob, inverse = flow.log_prob, flow.inverse

    missing = "inverse_trajectory(), layer_names(), intermediate_indices()"
    with pytest.raises(TypeError, match=rf"FlowPrior .*; NoTrace lacks {re.escape(missing)}$"):
        DiNof(sde, ScoreMLP.for_sde(sde), NoTrace(), T_m=0.5)
    with pytest.raises(TypeError, match=r"FlowPrior .*; dict is not an nn.Module$"):
        DiNof(sde, ScoreMLP.for_sde(sde), {"in_shape": (2,)}, T_m=0.5)


def test_tm_spec_checks_and_draws_the_hand_over_times():
    spec = TmSpec.build(0.5, (0.2, 0.8), eps=1e-3, T=1.0)
    assert spec.any_T_m and spec.resolve(None) == 0.5
    assert spec.resolve(torch.tensor(0.3)) == pytest.approx(0.3, abs=1e-7)  # a float32 0.3
    T_m, t_max = spec.draw(5000, _gen(0), "cpu", torch.float32)
    assert t_max == 0.8 and float(T_m.min()) >= 0.2 and float(T_m.max()) < 0.8
    assert abs(float(T_m.mean()) - 0.5) < 0.01  # U(0.2, 0.8): mean 0.5, std/sqrt(n) = 2.5e-3
    single = TmSpec.build(0.5, None, eps=1e-3, T=1.0)
    T_m, t_max = single.draw(3, _gen(0), "cpu", torch.float32)
    assert t_max == 0.5 and torch.equal(T_m, torch.full((3,), 0.5))
    with pytest.raises(ValueError, match="trained at T_m=0.5 only"):
        single.resolve(0.6)
    with pytest.raises(ValueError, match=r"T_m must lie in \(eps, T\] = \(0.001, 1.0\]"):
        TmSpec.build(1e-3, None, eps=1e-3, T=1.0)


def test_clear_errors():
    sde = VPSDE(N=20)
    model = _small(sde)
    with pytest.raises(ValueError, match=r"T_m must lie in \(eps, T\]"):
        _small(sde, T_m=1.5)
    with pytest.raises(ValueError, match=r"T_m must lie in"):
        model.sample(4, T_m=0.0)
    with pytest.raises(ValueError, match="trained at T_m=0.5 only"):
        model.sample(4, T_m=0.7)
    with pytest.raises(ValueError, match="outside the range"):
        _small(sde, T_m_range=(0.2, 0.8)).sample(4, T_m=0.9)
    with pytest.raises(ValueError, match=r"T_m_range must be"):
        _small(sde, T_m_range=(0.8, 0.2))
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, 2\)"):
        model.loss(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, 2\)"):
        model.log_likelihood(torch.randn(4))
    with pytest.raises(ValueError, match="context_dim=DiNof.CONTEXT_DIM"):
        DiNof(sde, ScoreMLP.for_sde(sde), Glow((2,), 1, 2, 8), T_m_range=(0.2, 0.8))
    with pytest.raises(ValueError, match="unconditional flow"):
        DiNof(sde, ScoreMLP.for_sde(sde), Glow((2,), 1, 2, 8, context_dim=CONTEXT_DIM))
    with pytest.raises(ValueError, match="flow_reduction.*valid: sum, mean"):
        DiNof(sde, ScoreMLP.for_sde(sde), Glow((2,), 1, 2, 8), flow_reduction="bits")
    with pytest.raises(ValueError, match="n must be an integer"):
        model.sample(0)


def test_readme_dinof_example_runs():
    """The README's DiNof example, with its training run shortened (shapes and NFE as printed)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "DiNof(" in b]
    assert len(blocks) == 1, "README should show one DiNof example"
    code = blocks[0].replace("n_steps=3000", "n_steps=20")
    assert code != blocks[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    s = scope["s"]
    assert (s.flow_states.shape, s.sde_states.shape, s.nfe) == ((26, 500, 2), (61, 500, 2), 600)
    assert scope["x"].shape == scope["x_03"].shape == (2000, 2)
    assert scope["logp"].shape == (500,)


def test_training_resumes_exactly_from_a_checkpoint(tmp_path):
    """Both networks, the EMA, ActNorm's init flag and the RNG come back from checkpoint.pt."""
    sde, gmm = VPSDE(N=50), GaussianMixture.preset("2gaussians")

    def run(workdir, stop=None):
        cfg = TrainConfig(n_steps=8, batch_size=32, warmup=3, progress=False, ckpt_every=None)
        trainer = Trainer(_small(sde), training_loss, lambda n, g: gmm.sample(n, g), cfg, workdir)
        trainer.fit(max_steps=stop)
        return trainer

    straight = run(tmp_path / "a")
    run(tmp_path / "b", stop=3)
    resumed = run(tmp_path / "b")
    for a, b in zip(
        straight.ema_model.state_dict().values(), resumed.ema_model.state_dict().values()
    ):
        assert torch.equal(a, b)
    assert straight.losses == resumed.losses
