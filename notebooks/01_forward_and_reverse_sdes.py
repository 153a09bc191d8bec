# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Forward and reverse SDEs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/01_forward_and_reverse_sdes.ipynb)
#
# **Time:** about 30 minutes of study; the full run takes about a minute on 2 CPU cores
# (`DINOF_SMOKE=1`, used by the tests, shrinks the samples; every claim is an `assert` in both modes).
#
# A diffusion model destroys data by adding noise a little at a time, and generates data by
# running that process **backwards**, which needs the *score* of every intermediate
# distribution. On a toy whose every intermediate density is known, we get that score exactly.
# Press ▶ below; then we take the picture apart: the forward SDEs of Song et al. (2021), the
# score, the reverse SDE and the probability-flow ODE, and starting at an intermediate time —
# the idea of DiNof (Zand et al., [arXiv 2309.01274](https://arxiv.org/abs/2309.01274)).
#
# **Predict, then run** boxes ask for a guess before the next cell; the answer follows it.

# %%
# NBVAL_IGNORE_OUTPUT
import os
import subprocess
import sys

if (
    "google.colab" in sys.modules
):  # Colab: clone the repository (code + shipped checkpoints), install it
    repo = "/content/dinof_lite"
    if not os.path.isdir(repo):
        subprocess.run(
            [
                "git",
                "clone",
                "-q",
                "--depth",
                "1",
                "https://github.com/dinof-lite/dinof_lite",
                repo,
            ],
            check=True,
        )
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", repo], check=True)
    os.environ["DINOF_CHECKPOINT_DIR"] = f"{repo}/data/checkpoints"
    try:  # ipywidgets on Colab need its custom widget manager
        from google.colab import output

        output.enable_custom_widget_manager()
    except Exception as err:
        print("custom widget manager not enabled:", err)

# %%
# %matplotlib inline
import math
import sys
import time

import matplotlib.pyplot as plt
import plotly.io as pio
import torch

from dinof_lite import viz
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation import sample_quality
from dinof_lite.sampling import ode_sample_result, pc_sample_result
from dinof_lite.sde import VESDE, VPSDE, subVPSDE
from dinof_lite.utils import smoke_or
from dinof_lite.viz.animation import points_animation

torch.manual_seed(0)  # every random draw below also has its own seeded generator
torch.set_num_threads(1)  # the 2D toys are tiny: one CPU thread is the fastest
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 10})
if "google.colab" not in sys.modules:  # JupyterLab / VS Code render plotly's JSON mimetype natively
    pio.renderers.default = "plotly_mimetype"

N_STEPS = smoke_or(1000, 100)  # discretisation steps N of the reverse process
N_SAMPLES = smoke_or(2000, 1000)  # samples per point cloud


def label_xy(*axes) -> None:
    """Name the two data coordinates on 2D panels."""
    for ax in axes:
        ax.set_xlabel("$x_1$", fontsize=10)
        ax.set_ylabel("$x_2$", fontsize=10)


# %%
# NBVAL_IGNORE_OUTPUT
gmm = GaussianMixture.preset("8gaussians")  # eight Gaussian modes on a circle of radius 2.8
vp_anim = VPSDE(N=300)
gen = torch.Generator().manual_seed(7)
x0 = gmm.sample(300, gen)
xi = torch.randn(x0.shape, generator=gen)  # the noise each particle will receive
t_forward = torch.linspace(0.0, 1.0, 13)
frames = [vp_anim.perturb(x0, t, z=xi) for t in t_forward]  # noise added a little at a time
labels = [f"forward, t = {t:.2f}" for t in t_forward.tolist()]
back = pc_sample_result(
    vp_anim, gmm.score_fn(vp_anim), frames[-1], corrector="none", trajectory_every=20, generator=gen
)  # the reverse SDE, exact score
frames += list(back.trajectory[1:])
labels += [f"reverse, t = {t:.2f}" for t in back.times[1:].tolist()]
followed = [
    int((x0 - torch.tensor(m)).norm(dim=1).argmin()) for m in ([2.8, 0], [-2, 2], [0, -2.8])
]
points_animation(
    frames,
    labels,
    title="data → noise (forward) → data (reverse SDE)",
    color=torch.atan2(x0[:, 1], x0[:, 0]).tolist(),
    highlight=followed,
    lim=4.2,
)

# %% [markdown]
# Each particle keeps the colour of its starting mode. Forward, the eight modes blur into one
# Gaussian cloud; in reverse the score pulls it into eight modes again — with the colours mixed:
# the reverse process makes *new* samples, it does not send particles home. Red: three followed
# particles.

# %% [markdown]
# > **Notation** ([`docs/notation.md`](../docs/notation.md)). Forward SDE
# > $\mathrm dx = f(x, t)\,\mathrm dt + g(t)\,\mathrm dw$, $t \in [0, T]$, $T = 1$; marginal
# > $x_t \mid x_0 \sim \mathcal N(a_t x_0, \sigma_t^2 I)$, $\sigma_t$ the **marginal standard
# > deviation** (`a, s = sde.marginal_coeffs(t)`); $\xi \sim \mathcal N(0, I)$ noise (the code's
# > `z`); $\nabla_x \log p_t$ the true score, $s_\theta$ a learned one; $\varepsilon$ the smallest
# > time a sampler reaches.

# %% [markdown]
# ## 1. The forward SDE: gradual noising
#
# The *drift* $f$ pulls the state, the *diffusion* $g$ scales the Brownian increments
# $\mathrm{d}w$. The three SDEs of Song et al. (2021) are linear, so $a_t$ and $\sigma_t$ are
# known in closed form:
#
# | SDE | $f(x,t)$ | $g(t)$ | $a_t$ | $\sigma_t$ |
# | --- | --- | --- | --- | --- |
# | VE | $0$ | $\sigma(t)\sqrt{2\ln(\sigma_{\max}/\sigma_{\min})}$ | $1$ | $\sqrt{\sigma(t)^2-\sigma_{\min}^2}$ |
# | VP | $-\tfrac12\beta(t)\,x$ | $\sqrt{\beta(t)}$ | $e^{-\frac14 t^2(\beta_1-\beta_0)-\frac12 t\beta_0}$ | $\sqrt{1-a_t^2}$ |
# | sub-VP | $-\tfrac12\beta(t)\,x$ | $\sqrt{\beta(t)\,(1-a_t^4)}$ | as VP | $1-a_t^2$ |
#
# with $\sigma(t)=\sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t$ ($\sigma_{\min}=0.01$,
# $\sigma_{\max}=50$) and $\beta(t)=\beta_0+t(\beta_1-\beta_0)$ ($\beta_0=0.1$, $\beta_1=20$).
# VE keeps the signal and *explodes* the noise; VP shrinks it and *preserves* the variance.

# %%
sdes = {"VE": VESDE(), "VP": VPSDE(), "sub-VP": subVPSDE()}
fig = viz.plot_sde_coefficients(sdes)
fig.set_size_inches(10.0, 3.0)
plt.show()

# %% [markdown]
# VE's $a_t$ stays at 1 while its $\sigma_t$ climbs four decades; VP and sub-VP share the falling
# $a_t$ (their curves overlap).
#
# > **Predict, then run.** At $t = 1$, is the VE marginal wider or narrower than the VP one, and
# > by roughly what factor? How much of the signal, $a_1$, does VP keep?

# %%
t = torch.linspace(0.0, 1.0, 1001, dtype=torch.float64)
(a_ve, s_ve), (a_vp, s_vp), (a_sub, s_sub) = (sde.marginal_coeffs(t) for sde in sdes.values())
for name, (a, s) in zip(sdes, [(a_ve, s_ve), (a_vp, s_vp), (a_sub, s_sub)]):
    print(f"{name:7s} a(1) = {a[-1].item():.4f}   s(1) = {s[-1].item():.4f}")

assert torch.equal(a_ve, torch.ones_like(t))  # VE never shrinks the signal
assert torch.allclose(a_vp, a_sub)  # VP and sub-VP share the mean
assert (s_sub <= s_vp).all()  # ... but sub-VP is always less noisy
assert a_vp[-1] < 0.01 and abs(s_vp[-1] - 1) < 1e-4  # VP: p_1 is N(0, I) up to 1%
assert abs(s_ve[-1] - 50.0) < 1e-3  # VE: p_1 is N(x0, 50^2 I), i.e. ~ N(0, 50^2 I)

# %% [markdown]
# *Answer:* VE's $p_1$ is about 50 times wider ($\sigma_1 = 50$ against VP's $\sigma_1 = 1.0000$).
# VP keeps $a_1 = e^{-5.025} \approx 0.0066$ of the signal: $p_1$ is $\mathcal N(0, I)$ to
# within a percent. VE keeps *all* of it ($a_1 = 1$), drowned in noise far wider than the data.
#
# **The forward sampler in plain torch**: $x_t = a_t\,x_0 + \sigma_t\,\xi$, written out from the
# table and checked against the library's `sde.perturb(x0, t, z=z)`:


# %%
# NBVAL_IGNORE_OUTPUT
def forward_sample_by_hand(name, x0, t, z):
    """x_t = a(t) x0 + s(t) z from the closed-form marginal; x0, z (B, D), t (B,)."""
    if name == "VP":  # β0 = 0.1, β1 = 20
        a = torch.exp(-0.25 * t**2 * (20.0 - 0.1) - 0.5 * t * 0.1)
        s = torch.sqrt(1 - a**2)
    elif name == "VE":  # σ_min = 0.01, σ_max = 50
        sigma = 0.01 * (50.0 / 0.01) ** t
        a, s = torch.ones_like(t), torch.sqrt(sigma**2 - 0.01**2)
    else:
        raise ValueError(name)
    return a[:, None] * x0 + s[:, None] * z


gen = torch.Generator().manual_seed(50)
x0 = GaussianMixture.preset("8gaussians").sample(512, gen).double()
t_fw = torch.rand(512, generator=gen, dtype=torch.float64)  # one time per point, t ~ U(0, 1)
z = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
for name in ("VP", "VE"):
    by_hand, library = forward_sample_by_hand(name, x0, t_fw, z), sdes[name].perturb(x0, t_fw, z=z)
    assert torch.allclose(by_hand, library, rtol=0, atol=1e-6), name
    print(f"{name}: max |by hand - sde.perturb| = {(by_hand - library).abs().max():.1e}")

# %% [markdown]
# ## 2. A 2D toy whose every marginal is known
#
# The `8gaussians` toy is a mixture $p_0 = \sum_k \pi_k\,\mathcal N(\mu_k, \Sigma_k)$. The kernel
# is Gaussian, so each marginal is again a mixture (`GaussianMixture.marginal(sde, t)`):
#
# $$p_t(x) = \sum_k \pi_k\,\mathcal N\big(x;\ a_t\mu_k,\ a_t^2\Sigma_k + \sigma_t^2 I\big).$$
#
# From now on we use the VP SDE with `N_STEPS` steps. Top row: samples of $p_t$; bottom row: the
# exact density.

# %%
vp = VPSDE(N=N_STEPS)
gmm = GaussianMixture.preset("8gaussians")
times = [0.0, 0.1, 0.25, 0.5, 1.0]
fig = viz.plot_marginals_over_time(
    vp, gmm, times, n_samples=N_SAMPLES, generator=torch.Generator().manual_seed(1)
)
fig.set_size_inches(10.5, 4.6)
for i, ax in enumerate(fig.axes):
    ax.set_xlabel("$x_1$", fontsize=10)
    if i % len(times) == 0:
        ax.set_ylabel(ax.get_ylabel() + "\n$x_2$", fontsize=10)
fig.colorbar(
    fig.axes[-1].images[0],
    ax=fig.axes[len(times) :],
    shrink=0.8,
    pad=0.01,
    label=r"$p_t(x)\,/\,\max_x p_t$",
)
plt.show()

# %% [markdown]
# The modes blur ($t = 0.1$), merge into a ring ($t = 0.25$), then into one Gaussian ($t = 0.5$).
#
# The closed form follows from the SDE. Simulating it with Euler–Maruyama,
# $x \leftarrow x + f\,\Delta t + g\sqrt{\Delta t}\,\xi$, must give $x_t - a_t x_0$ of standard
# deviation $\sigma_t$:

# %%
# NBVAL_IGNORE_OUTPUT
gen = torch.Generator().manual_seed(0)
x0 = gmm.sample(N_SAMPLES, gen)


def simulate_forward(sde, x0, n_steps, generator, t_end=1.0):
    """Euler–Maruyama from 0 to t_end; returns the path (n_steps+1, B, D) and its times."""
    dt = t_end / n_steps
    path = [x0]
    for i in range(n_steps):
        drift, diffusion = sde.sde(path[-1], i * dt)
        noise = torch.randn(x0.shape, generator=generator)
        path.append(path[-1] + drift * dt + diffusion[:, None] * math.sqrt(dt) * noise)
    return torch.stack(path), torch.linspace(0.0, t_end, n_steps + 1)


n_euler = 1000  # cheap even in smoke mode: 1000 steps of a (B, 2) update
path, path_times = simulate_forward(vp, x0, n_euler, gen)
for t_check in (0.1, 0.5, 1.0):
    i = round(t_check * n_euler)
    a, s = vp.marginal_coeffs(torch.tensor(t_check))
    ratio = ((path[i] - a * x0).std() / s).item()
    print(f"t = {t_check}: std(x_t - a x_0) / sigma_t = {ratio:.3f}")
    assert abs(ratio - 1) < 0.05  # simulation and closed form agree within 5%

fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
viz.plot_samples(ax, x0, color="0.8")
viz.plot_trajectories(
    ax,
    path[::10],
    times=path_times[::10],
    n_paths=40,
    highlight=3,
    colorbar=True,
    legend=True,
    title="forward VP SDE: 3 of 40 paths",
)
label_xy(ax)
plt.show()

# %% [markdown]
# Each path leaves a data point (cross) and ends in the central blob (dot), forgetting its mode.
# Notebook [01b](01b_paths_likelihoods_and_start_times.ipynb) draws the paths against time.

# %% [markdown]
# ## 3. The score field $\nabla_x \log p_t(x)$
#
# For the mixture the score is exact too (`docs/design.md` §Gaussian-mixture oracle):
#
# $$\nabla_x \log p_t(x) = -\sum_k w_k(x)\, C_k^{-1}\big(x - a_t\mu_k\big),\qquad
# C_k = a_t^2\Sigma_k + \sigma_t^2 I,\quad w_k \propto \pi_k\,\mathcal N(x; a_t\mu_k, C_k).$$
#
# This is what a perfect network $s_\theta(x, t)$ would output. The arrows show its direction
# (all the same length) over the density $p_t$.

# %%
score_fn = gmm.score_fn(vp)  # the oracle: score_fn(x (B, 2), t (B,)) -> (B, 2)
fig, axes = plt.subplots(1, 4, figsize=(10.5, 3.1), layout="constrained")
for ax, t_show in zip(axes, [0.01, 0.1, 0.3, 0.8]):
    viz.plot_density(ax, gmm.marginal(vp, t_show).log_prob, kind="contour", cmap="Blues", n_grid=80)
    viz.plot_score_field(
        ax, score_fn, t_show, n_grid=17, title=f"$\\nabla \\log p_t$,  $t = {t_show}$"
    )
    label_xy(ax)
fig.colorbar(
    axes[-1].collections[0], ax=axes, shrink=0.8, pad=0.01, label="blue: $p_t(x)\\,/\\,\\max_x p_t$"
)
plt.show()

# %% [markdown]
# At $t = 0.01$ the arrows split the plane into eight sectors, each flowing into its mode; at
# $t = 0.3$ they point to the ring, at $t = 0.8$ to the origin like the prior's score $-x$. A check
# that the oracle is the gradient of $\log p_t$ (autograd), and $-x$ at $t = 1$:

# %%
# NBVAL_IGNORE_OUTPUT
x_check = torch.randn(256, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2
x_req = x_check.clone().requires_grad_(True)
grad = torch.autograd.grad(gmm.marginal_log_prob(x_req, 0.3, vp).sum(), x_req)[0]
err_grad = (
    (score_fn(x_check, torch.full((256,), 0.3, dtype=torch.float64)) - grad).abs().max().item()
)
err_prior = (score_fn(x_check, torch.ones(256, dtype=torch.float64)) + x_check).abs().max().item()
print(
    f"max |oracle - autograd| at t=0.3: {err_grad:.1e};  max |oracle + x| at t=1: {err_prior:.3f}"
)
assert err_grad < 1e-8
assert err_prior < 0.1  # p_1 is N(0, I) up to a(1)^2 ~ 4e-5 of the data variance

# %% [markdown]
# ## 4. Reversing time: the reverse SDE and the probability-flow ODE
#
# The forward SDE has a reverse-time twin that, started from $p_T$, runs through the marginals
# $p_t$ backwards, from $T$ to $0$ (Anderson 1982; Song et al. 2021, Eq. 6):
#
# $$\mathrm{d}x = \big[f(x,t) - g(t)^2\,\nabla_x \log p_t(x)\big]\,\mathrm{d}t + g(t)\,\mathrm{d}\bar w .$$
#
# Without the noise and with half the score term it is the deterministic **probability-flow
# ODE**, with the *same* marginals (Eq. 13). `pc_sample_result` takes $N$ steps, each a
# *predictor* and a Langevin *corrector* (one score evaluation each); `ode_sample_result` uses an
# adaptive solver (dopri5) that picks its own number of evaluations (NFE).
#
# > **Predict, then run.** How many score evaluations will the PC sampler need with
# > $N = 1000$? Will the ODE solver need about as many, ten times fewer, or ten times more?

# %%
# NBVAL_IGNORE_OUTPUT
data = gmm.sample(N_SAMPLES, torch.Generator().manual_seed(10))
tic = time.perf_counter()
pc = pc_sample_result(vp, score_fn, (N_SAMPLES, 2), generator=torch.Generator().manual_seed(11))
toc = time.perf_counter()
ode = ode_sample_result(vp, score_fn, (N_SAMPLES, 2), generator=torch.Generator().manual_seed(12))
print(
    f"PC sampler: {pc.nfe} score evaluations ({toc - tic:.1f} s); "
    f"ODE: {ode.nfe} ({time.perf_counter() - toc:.1f} s)"
)

# %%
fig = viz.sample_grid_figure(
    {"data $p_0$": data, "reverse SDE (PC sampler)": pc.x, "probability-flow ODE": ode.x}
)
fig.set_size_inches(9.0, 3.3)
label_xy(*fig.axes)
plt.show()

# %% [markdown]
# *Answer:* PC needs $2N = 2000$ evaluations, the ODE solver 80 — over twenty times fewer. Both
# clouds look like the data. From the same starts (below), reverse-SDE paths jitter (fresh noise
# every step), probability-flow paths are smooth: the ODE is a bijection between noise and data.

# %%
x_T = vp.prior_sampling((40, 2), generator=torch.Generator().manual_seed(3))
run_sde = pc_sample_result(
    vp,
    score_fn,
    x_T,
    corrector="none",
    trajectory_every=max(1, N_STEPS // 100),
    generator=torch.Generator().manual_seed(4),
)
run_ode = ode_sample_result(
    vp, score_fn, x_T, trajectory_times=torch.linspace(1.0, vp.sample_eps, 101, dtype=torch.float64)
)

fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.4), layout="constrained")
for ax, run, title in [
    (axes[0], run_sde, "reverse SDE (Eq. 6)"),
    (axes[1], run_ode, "probability-flow ODE (Eq. 13)"),
]:
    viz.plot_density(ax, gmm.log_prob, kind="contour", cmap="Greys", alpha=0.35, n_grid=100)
    viz.plot_trajectories(
        ax,
        run.trajectory,
        times=run.times,
        n_paths=40,
        highlight=3,
        title=f"{title}: 3 of 40 paths",
        legend=ax is axes[1],
    )
    label_xy(ax)
fig.colorbar(axes[1].collections[1], ax=axes, location="bottom", shrink=0.4, aspect=30, label="$t$")
plt.show()

# %% [markdown]
# **How good are the samples?** Three metrics against the data: the squared **MMD** (near $0$
# when the distributions agree), the **sliced Wasserstein** distance, and the mean **NLL under
# the true $p_0$** (for exact samples, the entropy $H(p_0)$). A fresh data draw gives the noise
# floor; $p_{0.1}$ (stopped early) and the prior $\mathcal N(0, I)$ are failures.
#
# > **Predict, then run.** By eye, $p_{0.1}$ still shows the eight modes, only blurred. Which
# > metric will flag it more clearly: MMD², or the NLL under $p_0$?

# %%
# NBVAL_IGNORE_OUTPUT
entropy = gmm.entropy(generator=torch.Generator().manual_seed(5))
clouds = {
    "data (fresh draw)": gmm.sample(N_SAMPLES, torch.Generator().manual_seed(13)),
    "reverse SDE (PC)": pc.x,
    "probability-flow ODE": ode.x,
    "p_0.1 (stopped early)": gmm.marginal(vp, 0.1).sample(
        N_SAMPLES, torch.Generator().manual_seed(14)
    ),
    "prior N(0, I)": torch.randn(N_SAMPLES, 2, generator=torch.Generator().manual_seed(15)),
}
scores = {}
print(
    f"{'samples':24s} {'MMD²':>9s} {'sliced W2':>10s} {'NLL - H':>8s}   (H(p0) = {entropy:.3f} nats)"
)
for name, x in clouds.items():
    q = sample_quality(x, data, gmm, seed=0)  # vs the data; NLL under the true p0
    scores[name] = {"mmd": q["mmd"], "sw": q["sw"], "nll": q["gmm_nll"]}
    r = scores[name]
    print(f"{name:24s} {r['mmd']:9.5f} {r['sw']:10.3f} {r['nll'] - entropy:+8.3f}")

# %%
floor = scores["data (fresh draw)"]["mmd"]
for name in ("reverse SDE (PC)", "probability-flow ODE"):
    assert scores[name]["mmd"] < floor + 3e-3, name  # MMD² within 0.003 of data-vs-data
    assert scores[name]["sw"] < 0.4, name  # sliced W2 (the prior scores ~1.1)
    assert abs(scores[name]["nll"] - entropy) < 0.15, name  # NLL within 0.15 nats of H(p0)
assert scores["prior N(0, I)"]["mmd"] > 0.05 and scores["prior N(0, I)"]["sw"] > 0.8
assert scores["p_0.1 (stopped early)"]["nll"] - entropy > 0.3  # NLL sees the extra blur

# %% [markdown]
# *Answer:* the NLL. In the full run $p_{0.1}$'s MMD² is 0.002 — tiny next to the prior's 0.136 —
# while its NLL is 0.71 nats above the entropy, where both samplers are within 0.01. MMD² barely
# sees a slight widening of every mode; the exact density sees it at once.
#
# The probability flow is a bijection, so it also gives **exact log-likelihoods** by the change
# of variables; notebook [01b](01b_paths_likelihoods_and_start_times.ipynb) computes them.

# %% [markdown]
# ## 5. Starting the reverse process at $t < T$ — the idea of DiNof
#
# Many reverse steps turn near-Gaussian noise into *slightly less* Gaussian noise. Sampling
# $p_{T_m}$ at an intermediate time $T_m$ directly, we could run only the last
# $\mathrm{round}(N\cdot T_m)$ steps. The oracle can; DiNof *learns* $p_{T_m}$ with a
# normalizing flow.
#
# > **Predict, then run.** Started at $T_m = 0.6$ from exact samples of $p_{0.6}$, with the same
# > step size: how many score evaluations will the sampler need (2000 from $t = 1$), and will the
# > samples be worse?

# %%
# NBVAL_IGNORE_OUTPUT
T_M = 0.6
x_tm = gmm.marginal(vp, T_M).sample(N_SAMPLES, torch.Generator().manual_seed(20))
short = pc_sample_result(
    vp, score_fn, x_tm, t_start=T_M, generator=torch.Generator().manual_seed(21)
)
q = sample_quality(short.x, data, gmm, seed=0)
scores["start at t = 0.6"] = {"mmd": q["mmd"], "sw": q["sw"], "nll": q["gmm_nll"]}
print(f"{'start':20s} {'NFE':>5s} {'MMD²':>9s} {'sliced W2':>10s} {'NLL - H':>8s}")
for label, name, nfe in [
    ("t = 1 from N(0, I)", "reverse SDE (PC)", pc.nfe),
    ("t = 0.6 from p_0.6", "start at t = 0.6", short.nfe),
]:
    r = scores[name]
    print(f"{label:20s} {nfe:5d} {r['mmd']:9.5f} {r['sw']:10.3f} {r['nll'] - entropy:+8.3f}")
print(f"starting at T_m = {T_M} saves {1 - short.nfe / pc.nfe:.0%} of the score evaluations")

# %%
assert short.nfe == 2 * round(N_STEPS * T_M) and short.nfe / pc.nfe == T_M  # 40% fewer evaluations
assert scores["start at t = 0.6"]["mmd"] < floor + 3e-3  # ... and the same quality
assert abs(scores["start at t = 0.6"]["nll"] - entropy) < 0.15

fig = viz.sample_grid_figure(
    {
        "start: samples of $p_{0.6}$": x_tm,
        f"after {round(N_STEPS * T_M)} steps": short.x,
        "data": data,
    }
)
label_xy(*fig.axes)
plt.show()

# %% [markdown]
# *Answer:* $2 \cdot 600 = 1200$ evaluations, 40 % fewer, and no loss of quality: MMD² $-0.0003$
# and NLL 0.03 nats above the entropy, against $-0.0001$ and 0.01 from $t = 1$ — within the
# metrics' noise. What a *wrong* start costs: notebook
# [01b](01b_paths_likelihoods_and_start_times.ipynb).

# %% [markdown]
# ## Exercises
#
# 1. Repeat sections 2–4 with `VESDE()` and `subVPSDE()`. For VE, pass `plot_marginals_over_time`
#    limits `lim=[...]` of about $3\sqrt{4 + \sigma_t^2}$: why must they grow, where is VE's prior?
# 2. Sample with `pc_sample(..., corrector="none")` and with `predictor="euler_maruyama"`, and
#    with fewer steps (`n_steps=50, 20, 10`). Which configuration degrades first, by which metric?
# 3. Run `ode_sample_result` with `rtol=atol=1e-3`: how do the NFE and the sample metrics change?
# 4. Plot the Tweedie denoiser `gmm.denoise(x, t, vp)` as arrows $E[x_0 \mid x_t] - x_t$ and
#    compare with $\sigma_t^2 \nabla \log p_t$.
#
# **Assignment:** [`A1_forward_sde`](assignments/student/A1_forward_sde.ipynb): the VP and VE
# marginals and a forward sampler for any SDE, graded.

# %% [markdown]
# ## Recap
#
# > - A linear forward SDE has Gaussian kernels $\mathcal N(a_t x_0, \sigma_t^2 I)$; VE, VP and
# >   sub-VP trade signal for noise differently.
# > - For a Gaussian mixture every $p_t$ and its score are known exactly: an oracle.
# > - With the true score, the reverse SDE (Eq. 6) and the probability-flow ODE (Eq. 13) both turn
# >   prior noise into data; the ODE is deterministic and needs far fewer score evaluations.
# > - Starting at $T_m < T$ from samples of $p_{T_m}$ saves a fraction $1-T_m$ of the steps
# >   without losing quality — *if* $p_{T_m}$ is sampled correctly. DiNof learns it with a flow.
# >
# > **Next:** [notebook 02](02_score_matching_and_pc_sampling.ipynb) trains a score network in
# > place of the oracle. Optional first: [01b](01b_paths_likelihoods_and_start_times.ipynb).
