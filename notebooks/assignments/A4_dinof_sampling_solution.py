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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/assignments/A4_dinof_sampling_solution.ipynb)
#
# # Assignment A4 · DiNof sampling: a flow prior, then the reverse SDE from $T_m$
#
# **Exercise (e)** of the DiNof coursework: the sampler. You now have every ingredient:
# the forward marginal (A1), a score network trained by DSM and the predictor step (A2), and the
# flow's inverse (A3). DiNof (Zand, Etemad & Greenspan, arXiv 2309.01274) splits the forward
# process at $T_m$: below it the usual SDE, above it a normalizing flow that maps $x(T_m)$ to
# $z \sim \mathcal N(0, I)$. Sampling runs this backwards:
#
# 1. $z \sim \mathcal N(0, I)$, $\;x(T_m) = \text{flow}^{-1}(z)$ — one deterministic pass;
# 2. the reverse SDE from $T_m$ down to $\varepsilon$ with $\mathrm{round}(N\,T_m)$ Euler–Maruyama
#    steps on the grid $t_i = \text{linspace}(T_m, \varepsilon, n+1)$, $dt = (\varepsilon - T_m)/n$;
# 3. **denoise**: the last step adds no noise (return its mean $\bar x$).
#
# A fraction $1 - T_m$ of the score-network evaluations is saved compared with starting at $T = 1$.
#
# Reading: DiNof §3.2 (the last two paragraphs); `DiNof.sample` in `dinof_lite/dinof/model.py`
# (after you tried).

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

from dinof_lite import DiNof, GaussianMixture
from dinof_lite.coursework import checks, grading
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.pretrained import load_dinof
from dinof_lite.sampling import EulerMaruyamaPredictor
from dinof_lite.utils import smoke_or

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (e): `dinof_sample`
#
# Use the **generator** for all the noise, in this order, so the check can compare with the
# library bit for bit: first the latent `z = torch.randn((n, *flow.in_shape), generator=generator)`,
# then one draw per step, which `EulerMaruyamaPredictor(sde, score_fn).update(x, t, dt, generator)`
# makes for you (it returns `(x, x_mean)`; `t` must be a `(n,)` tensor, `dt` a negative float).
# `sde.N` is the number of steps the plain sampler would take on $[0, 1]$.

# %% nbgrader={"grade": false, "grade_id": "dinof_sample", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dinof_sample(flow, score_fn, sde, n, T_m, generator, eps=1e-3):
    """n DiNof samples (n, D): flow⁻¹(z) at T_m, round(N·T_m) reverse-SDE steps, denoise (DiNof §3.2)."""
    ### BEGIN SOLUTION
    z = torch.randn((n, *flow.in_shape), generator=generator)
    x = flow.inverse(z)
    n_steps = round(sde.N * T_m)
    times = torch.linspace(T_m, eps, n_steps + 1, dtype=torch.float64)
    dt = (eps - T_m) / n_steps
    predictor = EulerMaruyamaPredictor(sde, score_fn)
    x_mean = x
    for i in range(n_steps):
        t = torch.full((n,), float(times[i]))
        x, x_mean = predictor.update(x, t, dt, generator)
    return x_mean
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_dinof_sample", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
grading.require(checks.check_dinof_sample(dinof_sample))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_any_T_m", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The same networks handing over at another time: $T_m = 0.29$. Your function must take $T_m$ from
# its argument, and mind the floating point: $N\,T_m = 100 \cdot 0.29$ is `28.999999999999996`,
# so `round` it; `int` truncates to 28 steps.

# %% nbgrader={"grade": true, "grade_id": "check_dinof_sample_any_T_m", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 1}
shipped = load_dinof("dinof_8gaussians_vp")
early = DiNof(shipped.sde, shipped.score_net, shipped.flow, T_m=0.29,
              train_eps=shipped.train_eps, sample_eps=shipped.sample_eps)
grading.require(checks.check_dinof_sample(dinof_sample, early))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Your DiNof on 8 Gaussians
#
# The shipped `dinof_8gaussians_vp` model ($T_m = 0.6$, VP, $N = 1000$) was trained with the
# joint loss: DSM on $[\varepsilon, T_m]$ plus the flow's NLL of $x(T_m)$. Sample it with your
# function: 600 score evaluations instead of 1000.

# %% tags=["grader-skip"]
# NBVAL_IGNORE_OUTPUT
if checks.passed("dinof_sample"):
    model = load_dinof("dinof_8gaussians_vp")
    n = smoke_or(2000, 500)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x_Tm = model.flow.inverse(torch.randn(n, 2, generator=gen))
        x = dinof_sample(model.flow, model.score_fn, model.sde, n, model.T_m, gen, model.sample_eps)
    data = GaussianMixture.preset("8gaussians").sample(n, gen)
    score = mmd(data, x)
    print(f"{round(model.sde.N * model.T_m)} steps; MMD² to the data: {score:.4f}")
    assert score < 0.01, score
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharex=True, sharey=True)
    for ax, pts, title in zip(axes, (x_Tm, x, data),
                              ("flow sample x(T_m)", "your DiNof sample x(eps)", "data")):
        ax.scatter(*pts.T, s=1)
        ax.set(title=title, xlabel="$x_1$")
    axes[0].set_ylabel("$x_2$")
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Left: the flow's sample of $x(T_m)$, one Gaussian-looking blob ($p_{T_m}$ is nearly Gaussian
# at $T_m = 0.6$, as A1 measured). Middle: after the reverse SDE from $T_m$ to $\varepsilon$ the eight modes are sharp
# like the data's (right); the MMD² printed above measures how close.

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Going further.** Notebook `04_dinof_2d` trains DiNof itself, moves $T_m$ with a slider and
# measures quality and wall time against $T_m$ (the paper's Table 1), and computes DiNof's exact
# likelihood: the flow's log-density at $x(T_m)$ plus the probability-flow ODE from $\varepsilon$
# to $T_m$.

# %% nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
checks.summary()
