"""Tests for dinof_lite.sampling.likelihood: log-likelihoods through the probability-flow ODE.

With the oracle score of a Gaussian mixture (docs/design.md §Gaussian-mixture oracle) the ODE
likelihood must equal the exact log-density, for the SDE prior at T and for an exact "flow" prior
at T_m (the DiNof likelihood).
"""

from __future__ import annotations

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sampling import (
    LikelihoodResult,
    ode_log_likelihood,
    ode_log_likelihood_result,
    ode_sample,
)
from dinof_lite.sde import get_sde
from dinof_lite.utils import make_generator as gen


@pytest.fixture(scope="module")
def x(gmm):
    return gmm.sample(200, gen(0))


@pytest.fixture(scope="module")
def gauss20():
    """A 20-D Gaussian with a full covariance: exact log-density, and D > 16 (auto Hutchinson)."""
    a = torch.randn(20, 20, generator=gen(3), dtype=torch.float64) / 20**0.5
    cov = a @ a.T + 0.3 * torch.eye(20, dtype=torch.float64)
    return GaussianMixture(torch.linspace(-1, 1, 20)[None], cov[None])


@pytest.mark.parametrize("sde_name", ["ve", "vp", "subvp"])
def test_exact_divergence_matches_true_log_prob(gmm, x, sde_name):
    sde = get_sde(sde_name)
    res = ode_log_likelihood_result(sde, gmm.score_fn(sde), x)
    assert isinstance(res, LikelihoodResult)
    assert torch.equal(ode_log_likelihood(sde, gmm.score_fn(sde), x), res.logp)
    err = res.logp - gmm.log_prob(x)
    # measured: mean |err| < 1e-3 nats, max 0.01 (VE), with the default rtol = atol = 1e-5
    assert err.abs().mean() < 0.02 and err.abs().max() < 0.1
    torch.testing.assert_close(res.logp, res.prior_logp + res.delta_logp)
    assert res.latent.shape == x.shape and res.nfe > 10
    # the latent is a sample of p_T: for VP it is ~N(0, I), far from the data's scale of 4
    if sde_name == "vp":
        assert res.latent.std() < 1.2


def test_dinof_likelihood_with_exact_prior_at_t_m(gmm, x):
    """log p0(x) = log p_{T_m}(x(T_m)) + ∫_eps^{T_m} div f̃ dt, with the exact p_{T_m} as "flow"."""
    sde = get_sde("vp")
    t_m = 0.4
    prior = gmm.marginal(sde, t_m)
    res = ode_log_likelihood_result(sde, gmm.score_fn(sde), x, t_end=t_m, prior_logp=prior.log_prob)
    logp, latent = res.logp, res.latent
    assert (logp - gmm.log_prob(x)).abs().mean() < 0.01
    # the SDE's N(0, I) prior at T_m would be badly wrong: it is not the marginal there
    wrong = ode_log_likelihood(sde, gmm.score_fn(sde), x, t_end=t_m)
    assert (wrong - gmm.log_prob(x)).abs().mean() > 0.2  # measured 0.49 nats
    # the probability-flow map is invertible: integrating back from T_m recovers x
    back = ode_sample(sde, gmm.score_fn(sde), latent, t_start=t_m, eps=sde.sample_eps)
    torch.testing.assert_close(back, x, atol=2e-3, rtol=0)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased(gmm, x, probe):
    sde = get_sde("vp")
    exact = ode_log_likelihood(sde, gmm.score_fn(sde), x)
    runs = torch.stack(
        [
            ode_log_likelihood(
                sde, gmm.score_fn(sde), x, exact_divergence=False, probe=probe, generator=gen(s)
            )
            for s in range(3)
        ]
    )
    err = runs - exact
    # one probe: per-sample error std ~1 nat; the mean over 600 estimates is within ~0.05
    assert err.std() > 0.1  # it really is a stochastic estimate
    assert err.mean().abs() < 0.15
    # more probes -> smaller per-sample error (std falls like 1/sqrt(n_probes))
    many = ode_log_likelihood(
        sde,
        gmm.score_fn(sde),
        x,
        exact_divergence=False,
        probe=probe,
        n_probes=16,
        generator=gen(9),
    )
    assert (many - exact).std() < err[0].std() / 2.5


def test_auto_divergence_choice_and_high_dim(gauss20):
    """D = 20 > 16: the default is Hutchinson (seed-dependent); exact=True is deterministic."""
    sde = get_sde("vp")
    y = gauss20.sample(64, gen(1))
    truth = gauss20.log_prob(y)
    a = ode_log_likelihood(sde, gauss20.score_fn(sde), y, generator=gen(1))
    b = ode_log_likelihood(sde, gauss20.score_fn(sde), y, generator=gen(2))
    assert not torch.allclose(a, b)
    assert ((a + b) / 2 - truth).mean().abs() < 0.5
    exact = ode_log_likelihood(sde, gauss20.score_fn(sde), y, exact_divergence=True)
    # N(0, I) is not quite p_T: z·a(T)μ with a(T) = 0.0066 costs ~0.02 nats in 20-D
    assert (exact - truth).abs().mean() < 0.05
    p_T = gauss20.marginal(sde, 1.0).log_prob
    exact = ode_log_likelihood(sde, gauss20.score_fn(sde), y, exact_divergence=True, prior_logp=p_T)
    assert (exact - truth).abs().max() < 0.01  # measured 1.5e-3


def test_low_dim_default_is_exact_and_generator_free(gmm, x):
    sde = get_sde("ve")
    a = ode_log_likelihood(sde, gmm.score_fn(sde), x[:20], generator=gen(1))
    b = ode_log_likelihood(sde, gmm.score_fn(sde), x[:20], generator=gen(2))
    torch.testing.assert_close(a, b)


def test_works_under_no_grad_and_returns_no_graph(gmm, x):
    sde = get_sde("vp")
    w = torch.tensor(1.0, requires_grad=True)
    score_fn = lambda y, t: w * gmm.score(y, t, sde)
    with torch.no_grad():
        logp = ode_log_likelihood(sde, score_fn, x[:20])
    assert not logp.requires_grad
    assert (logp - gmm.log_prob(x[:20])).abs().mean() < 0.02


def test_fixed_grid_solver_via_options(gmm, x):
    sde = get_sde("vp")
    logp = ode_log_likelihood(
        sde, gmm.score_fn(sde), x[:50], method="rk4", options={"step_size": 0.01}
    )
    assert (logp - gmm.log_prob(x[:50])).abs().mean() < 0.05


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(t_start=0.0), "t_start"),
        (dict(t_start=0.5, t_end=0.5), "t_end"),
        (dict(t_end=1.5), "t_end"),
        (dict(exact_divergence=False, probe="uniform"), "unknown probe 'uniform'.*rademacher"),
        (dict(exact_divergence=False, n_probes=0), "n_probes"),
        (dict(prior_logp=lambda z: z), r"prior_logp must return shape \(4,\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    sde = get_sde("vp")
    with pytest.raises(ValueError, match=match):
        ode_log_likelihood(sde, lambda y, t: -y, torch.zeros(4, 2), **kwargs)


def test_bad_x():
    sde = get_sde("vp")
    with pytest.raises(ValueError, match="shape"):
        ode_log_likelihood(sde, lambda y, t: -y, torch.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        ode_log_likelihood(sde, lambda y, t: -y, torch.full((4, 2), float("nan")))
