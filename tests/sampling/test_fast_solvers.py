"""Fast probability-flow ODE solvers: convergence order against the exact ODE solution (oracle
score of a Gaussian mixture), the grids, NFE counting and starting exactly at T_m."""

from __future__ import annotations

import math

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.nets.oracle import OracleScoreNet
from dinof_lite.sampling import ode_sample
from dinof_lite.sampling.fast import fast_sample, fast_sample_result
from dinof_lite.sampling.solvers import SOLVERS, time_grid
from dinof_lite.sde import VESDE, VPSDE, subVPSDE
from tests.factories import tiny_dinof

GMM = GaussianMixture.preset("8gaussians")
ODE = sorted(k for k, fn in SOLVERS.items() if not fn.stochastic)  # the probability-flow solvers
T0 = 0.5  # a DiNof-like start time below T


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module", params=["vp", "subvp", "ve"])
def problem(request):
    sde = {"vp": VPSDE(), "subvp": subVPSDE(), "ve": VESDE(sigma_max=10.0)}[request.param]
    score = GMM.score_fn(sde)
    x0 = GMM.marginal(sde, T0).sample(32, gen(0)).double()
    exact = ode_sample(sde, score, x0, t_start=T0, rtol=1e-11, atol=1e-11)
    return sde, score, x0, exact


@pytest.mark.parametrize("name", ODE)
def test_each_solver_converges_at_its_order(problem, name):
    """Max error vs the exact PF-ODE solution falls by ~2^order as the steps double (measured
    ratios 3.6–4.1 for the second-order solvers, 2.0 for ddim, at 64 → 128 → 256 steps)."""
    sde, score, x0, exact = problem
    errs = [
        (fast_sample(sde, score, x0, t_start=T0, solver=name, n_steps=n) - exact)
        .norm(dim=1)
        .max()
        .item()
        for n in (64, 128, 256)
    ]
    order = SOLVERS[name].order
    for coarse, fine in zip(errs, errs[1:]):
        rate = math.log2(coarse / fine)
        assert order - 0.25 < rate < order + 0.35, (name, errs)


def test_grids_start_and_end_exactly_and_follow_their_definitions():
    sde = VPSDE()
    for kind in ("time", "log_snr", "edm"):
        g = time_grid(sde, 0.37, 1e-3, 8, kind)
        assert g[0].item() == 0.37 and g[-1].item() == 1e-3 and (g.diff() < 0).all()
    lam = sde.log_snr_half(time_grid(sde, 0.37, 1e-3, 8, "log_snr"))
    torch.testing.assert_close(
        lam.diff(), torch.full((8,), float(lam[1] - lam[0]), dtype=torch.float64), atol=1e-9, rtol=0
    )
    sig = torch.exp(-sde.log_snr_half(time_grid(sde, 0.37, 1e-3, 8, "edm")))
    root = sig ** (1 / 7)
    torch.testing.assert_close(
        root.diff(),
        torch.full((8,), float(root[1] - root[0]), dtype=torch.float64),
        atol=1e-9,
        rtol=0,
    )
    with pytest.raises(ValueError, match="unknown grid 'cosine'"):
        time_grid(sde, 1.0, 1e-3, 4, "cosine")


@pytest.mark.parametrize("name", ODE)
def test_from_a_flow_prior_the_solver_starts_exactly_at_T_m(name):
    """DiNof.sample(solver=...): the first score call is at T_m, NFE = steps × cost per step,
    the trajectory runs T_m → sample_eps, and an oracle DiNof reproduces the mixture."""
    sde = VPSDE()
    calls: list[float] = []
    oracle = OracleScoreNet(GMM, sde)

    class Spy(torch.nn.Module):
        def forward(self, x, label):
            calls.append(float(label[0]) / 999)
            return oracle(x, label)

    model = tiny_dinof(sde, net=Spy(), T_m=0.4, flow_hidden=8, seed=None)
    s = model.sample_result(16, solver=name, n_steps=6, generator=gen(1), trajectory_every=1)
    assert calls[0] == pytest.approx(0.4, abs=1e-7)  # the float32 label 999 t, read back
    assert s.nfe == 6 * SOLVERS[name].nfe_per_step == len(calls)
    assert s.sde_states.shape == (7, 16, 2) and float(s.sde_times[0]) == pytest.approx(0.4)
    assert float(s.sde_times[-1]) == pytest.approx(sde.sample_eps)
    assert torch.equal(s.sde_states[0], s.x_Tm) and torch.equal(s.sde_states[-1], s.x)
    assert torch.equal(model.sample(16, solver=name, n_steps=6, generator=gen(1)), s.x)


def test_fast_sampler_checks_its_arguments_and_counts_nfe():
    sde = VPSDE()
    times: list[float] = []

    def score(x, t):
        times.append(float(t[0]))
        return GMM.score(x, t, sde)

    for name in SOLVERS:  # every solver (stochastic too) from a state at t_start < T: first
        # score call at t_start exactly
        times.clear()
        fast_sample(sde, score, torch.zeros(4, 2, dtype=torch.float64), t_start=0.37, solver=name)
        assert times[0] == 0.37
    res = fast_sample_result(sde, score, (8, 2), solver="heun", n_steps=5, generator=gen(0))
    assert res.nfe == 10 and res.trajectory is None
    with pytest.raises(ValueError, match="unknown fast solver 'rk45'"):
        fast_sample(sde, score, (8, 2), solver="rk45")
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1; got 0"):
        fast_sample(sde, score, (8, 2), n_steps=0)
    with pytest.raises(ValueError, match="t_start=0.5 < T"):
        fast_sample(sde, score, (8, 2), t_start=0.5)
