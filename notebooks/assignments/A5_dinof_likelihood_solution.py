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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/assignments/A5_dinof_likelihood_solution.ipynb)
#
# # Assignment A5 · DiNof's exact likelihood: the probability-flow ODE to $T_m$, then the flow
#
# **Exercises (f)–(h).** A4 sampled DiNof; this assignment measures how probable a point is under
# it. Every SDE has a **probability-flow ODE** with the same marginals $p_t$ (Song et al. 2021,
# Eq. 13):
#
# $$\frac{dx}{dt} = \tilde f(x, t) = f(x, t) - \tfrac12\, g(t)^2\, \nabla_x \log p_t(x).$$
#
# Along its trajectories the log-density changes by the divergence of the drift
# (instantaneous change of variables, Chen et al. 2018): $\frac{d}{dt}\log p_t(x(t)) =
# -\nabla\!\cdot\tilde f(x(t), t)$. DiNof stops the diffusion at $T_m$ and has an exact density there,
# the flow's. Integrating from $\varepsilon$ = `model.train_eps` (the smallest training time, 1e-5,
# where `DiNof.log_likelihood` starts too; the sampler stops later, at `model.sample_eps`) up to
# $T_m$ gives
#
# $$\log p_\varepsilon(x) = \log p_{\text{flow}}\big(x(T_m)\big) + \int_\varepsilon^{T_m} \nabla\!\cdot\tilde f\big(x(t), t\big)\,dt,
# \qquad x(\varepsilon) = x .$$
#
# You write (f) the drift $\tilde f$, (g) its exact divergence by autograd and (h) the whole
# $\log p_\varepsilon(x)$. The check of (h) knows the answer exactly: with the mixture's exact score
# and its exact marginal $p_{T_m}$ in place of the flow, your $\log p_\varepsilon$ must equal the
# mixture's $\log p_\varepsilon$.
#
# Reading: Song et al. 2021, §4.3 and App. D.2; DiNof §3.2; `DiNof.log_likelihood` in
# `dinof_lite/dinof/model.py` and `dinof_lite/sampling/likelihood.py` (after you tried).

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
import matplotlib.pyplot as plt
import torch

from dinof_lite import GaussianMixture
from dinof_lite.coursework import checks, grading
from dinof_lite.pretrained import load_dinof
from dinof_lite.utils import smoke_or

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (f): `pf_drift`
#
# `f, g = sde.sde(x, t)` gives the forward drift `f` (B, D) and the diffusion `g` (B,);
# `score_fn(x, t)` the score (B, D). Return $\tilde f = f - \frac12 g^2\,\text{score}$.
#
# *Predict first:* the reverse **SDE** (A2's Euler–Maruyama step) has drift $f - g^2\,\text{score}$.
# Why may the ODE take only half of it? (Answer after the check.)

# %% nbgrader={"grade": false, "grade_id": "pf_drift", "locked": false, "schema_version": 3, "solution": true, "task": false}
def pf_drift(sde, score_fn, x, t):
    """The probability-flow drift f − ½ g² score (B, D) at x (B, D), t (B,) (Song et al. 2021, Eq. 13)."""
    ### BEGIN SOLUTION
    f, g = sde.sde(x, t)
    return f - 0.5 * g[:, None] ** 2 * score_fn(x, t)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_pf_drift", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 1}
grading.require(checks.check_pf_drift(pf_drift))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# *Answer:* the SDE's noise $g\,d\bar w$ spreads the points out; the ODE has no noise, so it
# needs only half the pull towards high density to keep the same marginals $p_t$ (the other
# half of the Fokker–Planck term is the noise's diffusion, written as a drift).
#
# ### Exercise (g): `divergence`
#
# $\nabla\!\cdot\tilde f = \sum_i \partial \tilde f_i / \partial x_i$, the trace of the
# Jacobian, one number per example (B,). In 2D it is exact and cheap by autograd: one backward
# pass per dimension, `torch.autograd.grad(f[:, i].sum(), x, retain_graph=True)[0][:, i]` (the
# examples are independent, so the gradient of the batch sum is each example's own gradient).
# `x` arrives without `requires_grad`: work on `x.detach().requires_grad_(True)` inside
# `with torch.enable_grad():`, and return a tensor without a graph (`.detach()`).

# %% nbgrader={"grade": false, "grade_id": "divergence", "locked": false, "schema_version": 3, "solution": true, "task": false}
def divergence(fn, x, t):
    """Exact divergence Σ_i ∂fn_i/∂x_i (B,) of fn(x, t) (B, D) at x (B, D), t (B,)."""
    ### BEGIN SOLUTION
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x, t)
        div = torch.zeros(x.shape[0], dtype=x.dtype)
        for i in range(x.shape[1]):
            div = div + torch.autograd.grad(f[:, i].sum(), x, retain_graph=True)[0][:, i]
    return div.detach()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_divergence", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_divergence(divergence))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (h): `dinof_log_likelihood`
#
# Integrate the pair $[x, \Delta]$ with $\frac{dx}{dt} = \tilde f$, $\frac{d\Delta}{dt} =
# \nabla\!\cdot\tilde f$ from $t = $ `model.train_eps` (with $x(\varepsilon) = x$, $\Delta = 0$) up to
# $t = T_m$, in `n_steps` fixed steps of RK4 (or Euler with many more steps), then return
# `model.flow.log_prob(h, model.context(T_m, B)) + Δ` where `h` $= x(T_m)$. Use
# `model.score_fn` and `model.sde`; the times you pass are (B,) tensors. For an any-$T_m$ model the
# flow needs `model.context(T_m, B)` to know $T_m$; for a single-$T_m$ model it is `None`.
#
# *Predict first:* the time runs **forward** here, from data to $T_m$, although sampling runs
# backward. Does the sign of $\Delta$ then make $\log p_\varepsilon(x)$ larger or smaller than
# the flow's $\log p_{\text{flow}}(x(T_m))$ for a point on a mode? (Answer below the figure.)

# %% nbgrader={"grade": false, "grade_id": "dinof_log_likelihood", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dinof_log_likelihood(model, x, T_m, n_steps=100):
    """DiNof's log p_eps(x) (B,): the probability-flow ODE from model.train_eps to T_m plus the
    flow's log-density at x(T_m) (Song et al. 2021, Eq. 39; DiNof §3.2)."""
    ### BEGIN SOLUTION
    sde, score_fn = model.sde, model.score_fn

    def drift(y, s):
        return pf_drift(sde, score_fn, y, s)

    def rhs(t, h):
        tt = torch.full((h.shape[0],), t, dtype=h.dtype)
        with torch.enable_grad():
            f = drift(h, tt).detach()
        return f, divergence(drift, h, tt)

    h, delta = x.detach().clone(), torch.zeros(x.shape[0], dtype=x.dtype)
    dt = (T_m - model.train_eps) / n_steps
    for i in range(n_steps):  # classical RK4 on [x, Δ]
        t = model.train_eps + i * dt
        k1 = rhs(t, h)
        k2 = rhs(t + dt / 2, h + dt / 2 * k1[0])
        k3 = rhs(t + dt / 2, h + dt / 2 * k2[0])
        k4 = rhs(t + dt, h + dt * k3[0])
        h = h + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        delta = delta + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    with torch.no_grad():
        return model.flow.log_prob(h, model.context(T_m, x.shape[0])) + delta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_dinof_log_likelihood", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
grading.require(checks.check_dinof_log_likelihood(dinof_log_likelihood))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Your likelihood of the trained DiNof
#
# The shipped any-$T_m$ model `dinof_8gaussians_vp_anytm` at $T_m = 0.2$, against the exact
# mixture density on a circle through the eight modes (radius $2\sqrt2$) and on fresh data. A
# perfect model would give the exact curve; the gap is what training left. Beside it, the
# mistake of using the Gaussian prior $\mathcal N(0, I)$ at $T_m$ in place of the flow: at
# $T_m = 0.2$ the marginal $p_{T_m}$ is still far from Gaussian.

# %% tags=["grader-skip"]
# NBVAL_IGNORE_OUTPUT
if checks.passed("dinof_log_likelihood"):
    model = load_dinof("dinof_8gaussians_vp_anytm")
    gmm = GaussianMixture.preset("8gaussians")
    T_m = 0.2
    theta = torch.linspace(0, 2 * torch.pi, smoke_or(97, 25))
    ring = 2 * 2**0.5 * torch.stack([theta.cos(), theta.sin()], 1)
    ours = dinof_log_likelihood(model, ring, T_m)
    library = model.log_likelihood(ring, T_m=T_m)
    exact = gmm.marginal(model.sde, model.train_eps).log_prob(ring.double())
    res = model.log_likelihood_result(ring, T_m=T_m)
    gauss = res.delta_logp + model.sde.prior_logp(res.latent)
    data = gmm.sample(smoke_or(200, 50), torch.Generator().manual_seed(0))
    nll = -dinof_log_likelihood(model, data, T_m).mean()
    nll_exact = -gmm.marginal(model.sde, model.train_eps).log_prob(data.double()).mean()
    res_data = model.log_likelihood_result(data, T_m=T_m)
    nll_gauss = -(res_data.delta_logp + model.sde.prior_logp(res_data.latent)).mean()
    print(f"max |yours − DiNof.log_likelihood| on the ring: {(ours - library).abs().max():.2e} nats")
    print(f"NLL of {len(data)} fresh points: yours {nll:.3f}, exact mixture {nll_exact:.3f}, "
          f"with N(0, I) at T_m {nll_gauss:.3f} nats")
    assert (ours - library).abs().max() < 0.05
    assert abs(float(nll - nll_exact)) < 0.3
    assert abs(float(nll_gauss - nll_exact)) > 5 * abs(float(nll - nll_exact))
    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    ax.plot(theta, exact, "k-", lw=2, label="exact mixture $\\log p_\\varepsilon$")
    ax.plot(theta, ours.detach(), "C1o", ms=3, label="your dinof_log_likelihood ($T_m = 0.2$)")
    ax.plot(theta, gauss.detach(), "C0--",
            label="mistake: $\\mathcal{N}(0, I)$ at $T_m$ instead of the flow")
    ax.set(xlabel="angle θ on the circle of radius $2\\sqrt{2}$ (rad)", ylabel="log-density (nats)",
           title="DiNof's exact log-likelihood through the eight modes")
    ax.set_ylim(-9, -1.5)
    ax.legend(fontsize=8, loc="lower center", ncol=2)
    ax.grid(alpha=0.3)
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# *What to look at:* the eight peaks are the modes (every $\pi/4$), the valleys the gaps between
# them. Your curve (orange dots) follows the exact one on the peaks and is shallower in the
# valleys, where the model puts more mass than the mixture. On fresh data (printed above) your
# NLL is within a few hundredths of a nat of the exact one. The blue dashed curve adds the Gaussian prior's log-density instead of the flow's: it is
# about 1.5 nats too low on every peak, because $x(T_m)$ at $T_m = 0.2$ is far from $\mathcal N(0, I)$.
# (At the shipped single-$T_m$ model's $T_m = 0.6$ the same mistake costs only about 0.05 nats:
# there $p_{T_m}$ is nearly Gaussian, and the flow's work is small.)
#
# *Answer:* larger. For VP, $\nabla\!\cdot\tilde f = -\tfrac12\beta(t)\,\big(D + \Delta \log p_t\big)$,
# and near a mode the log-density curves down steeply, $\Delta \log p_t \approx -D/\sigma_t^2$ with
# a mode's variance $\sigma_t^2 < 1$: the divergence is positive (the ODE spreads the mass out as
# $t$ grows), so $\Delta > 0$ and $\log p_\varepsilon(x) > \log p_{\text{flow}}(x(T_m))$: the
# data are more concentrated than $p_{T_m}$.
#
# **Going further.**
# 1. Replace RK4 by Euler and find the number of steps at which the check passes (0.01 nats).
# 2. Replace the exact divergence by Hutchinson's estimate $v^\top (\partial\tilde f/\partial x)\,v$
#    with one Rademacher $v$ held fixed along the ODE: how large is the spread of $\log p$ over ten
#    draws of $v$? (On images this is the only affordable choice.)
# 3. Load `dinof_8gaussians_vp_anytm` and compute the NLL of fresh data at $T_m = 0.2, 0.6, 1.0$:
#    does the likelihood depend on $T_m$? Notebook `04b_frontier_and_fast_solvers` (§3) does this
#    with the library.

# %% nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
checks.summary()
