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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/assignments/A2_score_matching_and_pc_step_solution.ipynb)
#
# # Assignment A2 · Denoising score matching and one predictor–corrector step
#
# **Exercises (b) and (c)** of the DiNof coursework. A1 gave you the forward marginal
# $x_t = a(t)x_0 + s(t)z$. Here you write the loss that teaches a network the score
# $\nabla_x \log p_t(x)$, and the two moves of the sampler that uses it: an Euler–Maruyama
# **predictor** step of the reverse SDE and a Langevin **corrector** step.
#
# Fill in each function (replace the `raise NotImplementedError(...)`), then run its check.
# The checks use the exact score of the 8-Gaussians mixture (the "oracle") as the score function,
# so no training is needed.
#
# Reading: Song et al. 2021, Eqs. 6–7, §4.2 and Algorithms 4/5 (App. G); `dinof_lite/losses.py`,
# `dinof_lite/sampling/predictors.py`, `correctors.py` (after you tried).

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

from dinof_lite import VPSDE, GaussianMixture
from dinof_lite import dsm_loss as library_dsm_loss
from dinof_lite.coursework import checks, grading
from dinof_lite.evaluation.metrics import mmd

gmm = GaussianMixture.preset("8gaussians")

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## (b) Denoising score matching
#
# The score of the Gaussian kernel $p(x_t \mid x_0) = \mathcal N(a x_0, s^2 I)$ at
# $x_t = a x_0 + s z$ is $-(x_t - a x_0)/s^2 = -z/s$. Regressing a network on it (Vincent 2011)
# gives the same minimiser as regressing on the unknown true score $\nabla\log p_t$:
#
# $$\mathcal L = \mathbb E_{t, x_0, z}\Big[\lambda(t)\,\big\|\,\text{score}(x_t, t) + z/s(t)\big\|^2\Big],
# \qquad \lambda(t) = s(t)^2,$$
#
# i.e. $\|s\cdot\text{score} + z\|^2$: the weighting $\lambda = s^2$ keeps every time on the same
# scale (without it the loss explodes as $s \to 0$).
#
# ### Exercise (b): `dsm_loss`
#
# Given `t (B,)` and `z (B, D)`, build $x_t$, evaluate `score_fn(x_t, t)`, and return the
# **mean over the batch and the dimensions** of $(s\cdot\text{score} + z)^2$, a scalar tensor
# (keep it differentiable: no `.item()`). `sde.marginal_coeffs(t)` returns `(a, s)`, each `(B,)`.

# %% nbgrader={"grade": false, "grade_id": "dsm_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dsm_loss(score_fn, x0, t, z, sde):
    """DSM loss (scalar) with λ(t) = s(t)²: mean of (s·score(x_t, t) + z)² (Song et al. 2021, Eq. 7).

    x0, z: (B, D); t: (B,); score_fn(x (B, D), t (B,)) -> (B, D).
    """
    ### BEGIN SOLUTION
    a, s = sde.marginal_coeffs(t)
    x_t = a[:, None] * x0 + s[:, None] * z
    return ((s[:, None] * score_fn(x_t, t) + z) ** 2).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_dsm_loss", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_dsm_loss(dsm_loss))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **The oracle minimises the loss.** Scale the exact score by $c$: the DSM loss is smallest at
# $c = 1$ (up to Monte-Carlo noise), although the loss never sees the true score — only $z$.

# %% tags=["grader-skip"]
loss_fn = checks.yours_or_library(
    "dsm_loss", dsm_loss,
    lambda sf, x0, t, z, sde: library_dsm_loss(sde, sf, x0, t=t, z=z, reduce_mean=True))
sde = VPSDE()
gen = torch.Generator().manual_seed(0)
x0 = gmm.sample(4000, gen)
t = 1e-3 + (1 - 1e-3) * torch.rand(4000, generator=gen)
z = torch.randn(x0.shape, generator=gen)
cs = torch.linspace(0.0, 2.0, 21)
with torch.no_grad():
    losses = [float(loss_fn(lambda x, tt, c=c: c * gmm.score(x, tt, sde), x0, t, z, sde)) for c in cs]
best = float(cs[int(torch.tensor(losses).argmin())])
assert abs(best - 1.0) <= 0.1, best
plt.figure(figsize=(4.5, 3))
plt.plot(cs, losses, "o-")
plt.axvline(1.0, color="k", ls=":")
plt.xlabel("c (score = c × oracle)")
plt.ylabel("DSM loss")
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The loss (one Monte-Carlo estimate over 4000 draws per point) is a parabola in $c$ with its
# minimum at the dotted line $c = 1$: the exact score.

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## (c) One predictor–corrector step
#
# Sampling runs the **reverse-time SDE** (Anderson 1982; Song et al. Eq. 6) from $t = 1$ down to
# $\varepsilon$:
#
# $$dx = \big[f(x,t) - g(t)^2\,\nabla_x\log p_t(x)\big]\,dt + g(t)\,d\bar w, \qquad dt < 0.$$
#
# **Predictor (Euler–Maruyama).** One step of size $dt < 0$:
#
# $$\bar x = x + \big[f - g^2\,\text{score}\big]\,dt, \qquad x_{\text{new}} = \bar x + g\sqrt{|dt|}\,z.$$
#
# ### Exercise (c.1): `em_step`
#
# `sde.sde(x, t)` returns the forward drift `f (B, D)` and diffusion `g (B,)`. The noise `z` is
# given. Mind the sign: `dt` is already negative.

# %% nbgrader={"grade": false, "grade_id": "em_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def em_step(x, t, dt, z, sde, score_fn):
    """One reverse-SDE Euler–Maruyama step from t to t + dt (dt < 0): (B, D) (Song et al. 2021, Eq. 6)."""
    ### BEGIN SOLUTION
    f, g = sde.sde(x, t)
    x_mean = x + (f - g[:, None] ** 2 * score_fn(x, t)) * dt
    return x_mean + g[:, None] * math.sqrt(-dt) * z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_em_step", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_em_step(em_step))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Corrector (Langevin MCMC at fixed $t$).** A few Langevin steps pull $x$ towards $p_t$:
# $x_{\text{new}} = x + \varepsilon\,\text{score} + \sqrt{2\varepsilon}\,z$. The step size comes
# from a target signal-to-noise ratio `snr` (Song et al. Alg. 4/5):
#
# $$\varepsilon = 2\,\alpha\,\Big(\text{snr}\;\frac{\overline{\|z\|}}{\overline{\|\text{score}\|}}\Big)^2,$$
#
# where $\overline{\|\cdot\|}$ is the per-example L2 norm **averaged over the batch** (one step
# size for the whole batch) and $\alpha$ `(B,)` is $1-\beta_i$ for VP (1 for VE).
#
# ### Exercise (c.2): `langevin_step`

# %% nbgrader={"grade": false, "grade_id": "langevin_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def langevin_step(x, t, z, snr, alpha, score_fn):
    """One Langevin corrector step at time t with the snr step-size rule: (B, D) (Song et al. 2021, Alg. 4)."""
    ### BEGIN SOLUTION
    score = score_fn(x, t)
    ratio = z.norm(dim=1).mean() / score.norm(dim=1).mean()
    eps = (2 * alpha * (snr * ratio) ** 2)[:, None]
    return x + eps * score + torch.sqrt(2 * eps) * z
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_langevin_step", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_langevin_step(langevin_step))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_7", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Your sampler
#
# With both steps you have a complete PC sampler (Song et al. Alg. 1): start from the prior
# $\mathcal N(0, I)$ at $t = 1$, and at each of the $N$ times run one corrector step, then one
# predictor step. With the oracle score it recovers the mixture. (The library's version is
# `dinof_lite.pc_sample`.)

# %% tags=["grader-skip"]
# NBVAL_IGNORE_OUTPUT
if checks.passed("em_step", "langevin_step"):
    sde = VPSDE(N=200)
    gen = torch.Generator().manual_seed(1)
    score_fn = gmm.score_fn(sde)
    x = torch.randn(2000, 2, generator=gen)
    times = torch.linspace(1.0, sde.sample_eps, sde.N + 1)
    dt = (sde.sample_eps - 1.0) / sde.N
    for i in range(sde.N):
        t = torch.full((2000,), float(times[i]))
        alpha = sde.discrete_alpha(t, -dt)
        x = langevin_step(x, t, torch.randn(x.shape, generator=gen), 0.16, alpha, score_fn)
        x = em_step(x, t, dt, torch.randn(x.shape, generator=gen), sde, score_fn)
    data = gmm.sample(2000, gen)
    score = mmd(data, x)
    print(f"MMD² to the data: {score:.4f}")
    assert score < 0.01, score
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5), sharex=True, sharey=True)
    axes[0].scatter(*data.T, s=1)
    axes[0].set(title="data", xlabel="$x_1$", ylabel="$x_2$")
    axes[1].scatter(*x.T, s=1, color="C1")
    axes[1].set(title="your PC sampler (oracle score)", xlabel="$x_1$")
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_8", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Your 200-step PC sampler with the exact score (right) puts the eight modes where the data
# (left) has them; the MMD² printed above measures how close.

# %% nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
checks.summary()
