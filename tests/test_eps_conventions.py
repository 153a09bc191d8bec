"""The two eps of score_sde, its ALD corrector and its VE edge step, on identical inputs.

The reference formulas are written out here from Song et al. 2021 (App. C–G) and Song & Ermon
2019 (Alg. 1), in score_sde's own discrete variables (``discrete_sigmas``, ``timestep``), and
compared with the library's continuous-time versions.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.dinof import DiNof
from dinof_lite.flows import Glow
from dinof_lite.losses import dsm_loss, sample_times
from dinof_lite.sampling import get_corrector, get_predictor, ode_log_likelihood, pc_sample
from dinof_lite.sde import VESDE, VPSDE, get_sde, subVPSDE
from tests.factories import tiny_dinof


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class SpyNet(nn.Module):
    """A score network that returns zeros and records every label it is called with."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.labels: list[float] = []

    def forward(self, x, label):
        self.labels += label.flatten().tolist()
        return torch.zeros_like(x) + self.w


def test_train_and_sample_eps_are_score_sdes():
    """Training / likelihood eps 1e-5 for every SDE; sampling eps 1e-3 VP / sub-VP, 1e-5 VE."""
    for sde, sample_eps in ((VESDE(), 1e-5), (VPSDE(), 1e-3), (subVPSDE(), 1e-3)):
        assert sde.train_eps == 1e-5 and sde.sample_eps == sample_eps
    sde = VPSDE()
    # score_sde losses.py: t = rand(B) * (T - eps) + eps with eps = 1e-5
    u = torch.rand(1000, generator=gen(0))
    torch.testing.assert_close(sample_times(1000, sde, generator=gen(0)), u * (1 - 1e-5) + 1e-5)
    assert sample_times(20_000, sde, generator=gen(1)).min() < 1e-3  # the old 1e-3 floor is gone


def test_dinof_trains_and_measures_from_train_eps_and_samples_to_sample_eps():
    sde = VPSDE(N=20)
    net = SpyNet()
    model = tiny_dinof(sde, net=net, flow_hidden=8, seed=None)
    assert (model.train_eps, model.sample_eps) == (1e-5, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated eps inside the library
        model.loss(torch.randn(4000, 2, generator=gen(0)), gen(1))
        assert min(net.labels) / 999 < 1e-3  # DSM times reach below the sampling eps
        net.labels.clear()
        model.log_likelihood(torch.randn(3, 2, generator=gen(2)), rtol=1e-3, atol=1e-3)
        assert min(net.labels) / 999 == pytest.approx(1e-5, rel=1e-4)
        s = model.sample_result(3, generator=gen(3), trajectory_every=5)
    assert float(s.sde_times[-1]) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="train_eps must be a number in"):
        DiNof(sde, SpyNet(), model.flow, train_eps=0.0)


def test_eps_is_a_deprecated_spelling_that_names_both_times():
    """``.eps`` meant sample_eps, ``DiNof(eps=)`` both times: they still work, with a warning."""
    sde = VPSDE(N=20)
    flow = Glow((2,), levels=1, steps=2, hidden=8)
    named = r"name the smallest time you mean, train_eps .* or sample_eps"
    with pytest.warns(
        FutureWarning, match=r"^sde.eps is deprecated \(here it means sample_eps\): " + named
    ):
        assert sde.eps == sde.sample_eps == 1e-3
    with pytest.warns(FutureWarning, match=r"^ReverseSDE.eps is deprecated .*sample_eps"):
        assert sde.reverse(lambda x, t: -x).eps == 1e-3
    both = r"^DiNof\(eps=...\) is deprecated \(here it means train_eps and sample_eps\)"
    with pytest.warns(FutureWarning, match=both):
        old = DiNof(sde, SpyNet(), flow, T_m=0.5, eps=2e-3)
    assert (old.train_eps, old.sample_eps) == (2e-3, 2e-3)
    with pytest.warns(
        FutureWarning, match=r"^DiNof.eps is deprecated \(here it means sample_eps\)"
    ):
        assert old.eps == 2e-3
    with pytest.warns(FutureWarning, match=both):  # an explicit train_eps / sample_eps wins
        mixed = DiNof(sde, SpyNet(), flow, T_m=0.5, eps=2e-3, sample_eps=4e-3)
    assert (mixed.train_eps, mixed.sample_eps) == (2e-3, 4e-3)


def test_checkpoints_that_stored_one_eps_load_without_a_warning():
    """dinof_lite 0.2 files stored ``eps`` (both times); ``kwargs_from_checkpoint`` splits it."""
    stored = {"T_m": 0.5, "T_m_range": None, "eps": 2e-3, "flow_weight": 1.0}
    kwargs = DiNof.kwargs_from_checkpoint(stored)
    split = {"T_m": 0.5, "T_m_range": None, "train_eps": 2e-3, "sample_eps": 2e-3}
    assert kwargs == {**split, "flow_weight": 1.0}
    assert "eps" in stored  # the stored dict is not changed
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model = DiNof(VPSDE(N=20), SpyNet(), Glow((2,), 1, 2, 8), **kwargs)
        assert DiNof.kwargs_from_checkpoint(model.kwargs) == model.kwargs  # new files as stored
    assert (model.train_eps, model.sample_eps) == (2e-3, 2e-3)


def test_ode_likelihood_with_train_eps_matches_the_closed_form_gaussian():
    """p_0 = N(μ, σ0² I) with σ0 = 0.01: log p_{1e-5}(x) to 1e-3 nats; the old start at 1e-3
    measures p_{1e-3} instead, whose variance is 2.1 σ0² (s(1e-3)² ≈ 1.1e-4): 0.32 nats lower."""
    sde = VPSDE()
    mu, s0 = torch.tensor([[0.3, -0.2]], dtype=torch.float64), 0.01
    gmm = GaussianMixture(mu, s0**2 * torch.eye(2, dtype=torch.float64)[None], torch.ones(1))
    x = gmm.sample(16, gen(0)).double()
    prior = gmm.marginal(sde, 1.0)
    logp = ode_log_likelihood(
        sde, gmm.score_fn(sde), x, prior_logp=prior.log_prob, rtol=1e-8, atol=1e-8
    )
    exact = gmm.marginal(sde, 1e-5).log_prob(x)
    assert (logp - exact).abs().max() < 1e-3
    assert (gmm.marginal(sde, 1e-3).log_prob(x) - exact).mean() < -0.3  # measured -0.324


def _score_sde_ve_discretize(sde: VESDE, t: float) -> float:
    """score_sde VESDE.discretize: G = √(σ_k² − σ_{k−1}²), σ_{−1} = 0, k = ⌊t (N − 1)⌋."""
    sigmas = torch.exp(
        torch.linspace(math.log(sde.sigma_min), math.log(sde.sigma_max), sde.N, dtype=torch.float64)
    )
    k = int(t * (sde.N - 1) + 1e-9)
    adjacent = 0.0 if k == 0 else float(sigmas[k - 1])
    return math.sqrt(float(sigmas[k]) ** 2 - adjacent**2), adjacent


@pytest.mark.parametrize("k", [0, 1, 2, 9])
def test_ve_edge_step_matches_score_sde(k):
    """With s(t) = σ(t) the step that reaches t = 0 has s(0) = σ_min, as score_sde's σ_0; the
    step from t = 0 (score_sde's timestep 0) has adjacent σ 0, so G = σ_min."""
    sde = get_sde("ve", N=10, exact_marginal=False)
    t, dt = k / (sde.N - 1), 1 / (sde.N - 1)
    x = torch.randn(3, 2, dtype=torch.float64, generator=gen(0))
    G_ref, adj = _score_sde_ve_discretize(sde, t)
    f, G = sde.discretize(x, torch.full((3,), t, dtype=torch.float64), dt)
    assert torch.equal(f, torch.zeros_like(x))
    torch.testing.assert_close(G, torch.full((3,), G_ref, dtype=torch.float64))
    score = -x
    sigma = float(sde.sigma(torch.tensor(t, dtype=torch.float64)))
    x_mean, std = sde.ancestral_step(x, torch.full((3,), t, dtype=torch.float64), dt, score)
    torch.testing.assert_close(x_mean, x + score * (sigma**2 - adj**2))
    ref_std = math.sqrt(adj**2 * (sigma**2 - adj**2) / sigma**2)
    torch.testing.assert_close(std, torch.full((3,), ref_std, dtype=torch.float64))
    big = get_sde("ve", N=1000, sigma_max=50.0, exact_marginal=False)  # the CIFAR-10 setting
    t1 = torch.full((1,), 1 / 999, dtype=torch.float64)
    ratio = big.sigma(t1) / big.discretize(x[:1], t1, 1 / 999)[1]
    assert 7.6 < float(ratio) < 7.8  # the old s(0) = 0 gave G = σ(t): 7.7x too large


def test_a_100_step_ve_run_matches_score_sde_to_its_last_step():
    """score_sde's VE sampler (reverse diffusion, no corrector): N = 100 steps on its grid
    linspace(T, eps, N), step k = ⌊t (N − 1)⌋ from σ_k to its adjacent σ_{k−1} (0 at k = 0),
    x_mean = x + G² score, x = x_mean + G z, the last x_mean returned. The library's predictor on
    the same times with dt = 1 / (N − 1) and the same noise: the same samples to 1e-4 (measured
    6e-5: its continuous σ(t_i) differs from σ_k by i·eps / (N − 1) in t). The last step, from
    t = eps, takes G = σ_min like score_sde's timestep 0; with s(0) = σ_min there instead (G ≈ 0)
    the final denoising x + σ_min² score would be missing: 1.5e-4 here, 2.4 times the rest."""
    sde = get_sde("ve", N=100, sigma_max=10.0, exact_marginal=False)
    gmm = GaussianMixture.preset("8gaussians")
    score = gmm.score_fn(sde)
    eps, n = 1e-5, sde.N
    sigmas = torch.exp(
        torch.linspace(math.log(sde.sigma_min), math.log(sde.sigma_max), n, dtype=torch.float64)
    )
    x = sde.prior_sampling((256, 2), generator=gen(0), dtype=torch.float64)
    ref = ours = x
    g_ref, g_ours = gen(1), gen(1)
    pred = get_predictor("reverse_diffusion")(sde, score)
    for t in torch.linspace(sde.T, eps, n, dtype=torch.float64).tolist():
        tb = torch.full((256,), t, dtype=torch.float64)
        k = int(t * (n - 1))
        G2 = float(sigmas[k]) ** 2 - (0.0 if k == 0 else float(sigmas[k - 1]) ** 2)
        ref_mean = ref + G2 * score(ref, tb)
        ref = ref_mean + math.sqrt(G2) * torch.randn(ref.shape, generator=g_ref, dtype=ref.dtype)
        before_last = ours
        ours, ours_mean = pred.update(ours, tb, -1.0 / (n - 1), g_ours)
    rel = float((ours_mean - ref_mean).norm() / ref_mean.norm())
    assert rel < 1e-4, rel
    without_denoise = float((before_last - ref_mean).norm() / ref_mean.norm())
    assert without_denoise > 2 * rel  # the last step's σ_min² score is part of the match


def test_ald_matches_score_sde_annealed_langevin():
    """score_sde AnnealedLangevinDynamics: ε = (snr · s(t))² · 2 α, x ← x + ε score + √(2ε) z,
    α = 1 (VE) or score_sde's 1 − β_k / N (VP, equal to first order in 1/N)."""
    x = torch.randn(4, 2, dtype=torch.float64, generator=gen(0))
    t = torch.full((4,), 0.3, dtype=torch.float64)

    def score_fn(x, t):
        return -2.0 * x

    for sde, tol in ((VESDE(sigma_max=10.0), 1e-12), (VPSDE(), 1e-3)):
        corr = get_corrector("ald")(sde, score_fn, snr=0.16, n_steps=2)
        got, got_mean = corr.update(x, t, -1.0 / sde.N, gen(1))
        std = float(sde.marginal_coeffs(t)[1][0])
        if isinstance(sde, VPSDE):
            k = int(0.3 * (sde.N - 1))
            beta_k = sde.beta_0 + k / (sde.N - 1) * (sde.beta_1 - sde.beta_0)
            alpha = 1 - beta_k / sde.N
        else:
            alpha = 1.0
        step = (0.16 * std) ** 2 * 2 * alpha
        g, ref = gen(1), x
        for _ in range(2):
            ref_mean = ref + step * score_fn(ref, t)
            ref = ref_mean + math.sqrt(2 * step) * torch.randn(4, 2, generator=g, dtype=x.dtype)
        torch.testing.assert_close(got, ref, rtol=tol, atol=tol)
        torch.testing.assert_close(got_mean, ref_mean, rtol=tol, atol=tol)


def test_ald_runs_in_pc_sampling_and_counts_its_calls():
    sde = VPSDE(N=20)
    gmm = GaussianMixture.preset("8gaussians")
    res_x = pc_sample(sde, gmm.score_fn(sde), (8, 2), corrector="ald", generator=gen(0))
    assert torch.isfinite(res_x).all()
    # DSM with the oracle at the new training eps stays finite down to t = 1e-5
    loss = dsm_loss(sde, gmm.score_fn(sde), gmm.sample(256, gen(2)), generator=gen(3))
    assert torch.isfinite(loss) and loss < 1.5
    assert get_predictor("reverse_diffusion") is not None
