"""Fast stochastic samplers: weak convergence on the mixture oracle (exact score, exact p_eps),
the first score call at T_m from a flow prior, and the bitwise reduction to their deterministic
counterparts without noise."""

from __future__ import annotations

import math

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.dinof import DiNof
from dinof_lite.flows import Glow
from dinof_lite.nets.oracle import OracleScoreNet
from dinof_lite.sampling.fast import fast_sample, fast_sample_result
from dinof_lite.sampling.solvers import SOLVERS
from dinof_lite.sde import VESDE, VPSDE

STOCHASTIC = sorted(k for k, fn in SOLVERS.items() if fn.stochastic)
#: each stochastic sampler's deterministic counterpart and the options that switch its noise off
NO_NOISE = {
    "edm_sde": ("heun", {"S_churn": 0.0}),
    "dpm_solver_pp_2m_sde": ("dpm_solver_pp_2m", {"eta": 0.0}),
}
#: noise settings of the convergence test: S_churn / n stays below EDM's cap √2 − 1 at n >= 4
NOISY = {"edm_sde": {"S_churn": 1.0}, "dpm_solver_pp_2m_sde": {"eta": 1.0}}
ANISO = GaussianMixture.preset("aniso")  # asymmetric: its mean and covariance are informative
T0 = 0.5


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_every_stochastic_sampler_is_tested():
    assert STOCHASTIC == sorted(NO_NOISE) == sorted(NOISY)


def _exact_moments(p: GaussianMixture) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mean, covariance and ``E_p[log p]`` of a 2D mixture (the last by quadrature on a grid
    spanning ±7, spacing 0.01: its error is far below the Monte-Carlo error of the test)."""
    mean = (p.weights[:, None] * p.means).sum(0)
    second = sum(w * (c + torch.outer(m, m)) for w, m, c in zip(p.weights, p.means, p.covs))
    g = torch.linspace(-7.0, 7.0, 1401, dtype=torch.float64)
    pts = torch.cartesian_prod(g, g)
    logp = p.log_prob(pts)
    return mean, second - torch.outer(mean, mean), float((logp.exp() * logp).sum() * 0.01**2)


def _errors(x: torch.Tensor, p: GaussianMixture, exact) -> dict[str, tuple[float, float]]:
    """``{stat: (error, its Monte-Carlo standard error)}`` of samples ``x`` against ``p``."""
    mean, cov, elogp = exact
    n = x.shape[0]
    c = x - x.mean(0)
    prod = c[:, :, None] * c[:, None, :]
    logp = p.log_prob(x)
    return {
        "mean": (float((x.mean(0) - mean).norm()), math.sqrt(float(x.var(0).sum()) / n)),
        "cov": (float((prod.mean(0) - cov).norm()), math.sqrt(float(prod.var(0).sum()) / n)),
        "log p": (abs(float(logp.mean()) - elogp), float(logp.std()) / math.sqrt(n)),
    }


@pytest.mark.parametrize("name", STOCHASTIC)
def test_weak_error_falls_at_the_stated_order(name):
    """From the exact marginal at t = 0.5, with the exact score, 4 → 8 → 16 → 32 steps: the
    error of the samples' mean, covariance and mean log-density against the exact p_eps falls
    at every doubling while it stands above the Monte-Carlo noise (3 SE of 200k samples), by
    ~2^order past the first (coarsest) doubling; the moments end within 4 SE.
    Measured (VP): log p ratios 2.3, 1.9, 1.7 (edm_sde), 2.8, 2.3, 1.9 (dpm_solver_pp_2m_sde);
    covariance 8 → 16 2.4 and 2.7."""
    sde = VPSDE()
    p_eps = ANISO.marginal(sde, sde.sample_eps)
    exact = _exact_moments(p_eps)
    x0 = ANISO.marginal(sde, T0).sample(200_000, gen(0)).double()
    score = ANISO.score_fn(sde)
    levels = (4, 8, 16, 32)
    errs = [
        _errors(
            fast_sample(
                sde,
                score,
                x0,
                t_start=T0,
                solver=name,
                n_steps=n,
                options=NOISY[name],
                generator=gen(n),
            ),
            p_eps,
            exact,
        )
        for n in levels
    ]
    order, rates = SOLVERS[name].order, []
    for stat in ("mean", "cov", "log p"):
        for k in range(len(levels) - 1):
            (e_coarse, _), (e_fine, se_fine) = errs[k][stat], errs[k + 1][stat]
            if e_fine > 3 * se_fine:
                assert e_fine < e_coarse, (name, stat, levels[k], errs)
                if k > 0:  # 4 steps is too coarse for the asymptotic rate
                    rates.append((stat, levels[k], math.log2(e_coarse / e_fine)))
        if stat != "log p":
            assert errs[0][stat][0] > 4 * errs[0][stat][1], (stat, errs)  # a bias to start from
            assert errs[-1][stat][0] < 4 * errs[-1][stat][1], (stat, errs)  # noise at the end
    assert all(order - 0.6 < r < order + 1.0 for _, _, r in rates), (name, rates, errs)
    assert sum(stat == "log p" for stat, _, _ in rates) == 2, (rates, errs)
    assert errs[-1]["log p"][0] < 0.02  # 32 steps: within 0.02 nats of the exact E[log p_eps]


@pytest.mark.parametrize("name", STOCHASTIC)
@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_max=10.0)], ids=["vp", "ve"])
def test_without_noise_each_sampler_is_its_deterministic_counterpart_bitwise(name, sde):
    base, off = NO_NOISE[name]
    x0 = GaussianMixture.preset("8gaussians").marginal(sde, T0).sample(64, gen(0))
    score = GaussianMixture.preset("8gaussians").score_fn(sde)
    kw = {"t_start": T0, "n_steps": 7, "trajectory": True}
    a = fast_sample_result(sde, score, x0, solver=name, options=off, generator=gen(1), **kw)
    b = fast_sample_result(sde, score, x0, solver=base, **kw)
    assert torch.equal(a.x, b.x) and torch.equal(a.trajectory, b.trajectory)
    assert a.nfe == b.nfe == 7 * SOLVERS[base].nfe_per_step
    noisy = fast_sample(
        sde,
        score,
        x0,
        solver=name,
        options=NOISY[name],
        generator=gen(1),
        **{k: v for k, v in kw.items() if k != "trajectory"},
    )
    assert not torch.equal(noisy, b.x)  # with noise the samples differ


@pytest.mark.parametrize("name", STOCHASTIC)
def test_from_a_flow_prior_the_first_score_call_is_at_T_m(name):
    """DiNof.sample(solver=...) with the noise on: the first score call is at T_m exactly, no
    call is above it (the churn is capped at the start), NFE = steps × cost per step, the
    trajectory runs T_m → sample_eps, and the generator fixes every draw."""
    sde = VPSDE()
    calls: list[float] = []
    oracle = OracleScoreNet(GaussianMixture.preset("8gaussians"), sde)

    class Spy(torch.nn.Module):
        def forward(self, x, label):
            calls.append(float(label[0]) / 999)
            return oracle(x, label)

    model = DiNof(sde, Spy(), Glow((2,), levels=1, steps=2, hidden=8), T_m=0.4)
    opts = {"S_churn": 40.0} if name == "edm_sde" else {"eta": 1.0}
    s = model.sample_result(
        16, solver=name, solver_options=opts, n_steps=6, generator=gen(1), trajectory_every=1
    )
    assert calls[0] == pytest.approx(0.4, abs=1e-7)  # the float32 label 999 t, read back
    assert max(calls) <= 0.4 + 1e-6
    assert s.nfe == 6 * SOLVERS[name].nfe_per_step == len(calls)
    assert s.sde_states.shape == (7, 16, 2) and float(s.sde_times[0]) == pytest.approx(0.4)
    assert torch.equal(s.sde_states[0], s.x_Tm) and torch.equal(s.sde_states[-1], s.x)
    again = model.sample(16, solver=name, solver_options=opts, n_steps=6, generator=gen(1))
    other = model.sample(16, solver=name, solver_options=opts, n_steps=6, generator=gen(2))
    assert torch.equal(again, s.x) and not torch.equal(other, s.x)


def test_options_are_checked_before_sampling():
    sde = VPSDE()
    score = GaussianMixture.preset("8gaussians").score_fn(sde)
    with pytest.raises(ValueError, match=r"solver 'edm_sde' has no option 'eta'; valid: S_churn"):
        fast_sample(sde, score, (4, 2), solver="edm_sde", options={"eta": 1.0})
    with pytest.raises(ValueError, match=r"solver 'heun' has no option 'S_churn'; valid: none"):
        fast_sample(sde, score, (4, 2), solver="heun", options={"S_churn": 1.0})
    with pytest.raises(ValueError, match=r"S_churn must be a finite number >= 0; got -1"):
        fast_sample(sde, score, (4, 2), solver="edm_sde", options={"S_churn": -1})
    with pytest.raises(ValueError, match=r"eta must be a finite number >= 0; got nan"):
        fast_sample(sde, score, (4, 2), solver="dpm_solver_pp_2m_sde", options={"eta": math.nan})
    with pytest.raises(ValueError, match=r"S_tmax must be >= S_tmin = 2"):
        fast_sample(sde, score, (4, 2), solver="edm_sde", options={"S_tmin": 2.0, "S_tmax": 1.0})
