"""2D toys and the Gaussian-mixture oracle against independent computations."""

import math

import pytest
import torch

from dinof_lite.data import toy
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sde import VESDE, VPSDE, subVPSDE

SDES = [VESDE(sigma_max=10.0), VPSDE(), subVPSDE()]


@pytest.mark.parametrize("name", toy.DATASETS)
def test_toy_datasets_are_reproducible_and_bounded(name):
    x = toy.sample(name, 2000, seed=3)
    assert x.shape == (2000, 2) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert torch.equal(x, toy.sample(name, 2000, seed=3))
    assert not torch.equal(x, toy.sample(name, 2000, seed=4))
    assert x.abs().max() < 6 and 0.5 < x.std(0).min() < 3


def test_unknown_toy_lists_valid_names():
    with pytest.raises(ValueError, match="valid: 8gaussians, moons"):
        toy.sample("spiral", 10)


def _torch_mixture(gmm):
    return torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(gmm.weights),
        torch.distributions.MultivariateNormal(gmm.means, gmm.covs),
    )


@pytest.mark.parametrize("preset", toy.PRESETS)
def test_log_prob_matches_torch_distributions(preset):
    gmm = GaussianMixture.preset(preset)
    x = torch.randn(50, 2, dtype=torch.float64) * 3
    assert torch.allclose(gmm.log_prob(x), _torch_mixture(gmm).log_prob(x), atol=1e-10)


def test_sample_moments():
    gmm = GaussianMixture.preset("aniso")
    x = gmm.sample(200_000, torch.Generator().manual_seed(0)).double()
    mean = (gmm.weights[:, None] * gmm.means).sum(0)
    second = (
        gmm.weights[:, None, None] * (gmm.covs + gmm.means[:, :, None] * gmm.means[:, None])
    ).sum(0)
    cov = second - mean[:, None] * mean[None]
    assert torch.allclose(x.mean(0), mean, atol=0.02)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.03)


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
@pytest.mark.parametrize("preset", ["8gaussians", "aniso"])
def test_oracle_score_is_the_gradient_of_the_marginal_density(sde, preset):
    gmm = GaussianMixture.preset(preset)
    x = (torch.randn(64, 2, dtype=torch.float64) * 2).requires_grad_(True)
    t = torch.rand(64, dtype=torch.float64) * 0.98 + 0.01  # a different t per example
    logp = gmm.marginal_log_prob(x, t, sde)
    grad = torch.autograd.grad(logp.sum(), x)[0]
    assert torch.allclose(gmm.score(x.detach(), t, sde), grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_marginal_is_the_closed_form_convolution(sde):
    gmm = GaussianMixture.preset("aniso")
    x = torch.randn(40, 2, dtype=torch.float64)
    for t in (0.05, 0.4, 0.9):
        a, s = (v.item() for v in sde.marginal_coeffs(torch.tensor(t, dtype=torch.float64)))
        manual = GaussianMixture(a * gmm.means, a**2 * gmm.covs + s**2 * torch.eye(2), gmm.weights)
        assert torch.allclose(gmm.marginal_log_prob(x, t, sde), manual.log_prob(x), atol=1e-10)
        assert torch.allclose(gmm.marginal(sde, t).log_prob(x), manual.log_prob(x), atol=1e-10)


def test_marginal_at_T_is_close_to_the_vp_prior():
    gmm, sde = GaussianMixture.preset("8gaussians"), VPSDE()
    z = torch.randn(100, 2, dtype=torch.float64)
    assert (gmm.marginal_log_prob(z, 1.0, sde) - sde.prior_logp(z)).abs().max() < 1e-3


def test_tweedie_denoiser_on_a_single_gaussian():
    mu, cov = torch.tensor([[1.0, -1.0]]), torch.tensor([[[0.5, 0.2], [0.2, 0.4]]])
    gmm, sde = GaussianMixture(mu, cov), VPSDE()
    x = torch.randn(10, 2, dtype=torch.float64)
    t = 0.3
    a, s = (v.item() for v in sde.marginal_coeffs(torch.tensor(t, dtype=torch.float64)))
    S = cov[0].double()
    gain = a * S @ torch.linalg.inv(a**2 * S + s**2 * torch.eye(2, dtype=torch.float64))
    expected = mu.double() + (x - a * mu.double()) @ gain.T
    assert torch.allclose(gmm.denoise(x, t, sde), expected, atol=1e-10)


def test_entropy_of_a_single_gaussian():
    cov = torch.tensor([[[0.5, 0.2], [0.2, 0.4]]])
    gmm = GaussianMixture(torch.zeros(1, 2), cov)
    exact = 0.5 * torch.logdet(2 * math.pi * math.e * cov[0].double()).item()
    assert abs(gmm.entropy(100_000, torch.Generator().manual_seed(0)) - exact) < 0.01


def test_bad_mixture_arguments():
    with pytest.raises(ValueError, match=r"means must have shape \(K, D\)"):
        GaussianMixture(torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="covs must have shape"):
        GaussianMixture(torch.zeros(2, 2), torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        GaussianMixture(torch.zeros(2, 2), torch.ones(2), torch.tensor([1.0, -1.0]))
    with pytest.raises(torch.linalg.LinAlgError):
        GaussianMixture(torch.zeros(1, 2), torch.tensor([[[1.0, 2.0], [2.0, 1.0]]]))
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        GaussianMixture.preset("grid").log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="valid: 8gaussians, 2gaussians, grid, aniso"):
        GaussianMixture.preset("ring")
