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

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_1", "locked": true, "schema_version": 3, "solution": false, "task": false}
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/assignments/A1_forward_sde_solution.ipynb)
#
# # Assignment A1 · The forward SDE: marginals and the forward sampler
#
# **Exercise (a)** of the DiNof coursework. Across the six assignments you rebuild DiNof piece by
# piece: (a) the forward process (here), (b) the score-matching loss and (c) one
# predictor–corrector step (A2), (d) Glow's affine coupling (A3), (e) DiNof sampling (A4),
# (f)–(h) DiNof's exact likelihood (A5) and (i)–(k) the $T_m$ trade-off (A6).
#
# Each exercise is a function you fill in: replace the `raise NotImplementedError(...)` line and
# run the **check** cell under it. `dinof_lite.coursework.checks` compares your answer with the library and
# with the exact Gaussian-mixture oracle and tells you what is wrong (a missing square root, a
# sign, a shape) rather than just "wrong". The last cell lists all your results.
#
# Reading: Song et al. 2021 (score SDEs), §3.4 and Eqs. 29 and 33; `dinof_lite/sde.py`
# (read it *after* you tried).

# %% nbgrader={"grade": false, "grade_id": "colab_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
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

# %% nbgrader={"grade": false, "grade_id": "imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import torch

from dinof_lite import VESDE, VPSDE, GaussianMixture
from dinof_lite.coursework import checks, grading

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The forward process
#
# A diffusion model destroys data with a linear SDE $dx = f(x, t)\,dt + g(t)\,dw$ on
# $t \in [0, 1]$. Linear SDEs have Gaussian transition kernels,
#
# $$x(t) \mid x(0) \sim \mathcal N\big(a(t)\,x(0),\; s(t)^2 I\big),$$
#
# so we can jump to any time in one step: no simulation needed. That is what makes denoising
# score matching cheap (A2), and what DiNof uses to draw training data for its flow at $T_m$.
#
# **VP SDE** (DDPM): $f = -\tfrac12\beta(t)\,x$, $g = \sqrt{\beta(t)}$ with
# $\beta(t) = \beta_0 + t(\beta_1 - \beta_0)$. Solving the mean ODE $\dot m = -\tfrac12\beta m$
# gives
#
# $$\log a(t) = -\tfrac12\int_0^t \beta(u)\,du = -\tfrac14 t^2(\beta_1-\beta_0) - \tfrac12 t\beta_0,
# \qquad s(t) = \sqrt{1 - a(t)^2}.$$
#
# ### Exercise (a.1): `vp_marginal`
#
# Return `mean` of shape `(B, D)` and `std` of shape `(B,)` (one std per example).
# *Hints*: `t` is a `(B,)` tensor; `t[:, None]` (or `a[:, None]`) broadcasts a per-example
# number against `(B, D)`; `torch.expm1` is accurate for small $t$ but `1 - torch.exp(...)` is
# fine here.

# %% nbgrader={"grade": false, "grade_id": "vp_marginal", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vp_marginal(x0, t, beta_min=0.1, beta_max=20.0):
    """Mean (B, D) and std (B,) of x(t) | x(0) = x0 for the VP SDE (Song et al. 2021, Eq. 33).

    x0: (B, D); t: (B,) times in [0, 1].
    """
    ### BEGIN SOLUTION
    log_a = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min
    mean = torch.exp(log_a)[:, None] * x0
    std = torch.sqrt(1.0 - torch.exp(2.0 * log_a))
    return mean, std
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_vp_marginal", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_vp_marginal(vp_marginal))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **VE SDE** (SMLD / NCSN): no drift, $f = 0$, and $g(t) = \sigma(t)\sqrt{2\log(\sigma_{\max}/\sigma_{\min})}$
# with $\sigma(t) = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t$. The variance grows by
# $\int_0^t g^2 = \sigma(t)^2 - \sigma_{\min}^2$:
#
# $$a(t) = 1, \qquad s(t) = \sqrt{\sigma(t)^2 - \sigma_{\min}^2}.$$
#
# (score_sde_pytorch uses $s(t) = \sigma(t)$, which pretends the data were already blurred by
# $\mathcal N(0, \sigma_{\min}^2)$; here we want the exact marginal.)
#
# ### Exercise (a.2): `ve_marginal`

# %% nbgrader={"grade": false, "grade_id": "ve_marginal", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ve_marginal(x0, t, sigma_min=0.01, sigma_max=50.0):
    """Mean (B, D) and exact std (B,) of x(t) | x(0) = x0 for the VE SDE (Song et al. 2021, Eq. 29)."""
    ### BEGIN SOLUTION
    sigma = sigma_min * (sigma_max / sigma_min) ** t
    return x0, torch.sqrt(sigma**2 - sigma_min**2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_ve_marginal", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 1}
grading.require(checks.check_ve_marginal(ve_marginal))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (a.3): `forward_sample`
#
# The forward sampler draws $x_t = a(t)\,x_0 + s(t)\,z$ with the noise $z \sim \mathcal N(0, I)$
# **given** (so the check can compare exactly). Use the library's SDE object:
# `sde.marginal_prob(x0, t)` returns `(mean (B, D), std (B,))` — exactly what you just wrote —
# so this works for any SDE. The check runs it on the VP, the VE **and** the sub-VP SDE, so a
# function that hard-codes the VP formula does not pass.

# %% nbgrader={"grade": false, "grade_id": "forward_sample", "locked": false, "schema_version": 3, "solution": true, "task": false}
def forward_sample(x0, t, z, sde):
    """x_t = a(t) x0 + s(t) z: (B, D), for x0, z (B, D) and t (B,) (Song et al. 2021, Eqs. 29/33)."""
    ### BEGIN SOLUTION
    mean, std = sde.marginal_prob(x0, t)
    return mean + std[:, None] * z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_forward_sample", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 1}
grading.require(checks.check_forward_sample(forward_sample))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Watching the data dissolve
#
# The 8-Gaussians mixture pushed forward to a few times (with your `forward_sample` once it
# passes, the library's until then). VP shrinks the data towards $\mathcal N(0, I)$; VE keeps
# the data where it is and buries it under ever larger noise.

# %% tags=["grader-skip"]
sampler = checks.yours_or_library("forward_sample", forward_sample,
                                  lambda x0, t, z, sde: sde.perturb(x0, t, z))
gmm = GaussianMixture.preset("8gaussians")
gen = torch.Generator().manual_seed(0)
x0 = gmm.sample(2000, gen)
z = torch.randn(x0.shape, generator=gen)
times = [0.0, 0.1, 0.3, 0.6, 1.0]
fig, axes = plt.subplots(2, len(times), figsize=(2.6 * len(times), 5.4))
for row, sde in zip(axes, (VPSDE(), VESDE(sigma_max=10.0))):
    for ax, t in zip(row, times):
        xt = sampler(x0, torch.full((2000,), t), z, sde)
        ax.scatter(*xt.T, s=1, alpha=0.4)
        lim = 4.5 if sde.name == "vp" else 4.5 + 2.5 * sde.marginal_coeffs(torch.tensor(t))[1]
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$",
               title=f"{sde.name.upper()}, t = {t}")
fig.tight_layout()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Top row (VP): the eight clusters shrink towards the origin and blur into one Gaussian blob by
# $t \approx 0.6$. Bottom row (VE, $\sigma_{\max} = 10$; note the growing axis limits): the
# clusters stay where they are and drown in noise.
#
# **Check your understanding.** How close to $\mathcal N(0, I)$ is the VP marginal at $t = 1$,
# and at DiNof's $T_m = 0.6$? The mean coefficient is
# $a(1) = e^{-\frac14(\beta_1 - \beta_0) - \frac12\beta_0} = e^{-4.975 - 0.05} = e^{-5.025}$, and
# the distance to the prior is $\mathrm{KL}(p_t \,\|\, \mathcal N(0, I))$, a Monte-Carlo average
# of the exact $\log p_t - \log\mathcal N$:

# %% tags=["grader-skip"]
vp = VPSDE()
a_1 = float(vp.marginal_coeffs(torch.tensor(1.0))[0])
print(f"a(1) = e^(-5.025) = {a_1:.4f}")
assert abs(a_1 - math.exp(-5.025)) < 1e-6 and a_1 < 0.01
kl_gen = torch.Generator().manual_seed(0)
for t_kl in (0.3, 0.6, 1.0):
    p_t = gmm.marginal(vp, t_kl)
    x_kl = p_t.sample(20_000, kl_gen).double()
    kl = (p_t.log_prob(x_kl) + 0.5 * (x_kl**2).sum(1) + math.log(2 * math.pi)).mean().item()
    kl = max(kl, 0.0)  # a KL is ≥ 0; at t = 1 the Monte-Carlo estimate is −4e-7, pure noise
    print(f"KL(p_{t_kl} || N(0, I)) = {kl:.4f} nats")
    if t_kl == 0.6:
        assert kl < 0.01, kl  # already nearly Gaussian at T_m = 0.6 (notebook 01b: 0.004)

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_7", "locked": true, "schema_version": 3, "solution": false, "task": false}
# $a(1) \approx 0.0066$: at $t = 1$ the data are forgotten and the marginal is $\mathcal N(0, I)$ to
# within Monte-Carlo noise, which is why a plain diffusion model can start its reverse process
# there. DiNof stops the forward SDE earlier, at $T_m$. For this 2D toy $p_{0.6}$ is already
# *nearly* Gaussian (KL ≈ 0.003 nats, notebook 01b prints 0.004), but not exactly: the small
# remaining structure is what the flow learns, so the reverse SDE can start at $T_m$ from the
# right distribution instead of from $\mathcal N(0, I)$ — and skip the score evaluations of
# $(T_m, 1]$. At $t = 0.3$ the KL is still 0.5 nats: the earlier $T_m$, the harder the flow's job.

# %% nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
checks.summary()
