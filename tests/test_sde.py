"""SDEs against ground truth: Monte-Carlo forward simulation, telescoping discretisations."""

import math

import pytest
import torch

from dinof_lite.sde import VESDE, VPSDE, get_sde, subVPSDE

SDES = [VESDE(sigma_max=5.0), VPSDE(), subVPSDE()]
CHECK_TIMES = (0.1, 0.3, 0.6, 1.0)


def _simulate(sde, x0, n_paths, n_steps, gen):
    """Fine Euler–Maruyama of the forward SDE; returns {t: samples (n_paths, D)}."""
    x = x0.expand(n_paths, -1).clone()
    dt = sde.T / n_steps
    out = {}
    for i in range(n_steps):
        t = torch.full((n_paths,), (i + 0.5) * dt, dtype=x.dtype)  # midpoint rule in time
        drift, g = sde.sde(x, t)
        x = (
            x
            + drift * dt
            + g[:, None] * math.sqrt(dt) * torch.randn(x.shape, generator=gen, dtype=x.dtype)
        )
        for tc in CHECK_TIMES:
            if abs((i + 1) * dt - tc) < 1e-9:
                out[tc] = x.clone()
    return out


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_marginal_prob_matches_monte_carlo(sde):
    gen = torch.Generator().manual_seed(0)
    x0 = torch.tensor([[1.5, -2.0]], dtype=torch.float64)
    n_paths = 10_000
    sims = _simulate(sde, x0, n_paths, 500, gen)
    for tc, xs in sims.items():
        mean, std = sde.marginal_prob(x0, tc)
        # standard errors of the sample mean / std, plus a small allowance for the time step
        se_mean = std.item() / math.sqrt(n_paths)
        assert torch.allclose(xs.mean(0), mean[0], atol=5 * se_mean + 1e-3), (sde.name, tc)
        rel = (xs.std(0) / std - 1).abs().max().item()
        assert rel < 5 / math.sqrt(2 * n_paths) + 0.01, (sde.name, tc, rel)


def test_ve_exact_versus_code_marginal():
    exact, code = VESDE(), VESDE(exact_marginal=False)
    t = torch.tensor([0.0, 0.1, 0.5])
    s_exact, s_code = exact.marginal_coeffs(t)[1], code.marginal_coeffs(t)[1]
    sigma = 0.01 * 5000**t
    assert torch.allclose(s_code, sigma)
    assert torch.allclose(s_exact, (sigma**2 - 1e-4).sqrt())
    assert s_exact[0] == 0.0


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_marginal_at_zero_is_the_data(sde):
    x0 = torch.randn(4, 3)
    mean, std = sde.marginal_prob(x0, 0.0)
    assert torch.allclose(mean, x0) and torch.all(std.abs() < 1e-6)


def _run_discretisation(sde, N):
    """Iterate the forward discretisation of ``x = 1`` on an N-step grid: (mean coeff, variance)."""
    x = torch.ones(1, 1, dtype=torch.float64)
    a, var = 1.0, 0.0
    for i in range(1, N + 1):
        f, G = sde.discretize(x, torch.tensor([i / N], dtype=torch.float64), 1.0 / N)
        keep = 1 + f.item()  # 1 for SMLD, sqrt(1 - beta_i) for DDPM
        a, var = a * keep, keep**2 * var + G.item() ** 2
    return a, var


@pytest.mark.parametrize("sde", [VESDE(), VPSDE()], ids=lambda s: s.name)
@pytest.mark.parametrize("N", [10, 1000])
def test_smld_and_ddpm_discretisations_telescope_exactly(sde, N):
    """Composing the one-step transitions reproduces the marginal (a(1), s(1)²) on any grid."""
    a, var = _run_discretisation(sde, N)
    a_true, s_true = (v.item() for v in sde.marginal_coeffs(torch.tensor(1.0, dtype=torch.float64)))
    assert math.isclose(a, a_true, rel_tol=1e-9) and math.isclose(var, s_true**2, rel_tol=1e-9)


def test_ddpm_beta_matches_score_sde_to_first_order():
    vp = VPSDE(N=1000)
    t = torch.linspace(0.01, 1, 100, dtype=torch.float64)
    beta_i = vp.discrete_beta(t)
    assert torch.allclose(beta_i, vp.beta(t) / 1000, rtol=0.04)  # score_sde: β̄_i / N, O(dt) apart
    coarse = vp.discrete_beta(t, dt=0.2)  # β(t) dt reaches 4 here: the naive form would be NaN
    assert torch.all((coarse >= 0) & (coarse < 1))
    assert torch.allclose(vp.discrete_alpha(t, 0.2), 1 - coarse)


def test_subvp_std_is_below_vp_std():
    t = torch.linspace(0.01, 1, 50)
    assert torch.all(subVPSDE().marginal_coeffs(t)[1] < VPSDE().marginal_coeffs(t)[1])


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_prior_logp_and_sampling(sde):
    z = sde.prior_sampling((5000, 2), generator=torch.Generator().manual_seed(1))
    assert abs(z.std().item() / sde.prior_std - 1) < 0.03
    dist = torch.distributions.Normal(0.0, sde.prior_std)
    assert torch.allclose(sde.prior_logp(z[:7]), dist.log_prob(z[:7]).sum(1), atol=1e-4)


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_reverse_sde_and_probability_flow(sde):
    x, t = torch.randn(6, 2), torch.rand(6) * 0.9 + 0.05
    score_fn = lambda x, t: -x  # noqa: E731
    f, g = sde.sde(x, t)
    drift, diff = sde.reverse(score_fn).sde(x, t)
    assert torch.allclose(drift, f - g[:, None] ** 2 * score_fn(x, t)) and torch.equal(diff, g)
    drift_pf, diff_pf = sde.reverse(score_fn, probability_flow=True).sde(x, t)
    assert torch.allclose(drift_pf, f - 0.5 * g[:, None] ** 2 * score_fn(x, t))
    assert torch.all(diff_pf == 0)
    rf, rG = sde.reverse(score_fn).discretize(x, t)
    fd, Gd = sde.discretize(x, t)
    assert torch.allclose(rf, fd - Gd[:, None] ** 2 * score_fn(x, t)) and torch.equal(rG, Gd)


def test_noise_labels_follow_the_code_conventions():
    t = torch.tensor([0.0, 0.5, 1.0])
    assert torch.allclose(VPSDE().noise_label(t), 999 * t)
    assert torch.allclose(VESDE(sigma_max=50).noise_label(t), 0.01 * 5000**t)


def test_bad_inputs_raise_clear_errors():
    sde = VPSDE()
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        sde.marginal_prob(x, 1.5)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        sde.sde(x, torch.tensor([-0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"shape \(batch,\) = \(3,\)"):
        sde.marginal_prob(x, torch.rand(4))
    with pytest.raises(ValueError, match="batch, \\*dims"):
        sde.marginal_prob(torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="valid: ve, vp, subvp"):
        get_sde("cosine")
    with pytest.raises(ValueError, match="N"):
        VPSDE(N=0)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        VESDE(sigma_min=1.0, sigma_max=0.5)
    assert isinstance(get_sde("sub-VP"), subVPSDE) and get_sde("ve", sigma_max=348).sigma_max == 348


@pytest.mark.parametrize(
    "sde",
    [VESDE(sigma_max=7.0, N=50, exact_marginal=False), VPSDE(beta_max=15.0), subVPSDE(N=20)],
    ids=lambda s: s.name,
)
def test_params_rebuild_an_identical_sde(sde):
    clone = get_sde(sde.name, **sde.params())
    assert type(clone) is type(sde) and clone.params() == sde.params()
    t = torch.linspace(0, 1, 5)
    assert all(torch.equal(u, v) for u, v in zip(clone.marginal_coeffs(t), sde.marginal_coeffs(t)))
