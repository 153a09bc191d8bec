# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
# A score-based diffusion model destroys data with a *forward* stochastic differential equation
# (SDE) that slowly turns it into Gaussian noise, and generates data by running that process
# *backwards in time*. Going backwards needs one extra ingredient, the **score**
# $\nabla_x \log p_t(x)$ of every intermediate distribution $p_t$. In this notebook we take the
# score from an *oracle*: for a Gaussian-mixture toy the diffused densities are known in closed
# form, so we can see exactly what a perfect score network would output. We look at the three
# SDEs of Song et al. (2021) (VE, VP, sub-VP), watch a 2D distribution diffuse, draw its score
# field, sample with the reverse SDE and the probability-flow ODE, compute exact
# log-likelihoods, and finally start the reverse process at an intermediate time $t < T$ — the
# idea behind DiNof (Zand et al., [arXiv 2309.01274](https://arxiv.org/abs/2309.01274)).
# Notebook 02 replaces the oracle by a trained network.
#
# Boxes marked **Predict, then run** ask you to write down a guess before the next cell runs;
# the answer follows the cell.

# %%
# NBVAL_IGNORE_OUTPUT
import os
import subprocess
import sys

if "google.colab" in sys.modules:  # Colab: clone the repository (code + shipped checkpoints), install it
    repo = "/content/dinof_lite"
    if not os.path.isdir(repo):
        subprocess.run(["git", "clone", "-q", "--depth", "1",
                        "https://github.com/dinof-lite/dinof_lite", repo], check=True)
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
import time

import matplotlib.pyplot as plt
import torch
from matplotlib.lines import Line2D

from dinof_lite import viz
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation import sample_quality, sliced_wasserstein
from dinof_lite.sampling import (
    ode_log_likelihood_result,
    ode_sample_result,
    pc_sample,
    pc_sample_result,
)
from dinof_lite.sde import VESDE, VPSDE, subVPSDE
from dinof_lite.utils import smoke_mode, smoke_or

torch.manual_seed(0)  # every random draw below also has its own seeded generator
torch.set_num_threads(1)  # the 2D toys are tiny: one CPU thread is the fastest
plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})


def label_xy(*axes) -> None:
    """Name the two data coordinates on 2D panels."""
    for ax in axes:
        ax.set_xlabel("$x_1$", fontsize=9)
        ax.set_ylabel("$x_2$", fontsize=9)


def path_legend(ax, start: str, end: str) -> None:
    """Explain the markers of `viz.plot_trajectories`: grey crosses start, black dots end."""
    handles = [Line2D([], [], ls="", marker="x", color="0.5", label=start),
               Line2D([], [], ls="", marker="o", ms=4, color="k", label=end)]
    ax.legend(handles=handles, fontsize=7, loc="lower left", framealpha=0.8)

# %% [markdown]
# Smoke mode (`DINOF_SMOKE=1`, used by the tests) shrinks sample sizes and step counts so the
# notebook runs in seconds; every claim below is checked by an `assert` in both modes.

# %%
# NBVAL_IGNORE_OUTPUT
N_STEPS = smoke_or(1000, 100)  # discretisation steps N of the reverse process
N_SAMPLES = smoke_or(2000, 1000)  # samples per point cloud
N_LIKELIHOOD = smoke_or(500, 100)  # points whose log-density we compute with the ODE
print(f"smoke mode: {smoke_mode()}  N = {N_STEPS}, samples = {N_SAMPLES}, "
      f"likelihood points = {N_LIKELIHOOD}")

# %% [markdown]
# > **Notation** (every symbol: [`docs/notation.md`](../docs/notation.md)). The forward SDE
# > $\mathrm dx = f(x, t)\,\mathrm dt + g(t)\,\mathrm dw$ runs on $t \in [0, T]$, $T = 1$, with
# > the schedules $\beta(t)$ (VP) and $\sigma(t)$ (VE). Its marginal at time $t$ is
# > $x_t \mid x_0 \sim \mathcal N(a_t x_0, \sigma_t^2 I)$: $a_t$ is the mean coefficient and
# > $\sigma_t$ the **marginal standard deviation** (`a, s = sde.marginal_coeffs(t)` in the code).
# > $\xi \sim \mathcal N(0, I)$ is noise the diffusion adds, $\nabla_x \log p_t$ the true score,
# > $s_\theta$ a learned one, and $\varepsilon$ the smallest time a sampler or an integral reaches.

# %% [markdown]
# ## 1. The forward SDE: gradual noising
#
# The forward process is an Itô SDE on $t \in [0, T]$, $T = 1$:
#
# $$\mathrm{d}x = f(x, t)\,\mathrm{d}t + g(t)\,\mathrm{d}w .$$
#
# The *drift* $f$ pulls the state deterministically, the *diffusion* $g$ scales the Brownian
# increments $\mathrm{d}w$. All three SDEs of Song et al. (2021) are linear in $x$, so the
# transition kernel is Gaussian and known in closed form:
#
# $$x_t \mid x_0 \sim \mathcal{N}\big(a_t\,x_0,\; \sigma_t^2 I\big).$$
#
# | SDE | drift $f(x,t)$ | diffusion $g(t)$ | $a_t$ | $\sigma_t$ |
# | --- | --- | --- | --- | --- |
# | VE (SMLD) | $0$ | $\sigma(t)\sqrt{2\ln(\sigma_{\max}/\sigma_{\min})}$ | $1$ | $\sqrt{\sigma(t)^2-\sigma_{\min}^2}$ |
# | VP (DDPM) | $-\tfrac12\beta(t)\,x$ | $\sqrt{\beta(t)}$ | $e^{-\frac14 t^2(\beta_1-\beta_0)-\frac12 t\beta_0}$ | $\sqrt{1-a_t^2}$ |
# | sub-VP | $-\tfrac12\beta(t)\,x$ | $\sqrt{\beta(t)\,(1-e^{-2\beta_0 t-(\beta_1-\beta_0)t^2})}$ | same as VP | $1-a_t^2$ |
#
# with $\sigma(t)=\sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t$ ($\sigma_{\min}=0.01$,
# $\sigma_{\max}=50$) and $\beta(t)=\beta_0+t(\beta_1-\beta_0)$ ($\beta_0=0.1$, $\beta_1=20$).
# VE keeps the signal and *explodes* the noise; VP shrinks the signal while the total variance
# stays *preserved* (for unit-variance data); sub-VP has the same mean but a noise level
# $1-a_t^2 \le \sqrt{1-a_t^2}$ that is always *below* VP's. What matters for denoising is the
# signal-to-noise ratio $a_t^2/\sigma_t^2$, which all three drive from $\infty$ to about $0$.

# %%
sdes = {"VE": VESDE(), "VP": VPSDE(), "sub-VP": subVPSDE()}
fig = viz.plot_sde_coefficients(sdes)
for ax, name in zip(fig.axes, ("$a(t)$", "$s(t)$", "$a(t)^2 / s(t)^2$")):
    ax.set_ylabel(name)
plt.show()

# %% [markdown]
# What to look at: VE's $a_t$ stays at 1 while its $\sigma_t$ climbs more than four decades, to 50; VP
# and sub-VP share the falling $a_t$ (their curves lie on top of each other in the left panel),
# and sub-VP's $\sigma_t$ stays below VP's; all three signal-to-noise ratios fall over many decades.
#
# > **Predict, then run.** At $t = 1$, is the VE marginal wider or narrower than the VP one, and
# > by roughly what factor? How much of the signal, $a_1$, does VP keep? Write down your guesses.

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
# *Answer:* VE's $p_1$ is about 50 times wider: $\sigma_1 = 50$ against VP's $\sigma_1 = 1.0000$. VP
# keeps $a_1 = e^{-\frac14(\beta_1-\beta_0)-\frac12\beta_0} = e^{-5.025} \approx 0.0066$ of the
# signal — the data is gone, and $p_1$ is $\mathcal N(0, I)$ to within a percent. VE keeps *all*
# of the signal ($a_1 = 1$) but drowns it in noise of standard deviation 50, far wider than
# this toy's data, whose modes lie within a few units of the origin.
#
# **The forward sampler in plain torch.** Nothing is needed to sample $x(t)$ but the two
# coefficients: $x_t = a_t\,x_0 + \sigma_t\,\xi$ with $\xi \sim \mathcal N(0, I)$. Written out for VP
# and VE from the table, and checked against the library's `sde.perturb(x0, t, z=z)` with the
# same $t$ and noise (the code calls the noise `z`):

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
# The `8gaussians` toy is a mixture $p_0 = \sum_k \pi_k\,\mathcal N(\mu_k, \Sigma_k)$. Because
# the forward kernel is Gaussian, each marginal is again a mixture:
#
# $$p_t(x) = \sum_k \pi_k\,\mathcal N\big(x;\ a_t\mu_k,\ a_t^2\Sigma_k + \sigma_t^2 I\big).$$
#
# `GaussianMixture.marginal(sde, t)` returns it. From now on we use the VP SDE with
# `N_STEPS` discretisation steps. Top row: samples of $p_t$; bottom row: its exact density.

# %%
vp = VPSDE(N=N_STEPS)
gmm = GaussianMixture.preset("8gaussians")
times = [0.0, 0.1, 0.25, 0.5, 1.0]
fig = viz.plot_marginals_over_time(vp, gmm, times, n_samples=N_SAMPLES,
                                   generator=torch.Generator().manual_seed(1))
for i, ax in enumerate(fig.axes):
    ax.set_xlabel("$x_1$", fontsize=8)
    if i % len(times) == 0:
        ax.set_ylabel(ax.get_ylabel() + "\n$x_2$", fontsize=9)
fig.colorbar(fig.axes[-1].images[0], ax=fig.axes[len(times):], shrink=0.8,
             pad=0.01, label=r"$p_t(x)\,/\,\max_x p_t$")
plt.show()

# %% [markdown]
# What to look at: the eight modes blur (t = 0.1), merge into a ring (t = 0.25) and then into a
# single Gaussian (t = 0.5) that barely changes up to t = 1; the samples (top) and the exact
# density (bottom, each panel scaled to its own maximum) tell the same story.

# %% [markdown]
# The closed form is a *consequence* of the SDE. To convince ourselves, simulate the VP SDE from
# the data with the simplest solver, Euler–Maruyama,
# $x \leftarrow x + f(x,t)\,\Delta t + g(t)\sqrt{\Delta t}\,\xi$, and check that
# $x_t - a_t\,x_0$ has standard deviation $\sigma_t$. Each particle leaves its mode along a
# random path; together they fill in the marginals above.

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
    print(f"t = {t_check}: std(x_t - a x_0) / s(t) = {ratio:.3f}")
    assert abs(ratio - 1) < 0.05  # simulation and closed form agree within 5%

fig, ax = plt.subplots(figsize=(4.2, 3.6), layout="constrained")
viz.plot_samples(ax, x0, color="0.7")
viz.plot_trajectories(ax, path[::10], times=path_times[::10], n_paths=8, colorbar=True,
                      title="forward VP SDE: 8 paths over the data (grey)")
path_legend(ax, "start $x(0)$, a data point", "end $x(1)$")
label_xy(ax)
plt.show()

# %% [markdown]
# Each path starts on a data point (grey cross), wanders off its mode (colour runs from dark,
# $t = 0$, to yellow, $t = 1$) and ends somewhere in the central Gaussian blob (black dot): the
# end points no longer remember which mode they came from.

# %% [markdown]
# The same paths against time (in the manner of Song et al. 2021, Fig. 1): time on the horizontal
# axis, the coordinate $x_1$ on the vertical, and behind them the *exact* density of $x_1$ under
# $p_t$ — the mixture's five $x_1$-positions of modes blur into one Gaussian by about $t = 0.5$.
# Each path (dots at its two ends) is a single jagged sample of that spreading density.

# %%
mmap = viz.marginal_map(vp, gmm)  # exact p_t of x_1, from the oracle (closed form)
fig, ax = plt.subplots(figsize=(7.0, 3.0), layout="constrained")
viz.plot_marginal_map(ax, mmap, reverse_time=False)
viz.plot_time_paths(ax, path_times, path, n_paths=6, label="forward SDE paths")
ax.legend(fontsize=7, loc="upper left")
ax.set_title("forward VP SDE: 6 paths over the exact density of $x_1$ at each time", fontsize=9)
plt.show()

# %% [markdown]
# ## 3. The score field $\nabla_x \log p_t(x)$
#
# For the mixture the score is exact too (`docs/design.md` §Gaussian-mixture oracle):
#
# $$\nabla_x \log p_t(x) = -\sum_k w_k(x)\, C_k^{-1}\big(x - a_t\mu_k\big),\qquad
# C_k = a_t^2\Sigma_k + \sigma_t^2 I,\quad w_k \propto \pi_k\,\mathcal N(x; a_t\mu_k, C_k).$$
#
# This is what a perfectly trained score network $s_\theta(x, t)$ would output. Arrows below
# show its *direction* (all arrows have the same length; the magnitude ranges over orders of
# magnitude) over the density $p_t$: at small $t$ it points to the nearest mode, at large $t$
# it points to the origin like the score $-x$ of $\mathcal N(0, I)$.

# %%
score_fn = gmm.score_fn(vp)  # the oracle: score_fn(x (B, 2), t (B,)) -> (B, 2)
fig, axes = plt.subplots(1, 4, figsize=(11.0, 3.3), layout="constrained")
for ax, t_show in zip(axes, [0.01, 0.1, 0.3, 0.8]):
    viz.plot_score_field(ax, score_fn, t_show, log_prob_fn=gmm.marginal(vp, t_show).log_prob,
                         n_grid=17, title=f"$\\nabla \\log p_t$,  $t = {t_show}$")
    label_xy(ax)
fig.colorbar(axes[-1].images[0], ax=axes, shrink=0.8, pad=0.01,
             label="blue: $p_t(x)\\,/\\,\\max_x p_t$")
plt.show()

# %% [markdown]
# What to look at: at $t = 0.01$ the arrows split the plane into eight sectors, each flowing
# into its mode; at $t = 0.3$ they point to the ring and at $t = 0.8$ straight to the origin.
#
# A quick check that the oracle really is the gradient of $\log p_t$ (autograd on the exact
# log-density), and that at $t = 1$ it is the score $-x$ of the prior:

# %%
# NBVAL_IGNORE_OUTPUT
x_check = torch.randn(256, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2
x_req = x_check.clone().requires_grad_(True)
grad = torch.autograd.grad(gmm.marginal_log_prob(x_req, 0.3, vp).sum(), x_req)[0]
err_grad = (score_fn(x_check, torch.full((256,), 0.3, dtype=torch.float64)) - grad).abs().max().item()
err_prior = (score_fn(x_check, torch.ones(256, dtype=torch.float64)) + x_check).abs().max().item()
print(f"max |oracle - autograd| at t=0.3: {err_grad:.1e};  max |oracle + x| at t=1: {err_prior:.3f}")
assert err_grad < 1e-8
assert err_prior < 0.1  # p_1 is N(0, I) up to a(1)^2 ~ 4e-5 of the data variance

# %% [markdown]
# ## 4. Reversing time: the reverse SDE and the probability-flow ODE
#
# Anderson (1982) showed that the forward SDE has a reverse-time twin which, started from
# $p_T$, produces exactly the marginals $p_t$ backwards (Song et al. 2021, Eq. 6):
#
# $$\mathrm{d}x = \big[f(x,t) - g(t)^2\,\nabla_x \log p_t(x)\big]\,\mathrm{d}t + g(t)\,\mathrm{d}\bar w ,$$
#
# with time flowing from $T$ to $0$. Dropping the noise and halving the score term gives the
# **probability-flow ODE** (Eq. 13), a deterministic map with the *same* marginals:
#
# $$\mathrm{d}x = \big[f(x,t) - \tfrac12 g(t)^2\,\nabla_x \log p_t(x)\big]\,\mathrm{d}t .$$
#
# `pc_sample` discretises the reverse SDE with $N$ steps, each a *predictor* (here the
# reverse-diffusion step) and a *corrector* (one step of Langevin MCMC at fixed $t$, which
# costs one more score evaluation). `ode_sample` integrates the ODE with an adaptive
# Runge–Kutta solver (dopri5) that chooses its own number of score evaluations (NFE). Each has a
# `_result` twin (`pc_sample_result`, `ode_sample_result`) with the same arguments that returns
# a `SampleResult`: the samples `x`, the NFE, and a trajectory when asked for one.
#
# > **Predict, then run.** The PC sampler below takes $N = 1000$ steps, each a predictor and a
# > corrector step. How many score evaluations will it need? Will the adaptive ODE solver need
# > more or fewer — about as many, ten times fewer, or ten times more?

# %%
# NBVAL_IGNORE_OUTPUT
data = gmm.sample(N_SAMPLES, torch.Generator().manual_seed(10))
tic = time.perf_counter()
pc = pc_sample_result(vp, score_fn, (N_SAMPLES, 2), generator=torch.Generator().manual_seed(11))
toc = time.perf_counter()
ode = ode_sample_result(vp, score_fn, (N_SAMPLES, 2), generator=torch.Generator().manual_seed(12))
print(f"PC sampler: {pc.nfe} score evaluations ({toc - tic:.1f} s); "
      f"ODE: {ode.nfe} ({time.perf_counter() - toc:.1f} s)")

# %%
fig = viz.sample_grid_figure({"data $p_0$": data, "reverse SDE (PC sampler)": pc.x,
                              "probability-flow ODE": ode.x})
label_xy(*fig.axes)
plt.show()

# %% [markdown]
# *Answer:* the PC sampler needs $2N = 2000$ score evaluations; the ODE solver 92 — more than
# twenty times fewer. Both clouds look like the data: eight modes of equal weight and width.

# %% [markdown]
# **Stochastic versus deterministic paths.** Starting both samplers from the *same* prior draws,
# reverse-SDE paths jitter (fresh noise at every step) and wander while $t$ is large, then
# settle into a mode once the score dominates; probability-flow paths are smooth curves — the
# ODE is a deterministic bijection between noise and data. (The SDE run here uses the predictor
# alone, so its paths show the discretised Eq. 6 itself; the Langevin corrector's extra MCMC
# moves would make them wilder still.)

# %%
x_T = vp.prior_sampling((8, 2), generator=torch.Generator().manual_seed(3))
run_sde = pc_sample_result(vp, score_fn, x_T, corrector="none",
                           trajectory_every=max(1, N_STEPS // 100),
                           generator=torch.Generator().manual_seed(4))
run_ode = ode_sample_result(vp, score_fn, x_T,
                            trajectory_times=torch.linspace(1.0, vp.sample_eps, 101, dtype=torch.float64))

fig, axes = plt.subplots(1, 2, figsize=(7.6, 4.2), layout="constrained")
for ax, run, title in [(axes[0], run_sde, "reverse SDE (Eq. 6)"),
                       (axes[1], run_ode, "probability-flow ODE (Eq. 13)")]:
    viz.plot_density(ax, gmm.log_prob, cmap="Greys", alpha=0.35, n_grid=100)
    viz.plot_trajectories(ax, run.trajectory, times=run.times, n_paths=8, title=title,
                          colorbar=ax is axes[1])
    label_xy(ax)
path_legend(axes[0], "start $x(1) \\sim \\mathcal{N}(0, I)$", "end $x(\\varepsilon)$")
fig.colorbar(axes[0].images[0], ax=axes, location="bottom", shrink=0.4, aspect=30,
             label="grey: data density $p_0(x)\\,/\\,\\max_x p_0$")
plt.show()

# %% [markdown]
# Above, in the plane: the eight grey crosses are the shared starts, the colour runs from yellow
# ($t = 1$) to dark ($t \approx 0$) and the black dots are the samples; the SDE paths tangle in the
# centre before they drop into a mode, the ODE paths run straight out to the nearest one.
#
# On the time axis the difference is plain: from the same eight starting points (dots, left)
# the reverse-SDE paths are jagged random walks that may end in any mode the density allows,
# while the probability-flow paths are smooth curves that follow the density's bands — the same
# start always gives the same end.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.0), layout="constrained", sharey=True)
for ax, run, title in [(axes[0], run_sde, "reverse SDE (Eq. 6): stochastic paths"),
                       (axes[1], run_ode, "probability-flow ODE (Eq. 13): deterministic paths")]:
    viz.plot_marginal_map(ax, mmap, colorbar=ax is axes[1])
    viz.plot_time_paths(ax, run.times, run.trajectory, n_paths=8)
    ax.set_title(title, fontsize=9)
plt.show()

# %% [markdown]
# ### How good are the samples?
#
# We compare each point cloud with the data using the squared **MMD** (a kernel two-sample
# statistic, unbiased so it hovers around $0$ when the distributions agree), the **sliced
# Wasserstein** distance (average 1D optimal-transport cost over random projections), and the
# mean **NLL under the true $p_0$**: for exact samples it estimates the entropy
# $H(p_0) = \mathbb E[-\log p_0]$. A fresh draw of the data gives the noise floor of each
# metric; two wrong distributions — $p_{0.1}$ (stopping the reverse process too early) and the
# prior $\mathcal N(0, I)$ (no reverse process at all) — show what a failure looks like.
#
# > **Predict, then run.** By eye, $p_{0.1}$ still shows the eight modes (section 2, $t = 0.1$),
# > only blurred. Which metric will flag it more clearly: MMD², or the NLL under $p_0$?

# %%
# NBVAL_IGNORE_OUTPUT
entropy = gmm.entropy(generator=torch.Generator().manual_seed(5))
clouds = {
    "data (fresh draw)": gmm.sample(N_SAMPLES, torch.Generator().manual_seed(13)),
    "reverse SDE (PC)": pc.x,
    "probability-flow ODE": ode.x,
    "p_0.1 (stopped early)": gmm.marginal(vp, 0.1).sample(N_SAMPLES, torch.Generator().manual_seed(14)),
    "prior N(0, I)": torch.randn(N_SAMPLES, 2, generator=torch.Generator().manual_seed(15)),
}
scores = {}
print(f"{'samples':24s} {'MMD²':>9s} {'sliced W2':>10s} {'NLL - H':>8s}   (H(p0) = {entropy:.3f} nats)")
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
# *Answer:* the NLL. In the full run $p_{0.1}$'s MMD² is 0.002 — above the samplers' $\pm 10^{-4}$
# but tiny next to the prior's 0.136 — while its NLL is 0.71 nats above the entropy, where both
# samplers are within 0.01. MMD² compares the clouds at its kernels' length scales and barely sees
# a slight widening of every mode; the exact density sees it at once.

# %% [markdown]
# ## 5. Exact log-likelihoods through the ODE
#
# Because the probability flow is a bijection, the change of variables works as for a
# normalizing flow, in continuous time (Chen et al. 2018; Song et al. 2021, Eq. 39):
#
# $$\log p_0(x(0)) = \log p_T(x(T)) + \int_0^T \nabla\cdot \tilde f\big(x(t), t\big)\,\mathrm{d}t,
# \qquad \tilde f = f - \tfrac12 g^2 \nabla_x \log p_t .$$
#
# `ode_log_likelihood` integrates $x$ and the divergence together (exact divergence in 2D);
# `ode_log_likelihood_result` also returns the latent $x(T)$, both parts of $\log p$ and the NFE.
# With the oracle score the answer should match the mixture's `log_prob` — up to solver error
# and the fact that the integral starts at the smallest training time
# $\varepsilon_\text{train}$ (`sde.train_eps`) rather than at $0$.

# %%
x_ll = data[:N_LIKELIHOOD]
ll = ode_log_likelihood_result(vp, score_fn, x_ll)
exact = gmm.log_prob(x_ll)
err = (ll.logp - exact).abs()

fig, ax = plt.subplots(figsize=(3.4, 3.2), layout="constrained")
ax.scatter(exact, ll.logp, s=6, alpha=0.6, label="data points")
lo, hi = exact.min().item() - 0.5, exact.max().item() + 0.5
ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="$y = x$ (exact)")
ax.set(xlabel="exact $\\log p_0(x)$ (nats)", ylabel="probability-flow ODE $\\log p_0(x)$ (nats)",
       title="log-likelihood")
ax.legend(fontsize=8)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{N_LIKELIHOOD} points, {ll.nfe} score evaluations: mean |error| = {err.mean():.2e} nats, "
      f"max = {err.max():.2e};  NLL {-ll.logp.mean():.3f} (exact {-exact.mean():.3f})")

# %%
assert err.mean() < 0.05  # ODE log-likelihood within 0.05 nats on average
assert err.max() < 0.25

# %% [markdown]
# In the scatter above every point sits on the dashed line $y = x$: in the full run the ODE's
# log-density is off by $6.5\cdot10^{-4}$ nats on average and by $3.8\cdot10^{-3}$ at most, over
# a range of seven nats, for 86 score evaluations (each one a call on the whole batch).

# %% [markdown]
# ## 6. Starting the reverse process at $t < T$ — the idea of DiNof
#
# The reverse process spends many steps turning near-Gaussian noise into *slightly less*
# Gaussian noise. If we could sample $p_{T_m}$ at an intermediate time $T_m$ directly, we could
# start there and only run the last $\mathrm{round}(N\cdot T_m)$ steps. With the oracle we can:
# $p_{0.6}$ is a known mixture. DiNof's idea is to *learn* $p_{T_m}$ with a normalizing flow,
# whose samples are one deterministic pass, and to hand them to the same sampler.
#
# > **Predict, then run.** Started at $T_m = 0.6$ from exact samples of $p_{0.6}$, with the same
# > step size as before: how many score evaluations will the sampler need (it needed 2000 from
# > $t = 1$), and will the samples be worse?

# %%
# NBVAL_IGNORE_OUTPUT
T_M = 0.6
x_tm = gmm.marginal(vp, T_M).sample(N_SAMPLES, torch.Generator().manual_seed(20))
short = pc_sample_result(vp, score_fn, x_tm, t_start=T_M,
                         generator=torch.Generator().manual_seed(21))
q = sample_quality(short.x, data, gmm, seed=0)
scores["start at t = 0.6"] = {"mmd": q["mmd"], "sw": q["sw"], "nll": q["gmm_nll"]}
print(f"{'start':20s} {'NFE':>5s} {'MMD²':>9s} {'sliced W2':>10s} {'NLL - H':>8s}")
for label, name, nfe in [("t = 1 from N(0, I)", "reverse SDE (PC)", pc.nfe),
                         ("t = 0.6 from p_0.6", "start at t = 0.6", short.nfe)]:
    r = scores[name]
    print(f"{label:20s} {nfe:5d} {r['mmd']:9.5f} {r['sw']:10.3f} {r['nll'] - entropy:+8.3f}")

# %%
assert short.nfe == 2 * round(N_STEPS * T_M) and short.nfe / pc.nfe == T_M  # 40% fewer evaluations
assert scores["start at t = 0.6"]["mmd"] < floor + 3e-3  # ... and the same quality
assert abs(scores["start at t = 0.6"]["nll"] - entropy) < 0.15

fig = viz.sample_grid_figure({"start: samples of $p_{0.6}$": x_tm,
                              f"after {round(N_STEPS * T_M)} steps": short.x, "data": data})
label_xy(*fig.axes)
plt.show()

# %% [markdown]
# *Answer:* $2 \cdot 600 = 1200$ evaluations, 40 % fewer, and no loss of quality: MMD² $-0.0003$
# and NLL 0.03 nats above the entropy, against $-0.0001$ and 0.01 from $t = 1$ — both within the
# noise of the metrics. The start cloud (left) is already a single Gaussian-looking blob; the
# steps from $t = 0.6$ down alone make the eight modes.

# %% [markdown]
# How hard is it to model $p_{T_m}$? Its distance to the Gaussian prior,
# $\mathrm{KL}(p_t\,\|\,\mathcal N(0, I))$ (a Monte-Carlo average of the exact
# $\log p_t - \log \mathcal N$), falls from about 3 nats at $t = 0$ to almost nothing at
# $t = 0.6$ for this toy: the flow's task is easy here, and it gets harder the earlier we stop.
# And the start distribution *does* matter. On the asymmetric `aniso` mixture (mode weights
# 0.5, 0.3, 0.2) we start at $t = 0.2$ from the exact $p_{0.2}$, and from $\mathcal N(0, I)$ as
# if $p_{0.2}$ were already the prior; we count the fraction of samples nearest to each mode
# (its most probable mixture component).
#
# > **Predict, then run.** Started from $\mathcal N(0, I)$ at $t = 0.2$ instead of $p_{0.2}$,
# > will the heaviest mode (weight 0.5, bottom left) receive too much or too little mass?

# %%
# NBVAL_IGNORE_OUTPUT
kl_times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
kl_gen = torch.Generator().manual_seed(30)
kl = {}
for name in ("8gaussians", "aniso"):
    mix = GaussianMixture.preset(name)
    kl[name] = []
    for t_kl in kl_times:
        p_t = mix.marginal(vp, t_kl)
        x = p_t.sample(smoke_or(20_000, 4000), kl_gen).double()
        kl[name].append((p_t.log_prob(x) - vp.prior_logp(x)).mean().item())
print("KL(p_t || N(0, I)) in nats")
print("t          " + " ".join(f"{t_kl:7.1f}" for t_kl in kl_times))
for name, values in kl.items():
    print(f"{name:10s} " + " ".join(f"{v:7.4f}" for v in values))

# %%
aniso = GaussianMixture.preset("aniso")
components = [GaussianMixture(aniso.means[k:k + 1], aniso.covs[k:k + 1]) for k in range(3)]


def mode_weights(x):
    """Fraction of the points x (B, 2) whose most probable component is k, for each k."""
    joint = torch.stack([c.log_prob(x) for c in components], 1) + aniso.weights.log()
    return torch.bincount(joint.argmax(1), minlength=3).double() / len(x)


T_NAIVE = 0.2
aniso_data = aniso.sample(N_SAMPLES, torch.Generator().manual_seed(40))
gen = torch.Generator().manual_seed(41)
starts = {"exact $p_{0.2}$": aniso.marginal(vp, T_NAIVE).sample(N_SAMPLES, gen),
          "$\\mathcal{N}(0, I)$": torch.randn(N_SAMPLES, 2, generator=gen)}
outs = {name: pc_sample(vp, aniso.score_fn(vp), x, t_start=T_NAIVE, generator=gen)
        for name, x in starts.items()}

fig, axes = plt.subplots(1, 4, figsize=(11.2, 2.9), layout="constrained")
axes[0].plot(kl_times, kl["8gaussians"], "o-", label="8gaussians")
axes[0].plot(kl_times, kl["aniso"], "s-", label="aniso")
axes[0].set(yscale="log", xlabel="$t$", ylabel="nats", title="KL$(p_t \\,\\|\\, \\mathcal{N}(0, I))$")
axes[0].legend(fontsize=8)
axes[0].grid(alpha=0.3)
viz.plot_samples(axes[1], aniso_data, title="aniso data")
for ax, (name, x) in zip(axes[2:], outs.items()):
    viz.plot_samples(ax, x, title=f"from {name} at $t = {T_NAIVE}$")
label_xy(*axes[1:])
plt.show()

# %% [markdown]
# Left: the KL to the prior falls by three decades between $t = 0$ and $t = 0.6$, the same way
# for both toys. Right: the three sample panels look alike by eye; the mode weights below tell
# them apart.

# %%
# NBVAL_IGNORE_OUTPUT
tv = {}  # total variation between the mode weights of the samples and the true weights
print(f"{'samples':24s} {'mode weights':>20s} {'TV':>6s} {'sliced W2':>10s}")
fresh = aniso.sample(N_SAMPLES, torch.Generator().manual_seed(42))
for name, x in {"data (fresh draw)": fresh, **outs}.items():
    w = mode_weights(x)
    tv[name] = 0.5 * (w - aniso.weights).abs().sum().item()
    sw = sliced_wasserstein(aniso_data, x, generator=torch.Generator().manual_seed(0))
    label = name.replace("$", "").replace("\\mathcal{N}", "N")
    print(f"{label:24s} {str([round(v, 3) for v in w.tolist()]):>20s} {tv[name]:6.3f} {sw:10.3f}")

# %%
kl8 = kl["8gaussians"]
assert kl8[0] > kl8[1] > kl8[2] > kl8[3] > kl8[4]  # p_t approaches the prior as t grows
assert kl8[6] < 0.01 * kl8[0]  # p_0.6 is nearly Gaussian for this toy (< 1% of the KL at t = 0)
tv_exact, tv_naive = (tv[name] for name in outs)
assert tv_exact < 0.04  # the exact start recovers the mode weights (sampling noise ~0.02)
assert tv_naive > 0.07  # starting from N(0, I) at t = 0.2 misallocates > 7% of the mass

# %% [markdown]
# *Answer:* too little. In the full run the 0.5 mode gets 0.449 and the 0.3 mode 0.39 (total
# variation 0.090), while the exact start is within sampling noise (0.010, like a fresh data draw's
# 0.008). $\mathcal N(0, I)$ is symmetric; at $t = 0.2$ the reverse process has too little time to
# move mass between the modes, so it keeps the wrong proportions the start gave it.

# %% [markdown]
# ## Exercises
#
# 1. Repeat sections 2–4 with `VESDE()` and `subVPSDE()`. For VE, give
#    `plot_marginals_over_time` one limit per panel, `lim=[...]`, of about
#    $3\sqrt{4 + \sigma_t^2}$: why must the limits grow, and where does VE's prior live?
# 2. Sample with `pc_sample(..., corrector="none")` and with `predictor="euler_maruyama"`, and
#    with fewer steps (`n_steps=50, 20, 10`). Which configuration degrades first, by which metric?
# 3. Run `ode_sample` with `rtol=atol=1e-3`: how do the NFE and the log-likelihood error change?
# 4. Plot the Tweedie denoiser `gmm.denoise(x, t, vp)` as arrows $E[x_0 \mid x_t] - x_t$ and
#    compare with $\sigma_t^2 \nabla \log p_t$.
# 5. Section 6 with `8gaussians`: start at $T_m = 0.3$ and $0.2$ from $\mathcal N(0, I)$. Why is
#    this symmetric toy so forgiving, and what would a *moment-matched* Gaussian change on `aniso`?
#
# **Assignment:** [`A1_forward_sde`](assignments/student/A1_forward_sde.ipynb) asks you to write the VP
# and VE marginals and a forward sampler that works for any SDE (like `forward_sample_by_hand`,
# but from `sde.marginal_coeffs`), and grades them.

# %% [markdown]
# ## Recap
#
# > - A linear forward SDE has Gaussian transition kernels $\mathcal N(a_t x_0, \sigma_t^2 I)$; VE,
# >   VP and sub-VP differ only in how $a_t$ and $\sigma_t$ trade signal for noise.
# > - For a Gaussian mixture every $p_t$ and its score are known exactly — an oracle for what a
# >   score network should learn.
# > - With the true score, the reverse SDE (Eq. 6) and the probability-flow ODE (Eq. 13) both turn
# >   prior noise into data; the ODE is deterministic, needs far fewer score evaluations here, and
# >   gives exact log-likelihoods by the change-of-variables formula.
# > - Starting the reverse process at $T_m < T$ from samples of $p_{T_m}$ saves a fraction $1-T_m$
# >   of the steps without losing quality — *if* $p_{T_m}$ is sampled correctly. DiNof learns that
# >   start distribution with a normalizing flow.
# >
# > **Next:** [notebook 02, score matching and PC sampling](02_score_matching_and_pc_sampling.ipynb)
# > trains a score network by denoising score matching and puts it in place of the oracle.
