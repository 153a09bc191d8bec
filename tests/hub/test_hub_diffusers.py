"""diffusers score networks as library networks (dinof_lite.hub.from_diffusers).

Tiny random diffusers models are built in-process (no network, no GPU) and compared with
diffusers' own numbers: (a) the SDE against the scheduler's noise levels, (b) the score against
the UNet's output, (c) one reverse step against the scheduler's step on the same model, state and
noise, (d) the record of what the network was trained on, (e) refusals, hub ids and the cache.
docs/design.md §Published score networks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import diffusers
import pytest
import torch

from dinof_lite import DiNof, Glow, get_score_fn
from dinof_lite.hub import HubUnavailable, from_diffusers
from dinof_lite.sampling import CORRECTORS, PREDICTORS, ode_log_likelihood, ode_sample, pc_sample
from dinof_lite.sampling.correctors import LangevinCorrector
from dinof_lite.sampling.fast import fast_sample
from dinof_lite.sampling.predictors import AncestralSamplingPredictor, ReverseDiffusionPredictor
from dinof_lite.sampling.solvers import SOLVERS
from dinof_lite.sde import VESDE, VPSDE
from dinof_lite.trained_on import DataRangeError, SDEMismatchError, TrainedOn, sde_record

ROOT = Path(__file__).resolve().parents[2]
N_VP, N_VE = 1000, 100
B = 4
EULER = {"step_size": 0.25}


def tiny_ddpm_unet() -> torch.nn.Module:
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        sample_size=8,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=8,
    ).eval()


def tiny_ncsnpp_unet() -> torch.nn.Module:
    """The NCSN++ layout of diffusers (Gaussian-Fourier σ embedding, skip blocks), tiny."""
    torch.manual_seed(1)
    return diffusers.UNet2DModel(
        sample_size=8,
        block_out_channels=(32, 32),
        layers_per_block=1,
        time_embedding_type="fourier",
        flip_sin_to_cos=True,
        mid_block_scale_factor=2**0.5,
        down_block_types=("SkipDownBlock2D", "AttnSkipDownBlock2D"),
        up_block_types=("AttnSkipUpBlock2D", "SkipUpBlock2D"),
        norm_num_groups=8,
        attention_head_dim=8,
    ).eval()


@pytest.fixture(scope="module")
def ddpm():
    unet = tiny_ddpm_unet()
    scheduler = diffusers.DDPMScheduler(
        num_train_timesteps=N_VP, variance_type="fixed_large", clip_sample=False
    )
    sde, net = from_diffusers(unet, scheduler)
    return unet, scheduler, sde, net


@pytest.fixture(scope="module")
def ncsnpp():
    unet = tiny_ncsnpp_unet()
    scheduler = diffusers.ScoreSdeVeScheduler(num_train_timesteps=N_VE, sigma_max=50.0, snr=0.15)
    sde, net = from_diffusers(unet, scheduler)
    scheduler.set_timesteps(N_VE)
    scheduler.set_sigmas(N_VE)
    return unet, scheduler, sde, net


def alphas_cumprod64(scheduler) -> torch.Tensor:
    """ᾱ_i of the scheduler's betas, accumulated in float64 (diffusers' own is float32)."""
    return torch.cumprod(1 - scheduler.betas.double(), 0)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ----- (a) the SDE is the scheduler's ---------------------------------------------------------
def test_vp_sde_matches_ddpm_betas_and_alphas_cumprod(ddpm):
    _, scheduler, sde, net = ddpm
    assert isinstance(sde, VPSDE) and sde.N == N_VP
    assert (sde.beta_0, sde.beta_1) == pytest.approx((N_VP * 1e-4, N_VP * 0.02), rel=1e-12)
    i = torch.arange(N_VP, dtype=torch.float64)
    # score_sde's discrete betas β(t_i)/N at t_i = i/(N−1) are the scheduler's (float32) betas
    assert (sde.beta(i / (N_VP - 1)) / N_VP - scheduler.betas.double()).abs().max() < 1e-8
    # at the matched times t_i (a(t_i)² = ᾱ_i) the library's DDPM chain is the scheduler's
    t = net.timestep_time(i.long())
    t_prev = torch.cat([torch.zeros(1, dtype=torch.float64), t[:-1]])
    assert (sde.discrete_beta(t, t - t_prev) - scheduler.betas.double()).abs().max() < 1e-8
    a2 = sde.marginal_coeffs(t)[0] ** 2
    assert (a2 - alphas_cumprod64(scheduler)).abs().max() < 1e-7
    assert (a2 - scheduler.alphas_cumprod.double()).abs().max() < 1e-6  # diffusers' float32 ᾱ
    # the timestep map inverts, and its offset from the naive label (N−1) t is 0.5 … 3.4 steps
    assert (net.timestep(t) - i).abs().max() < 1e-9
    offset = (N_VP - 1) * t - i
    assert 0.4 < offset.min() < 0.6 and 3.3 < offset.max() < 3.5
    assert net.timestep(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(-1.0)
    assert t[0] < 1e-3 < 1 < t[-1] < 1.01  # timestep −1 … ≈996 is the SDE's [0, T]


def test_ve_sde_matches_score_sde_ve_sigmas(ncsnpp):
    _, scheduler, sde, _ = ncsnpp
    assert isinstance(sde, VESDE) and sde.N == N_VE and not sde.exact_marginal
    assert (sde.sigma_min, sde.sigma_max) == (0.01, 50.0)
    i = torch.arange(N_VE, dtype=torch.float64)
    # the scheduler's own σ's, computed by its own code in float64: agreement to 1e-9
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        fp64 = diffusers.ScoreSdeVeScheduler.from_config(scheduler.config)
        fp64.set_timesteps(N_VE)
        fp64.set_sigmas(N_VE)
    finally:
        torch.set_default_dtype(default)
    assert fp64.discrete_sigmas.dtype == fp64.sigmas.dtype == torch.float64
    assert (sde.sigma(i / (N_VE - 1)) / fp64.discrete_sigmas - 1).abs().max() < 1e-9
    assert (sde.sigma(fp64.timesteps) / fp64.sigmas - 1).abs().max() < 1e-9
    # as shipped they are float32: agreement to float32 precision
    rel = sde.sigma(i / (N_VE - 1)) / scheduler.discrete_sigmas.double() - 1
    assert rel.abs().max() < 1e-6
    rel = sde.sigma(scheduler.timesteps.double()) / scheduler.sigmas.double() - 1
    assert rel.abs().max() < 1e-6
    # score_sde's s(t) = σ(t), the std of diffusers' add_noise
    assert sde.marginal_coeffs(fp64.timesteps)[1].equal(sde.sigma(fp64.timesteps))


def test_the_network_records_its_sde_and_data_range(ddpm, ncsnpp):
    for (_, _, sde, net), data_range in ((ddpm, (-1.0, 1.0)), (ncsnpp, (0.0, 1.0))):
        assert net.trained_on == TrainedOn.of(sde, data_range)
        assert net.trained_on.sde == sde_record(sde)
        assert not net.training  # returned in eval mode, like the library's loaders
        score_fn = get_score_fn(sde, net)
        assert score_fn.trained_on is net.trained_on
        lo, hi = data_range
        with pytest.raises(DataRangeError, match=f"\\[{lo:g}, {hi:g}\\]"):
            ode_log_likelihood(sde, score_fn, 255 * torch.rand(2, 3, 8, 8))
    with pytest.raises(SDEMismatchError, match="vp"):
        get_score_fn(VESDE(), ddpm[3])
    with pytest.raises(SDEMismatchError, match="ve"):
        get_score_fn(VPSDE(), ncsnpp[3])
    assert get_score_fn(VPSDE(0.1, 20.0, N=10), ddpm[3])  # N is the sampler's grid, not learned


# ----- (b) the score is the model's ----------------------------------------------------------
@pytest.mark.parametrize("i", [0, 1, 10, 500, 995])
def test_vp_score_is_minus_eps_over_sqrt_one_minus_alphas_cumprod(ddpm, i):
    unet, scheduler, sde, net = ddpm
    x = randn(B, 3, 8, 8)
    t = net.timestep_time(torch.tensor([i])).float().expand(B)
    with torch.no_grad():
        score = get_score_fn(sde, net)(x, t)
        eps = unet(x, torch.full((B,), i)).sample
    ref = -eps / (1 - alphas_cumprod64(scheduler)[i]).sqrt().float()
    assert (score - ref).abs().max() / ref.abs().max() < 1e-5


@pytest.mark.parametrize("k", [0, 1, 50, 99])
def test_ve_score_is_the_unet_output_at_sigma(ncsnpp, k):
    unet, scheduler, sde, net = ncsnpp
    x = torch.rand(B, 3, 8, 8) + scheduler.sigmas[k] * randn(B, 3, 8, 8)
    with torch.no_grad():
        score = get_score_fn(sde, net)(x, scheduler.timesteps[k].expand(B))
        ref = unet(x, scheduler.sigmas[k].expand(B)).sample  # the pipeline's model call
    assert (score - ref).abs().max() / ref.abs().max() < 1e-5


# ----- (c) one reverse step is the scheduler's -----------------------------------------------
@pytest.mark.parametrize("i", [0, 1, 10, 500, 990])
def test_ancestral_step_is_ddpm_step_fixed_large(ddpm, i):
    """DDPMScheduler(variance_type="fixed_large", clip_sample=False) at timestep i against the
    ancestral predictor from t_i to t_{i−1} (t_{−1} = 0). diffusers accumulates ᾱ in float32
    and recovers β_i = 1 − ᾱ_i/ᾱ_{i−1}, which moves β_i by up to 4.9e-4 relative at small i:
    against diffusers as shipped the step agrees to 1e-4 relative to the state (measured
    5.4e-5), with ᾱ in float64 to 1e-5 (measured 3.3e-6)."""
    unet, scheduler, sde, net = ddpm
    x = randn(B, 3, 8, 8)
    t = net.timestep_time(torch.tensor([i - 1, i]).clamp(min=0))
    t_i, dt = t[1].item(), (t[1] - (t[0] if i > 0 else 0.0)).item()
    predictor = AncestralSamplingPredictor(sde, get_score_fn(sde, net))
    with torch.no_grad():
        eps = unet(x, torch.full((B,), i)).sample
        x_new, x_mean = predictor.update(
            x, torch.full((B,), t_i), -dt, generator=torch.Generator().manual_seed(7)
        )
    mine = x_mean if i == 0 else x_new  # DDPM adds no noise at timestep 0
    fp64 = diffusers.DDPMScheduler.from_config(scheduler.config)
    fp64.alphas_cumprod = alphas_cumprod64(scheduler)
    for sched, bound in ((scheduler, 1e-4), (fp64, 1e-5)):
        sched.set_timesteps(N_VP)
        ref = sched.step(eps, i, x, generator=torch.Generator().manual_seed(7)).prev_sample
        assert (mine - ref).abs().max() / ref.abs().max() < bound


@pytest.mark.parametrize("k", [0, 1, 50, 98, 99])
def test_pc_step_is_score_sde_ve_step_correct_then_step_pred(ncsnpp, k):
    """ScoreSdeVePipeline's step k (step_correct, then step_pred) against the Langevin corrector
    and the reverse-diffusion predictor on the PC grid linspace(1, eps, N) = scheduler.timesteps.

    The corrector is the same formula (α = 1 for VE). The predictor differs by design in two
    ways (docs/design.md §Published score networks): diffusers takes σ at the grid index
    ⌊t_k (N−1)⌋ for its step (but σ(t_k) for the model), so its G = √(σ_k² − σ_{k−1}²) differs
    from the library's √(s(t_k)² − s(t_k + dt)²) by up to 8.1e-5 relative here (1.4e-4 for
    N = 2000, σ_max = 348). The last step (k = N − 1) ends at σ = 0 (G = σ_min) in both: the
    library takes the adjacent σ as 0 there, as score_sde does (VESDE.adjacent_std)."""
    unet, scheduler, sde, net = ncsnpp
    x = torch.rand(B, 3, 8, 8) + scheduler.sigmas[k] * randn(B, 3, 8, 8, seed=k)
    sigma = scheduler.sigmas[k].expand(B)
    t = scheduler.timesteps[k].expand(B)
    dt = -(1 - scheduler.config.sampling_eps) / (N_VE - 1)
    score_fn = get_score_fn(sde, net)
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        y_ref = scheduler.step_correct(unet(x, sigma).sample, x, generator=g).prev_sample
        score_y = unet(y_ref, sigma).sample
        ref = scheduler.step_pred(score_y, scheduler.timesteps[k], y_ref, generator=g)
        g = torch.Generator().manual_seed(3)
        y, _ = LangevinCorrector(sde, score_fn, snr=0.15, n_steps=1).update(x, t, dt, generator=g)
        x_new, x_mean = ReverseDiffusionPredictor(sde, score_fn).update(y, t, dt, generator=g)
    assert (y - y_ref).abs().max() / y_ref.abs().max() < 1e-5
    mean_ref = ref.prev_sample_mean
    assert (x_mean - mean_ref).abs().max() / mean_ref.abs().max() < 1e-5
    assert (x_new - ref.prev_sample).abs().max() / ref.prev_sample.abs().max() < 5e-5


def test_every_sampler_and_the_likelihood_run_unchanged(ddpm, ncsnpp):
    for _, _, sde, net in (ddpm, ncsnpp):
        score_fn = get_score_fn(sde, net)
        g = torch.Generator().manual_seed(0)
        shape = (2, 3, 8, 8)
        samples = [
            pc_sample(sde, score_fn, shape, n_steps=2, predictor=p, corrector=c, generator=g)
            for p in PREDICTORS
            for c in CORRECTORS
            if (p, c) != ("none", "none")
        ]
        samples += [
            fast_sample(sde, score_fn, shape, solver=solver, n_steps=2, generator=g)
            for solver in SOLVERS  # ODE and stochastic
        ]
        samples.append(ode_sample(sde, score_fn, shape, method="euler", options=EULER, generator=g))
        assert len(samples) == len(PREDICTORS) * len(CORRECTORS) - 1 + len(SOLVERS) + 1
        assert all(x.shape == shape and torch.isfinite(x).all() for x in samples)
        lo, hi = net.trained_on.data_range
        data = lo + (hi - lo) * torch.rand(shape)
        logp = ode_log_likelihood(sde, score_fn, data, method="euler", options=EULER, generator=g)
        assert logp.shape == (2,) and torch.isfinite(logp).all()


def test_dinof_runs_on_a_diffusers_network(ddpm, ncsnpp):
    """A DiNof built on each network: its joint loss and its sampler from T_m run unchanged."""
    for _, _, sde, net in (ddpm, ncsnpp):
        torch.manual_seed(0)
        model = DiNof(sde, net, Glow((3, 8, 8), levels=1, steps=1, hidden=8), T_m=0.5)
        lo, hi = net.trained_on.data_range
        x0 = lo + (hi - lo) * torch.rand(2, 3, 8, 8)
        g = torch.Generator().manual_seed(0)
        assert torch.isfinite(model.loss(x0, generator=g))
        with torch.no_grad():
            x = model.sample(2, n_steps=2, generator=g)
        assert x.shape == (2, 3, 8, 8) and torch.isfinite(x).all()


# ----- (e) refusals, hub ids and the cache ----------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"beta_schedule": "squaredcos_cap_v2"}, "squaredcos_cap_v2"),
        ({"beta_schedule": "scaled_linear"}, "scaled_linear"),
        ({"prediction_type": "v_prediction"}, "v_prediction"),
        ({"prediction_type": "sample"}, "'sample'"),
        ({"trained_betas": [1e-4, 2e-2]}, "trained_betas"),
        ({"variance_type": "learned_range"}, "learned_range"),
    ],
)
def test_unmappable_ddpm_scheduler_is_refused_by_name(kwargs, named):
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=10, **kwargs)
    with pytest.raises(ValueError, match=named):
        from_diffusers(tiny_ddpm_unet(), scheduler)


def test_other_schedulers_and_mismatched_unets_are_refused():
    with pytest.raises(ValueError, match="DDIMScheduler"):
        from_diffusers(tiny_ddpm_unet(), diffusers.DDIMScheduler())
    with pytest.raises(ValueError, match="time_embedding_type='positional'"):
        from_diffusers(tiny_ddpm_unet(), diffusers.ScoreSdeVeScheduler(num_train_timesteps=10))
    with pytest.raises(ValueError, match="time_embedding_type='fourier'"):
        from_diffusers(tiny_ncsnpp_unet(), diffusers.DDPMScheduler(num_train_timesteps=10))
    with pytest.raises(ValueError, match="UNet2DModel"):
        from_diffusers(torch.nn.Linear(2, 2), diffusers.DDPMScheduler())
    with pytest.raises(ValueError, match="hub id"):
        from_diffusers("google/ddpm-cifar10-32", diffusers.DDPMScheduler())
    small = {
        "sample_size": 8,
        "block_out_channels": (8,),
        "down_block_types": ("DownBlock2D",),
        "up_block_types": ("UpBlock2D",),
        "norm_num_groups": 4,
    }
    conditional = diffusers.UNet2DModel(**small, num_class_embeds=10)
    with pytest.raises(ValueError, match="class-conditional UNet2DModel .*num_class_embeds=10"):
        from_diffusers(conditional, diffusers.DDPMScheduler())
    with pytest.raises(ValueError, match="out_channels=6"):
        from_diffusers(diffusers.UNet2DModel(**small, out_channels=6), diffusers.DDPMScheduler())


@pytest.mark.parametrize("layout", ["pipeline", "flat"])
def test_local_folder_loads_like_the_objects(tmp_path, ddpm, layout):
    unet, scheduler, sde, net = ddpm
    if layout == "pipeline":
        unet.save_pretrained(tmp_path / "unet")
        scheduler.save_pretrained(tmp_path / "scheduler")
    else:
        unet.save_pretrained(tmp_path)
        scheduler.save_pretrained(tmp_path)
    sde2, net2 = from_diffusers(tmp_path)
    assert sde2.params() == sde.params() and net2.trained_on == net.trained_on
    x, t = randn(B, 3, 8, 8), torch.full((B,), 0.3)
    with torch.no_grad():
        assert torch.allclose(get_score_fn(sde2, net2)(x, t), get_score_fn(sde, net)(x, t))


def test_a_cached_hub_id_loads_offline_through_the_hf_cache(tmp_path, ncsnpp, monkeypatch):
    """A hub id found in the Hugging Face cache (its snapshot layout, built here by hand) loads
    through diffusers' from_pretrained with no network: HF_HUB_OFFLINE is honoured and the
    connection probe is never reached."""
    import huggingface_hub.constants

    from dinof_lite.hub import fetch as hub

    unet, scheduler, sde, net = ncsnpp
    repo = tmp_path / "models--google--ncsnpp-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    unet.save_pretrained(repo / "snapshots" / commit)
    scheduler.save_pretrained(repo / "snapshots" / commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "_offline_reason", lambda: pytest.fail("the probe was reached"))
    sde2, net2 = from_diffusers("google/ncsnpp-tiny", cache_dir=tmp_path)
    assert isinstance(sde2, VESDE) and sde2.params() == sde.params()
    x, t = torch.rand(B, 3, 8, 8), torch.full((B,), 0.5)
    with torch.no_grad():
        assert torch.equal(get_score_fn(sde2, net2)(x, t), get_score_fn(sde, net)(x, t))


@pytest.mark.parametrize("source", ["not a repo id", "./no/such/folder", "a/b/c"])
def test_a_source_that_is_neither_folder_nor_hub_id_is_named(source):
    with pytest.raises(ValueError, match="neither an existing folder nor a hub id"):
        from_diffusers(source)


def test_a_folder_without_a_model_is_named(tmp_path):
    with pytest.raises(ValueError, match="holds no diffusers UNet2DModel"):
        from_diffusers(tmp_path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHILD = """
import json, time
import diffusers
diffusers.UNet2DModel, diffusers.DDPMScheduler  # diffusers imports lazily: not the hub's time
from dinof_lite.hub import from_diffusers
start = time.perf_counter()
try:
    from_diffusers("google/ddpm-cifar10-32")
    out = {"type": None}
except Exception as err:
    out = {"type": type(err).__name__, "msg": str(err)}
out["seconds"] = time.perf_counter() - start
print(json.dumps(out))
"""


def _child_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.pop("HF_HUB_OFFLINE", None)
    env.update(HF_HOME=str(tmp_path / "hf"), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return env


@pytest.mark.slow  # a fresh interpreter importing diffusers, twice
@pytest.mark.parametrize("offline", ["HF_HUB_OFFLINE", "unreachable"])
def test_uncached_hub_id_fails_fast_offline(tmp_path, offline):
    """An empty cache and no hub: one clear error naming the id within seconds, no retries.
    'unreachable' points HF_ENDPOINT at a closed local port, so no test ever touches the net."""
    env = _child_env(tmp_path)
    if offline == "HF_HUB_OFFLINE":
        env["HF_HUB_OFFLINE"] = "1"
    else:
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{_closed_port()}"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["type"] == "HubUnavailable", out
    assert "'google/ddpm-cifar10-32' is not in the Hugging Face cache" in out["msg"]
    assert "`hf download google/ddpm-cifar10-32`" in out["msg"]
    assert out["seconds"] < 2.0


def test_a_hanging_connection_is_cut_at_the_probe_timeout(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from dinof_lite.hub import fetch as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "PROBE_TIMEOUT_S", 0.5)
    monkeypatch.setattr(hub.socket, "create_connection", lambda *a, **k: time.sleep(20))
    start = time.perf_counter()
    with pytest.raises(HubUnavailable, match="no connection .* within 0.5 s"):
        from_diffusers("google/ddpm-cifar10-32", cache_dir=tmp_path)
    assert time.perf_counter() - start < 3.0


NO_DIFFUSERS = """
import sys
sys.modules["diffusers"] = None  # import diffusers now raises ImportError, as when not installed
import dinof_lite, dinof_lite.hub
from dinof_lite.hub import from_diffusers
try:
    from_diffusers("google/ddpm-cifar10-32")
except ModuleNotFoundError as err:
    print("refused:", err)
"""


def test_the_library_imports_without_diffusers_and_names_the_extra(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", NO_DIFFUSERS],
        env=_child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "'hub' extra" in proc.stdout
    assert 'pip install -e ".[hub]"' in proc.stdout
