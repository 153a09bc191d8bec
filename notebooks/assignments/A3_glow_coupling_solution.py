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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/assignments/A3_glow_coupling_solution.ipynb)
#
# # Assignment A3 · Glow's affine coupling: forward, log-determinant, inverse
#
# **Exercise (d)** of the DiNof coursework. DiNof replaces the last stretch of the diffusion,
# $t \in [T_m, T]$, by a normalizing flow: an invertible map $x(T_m) \mapsto z$ whose density we
# know exactly by the change of variables
#
# $$\log p_x(x) = \log p_z\big(f(x)\big) + \log\Big|\det \frac{\partial f}{\partial x}\Big|.$$
#
# Glow (Kingma & Dhariwal 2018) builds $f$ from layers whose inverse and log-determinant are
# cheap. The workhorse is the **affine coupling** layer, which you write here.
#
# Reading: Glow §3.3; Dinh et al. 2017 (RealNVP); `dinof_lite/flows/coupling.py` (after).

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

from dinof_lite.coursework import checks, grading
from dinof_lite.coursework.checks.coupling import reference_coupling

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The coupling layer
#
# Split the $C$ channels of `x (B, C)` in two: the first $C - \lfloor C/2\rfloor$ channels $x_a$
# *condition*, the last $\lfloor C/2\rfloor$ channels $x_b$ *move*. A network reads $x_a$ and
# returns a shift and a log-scale, each shaped like $x_b$:
#
# $$(\text{shift}, \log s) = \text{NN}(x_a), \qquad y_a = x_a, \qquad
# y_b = (x_b + \text{shift}) \odot s.$$
#
# The Jacobian $\partial y/\partial x$ is block-triangular (the $x_a$ rows are the identity, and
# $\partial y_b/\partial x_b = \operatorname{diag}(s)$), so
#
# $$\log\Big|\det\frac{\partial y}{\partial x}\Big| = \sum_j \log s_j \qquad\text{(one number per example)}.$$
#
# The network is never inverted: $y_a = x_a$ gives the inverse its input back.
#
# ### Exercise (d.1): `coupling_forward`
#
# `net(x_a)` returns `(shift, log_s)`. Return `y (B, C)` and `logdet (B,)`.
# *Hint*: `torch.cat([..., ...], dim=1)`.

# %% nbgrader={"grade": false, "grade_id": "coupling_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def coupling_forward(x, net):
    """Affine coupling, data → latent: y = [x_a, (x_b + shift)·exp(log_s)], logdet = Σ log_s (B,).

    x: (B, C); net(x_a (B, C - C//2)) -> (shift, log_s), each (B, C//2) (Glow §3.3).
    """
    ### BEGIN SOLUTION
    k = x.shape[1] - x.shape[1] // 2
    x_a, x_b = x[:, :k], x[:, k:]
    shift, log_s = net(x_a)
    y_b = (x_b + shift) * torch.exp(log_s)
    return torch.cat([x_a, y_b], dim=1), log_s.sum(dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_coupling_forward", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_coupling_forward(coupling_forward))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (d.2): `coupling_inverse`
#
# Undo it: $y_a$ *is* $x_a$, so the network sees the same input and gives the same shift and
# scale; then undo the two operations **in reverse order**. The inverse's log-determinant is
# minus the forward one.

# %% nbgrader={"grade": false, "grade_id": "coupling_inverse", "locked": false, "schema_version": 3, "solution": true, "task": false}
def coupling_inverse(y, net):
    """Inverse coupling, latent → data: x = [y_a, y_b·exp(−log_s) − shift], logdet = −Σ log_s (B,)."""
    ### BEGIN SOLUTION
    k = y.shape[1] - y.shape[1] // 2
    y_a, y_b = y[:, :k], y[:, k:]
    shift, log_s = net(y_a)
    x_b = y_b * torch.exp(-log_s) - shift
    return torch.cat([y_a, x_b], dim=1), -log_s.sum(dim=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_coupling_inverse", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_coupling_inverse(coupling_inverse))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## One coupling, seen
#
# A random 2-channel coupling (the library's `AffineCoupling` with random weights) applied to a
# grid: $x_1$ is kept, $x_2$ is shifted and squeezed by amounts that depend on $x_1$. The colour
# is the log-det: where $s < 1$ the layer contracts space, and $\log|\det| < 0$. (The library
# keeps $s \in (0, 1)$ through a sigmoid, for stability.)

# %% tags=["grader-skip"]
if checks.passed("coupling_forward", "coupling_inverse"):
    layer, net = reference_coupling(seed=3, channels=2)
    u = torch.linspace(-2.5, 2.5, 41)
    grid = torch.cartesian_prod(u, u)
    with torch.no_grad():
        y, logdet = coupling_forward(grid, net)
        back, _ = coupling_inverse(y, net)
    assert torch.allclose(back, grid, atol=1e-5)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    sc0 = axes[0].scatter(*grid.T, s=3, c=grid[:, 1], cmap="viridis")
    axes[0].set(title="x (colour = $x_2$)", xlabel="$x_1$", ylabel="$x_2$")
    fig.colorbar(sc0, ax=axes[0], label="$x_2$")
    sc = axes[1].scatter(*y.T, s=3, c=logdet, cmap="magma")
    axes[1].set(title="y = coupling(x), colour = log|det|", xlabel="$y_1 = x_1$", ylabel="$y_2$")
    fig.colorbar(sc, ax=axes[1], label="log|det ∂y/∂x|")
    fig.tight_layout()
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Each vertical line of the grid ($x_1$ fixed) stays vertical: $y_1 = x_1$. Along it, $x_2$ is
# shifted and scaled by one affine map chosen by $x_1$, so the lines slide and shrink by
# different amounts. The right colour bar is negative everywhere: with $s < 1$ the layer
# contracts space.

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# **Why this matters for DiNof.** A Glow stacks many couplings (with ActNorm and invertible
# 1×1 convolutions between them, so every channel gets to move). Its log-likelihood is the sum
# of the layers' log-dets plus the Gaussian log-density of $z$; DiNof trains it on samples
# $x(T_m) = a(T_m)x_0 + s(T_m)z$ (your `forward_sample` from A1) and samples by running the
# inverses — your `coupling_inverse` — from $z$ back to $x(T_m)$.

# %% nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
checks.summary()
