"""Tests for dinof_lite.sampling: predictors, correctors, PC and probability-flow ODE sampling.

The ground truth is the exact Gaussian-mixture oracle (docs/design.md §Gaussian-mixture oracle):
with the true score every sampler must reproduce the mixture (MMD to fresh data ≈ the
data-vs-data MMD), and a wrong score must visibly fail.
"""

from __future__ import annotations

import math

import pytest
import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.sampling import (
    CORRECTORS,
    PREDICTORS,
    Predictor,
    SampleResult,
    Trajectory,
    get_corrector,
    get_predictor,
    langevin_step_size,
    ode_sample,
    ode_sample_result,
    pc_sample,
    pc_sample_result,
    register_predictor,
)
from dinof_lite.sampling.fast import fast_sample_result
from dinof_lite.sde import get_sde
from dinof_lite.utils import make_generator as gen

N_SAMPLES = 1000
MMD_OK = 1.5e-3  # oracle samples: |MMD| ~ 5e-4, like data vs data (unbiased estimator noise)
MMD_BAD = 8e-3  # a mixture with means scaled by 0.8: MMD ~ 1.5e-2


@pytest.fixture(scope="module")
def wrong_gmm(gmm):
    """Same mixture with every centre pulled 20% towards the origin: a plausible-looking bad score."""
    return GaussianMixture(0.8 * gmm.means, gmm.covs, gmm.weights)


@pytest.fixture(scope="module")
def data(gmm):
    return gmm.sample(N_SAMPLES, torch.Generator().manual_seed(0))


def test_data_vs_data_mmd_is_small(gmm, data):
    """Calibrates MMD_OK / MMD_BAD: fresh data is within MMD_OK, the wrong mixture beyond MMD_BAD."""
    assert abs(mmd(data, gmm.sample(N_SAMPLES, gen(1)))) < MMD_OK
    wrong = GaussianMixture(0.8 * gmm.means, gmm.covs, gmm.weights)
    assert mmd(data, wrong.sample(N_SAMPLES, gen(1))) > MMD_BAD


# --------------------------------------------------------------------------- registries
def test_registries_list_the_standard_names():
    # the standard names are there; a registered addition must not break this test
    assert {"euler_maruyama", "reverse_diffusion", "ancestral", "none"} <= set(PREDICTORS)
    assert {"langevin", "ald", "none"} <= set(CORRECTORS)
    assert get_predictor("ancestral") is PREDICTORS["ancestral"]
    assert get_predictor(PREDICTORS["none"]) is PREDICTORS["none"]  # classes pass through


def test_unknown_names_list_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown predictor 'heun'.*euler_maruyama.*reverse_diffusion"
    ):
        get_predictor("heun")
    with pytest.raises(ValueError, match=r"unknown corrector 'hmc'.*ald.*langevin.*none"):
        get_corrector("hmc")
    sde = get_sde("vp", N=10)
    with pytest.raises(ValueError, match="unknown predictor"):
        pc_sample(sde, lambda x, t: -x, (4, 2), predictor="rk45")
    with pytest.raises(ValueError, match="unknown corrector"):
        pc_sample(sde, lambda x, t: -x, (4, 2), corrector="hmc")
    # a class in the wrong slot is refused, not silently run
    with pytest.raises(ValueError, match="LangevinCorrector is not a Predictor subclass"):
        get_predictor(CORRECTORS["langevin"])
    with pytest.raises(ValueError, match="EulerMaruyamaPredictor is not a Corrector subclass"):
        get_corrector(PREDICTORS["euler_maruyama"])


def test_register_custom_predictor_is_usable_by_name():
    @register_predictor("_test_halfstep")
    class HalfStep(Predictor):
        def update(self, x, t, dt, generator=None):
            return 0.5 * x, 0.5 * x

    try:
        with pytest.raises(ValueError, match="already registered"):
            register_predictor("_test_halfstep")(HalfStep)
        sde = get_sde("vp", N=10)
        x0 = torch.ones(3, 2)
        out = pc_sample(sde, lambda x, t: -x, x0, predictor="_test_halfstep", corrector="none")
        torch.testing.assert_close(out, x0 * 0.5**10)
    finally:
        PREDICTORS.pop("_test_halfstep")


# --------------------------------------------------------------------------- one step by hand
@pytest.mark.parametrize("sde_name", ["ve", "vp", "subvp"])
@pytest.mark.parametrize("name", ["euler_maruyama", "reverse_diffusion", "ancestral"])
def test_predictor_single_step_matches_formula(sde_name, name):
    """One predictor step against Song et al. 2021 (Eq. 6 discretised; Eq. 46; App. F), with a
    known score and noise."""
    sde = get_sde(sde_name, N=100)
    score_fn = lambda x, t: -x / (1.0 + t[:, None])
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)
    t = torch.full((2,), 0.6, dtype=torch.float64)
    dt = -0.01
    if name == "ancestral" and sde_name == "subvp":
        with pytest.raises(ValueError, match="ve.*vp"):
            get_predictor(name)(sde, score_fn)
        return
    x_new, x_mean = get_predictor(name)(sde, score_fn).update(x, t, dt, gen(3))
    z = torch.randn(x.shape, generator=gen(3), dtype=x.dtype)
    s = score_fn(x, t)
    f, g = sde.sde(x, t)
    g = g[:, None]
    if name == "euler_maruyama":
        mean = x + (f - g**2 * s) * dt
        std = g * math.sqrt(-dt)
    elif name == "reverse_diffusion":
        fi, gi = sde.discretize(x, t, -dt)
        mean, std = x - (fi - gi[:, None] ** 2 * s), gi[:, None]
    elif sde_name == "vp":
        beta = sde.discrete_beta(t, -dt)[:, None]  # = β(t)|dt| + O(dt²)
        mean, std = (x + beta * s) / torch.sqrt(1 - beta), torch.sqrt(beta)
    else:
        sig, adj = sde.marginal_coeffs(t)[1][:, None], sde.marginal_coeffs(t + dt)[1][:, None]
        mean = x + s * (sig**2 - adj**2)
        std = torch.sqrt(adj**2 * (sig**2 - adj**2) / sig**2)
    torch.testing.assert_close(x_mean, mean)
    torch.testing.assert_close(x_new, mean + std * z)


def test_probability_flow_predictors_are_deterministic_half_score_steps():
    sde = get_sde("vp", N=100)
    score_fn = lambda x, t: -2.0 * x
    x = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    t = torch.tensor([0.5], dtype=torch.float64)
    f, g = sde.sde(x, t)
    x_new, x_mean = get_predictor("euler_maruyama")(sde, score_fn, True).update(x, t, -0.01)
    torch.testing.assert_close(x_new, x + (f - 0.5 * g[:, None] ** 2 * score_fn(x, t)) * -0.01)
    assert torch.equal(x_new, x_mean)
    x_new, x_mean = get_predictor("reverse_diffusion")(sde, score_fn, True).update(x, t, -0.01)
    assert torch.equal(x_new, x_mean)
    with pytest.raises(ValueError, match="probability-flow"):
        get_predictor("ancestral")(sde, score_fn, probability_flow=True)


def test_ve_ancestral_last_step_keeps_the_chains_first_noise_level():
    """SMLD at the step that reaches t = 0 (t = dt): σ' = s(0), which is σ_min for score_sde's
    s(t) = σ(t) (``discrete_sigmas[0]``) and 0 for the exact marginal (then the step is
    deterministic); from t < dt (score_sde's timestep 0) σ' = 0 for both, as score_sde."""
    x = torch.randn(5, 2, generator=gen(0))
    for t0, exact, adj in (
        (0.1, True, 0.0),
        (0.1, False, 0.01),
        (0.05, True, 0.0),
        (0.05, False, 0.0),
    ):
        sde = get_sde("ve", N=10, exact_marginal=exact)
        t = torch.full((5,), t0)
        x_new, x_mean = get_predictor("ancestral")(sde, lambda x, t: -x).update(x, t, -0.1, gen(1))
        sigma = float(sde.marginal_coeffs(torch.tensor(t0))[1])
        z = torch.randn(5, 2, generator=gen(1))
        std = math.sqrt(adj**2 * (sigma**2 - adj**2) / sigma**2)
        torch.testing.assert_close(x_mean, x - (sigma**2 - adj**2) * x)
        torch.testing.assert_close(x_new, x_mean + std * z)


# --------------------------------------------------------------------------- Langevin
def test_langevin_step_size_hand_computation():
    """ε = 2 α (snr · mean‖z‖ / mean‖score‖)², per-sample L2 norms averaged over the batch."""
    score = torch.tensor([[3.0, 4.0], [0.0, 1.0]])  # norms 5, 1 -> mean 3
    z = torch.tensor([[1.0, 0.0], [0.0, -2.0]])  # norms 1, 2 -> mean 1.5
    alpha = torch.tensor([1.0, 0.5])
    eps = langevin_step_size(score, z, snr=0.2, alpha=alpha)
    expected = 2 * alpha * (0.2 * 1.5 / 3.0) ** 2  # = [0.02, 0.01]
    torch.testing.assert_close(eps, expected)
    # a zero score (a zero-initialised network) gives no step, not an infinite one
    assert torch.equal(
        langevin_step_size(torch.zeros(2, 2), z, snr=0.2, alpha=alpha), torch.zeros(2)
    )

    # one corrector update on a VP SDE, with the noise the generator will produce
    sde = get_sde("vp", N=100)
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    t = torch.full((2,), 0.3, dtype=torch.float64)
    score_fn = lambda x, t: -x
    corr = get_corrector("langevin")(sde, score_fn, snr=0.16, n_steps=1)
    x_new, x_mean = corr.update(x, t, -0.01, gen(7))
    z = torch.randn(x.shape, generator=gen(7), dtype=x.dtype)
    alpha = 1 - sde.discrete_beta(t, 0.01)
    ratio = z.norm(dim=1).mean() / x.norm(dim=1).mean()
    step = (2 * alpha * (0.16 * ratio) ** 2)[:, None]
    torch.testing.assert_close(x_mean, x - step * x)
    torch.testing.assert_close(x_new, x_mean + torch.sqrt(2 * step) * z)


def test_langevin_stationary_variance():
    """Discretised Langevin on N(0, σ²I) with the snr rule has stationary variance σ² (1 + snr²).

    At stationarity var = rσ², so ε = 2 snr² σ²/r, and x' = (1 - ε/σ²) x + sqrt(2ε) z gives
    r = 1/(1 - ε/(2σ²)), i.e. r = 1 + snr². A missing factor 2 in ε gives r = 1 + snr²/2, noise
    sqrt(ε) instead of sqrt(2ε) gives r = 1/2 + snr².
    """
    sigma2, snr = 0.3, 0.5
    sde = get_sde("ve", N=100)  # α = 1
    corr = get_corrector("langevin")(sde, lambda x, t: -x / sigma2, snr=snr, n_steps=400)
    x = 3.0 * torch.randn(8000, 2, generator=gen(0), dtype=torch.float64)
    x, _ = corr.update(x, torch.full((8000,), 0.5, dtype=torch.float64), -0.01, gen(1))
    ratio = x.var(0).mean().item() / sigma2
    assert ratio == pytest.approx(1 + snr**2, rel=0.04)


def test_corrector_rejects_negative_snr_and_steps():
    sde = get_sde("ve", N=10)
    with pytest.raises(ValueError, match="snr"):
        get_corrector("langevin")(sde, lambda x, t: -x, snr=-0.1)
    with pytest.raises(ValueError, match="snr"):
        pc_sample(sde, lambda x, t: -x, (4, 2), snr=-1.0)
    with pytest.raises(ValueError, match="n_steps"):
        get_corrector("langevin")(sde, lambda x, t: -x, snr=0.1, n_steps=-1)


# --------------------------------------------------------------------------- PC with the oracle
PC_CASES = [
    ("ve", "reverse_diffusion", "langevin"),
    ("ve", "ancestral", "none"),
    ("vp", "euler_maruyama", "none"),
    ("vp", "ancestral", "langevin"),
    ("subvp", "euler_maruyama", "langevin"),
    ("subvp", "reverse_diffusion", "none"),
]


@pytest.mark.parametrize("sde_name,predictor,corrector", PC_CASES)
def test_pc_oracle_recovers_mixture(gmm, wrong_gmm, data, sde_name, predictor, corrector):
    sde = get_sde(sde_name, N=200)
    kw = dict(predictor=predictor, corrector=corrector, generator=gen(1))
    good = pc_sample(sde, gmm.score_fn(sde), (N_SAMPLES, 2), **kw)
    bad = pc_sample(sde, wrong_gmm.score_fn(sde), (N_SAMPLES, 2), **kw)
    assert good.shape == (N_SAMPLES, 2) and torch.isfinite(good).all()
    assert abs(mmd(data, good)) < MMD_OK
    assert mmd(data, bad) > MMD_BAD


def test_pc_probability_flow_predictor_recovers_mixture(gmm, data):
    sde = get_sde("vp", N=200)
    x_T = sde.prior_sampling((N_SAMPLES, 2), generator=gen(2))
    kw = dict(predictor="euler_maruyama", corrector="none", probability_flow=True)
    x = pc_sample(sde, gmm.score_fn(sde), x_T, **kw)
    assert abs(mmd(data, x)) < MMD_OK
    # deterministic: no generator needed, same start -> same output
    assert torch.equal(x, pc_sample(sde, gmm.score_fn(sde), x_T, **kw))


@pytest.mark.parametrize(
    "sde_name,t_m,predictor,corrector",
    [
        ("ve", 0.6, "reverse_diffusion", "langevin"),
        ("vp", 0.4, "euler_maruyama", "none"),
        ("subvp", 0.4, "euler_maruyama", "none"),
    ],
)
def test_pc_from_exact_marginal_at_t_m(gmm, data, sde_name, t_m, predictor, corrector):
    """DiNof sampling: start at T_m from p_{T_m} (here exact) and run round(N T_m) steps."""
    sde = get_sde(sde_name, N=200)
    x_tm = sde.perturb(gmm.sample(N_SAMPLES, gen(5)), t_m, generator=gen(6))
    assert mmd(data, x_tm) > MMD_BAD  # the start really is far from the data
    res = pc_sample_result(
        sde,
        gmm.score_fn(sde),
        x_tm,
        t_start=t_m,
        predictor=predictor,
        corrector=corrector,
        generator=gen(1),
    )
    evals = 1 + (corrector == "langevin")
    assert res.nfe == round(200 * t_m) * evals
    assert abs(mmd(data, res.x)) < MMD_OK


def test_pc_shape_start_needs_t_start_equal_T():
    sde = get_sde("vp", N=10)
    with pytest.raises(ValueError, match="x_start.*flow"):
        pc_sample(sde, lambda x, t: -x, (8, 2), t_start=0.5)
    with pytest.raises(ValueError, match="x_start.*flow"):
        ode_sample(sde, lambda x, t: -x, (8, 2), t_start=0.5)


# --------------------------------------------------------------------------- bookkeeping
def test_trajectory_recorder_keeps_start_every_kth_step_and_the_output():
    traj = Trajectory(3, n_steps=7)
    for i in range(8):  # the start state, then the state after each of the 7 steps
        traj.record(i, torch.full((2, 1), float(i)), 1.0 - i / 10)
    states, times = traj.finish(torch.full((2, 1), -1.0), 0.25)
    assert states[:, 0, 0].tolist() == [0.0, 3.0, 6.0, -1.0]  # step 7 is the output's place
    torch.testing.assert_close(times, torch.tensor([1.0, 0.7, 0.4, 0.25]))
    none = Trajectory(None, n_steps=7)
    none.record(0, torch.zeros(2, 1), 1.0)
    assert none.finish(torch.zeros(2, 1), 0.0) == (None, None)
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="trajectory_every must be None or an integer >= 1"):
            Trajectory(bad, n_steps=7)


def test_every_sampler_records_start_grid_and_output_alike():
    sde = get_sde("vp", N=20)
    x0 = torch.randn(8, 2, generator=gen(0))
    score_fn = lambda x, t: -x
    runs = {
        "pc": pc_sample_result(sde, score_fn, x0, t_start=0.5, trajectory_every=1),
        "ode": ode_sample_result(sde, score_fn, x0, t_start=0.5, trajectory_times=11),
        "fast": fast_sample_result(sde, score_fn, x0, t_start=0.5, n_steps=10, trajectory=True),
    }
    for name, res in runs.items():
        assert res.trajectory.shape == (11, 8, 2) and res.times.shape == (11,), name
        assert torch.equal(res.trajectory[0], x0) and torch.equal(res.trajectory[-1], res.x)
        assert res.times[0] == 0.5 and res.times[-1] == torch.tensor(sde.eps), name
        assert res.times.dtype == x0.dtype and bool((res.times.diff() < 0).all()), name


def test_trajectory_shapes_and_endpoints():
    sde = get_sde("vp", N=50)
    x0 = torch.randn(16, 2, generator=gen(0))
    score_fn = lambda x, t: -x
    res10 = pc_sample_result(sde, score_fn, x0, trajectory_every=10, generator=gen(1))
    x, traj = res10.x, res10.trajectory
    assert traj.shape == (50 // 10 + 1, 16, 2)
    assert torch.equal(traj[0], x0) and torch.equal(traj[-1], x)
    res = pc_sample_result(sde, score_fn, x0, trajectory_every=7, generator=gen(1))
    assert isinstance(res, SampleResult) and res.wall_time_s > 0
    assert res.trajectory.shape == (math.ceil(50 / 7) + 1, 16, 2)  # steps 7..49, plus first/last
    expected_times = [
        1.0,
        *(1.0 - k * (1.0 - sde.sample_eps) / 50 for k in range(7, 50, 7)),
        sde.sample_eps,
    ]
    torch.testing.assert_close(res.times, torch.tensor(expected_times))
    torch.testing.assert_close(res.x, x)  # same generator seed -> same samples
    plain = pc_sample_result(sde, score_fn, x0, generator=gen(1))
    assert plain.trajectory is None and plain.times is None
    # the plain sampler is the result's x, bit for bit, with or without a trajectory
    assert torch.equal(pc_sample(sde, score_fn, x0, generator=gen(1)), plain.x)
    assert torch.equal(plain.x, x)


def test_shared_pieces_live_in_sampling_base():
    from dinof_lite import sampling
    from dinof_lite.sampling import base

    for name in ("ScoreFn", "SampleResult", "CountingScoreFn", "check_times", "initial_state"):
        assert getattr(sampling, name) is getattr(base, name), name
    counting = base.CountingScoreFn(lambda x, t: -x)
    res = pc_sample_result(get_sde("vp", N=10), counting, (4, 2), corrector="none")
    assert counting.nfe == res.nfe == 10


def test_denoise_returns_last_predictor_mean():
    """One Euler–Maruyama step from t = 1 to eps: denoise gives x + drift dt, without the noise."""
    sde = get_sde("vp", N=10)
    x0 = torch.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=torch.float64)
    score_fn = lambda x, t: -x
    kw = dict(n_steps=1, predictor="euler_maruyama", corrector="none")
    dt = sde.sample_eps - 1.0
    drift, g = sde.reverse(score_fn).sde(x0, torch.ones(2, dtype=torch.float64))
    clean = pc_sample(sde, score_fn, x0, generator=gen(4), **kw)
    torch.testing.assert_close(clean, x0 + drift * dt)
    noisy = pc_sample(sde, score_fn, x0, generator=gen(4), denoise=False, **kw)
    z = torch.randn(x0.shape, generator=gen(4), dtype=x0.dtype)
    torch.testing.assert_close(noisy, clean + g[:, None] * (-dt) ** 0.5 * z)


@pytest.mark.parametrize(
    "predictor,corrector,n_corr,per_step",
    [
        ("reverse_diffusion", "langevin", 1, 2),
        ("euler_maruyama", "langevin", 3, 4),
        ("ancestral", "none", 1, 1),
        ("none", "langevin", 2, 2),
        ("none", "none", 1, 0),
    ],
)
def test_nfe_accounting(predictor, corrector, n_corr, per_step):
    sde = get_sde("vp", N=1000)
    res = pc_sample_result(
        sde,
        lambda x, t: -x,
        (4, 2),
        n_steps=13,
        predictor=predictor,
        corrector=corrector,
        n_corrector_steps=n_corr,
        generator=gen(0),
    )
    assert res.nfe == 13 * per_step


def test_default_n_steps_is_round_N_t_start():
    sde = get_sde("ve", N=100)
    x0 = torch.zeros(2, 2)
    res = pc_sample_result(sde, lambda x, t: -x, x0, t_start=0.37, corrector="none")
    assert res.nfe == 37


def test_reproducible_with_generator_and_independent_of_global_rng(gmm):
    sde = get_sde("ve", N=50)
    sample = lambda seed: pc_sample(sde, gmm.score_fn(sde), (64, 2), generator=gen(seed))
    torch.manual_seed(0)
    a = sample(1)
    torch.manual_seed(123)
    b = sample(1)
    assert torch.equal(a, b)
    assert not torch.allclose(sample(2), a)
    o1 = ode_sample(sde, gmm.score_fn(sde), (64, 2), generator=gen(1), rtol=1e-3, atol=1e-3)
    o2 = ode_sample(sde, gmm.score_fn(sde), (64, 2), generator=gen(1), rtol=1e-3, atol=1e-3)
    assert torch.equal(o1, o2)


def test_progress_bar_and_no_grad():
    sde = get_sde("vp", N=5)
    w = torch.tensor(2.0, requires_grad=True)
    x = pc_sample(sde, lambda x, t: -w * x, (4, 2), progress=True, generator=gen(0))
    assert not x.requires_grad


# --------------------------------------------------------------------------- ODE sampling
@pytest.mark.parametrize("sde_name", ["ve", "vp"])
def test_ode_sample_oracle_recovers_mixture(gmm, wrong_gmm, data, sde_name):
    sde = get_sde(sde_name)
    res = ode_sample_result(
        sde, gmm.score_fn(sde), (N_SAMPLES, 2), generator=gen(1), rtol=1e-4, atol=1e-4
    )
    assert res.trajectory is None and res.times is None
    assert abs(mmd(data, res.x)) < MMD_OK
    assert 20 < res.nfe < 400  # adaptive solver: far fewer than the N = 1000 SDE steps
    bad = ode_sample(
        sde, wrong_gmm.score_fn(sde), (N_SAMPLES, 2), generator=gen(1), rtol=1e-4, atol=1e-4
    )
    assert mmd(data, bad) > MMD_BAD


def test_ode_sample_from_t_m_and_trajectory(gmm, data):
    sde = get_sde("vp")
    x_tm = sde.perturb(gmm.sample(N_SAMPLES, gen(5)), 0.5, generator=gen(6))
    res = ode_sample_result(sde, gmm.score_fn(sde), x_tm, t_start=0.5, trajectory_times=[0.1, 0.3])
    assert res.trajectory.shape == (4, N_SAMPLES, 2)
    torch.testing.assert_close(res.times, torch.tensor([0.5, 0.3, 0.1, sde.sample_eps]))
    assert torch.equal(res.trajectory[0], x_tm) and torch.equal(res.trajectory[-1], res.x)
    assert abs(mmd(data, res.x)) < MMD_OK
    even = ode_sample_result(sde, gmm.score_fn(sde), x_tm[:8], t_start=0.5, trajectory_times=11)
    assert even.trajectory.shape == (11, 8, 2)
    torch.testing.assert_close(even.times, torch.linspace(0.5, sde.sample_eps, 11))
    # float32 grids that include the end points (1e-3 is 0.0010000000474 in float32) are fine
    f32 = torch.linspace(0.5, sde.sample_eps, 6, dtype=torch.float32)
    res = ode_sample_result(sde, gmm.score_fn(sde), x_tm[:8], t_start=0.5, trajectory_times=f32)
    assert res.trajectory.shape == (6, 8, 2)
    # without a trajectory the plain sampler is the result's x, bit for bit
    plain = ode_sample_result(sde, gmm.score_fn(sde), x_tm[:8], t_start=0.5)
    assert torch.equal(ode_sample(sde, gmm.score_fn(sde), x_tm[:8], t_start=0.5), plain.x)
    for bad in ([0.7], 1):
        with pytest.raises(ValueError, match="trajectory_times"):
            ode_sample_result(sde, gmm.score_fn(sde), x_tm, t_start=0.5, trajectory_times=bad)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(t_start=0.0), "t_start"),
        (dict(t_start=1.5), "t_start"),
        (dict(t_start=-0.2), "t_start"),
        (dict(eps=1.0), "eps"),
        (dict(t_start=0.3, eps=0.3), "eps"),
        (dict(eps=0.0), "eps"),
        (dict(n_steps=0), "n_steps"),
        (dict(n_steps=2.5), "n_steps"),
        (dict(trajectory_every=0), "trajectory_every"),
        (dict(trajectory_every=1.5), "trajectory_every"),
    ],
)
def test_pc_bad_arguments(kwargs, match):
    sde = get_sde("vp", N=10)
    with pytest.raises(ValueError, match=match):
        pc_sample_result(sde, lambda x, t: -x, torch.zeros(4, 2), **kwargs)


@pytest.mark.parametrize(
    "start,match",
    [
        (torch.zeros(4), "shape"),  # no batch dimension
        (torch.zeros(4, 2, dtype=torch.long), "floating"),
        (torch.full((4, 2), float("nan")), "NaN"),
        ((4,), "shape"),  # a shape needs (B, *dims)
        ((0, 2), "shape"),
        ((4, -2), "shape"),
        ("4x2", "shape"),
        (7, "shape"),
    ],
)
def test_pc_bad_start(start, match):
    sde = get_sde("ve", N=10)
    with pytest.raises(ValueError, match=match):
        pc_sample(sde, lambda x, t: -x, start)


def test_ode_sample_bad_times():
    sde = get_sde("ve", N=10)
    with pytest.raises(ValueError, match="t_start"):
        ode_sample(sde, lambda x, t: -x, torch.zeros(4, 2), t_start=2.0)
    with pytest.raises(ValueError, match="eps"):
        ode_sample(sde, lambda x, t: -x, torch.zeros(4, 2), t_start=0.5, eps=0.6)
