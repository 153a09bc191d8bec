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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/03_glow_normalizing_flows.ipynb)
#
# # 03 · Glow: normalizing flows, layer by layer
#
# DiNof (Zand et al., [arXiv 2309.01274](https://arxiv.org/abs/2309.01274)) stops the forward
# diffusion at an intermediate time $T_m$ and lets a **normalizing flow** carry $x(T_m)$ to a
# Gaussian latent $z$ and back. The flow is Glow (Kingma & Dhariwal 2018): an invertible network
# whose log-density is exact, $\log p(x) = \log \mathcal N(z; 0, I) + \log|\det \partial z/\partial x|$.
# This notebook builds that flow from its parts and trains it:
#
# 1. the change-of-variables formula, checked against a histogram;
# 2. one Glow step taken apart: ActNorm, the LU-parametrised invertible linear map, the affine
#    coupling — each with its log-determinant checked against autograd, and the coupling written
#    out in ten lines of plain torch before we use the library's `AffineCoupling`;
# 3. Glow trained by maximum likelihood on 2D toys, where it struggles, and why DiNof's
#    smoothed target $p_{T_m}$ is much easier;
# 4. the flow's trajectory $h_0 = x, h_1, \dots, h_M = z$ layer by layer (DiNof Eq. 8), and how
#    Gaussian its latent really is;
# 5. a multi-scale Glow on 8×8 handwritten digits: squeeze and split, samples, sampling
#    temperatures, bits per dimension.
#
# Along the way, cells marked **Predict, then run** ask a question before the cell that answers
# it: write down your guess first. The exercises at the end lead to assignment A3
# (`notebooks/assignments/student/A3_glow_coupling.ipynb`), where you write the coupling yourself.
#
# Runtime: about a minute on 2 CPU cores with the shipped checkpoints (less with
# `DINOF_SMOKE=1`, which shrinks sample sizes and training runs; every claim below is an
# `assert` that holds in both modes). Without the checkpoints the notebook trains the three flows
# itself, which takes several minutes.

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

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from dinof_lite.data.digits import DIGITS_N_BINS, load_digits
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.data.toy import sample as toy_sample
from dinof_lite.flows import ActNorm, AffineCoupling, FlowStep, Glow, InvConv, squeeze, unsqueeze
from dinof_lite.pretrained import load_flow
from dinof_lite.sde import VPSDE
from dinof_lite.train import TrainConfig, Trainer, load_or_train
from dinof_lite.utils import smoke_or
from dinof_lite.viz import diagnostics as dg
from dinof_lite.viz import (
    flow_image_strip,
    grid_points,
    plot_density,
    plot_flow_stages,
    plot_samples,
    style_axes,
)
from dinof_lite.viz.flows import angle_colors
from dinof_lite.viz.schematics import glow_step_diagram, multiscale_diagram

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
torch.manual_seed(0)


def gen(seed: int) -> torch.Generator:
    """A seeded CPU generator: every random draw below names its seed."""
    return torch.Generator().manual_seed(seed)


def autograd_logdet(fn, x: torch.Tensor) -> torch.Tensor:
    """log|det ∂fn(x)/∂x| per example by brute force: autograd's full Jacobian, then slogdet.

    ``fn(x) -> (y, ...)`` must treat the examples of the batch independently (B, *shape).
    """
    jac = torch.autograd.functional.jacobian(lambda v: fn(v)[0].sum(0), x)  # (*shape, B, *shape)
    d = x[0].numel()
    return torch.linalg.slogdet(jac.reshape(d, x.shape[0], d).transpose(0, 1))[1]


def label_xy(ax, name: str = "x") -> None:
    """Label a 2D panel's axes ``name_1`` and ``name_2``."""
    ax.set_xlabel(f"${name}_1$", fontsize=9)
    ax.set_ylabel(f"${name}_2$", fontsize=9)


def density_colorbar(ax, label: str) -> None:
    """A colour bar for the last image drawn on ``ax`` (a density heatmap)."""
    ax.figure.colorbar(ax.images[-1], ax=ax, shrink=0.8, pad=0.02).set_label(label, fontsize=8)


# %% [markdown]
# > **Notation** (every symbol: [`docs/notation.md`](../docs/notation.md)). $F$ is the flow, data
# > → latent: $z = F(x)$ with $z \sim \mathcal N(0, I)$ the **latent**, and sampling runs
# > $F^{-1}$; $h_0 = x, h_1, \dots, h_M = z$ are the states after its $M$ layers (DiNof Eq. 8).
# > $p_\phi$ is the flow's density ($\phi$ its parameters; the score network of notebooks 01–02
# > is $s_\theta$). A coupling layer's *shift* and *scale* and the LU map's diagonal $d$ are
# > spelled out, not written $t$ and $s$ as in the Glow paper: here $t$ is always a diffusion time
# > and $\sigma_t$ the marginal standard deviation. $\tau$ is the sampling temperature.

# %% [markdown]
# ## 1. The change-of-variables formula
#
# Draw $z \sim \mathcal N(0, I)$ and push it through an invertible, differentiable map:
# $x = F^{-1}(z)$, where $F$ is the way back, data → latent. The density of $x$ is
#
# $$\log p_x(x) = \log p_z\big(F(x)\big) + \log\Big|\det \frac{\partial F(x)}{\partial x}\Big| .$$
#
# The log-determinant accounts for how $F$ stretches volume: where $F^{-1}$ spreads points apart
# the density must drop. A normalizing flow is exactly this with a learned $F$ (data → latent),
# built so that both $F^{-1}$ and the determinant are cheap. Here is a hand-made $F^{-1}$
# (`g_map` below) with the
# same structure as a Glow step — a per-coordinate scale (like ActNorm), then an affine
# *coupling* that scales and shifts $x_2$ by amounts that depend on $x_1$ only:
#
# $$x_1 = 1.2\,z_1, \qquad x_2 = z_2\, e^{0.35\,x_1} + 1.5 \sin(1.3\,x_1) .$$
#
# Its inverse is explicit and its Jacobian $\partial F/\partial x$ is triangular, so
# $\log|\det| = -\log 1.2 - 0.35\,x_1$: just the log of the diagonal.

# %%
def g_map(z: torch.Tensor) -> torch.Tensor:
    """Latent → data: z (N, 2) → x (N, 2)."""
    x1 = 1.2 * z[:, 0]
    return torch.stack([x1, z[:, 1] * torch.exp(0.35 * x1) + 1.5 * torch.sin(1.3 * x1)], 1)


def f_map(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Data → latent, with log|det ∂f/∂x| (N,)."""
    z1 = x[:, 0] / 1.2
    z2 = (x[:, 1] - 1.5 * torch.sin(1.3 * x[:, 0])) * torch.exp(-0.35 * x[:, 0])
    return torch.stack([z1, z2], 1), -math.log(1.2) - 0.35 * x[:, 0]


def log_p_x(x: torch.Tensor, with_jacobian: bool = True) -> torch.Tensor:
    z, logdet = f_map(x)
    log_n = -0.5 * z.pow(2).sum(1) - math.log(2 * math.pi)  # log N(z; 0, I) in 2D
    return log_n + logdet if with_jacobian else log_n


z_check = torch.randn(64, 2, generator=gen(0), dtype=torch.float64)
x_check = g_map(z_check)
assert torch.allclose(f_map(x_check)[0], z_check)  # f undoes g
assert torch.allclose(autograd_logdet(f_map, x_check), f_map(x_check)[1])  # the hand-derived log-det
print("f(g(z)) = z, and the triangular log-det matches autograd's full Jacobian")

# %% [markdown]
# Now the test: a histogram of many pushed samples against the formula, integrated over the
# same bins, and against the formula with the log-determinant dropped ($p_z(F(x))$ alone,
# renormalised over the window).
#
# **Predict, then run.** $F^{-1}$ stretches $x_2$ by $e^{0.35\,x_1}$: it spreads points apart on the
# right ($x_1 > 0$) and packs them together on the left. Without the log-determinant, which side
# of the window gets *too much* probability?

# %%
# NBVAL_IGNORE_OUTPUT
N_PUSH = smoke_or(200_000, 50_000)
LIM, N_BINS, SUB = 4.5, 30, 4  # window, histogram bins per axis, sub-cells per bin for the integral
x_push = g_map(torch.randn(N_PUSH, 2, generator=gen(1), dtype=torch.float64))
edges = np.linspace(-LIM, LIM, N_BINS + 1)
p_hist = np.histogram2d(*x_push.numpy().T, bins=[edges, edges])[0] / N_PUSH

fine = np.linspace(-LIM, LIM, N_BINS * SUB + 1)
centres = 0.5 * (fine[1:] + fine[:-1])
grid = torch.tensor(np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2))
cell = (fine[1] - fine[0]) ** 2
bin_mass = {}  # probability of each histogram bin (midpoint rule on SUB × SUB sub-cells)
for label, jac in (("formula", True), ("without the log-det", False)):
    dens = log_p_x(grid, jac).exp().numpy().reshape(N_BINS, SUB, N_BINS, SUB)
    bin_mass[label] = dens.sum((1, 3)) * cell
total_wrong = bin_mass["without the log-det"].sum()
bin_mass["without the log-det"] /= total_wrong
tv = {k: 0.5 * np.abs(p_hist - v).sum() for k, v in bin_mass.items()}
print(f"{N_PUSH} samples; total variation to the histogram: formula {tv['formula']:.3f}, "
      f"without the log-det {tv['without the log-det']:.3f}\n"
      f"(without the log-det the 'density' integrates to {total_wrong:.2f} over the window, not 1)")

right = centres.reshape(N_BINS, SUB).mean(1) > 0  # histogram bins with x_1 > 0
mass_right = {"histogram": p_hist[right].sum(), **{k: v[right].sum() for k, v in bin_mass.items()}}
print("probability of x_1 > 0: " + ", ".join(f"{k} {v:.3f}" for k, v in mass_right.items()))

fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.1), layout="constrained")
for ax, (title, p) in zip(axes, [(f"histogram of {N_PUSH} samples", p_hist),
                                 ("$p_z(f(x))\\,|\\det \\partial f/\\partial x|$", bin_mass["formula"]),
                                 ("$p_z(f(x))$ renormalised (wrong)", bin_mass["without the log-det"])]):
    im = ax.imshow(p.T, origin="lower", extent=(-LIM, LIM, -LIM, LIM), cmap="magma", vmin=0,
                   vmax=p_hist.max())
    style_axes(ax, LIM, title)
    label_xy(ax)
fig.colorbar(im, ax=axes, shrink=0.85).set_label("probability per bin", fontsize=8)
plt.show()

# %%
assert tv["formula"] < 0.05  # histogram noise only: ~0.016 with 200k samples, ~0.034 with 50k
assert tv["without the log-det"] > 0.12  # ~0.165: a visibly different distribution
assert mass_right["without the log-det"] > mass_right["histogram"] + 0.1  # too much on the right
print("the change-of-variables formula matches the histogram; without the log-det it does not")

# %% [markdown]
# The three panels share one colour scale: compare the right-hand arm of the "V". The formula
# (middle) reproduces the histogram (left) bin for bin. **Answer:** without the log-det (right
# panel) the right side, where $F^{-1}$ spreads points apart, is too bright: it gives $x_1 > 0$ a
# probability of 0.66, where the samples (and the formula) give 0.49. The dropped term,
# $-0.35\,x_1$, is exactly what lowers the density where the map stretches space.

# %% [markdown]
# ## 2. One Glow step, taken apart
#
# A Glow step (data → latent) is ActNorm → invertible linear map → affine coupling. Each layer
# of `dinof_lite.flows` has `forward(x) -> (y, logdet)` and `inverse(y) -> (x, logdet)`,
# with the per-example log-determinant of *that* direction; the flow adds them up.
#
# ### ActNorm: a data-initialised per-channel affine map
#
# $y = (x + b) \cdot \text{scale}$ per channel, log-det $= \sum_c \log \text{scale}_c$ (times
# $H \cdot W$ for images). On the **first batch it sees**, the layer sets $b = -\text{mean}$ and
# $\text{scale} = 1/\text{std}$, so that batch comes out standardised — a cheap replacement for
# batch normalisation that stays a fixed bijection afterwards. The flag that says "already
# initialised" is a buffer, so it is saved with the weights and a reloaded flow never
# re-initialises.

# %%
# NBVAL_IGNORE_OUTPUT
actnorm = ActNorm(2)
x_moons = toy_sample("moons", 1000, seed=0)
y, logdet = actnorm(x_moons)  # first call: data-dependent initialisation
print(f"data mean {x_moons.mean(0).numpy().round(3)}, std {x_moons.std(0, correction=0).numpy().round(3)}"
      f"\nafter ActNorm: max |mean| = {y.mean(0).abs().max():.1e}, "
      f"std {y.std(0, correction=0).detach().numpy().round(5)}; log-det {logdet[0]:.4f} for every example")
assert torch.allclose(y.mean(0), torch.zeros(2), atol=1e-5)
assert torch.allclose(y.std(0, correction=0), torch.ones(2), atol=1e-4)
assert torch.allclose(logdet, actnorm.log_scale.sum().expand(1000))
y2, _ = actnorm(x_moons + 5.0)  # later batches are *not* re-standardised
assert y2.mean(0).abs().min() > 1.0 and bool(actnorm.state_dict()["initialized"])

# %% [markdown]
# ### The invertible linear map, LU-parametrised
#
# Glow replaces the fixed channel permutation of RealNVP by a learned $C \times C$ matrix $W$
# (a 1×1 convolution on images). A general $\log|\det W|$ costs $O(C^3)$; Glow stores
# $W = P\,L\,(U + \operatorname{diag}(d))$ with a fixed permutation
# $P$, a unit lower-triangular $L$ and a strictly upper-triangular $U$, so
# $\log|\det W| = \sum_i \log|d_i|$ costs $O(C)$ (the diagonal $d$ is stored as its signs and
# $\log|d|$) and the inverse is two triangular solves. It
# starts as a random orthogonal matrix ($\log|\det| = 0$); we perturb its parameters to mimic
# training.
#
# **Predict, then run.** On an image the same $4 \times 4$ matrix $W$ acts on the channel vector of
# every pixel. For a batch of 5×5 images, how does the layer's log-determinant per image relate
# to $\log|\det W|$?

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(1)
invconv = InvConv(4)
print(f"at init: sum log|s| = {invconv.log_s.sum():.2e} (orthogonal), "
      f"W Wᵀ = I: {torch.allclose(invconv.weight() @ invconv.weight().T, torch.eye(4), atol=1e-5)}")
with torch.no_grad():
    for p in invconv.parameters():
        p.add_(0.3 * torch.randn(p.shape, generator=gen(2)))
W = invconv.weight()
sign, slogdet = torch.linalg.slogdet(W)
x_img = torch.randn(3, 4, 5, 5, generator=gen(3))  # 3 images, 4 channels, 5×5 pixels
y_img, logdet = invconv(x_img)
print(f"after perturbation: sum log|s| = {invconv.log_s.sum():.5f}, slogdet(W) = {slogdet:.5f}; "
      f"on 5×5 images the log-det is 25× that: {logdet[0]:.4f}")
assert torch.allclose(invconv.log_s.sum(), slogdet, atol=1e-5)
assert torch.allclose(logdet, 25 * slogdet.expand(3), atol=1e-4)
assert torch.allclose(y_img[:, :, 2, 3], x_img[:, :, 2, 3] @ W.T, atol=1e-5)  # W at every pixel
assert torch.allclose(invconv.inverse(y_img)[0], x_img, atol=1e-5)
assert torch.allclose(invconv.inverse_weight() @ W, torch.eye(4), atol=1e-5)

# %% [markdown]
# **Answer:** 25 times $\log|\det W|$ ($-10.17 = 25 \times -0.407$). The Jacobian of the whole
# image map is block-diagonal with one copy of $W$ per pixel, so its log-determinant is the
# number of pixels (here $5 \times 5 = 25$) times that of one block — the same reason ActNorm's
# log-det is multiplied by the number of pixels on images.

# %% [markdown]
# ### The affine coupling
#
# Split the channels into $x = [x_a, x_b]$ ($x_a$: the first $C - \lfloor C/2 \rfloor$ channels,
# which *condition*; $x_b$: the last $\lfloor C/2 \rfloor$, which *move*). A network reads $x_a$ and
# outputs, for every moved channel, a shift and a raw scale. In this project's convention
# (`dinof_lite/flows/coupling.py`), data → latent:
#
# $$(\text{shift}, \text{raw}) = \text{NN}(x_a), \qquad
#   \text{scale} = \operatorname{sigmoid}\big(6 \tanh(\text{raw}/6) + 2\big), \qquad
#   y_a = x_a, \qquad y_b = (x_b + \text{shift}) \cdot \text{scale},$$
#
# $$\log\Big|\det \frac{\partial y}{\partial x}\Big| = \textstyle\sum_j \log \text{scale}_j .$$
#
# The Jacobian is triangular (the $x_b$ block is diagonal, $\partial y_b/\partial x_b =
# \operatorname{diag}(\text{scale})$), so the log-det is a sum, and the inverse
# $x_b = y_b / \text{scale} - \text{shift}$ only needs the network *forwards*, on $y_a = x_a$: the
# network itself never has to be inverted. Two details are not in the Glow paper, whose scale is
# an unconstrained exponential: the sigmoid, $\text{scale} = \operatorname{sigmoid}(\text{raw} + 2)
# \in (0, 1)$, comes from the Glow authors' released code, and the soft clamp of `raw` to
# $(-6, 6)$ by $6 \tanh(\text{raw}/6)$ is this library's own choice (`docs/design.md` §Flow
# numerics). Together they keep the scale away from 0, so the inverse never divides by ~0. (With a scale below 1 a coupling can only *contract* $x_b$ in
# the data → latent direction; expansions come from ActNorm, the linear map and the priors.)
#
# Here is the whole layer in plain torch — split, network, soft clamp, scale and shift, log-det —
# with an ordinary `nn.Sequential` as the network, checked against the library's `AffineCoupling`
# given the same weights, and its log-det against autograd's full Jacobian.

# %%
# NBVAL_IGNORE_OUTPUT
CLAMP = 6.0  # AffineCoupling's default bound on the raw log-scale


def coupling_by_hand(x: torch.Tensor, net: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """One affine coupling, data → latent: x (B, C) → (y (B, C), log|det ∂y/∂x| (B,))."""
    n_cond = x.shape[1] - x.shape[1] // 2  # the first C - C//2 channels condition ...
    x_a, x_b = x[:, :n_cond], x[:, n_cond:]  # ... the last C//2 move
    shift, raw = net(x_a).chunk(2, dim=1)  # one network, two outputs per moved channel
    log_s = F.logsigmoid(CLAMP * torch.tanh(raw / CLAMP) + 2.0)  # soft clamp; s in (0, 1)
    y_b = (x_b + shift) * log_s.exp()
    return torch.cat([x_a, y_b], dim=1), log_s.sum(dim=1)


torch.manual_seed(2)
net = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.SiLU(), torch.nn.Linear(32, 32),
                          torch.nn.SiLU(), torch.nn.Linear(32, 2))  # x_a (B, 1) → (shift, raw)
with torch.no_grad():  # strong, varied shifts and scales, as a trained layer might have
    net[-1].weight.copy_(3 * torch.randn(net[-1].weight.shape, generator=gen(5)))
    net[-1].bias.copy_(torch.tensor([0.0, -4.0]))  # (shift, raw): scales well below 1
x = torch.randn(256, 2, generator=gen(4))
y_hand, logdet_hand = coupling_by_hand(x, net)

coupling = AffineCoupling(2, hidden=32, image=False)  # the library's layer ...
coupling.net.net.load_state_dict(net.state_dict())  # ... with the same weights
y_lib, logdet_lib = coupling(x)
ref = autograd_logdet(lambda v: coupling_by_hand(v, net), x[:64])
print(f"by hand vs AffineCoupling.forward: max |Δy| = {(y_hand - y_lib).abs().max():.1e}, "
      f"max |Δ log-det| = {(logdet_hand - logdet_lib).abs().max():.1e}\n"
      f"log-det ranges over [{logdet_hand.min():.3f}, {logdet_hand.max():.3f}]; "
      f"max |log-det - autograd| = {(logdet_hand[:64] - ref).abs().max():.1e}")
assert torch.allclose(y_hand, y_lib, atol=1e-6) and torch.allclose(logdet_hand, logdet_lib, atol=1e-6)
assert torch.allclose(logdet_hand[:64], ref, atol=1e-5)
assert torch.allclose(coupling.inverse(y_lib)[0], x, atol=1e-5)  # the library's inverse undoes it
assert torch.equal(y_hand[:, 0], x[:, 0])  # x_a passes through untouched

# %% [markdown]
# From here on the notebook uses `AffineCoupling`. One more Glow detail: in the library the
# network's **last layer is zero-initialised** (`ZeroLinear`, or `ZeroConv2d` for images).
#
# **Predict, then run.** What does a *fresh* `AffineCoupling` do to $x_b$, and what is its
# log-det? (Set the network's output to zero in the formula above.)

# %%
# NBVAL_IGNORE_OUTPUT
fresh = AffineCoupling(2, hidden=32, image=False)
y, logdet = fresh(x)
s2 = torch.sigmoid(torch.tensor(2.0))
print(f"fresh coupling: y_a = x_a, y_b = {s2:.4f} · x_b, log-det = log sigmoid(2) = {logdet[0]:.4f}")
assert torch.equal(y[:, 0], x[:, 0]) and torch.allclose(y[:, 1], s2 * x[:, 1])
assert torch.allclose(logdet, torch.log(s2).expand(256))

# %% [markdown]
# **Answer:** with $\text{shift} = \text{raw} = 0$ every example gets $y_b = \operatorname{sigmoid}(2)\,x_b =
# 0.881\,x_b$ and log-det $\log \operatorname{sigmoid}(2) = -0.127$: a fixed map close to the identity. Every
# step of a fresh Glow starts this way, which keeps deep flows trainable.
# A picture of what one coupling does: the perturbed `coupling` from above applied to a grid.

# %%
ticks = torch.linspace(-2.5, 2.5, 11)
dense = torch.linspace(-2.5, 2.5, 200)
line_colors = plt.get_cmap("viridis")(np.linspace(0, 1, len(ticks)))
fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6), layout="constrained")
with torch.no_grad():
    for k, color in zip(ticks, line_colors):
        fixed_b = torch.stack([dense, torch.full_like(dense, k)], 1)  # a horizontal line
        fixed_a = torch.stack([torch.full_like(dense, k), dense], 1)  # a vertical line
        for ax, f in ((axes[0], lambda v: v), (axes[1], lambda v: coupling(v)[0])):
            ax.plot(*f(fixed_a).T, color="0.7", lw=0.7)
            ax.plot(*f(fixed_b).T, color=color, lw=1.0)
style_axes(axes[0], 4.0, "input grid $(x_a, x_b)$")
style_axes(axes[1], 4.0, "after the coupling $(y_a, y_b) = (x_a, y_b)$")
axes[0].set_xlabel("$x_a$"), axes[0].set_ylabel("$x_b$")
axes[1].set_xlabel("$y_a = x_a$"), axes[1].set_ylabel("$y_b$")
sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(-2.5, 2.5))
fig.colorbar(sm, ax=axes, shrink=0.8).set_label("$x_b$ of the coloured (horizontal) line", fontsize=8)
plt.show()

# %% [markdown]
# Follow one coloured line (fixed $x_b$) from left to right: it is shifted by an amount that
# varies with $x_a$, so it comes out curved. The grey vertical lines (fixed $x_a$) stay vertical
# and in place — $x_a$ passes through untouched. Now compare the spacing of the coloured lines
# along one vertical: on the left, where this layer's scale is smallest, they are squeezed
# closest together (the most negative log-det); towards the right the scale grows and they
# spread again.
# The lines never cross, because for fixed $x_a$ the map $x_b \mapsto y_b$ is increasing.

# %% [markdown]
# ### The whole step, and the whole flow
#
# `FlowStep` chains the three layers, data → latent, as drawn below (Kingma & Dhariwal 2018,
# Fig. 2a). In the diagram $t$ is the coupling's shift and $s$ its scale (not a diffusion time and a
# standard deviation) and the soft clamp
# of `raw` is left out; for vectors the "1×1 convolution" is the $C \times C$ LU-parametrised
# matrix above and the coupling network is an MLP instead of the convolutional net shown.

# %%
glow_step_diagram()
plt.show()

# %% [markdown]
# Read it left to right for the data → latent direction: each box is one invertible layer,
# and the grey line under it is its log-determinant; the flow's log-det is the sum of the three.
# The lower panel is the coupling cell above drawn out: only $x_b$ is changed, by a shift and a
# scale computed from $x_a$. Sampling runs the same boxes right to left, each inverted.
#
# `Glow` stacks steps into levels, squeezes images
# ($C{\times}H{\times}W \to 4C{\times}\frac H2{\times}\frac W2$, a pure reshuffle with log-det 0)
# and factors out half the channels after every level but the last. Both are exactly
# invertible, and the summed log-dets are the exact log-determinant of the whole map — checked
# below by brute force on a tiny image flow with $D = 16$.

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(3)
step = FlowStep(2, hidden=32, image=False)
x = toy_sample("8gaussians", 512, seed=1)
y, logdet = step(x)  # initialises its ActNorm
x_back, _ = step.inverse(y)
print(f"FlowStep: max |inverse(forward(x)) - x| = {(x_back - x).abs().max():.1e}")
assert torch.allclose(x_back, x, atol=1e-5)

tiny = Glow((1, 4, 4), levels=2, steps=2, hidden=16)
x_tiny = torch.rand(4, 1, 4, 4, generator=gen(6))
with torch.no_grad():
    tiny(torch.rand(64, 1, 4, 4, generator=gen(7)))  # initialise the ActNorms on a batch
    for p in tiny.parameters():  # move away from the (near-identity) initialisation
        p.add_(0.05 * torch.randn(p.shape, generator=gen(8)))
z, logdet = tiny(x_tiny)
ref = autograd_logdet(tiny, x_tiny)
print(f"tiny image Glow ({tiny.num_parameters()} parameters, {len(tiny.layer_names())} layers): "
      f"log-det {logdet.detach().numpy().round(4)}\n  autograd slogdet of the 16×16 Jacobian "
      f"{ref.numpy().round(4)}; max |inverse(forward(x)) - x| = "
      f"{(tiny.inverse(z) - x_tiny).abs().max():.1e}")
assert torch.allclose(logdet, ref, atol=1e-4)
assert torch.allclose(tiny.inverse(z), x_tiny, atol=1e-5)

# %% [markdown]
# ## 3. Training Glow on 2D toys
#
# Maximum likelihood: minimise $-\frac1B \sum_i \log p_\phi(x_i)$ over minibatches with the
# library's `Trainer` (Adam, warm-up, gradient clipping, an EMA of the weights). For vectors,
# `Glow((2,), levels=1, steps=8, hidden=64)` uses MLP couplings and a 2×2 LU linear map in place
# of the 1×1 convolution. `scripts/make_checkpoints.py` trained one flow on 8gaussians and one on
# moons (fresh samples at every update); the cell loads them, or — where they are
# missing, e.g. a pip-installed package — trains a shorter run of the same recipe with a
# progress bar.

# %%
gmm = GaussianMixture.preset("8gaussians")  # exact density: NLLs can be compared to the entropy


def nll_loss(model, x0, generator):
    """Maximum likelihood: the mean negative log-density (nats) of the minibatch."""
    return -model.log_prob(x0).mean()


def flow_config(n_steps: int, batch_size: int, lr: float, weight_decay: float = 0.0):
    """Training settings of a flow trained here when its shipped checkpoint is missing."""
    return TrainConfig(n_steps=n_steps, batch_size=batch_size, lr=lr, warmup=200,
                       weight_decay=weight_decay, ema_decay=smoke_or(0.998, 0.9), seed=0,
                       device="cpu", ckpt_every=None)


# %%
# NBVAL_IGNORE_OUTPUT
make_2d = lambda: Glow((2,), levels=1, steps=8, hidden=64)
flows, metas = {}, {}
train_data = {"8gaussians": lambda n, g: gmm.sample(n, g),  # fresh mixture samples every step
              "moons": toy_sample("moons", 50_000, seed=0)}  # a fixed set, minibatches drawn from it
for toy, data in train_data.items():
    flows[toy], metas[toy] = load_or_train(f"glow_{toy}", load_flow, make_2d, nll_loss, data,
                                           flow_config(smoke_or(3000, 200), 512, lr=2e-3))

# %%
fig, axes = plt.subplots(2, 4, figsize=(12, 5.6), layout="constrained")
for row, toy in enumerate(flows):
    flow = flows[toy]
    x_data = gmm.sample(2000, gen(10)) if toy == "8gaussians" else toy_sample("moons", 2000, seed=10)
    plot_samples(axes[row, 0], x_data, color="0.4", title=f"{toy}: 2000 data points")
    plot_samples(axes[row, 1], flow.sample(2000, generator=gen(11)), title="2000 Glow samples")
    plot_density(axes[row, 2], flow.log_prob, log_scale=True, n_grid=120, title="Glow $\\log p_\\theta$")
    density_colorbar(axes[row, 2], "$\\log p_\\theta(x)$ (nats)")
plot_density(axes[0, 3], gmm.log_prob, log_scale=True, n_grid=120, title="true $\\log p_0$")
density_colorbar(axes[0, 3], "$\\log p_0(x)$ (nats)")
for ax in axes.flat:
    label_xy(ax)
axes[1, 3].set_visible(False)
plt.show()

# %% [markdown]
# The samples look right, but the log-density (third column, clipped 12 nats below its maximum;
# compare the true one in the top right) shows what a flow cannot avoid: **thin bridges of mass between the modes** of 8gaussians, where the
# true density is essentially zero. The held-out NLL makes this quantitative. For test points
# $x \sim p_0$, the flow's NLL is the cross-entropy $H(p_0) + \mathrm{KL}(p_0 \,\|\, p_\phi)$; the
# exact $\log p_0$ on the *same* points turns the gap into a KL estimate with a small error bar.

# %%
# NBVAL_IGNORE_OUTPUT
H0 = gmm.entropy(smoke_or(200_000, 50_000), gen(12))
x_test = gmm.sample(smoke_or(20_000, 5000), gen(13))
with torch.no_grad():
    log_q = flows["8gaussians"].log_prob(x_test)
    x_model = flows["8gaussians"].sample(len(x_test), generator=gen(14))
kl = gmm.log_prob(x_test) - log_q
kl0, kl0_se = kl.mean().item(), kl.std().item() / math.sqrt(len(x_test))


def bridge_fraction(x: torch.Tensor) -> float:
    """Fraction of points farther than 3 component stds (1.06) from every one of the 8 centres."""
    return (torch.cdist(x.double(), gmm.means).min(1).values > 3 * math.sqrt(0.125)).double().mean().item()


bridges = {"data": bridge_fraction(gmm.sample(len(x_test), gen(15))), "Glow": bridge_fraction(x_model)}
moons_test = toy_sample("moons", len(x_test), seed=16)
with torch.no_grad():
    nll_moons = -flows["moons"].log_prob(moons_test).mean().item()
print(f"8gaussians: entropy H(p0) = {H0:.3f} nats; Glow test NLL = {-log_q.mean():.3f} nats\n"
      f"  KL(p0 || p_theta) = {kl0:.3f} ± {kl0_se:.3f} nats\n"
      f"  samples > 3 std from every mode: data {bridges['data']:.2%}, Glow {bridges['Glow']:.2%}\n"
      f"moons: Glow test NLL = {nll_moons:.3f} nats (no exact entropy for this toy)")
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for toy in flows:
    curve = metas[toy]["loss_curve"]
    dg.plot_loss_curve(ax, curve["loss"], steps=curve["steps"], smooth=5, log_y=False, label=toy,
                       title="training NLL (nats)")
ax.axhline(H0, color="k", ls="--", lw=1, label="entropy of 8gaussians")
ax.legend(fontsize=8)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
assert kl0 > -3 * kl0_se  # a model's NLL never beats the entropy (KL >= 0) ...
assert kl0 > 0.05  # ... and this one stays visibly above it
assert bridges["Glow"] > 2 * bridges["data"]  # mass leaks into the gaps between the modes
print(f"KL = {kl0:.3f} nats > 0; Glow puts {bridges['Glow'] / bridges['data']:.1f}x the data's "
      f"mass in the gaps between modes")

# %% [markdown]
# ### Why a flow struggles here — and why DiNof's flow has it easy
#
# A flow is a *continuous bijection* of $\mathbb R^2$: it maps the connected, unimodal Gaussian
# onto the data. It cannot tear space, so separating eight islands means stretching the thin
# regions between them enormously; every point of the stretched region pays
# $\log|\det \partial F/\partial x| \ll 0$ in log-density, and a finite-capacity network leaves
# residual bridges of mass along the seams. The sharper and more separated the modes, the
# harder the job.
#
# DiNof never asks the flow to model $p_0$. It only models the diffused marginal
# $p_{T_m}$ — data that the forward SDE has already blurred and shrunk towards $\mathcal N(0, I)$
# — and leaves the last stretch from $T_m$ to $0$ to the reverse SDE. With the exact mixture we can
# measure how much easier that is: the **same small flow** (4 steps, 32 hidden, a few hundred
# Adam updates) trained on $p_t$ of the VP SDE for several $t$, graded by
# $\mathrm{KL}(p_t \,\|\, p_\phi)$ against the exact marginal `gmm.marginal(sde, t)`.
#
# **Predict, then run.** The VP SDE shrinks the data by $a_t$ and adds noise of std $\sigma_t$. As
# $t$ grows from 0 to 0.6, how will the small flow's KL change — and roughly how small will it
# be at $t = 0.6$ compared with $t = 0$?

# %%
# NBVAL_IGNORE_OUTPUT
sde = VPSDE()
SWEEP_T = [0.0, 0.1, 0.2, 0.4, 0.6]
sweep_steps = smoke_or(400, 100)
sweep = []
for t in SWEEP_T:
    p_t = gmm.marginal(sde, t)
    torch.manual_seed(0)
    config = TrainConfig(n_steps=sweep_steps, batch_size=256, lr=2e-3, warmup=50, ema_decay=0.0,
                         seed=0, device="cpu", ckpt_every=None, progress=False)
    trainer = Trainer(Glow((2,), levels=1, steps=4, hidden=32), nll_loss,
                      lambda n, g, p=p_t: p.sample(n, g), config)
    trainer.fit()
    x_t = p_t.sample(smoke_or(20_000, 5000), gen(17))
    with torch.no_grad():
        gap = p_t.log_prob(x_t) - trainer.model.log_prob(x_t)
    sweep.append({"t": t, "H(p_t)": -p_t.log_prob(x_t).mean().item(), "KL": gap.mean().item(),
                  "KL_se": gap.std().item() / math.sqrt(len(x_t)), "flow": trainer.model.eval(),
                  "p_t": p_t})
print(f"the same flow (4 steps, 32 hidden), {sweep_steps} updates on each p_t:\n")
print(dg.format_table(sweep, ["t", "H(p_t)", "KL", "KL_se"], digits={"KL": 3, "KL_se": 2}))

fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), layout="constrained",
                         gridspec_kw={"width_ratios": [1.2, 1, 1, 1]})
dg.plot_sweep(axes[0], SWEEP_T, {"small Glow": [r["KL"] for r in sweep]},
              yerr={"small Glow": [r["KL_se"] for r in sweep]}, xlabel="diffusion time $t$ ($T_m$)",
              ylabel="KL$(p_t \\| p_\\theta)$ (nats)", title="how hard is $p_t$ for a flow?")
for ax, r in zip(axes[1:], (sweep[0], sweep[2], sweep[-1])):
    plot_density(ax, r["flow"].log_prob, lim=3.5, n_grid=100, title=f"flow's density on $p_{{{r['t']:g}}}$")
    density_colorbar(ax, "$p_\\theta(x)\\,/\\max p_\\theta$")
    plot_samples(ax, r["p_t"].sample(300, gen(18)), lim=3.5, color="w", s=1.5,
                 label=f"300 samples of $p_{{{r['t']:g}}}$")
    label_xy(ax)
    ax.legend(fontsize=7, loc="lower left", facecolor="0.2", labelcolor="w", markerscale=4)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
kl_at = {r["t"]: r for r in sweep}
assert kl_at[0.6]["KL"] < 0.03  # the smoothed target is learned almost perfectly ...
assert kl_at[0.6]["KL"] + 3 * kl_at[0.6]["KL_se"] < 0.1 * kl_at[0.0]["KL"]  # ... unlike p0
assert kl_at[0.0]["KL"] > kl_at[0.2]["KL"] > kl_at[0.6]["KL"] - 3 * kl_at[0.6]["KL_se"]
print(f"KL at t = 0: {kl_at[0.0]['KL']:.3f} nats; at t = 0.6: {kl_at[0.6]['KL']:.4f} nats")

# %% [markdown]
# **Answer:** the KL falls steadily with $t$, from 0.61 nats at $t = 0$ to about 0.001 at
# $t = 0.6$ — more than two decades smaller (left panel). In the density panels compare the white
# samples of $p_t$ with the flow's density beneath them. The same flow and training budget that
# leaves more than half a nat on the table at $t = 0$ models $p_{0.6}$ almost exactly: by then
# the modes overlap into one smooth bump, and the flow only has to bend a Gaussian slightly.
# That is DiNof's bet: the paper's sweep over $T_m$ on CIFAR-10 (VE SDE, DiNof Table 1) is best
# at $T_m = 0.6$ (FID 3.16, against 46.6 at $T_m = 0.1$, where the flow must model nearly clean
# images), and the reverse SDE still has enough time to restore the detail.
#
# ## 4. The flow's trajectory, layer by layer
#
# `flow.trajectory(x)` returns the state after every layer of the forward pass,
# $[x, h_1, \dots, h_M = z]$ — DiNof's deterministic trajectory (paper Eq. 8). The 8gaussians flow
# has $M = 25$ layers (8 steps × 3 layers, then the prior, a learned per-coordinate affine map).
# Below, the data, the states after flow steps 2, 4, 6 and 8, and the latent $z$. Every point
# keeps its colour — set by its angle in the data, so each mode has its own colour — and can be
# followed from panel to panel.
#
# Only the first panel is in data space and only the last in latent space. The middle panels
# are the flow's **internal layer coordinates** $h_k$, drawn in the same window: every linear map
# rotates, shears and rescales the plane, so a position there is not a position in data space,
# and a point's "path" from panel to panel *jumps* (unlike the smooth paths of the
# probability-flow ODE in notebook 01 — nothing asks a flow's layers to move points a little).

# %%
# NBVAL_IGNORE_OUTPUT
flow = flows["8gaussians"]
names = ["data $x$", *flow.layer_names()]
x_traj = gmm.sample(smoke_or(3000, 1000), gen(19))
states = flow.trajectory(x_traj)  # detached states, no gradients
z_traj = states[-1]  # the latent: the same as flow(x_traj)[0]
print(f"{len(states)} states for {len(flow.layer_names())} layers; "
      f"z: mean {z_traj.mean().item():+.2f}, std {z_traj.std().item():.2f}")
# the data, after flow steps 2, 4, 6 and 8, and the latent z
stages = [0, *(names.index(f"L1.K{k}.coupling") for k in (2, 4, 6, 8)), len(names) - 1]


def label_stages(fig, first: str, last: str) -> None:
    """Axis labels of a plot_flow_stages figure: data or latent coordinates at the two ends,
    layer coordinates (not data space) in between."""
    axes = [ax for ax in fig.axes if ax.get_visible()]
    for i, ax in enumerate(axes):
        name = first if i == 0 else last if i == len(axes) - 1 else "h"
        ax.set_xlabel(f"${name}_1$" + ("" if name != "h" else " (layer coord.)"), fontsize=8)
        ax.set_ylabel(f"${name}_2$", fontsize=8)


fig = plot_flow_stages(states, names, stages=stages, lim=4.5,
                       title="data → latent: 8gaussians through Glow (forward); colour = mode")
label_stages(fig, "x", "z")
plt.show()

# %% [markdown]
# Look at the colours: each mode stays one contiguous group in every panel — a continuous
# bijection can move and stretch a mode but never tear it — while the gaps between the modes
# are squeezed shut. At the end the eight groups lie side by side as **bands** fanned across
# the latent disc. The cloud has mean 0 and standard deviation 0.99 (printed above), but is it
# a standard Gaussian?
#
# **Predict, then run.** For $z \sim \mathcal N(0, I)$ in 2D the fraction of points within
# radius $r$ is $1 - e^{-r^2/2}$: 39% within 1, 86% within 2, 99% within 3. Will the data's
# latents match these fractions? If they do, is the latent a standard Gaussian?
#
# A fairer check than moments or radii compares whole densities. Because $p_0$ is known exactly,
# so is the density of the data's latents, $F_\# p_0$, and its ratio to the Gaussian needs no
# histogram: at $z = F(x)$,
#
# $$\log \frac{(F_\# p_0)(z)}{\mathcal N(z; 0, I)} = \log p_0(x) - \log p_\phi(x),
#   \qquad x = F^{-1}(z),$$
#
# since both densities pick up the same $\log|\det \partial F/\partial x|$. Zero means the latent
# is exactly Gaussian there.

# %%
# NBVAL_IGNORE_OUTPUT
z_ref = torch.randn(len(z_traj), 2, generator=gen(23))  # a true N(0, I) sample, same size
with torch.no_grad():
    z_many = flow(x_test)[0]  # latents of the test points of §3
    log_ratio_model = gmm.log_prob(x_model) - flow.log_prob(x_model)  # at f^-1(z), z ~ N(0, I)
RADII = (1.0, 2.0, 3.0)
inside = {"latents f(x)": [(z_many.norm(dim=1) < r).double().mean().item() for r in RADII],
          "N(0, I)": [1 - math.exp(-r * r / 2) for r in RADII]}
for name, fr in inside.items():
    print(f"{name:>12}: " + ", ".join(f"{p:.1%} within {r:g}" for p, r in zip(fr, RADII)))
seams = (log_ratio_model < -1).double().mean().item()
print(f"N(0, I) puts {seams:.1%} of its mass where the data's latent density is below "
      f"e^-1 = 37% of the Gaussian's\nKL(f#p0 || N(0, I)) = KL(p0 || p_theta) = {kl0:.3f} nats (§3)")

Z_LIM, N_Z = 3.0, 121
z_axis, z_grid = grid_points(Z_LIM, N_Z)
with torch.no_grad():
    x_of_z = flow.inverse(z_grid)
    log_ratio = (gmm.log_prob(x_of_z) - flow.log_prob(x_of_z)).reshape(N_Z, N_Z).numpy()

fig, axes = plt.subplots(1, 4, figsize=(14, 3.6), layout="constrained",
                         gridspec_kw={"width_ratios": [1, 1, 1, 1.2]})
colors = angle_colors(x_traj)
axes[0].scatter(*x_traj.T, c=colors, s=1.5, linewidths=0, rasterized=True)
style_axes(axes[0], 4.5, "data $x$ (colour = mode)")
label_xy(axes[0], "x")
for ax, z, c, title in ((axes[1], z_traj, colors, "latents $z = f(x)$, same colours"),
                        (axes[2], z_ref, "0.4", "a true $\\mathcal{N}(0, I)$ sample")):
    ax.scatter(*z.T, c=c, s=1.5, linewidths=0, rasterized=True)
    style_axes(ax, Z_LIM, title)
im = axes[3].imshow(log_ratio, origin="lower", extent=(-Z_LIM, Z_LIM, -Z_LIM, Z_LIM),
                    cmap="RdBu_r", vmin=-2, vmax=2)
fig.colorbar(im, ax=axes[3], extend="both").set_label(
    "$\\log (f_{\\sharp}p_0)(z) - \\log \\mathcal{N}(z; 0, I)$ (nats)", fontsize=8)
style_axes(axes[3], Z_LIM, "exact log-ratio: data latents / $\\mathcal{N}(0, I)$")
for ax in axes[1:]:
    for r, ls in zip(RADII[:2], ("-", "--")):
        ax.add_patch(plt.Circle((0, 0), r, fill=False, ls=ls, color="k", lw=1,
                                label=f"$|z| = {r:g}$ ({1 - math.exp(-r * r / 2):.0%} of $\\mathcal{{N}}$)"))
    label_xy(ax, "z")
axes[2].legend(fontsize=7, loc="lower left")
plt.show()

# %%
if metas["8gaussians"]["train_steps"] >= 1000:  # claims about the trained flow
    assert all(abs(a - b) < 0.04 for a, b in zip(*inside.values()))  # radially ~Gaussian ...
assert kl0 > 0.05 and seams > 0.04  # ... but not a standard Gaussian: seams and the KL gap
print("radially the latents look Gaussian, but their density is not: seams and the KL gap")

# %% [markdown]
# **Answer:** radially the latents pass — the fractions within radius 1, 2 and 3 printed above
# are within a few points of the Gaussian's — but the latent is **not a standard Gaussian**.
# Compare the second and third panels: the true sample is an even, structureless disc, while the
# data's latents form one coloured band per mode, fanned out across the disc. The exact
# log-ratio (right) shows what that costs. Inside the disc, along the bands, it is near zero or
# mildly positive (white to light red: about the Gaussian's density, or a little more). On the
# thin **seams** between the bands — the blue curves, which trace the band boundaries of the
# second panel — it is strongly negative: almost no data lands there, yet the Gaussian puts
# about 10% of its mass (printed above) where the log-ratio is below $-1$. Sampling maps those
# seams back into the empty gaps between the modes: they are the bridges of §3. The flow has not
# fully Gaussianised its input, and the size of the mismatch is exactly the KL gap of §3: a
# bijection leaves KL unchanged, so
# $\mathrm{KL}(F_\#\, p_0 \,\|\, \mathcal N(0, I)) = \mathrm{KL}(p_0 \,\|\, p_\phi) = 0.113$ nats,
# the average of the right panel's log-ratio over the data's latents. Mean, variance and radius
# never reveal it; only a check of the whole density does.
#
# **Sampling runs the same layers backwards.** `flow.inverse_trajectory(z)` returns the
# inverse's states $[z, \dots, x]$; with `z = flow.sample_latent(n)` (the draw `flow.sample(n)`
# maps to data) it traces the sampling path of $z \sim \mathcal N(0, I)$. Panel $k$
# below is labelled by the forward state it reproduces (so "prior" is $z$ and "data $x$" the
# sample). Inverting the latents of the data above recovers the forward states in reverse order,
# up to float round-off (printed below).

# %%
# NBVAL_IGNORE_OUTPUT
inv_states = flow.inverse_trajectory(z_traj)
sample_states = flow.inverse_trajectory(flow.sample_latent(smoke_or(3000, 1000), generator=gen(20)))
err = max((a - b).abs().max().item() for a, b in zip(inv_states, reversed(states)))
print(f"inverse states = reversed forward states, max difference {err:.1e}")
assert len(inv_states) == len(states) and err < 1e-4
fig = plot_flow_stages(sample_states, names[::-1], stages=sorted(len(names) - 1 - k for k in stages),
                       lim=4.5, title="latent → data: sampling (inverse), coloured by the angle of $z$")
label_stages(fig, "z", "x")
plt.show()

# %% [markdown]
# Here the colour is the angle of the Gaussian draw $z$, so read the panels left to right as a
# sample being made: the disc is sheared and folded (middle panels: layer coordinates again,
# not data space) until, in the last panel, the colour wheel has been wrapped around the ring of
# modes, each mode drawn from its own range of angles. The points strung out between the modes
# — the **bridges** of §3 — are the draws that fell on the thin seams of $z$ found above.

# %% [markdown]
# ## 5. Glow on images: 8×8 handwritten digits
#
# The same flow on images is **multi-scale** (Kingma & Dhariwal 2018, Fig. 2b; Dinh et al. 2017):
# each of the $L$ levels **squeezes** (every 2×2 block of pixels becomes 4 channels of one pixel),
# runs $K$ steps with convolutional couplings and an invertible 1×1 convolution, then (except
# the last level) **splits** off half the channels as part of $z$, their Gaussian's mean and scale
# predicted from the other half. The digits flow below has $L = 2$ and $K = 8$:
#
# **Predict, then run.** What shape does the squeeze turn one $1 \times 8 \times 8$ digit into, and
# what is its log-determinant?

# %%
# NBVAL_IGNORE_OUTPUT
x_sq = torch.rand(2, 1, 8, 8, generator=gen(25))
y_sq = squeeze(x_sq)
print(f"squeeze: {tuple(x_sq.shape[1:])} → {tuple(y_sq.shape[1:])}; channel 0 of y holds the "
      f"top-left pixel of every 2×2 block: {torch.equal(y_sq[:, 0], x_sq[:, 0, ::2, ::2])}\n"
      f"log|det| by autograd: {autograd_logdet(lambda v: (squeeze(v),), x_sq).abs().max():.1e}")
assert y_sq.shape == (2, 4, 4, 4) and torch.equal(unsqueeze(y_sq), x_sq)
assert torch.equal(y_sq.flatten(1).sort(1).values, x_sq.flatten(1).sort(1).values)  # same entries
assert torch.allclose(autograd_logdet(lambda v: (squeeze(v),), x_sq), torch.zeros(2))

# %% [markdown]
# **Answer:** $4 \times 4 \times 4$, with log-determinant exactly 0: the squeeze only moves entries
# (a permutation, undone by `unsqueeze`), so it changes no volume. Its point is that the 1×1
# convolutions and couplings of the next steps can now mix the four pixels of each 2×2 block.
# The whole digits flow, with its shapes:

# %%
multiscale_diagram(levels=2, in_shape=(1, 8, 8))
plt.show()

# %% [markdown]
# Follow the shapes: level 1 squeezes $1{\times}8{\times}8 \to 4{\times}4{\times}4$, runs its 8 steps
# and splits off $z_1$ ($2{\times}4{\times}4$, 32 numbers); level 2 squeezes the kept half
# $2{\times}4{\times}4 \to 8{\times}2{\times}2$ and ends in the top prior, $z_2$ (32 numbers). Together
# the latent has the image's $64$ numbers, as a bijection must.
#
# sklearn's digits have 17 grey levels (0–16); we scale them to $[0, 1]$, **dequantise** (add
# uniform noise within each level's bin, so a density can be fit to discrete data) and report
# **bits per dimension**,
#
# $$\text{bpd} = \frac{-\log p_\phi(\tilde x)}{D \ln 2} + \log_2 17 , \qquad
#   \tilde x = \frac{k + u}{17},\ u \sim U[0, 1)^D \text{ for pixel levels } k,$$
#
# an upper bound on the code length of the discrete pixels (Theis et al. 2016). A uniform guess
# over the 17 levels costs $\log_2 17 = 4.09$ bits.

# %%
# NBVAL_IGNORE_OUTPUT
x_train, x_test_img = load_digits(split="train"), load_digits(split="test")
print(f"train {tuple(x_train.shape)}, test {tuple(x_test_img.shape)}, {DIGITS_N_BINS} levels in [0, 1]")


def bpd_loss(model, x0, generator):
    """Training loss in bits per dimension of the dequantised minibatch."""
    return model.bits_per_dim(x0, n_bins=DIGITS_N_BINS, generator=generator).mean()


digits_flow, digits_meta = load_or_train(
    "glow_digits", load_flow, lambda: Glow((1, 8, 8), levels=2, steps=8, hidden=64), bpd_loss,
    x_train, flow_config(smoke_or(2000, 100), 128, lr=2e-3, weight_decay=3e-4))

# %% [markdown]
# Bits/dim on the training and the test digits, against two baselines fit on the training set:
# the uniform guess, and a model that treats every pixel independently (its own 17-level
# histogram, add-one smoothed; an exact discrete likelihood, whereas the flow's number is an
# upper bound because of the dequantisation).

# %%
# NBVAL_IGNORE_OUTPUT
levels = {split: torch.round(x * (DIGITS_N_BINS - 1)).long().flatten(1)  # (N, 64) in 0..16
          for split, x in (("train", x_train), ("test", x_test_img))}
counts = torch.nn.functional.one_hot(levels["train"], DIGITS_N_BINS).sum(0) + 1.0  # add-one
log2_probs = (counts / counts.sum(1, keepdim=True)).log2()  # (64 pixels, 17 levels)
bpd_rows = []
with torch.no_grad():
    for split, x in (("train", x_train), ("test", x_test_img)):
        bpd_rows.append({
            "split": split,
            "Glow": digits_flow.bits_per_dim(x, n_bins=DIGITS_N_BINS, generator=gen(21)).mean().item(),
            "independent pixels": -log2_probs.gather(1, levels[split].T).mean().item(),
            "uniform": math.log2(DIGITS_N_BINS)})
bpd = {r["split"]: r for r in bpd_rows}
print(f"bits/dim of the {DIGITS_N_BINS}-level digits (the flow's with uniform dequantisation); "
      f"the flow was trained for {digits_meta['train_steps']} updates\n")
print(dg.format_table(bpd_rows, digits=4))

# %%
# NBVAL_IGNORE_OUTPUT
assert bpd["test"]["Glow"] < bpd["test"]["uniform"]
gain = {k: r["independent pixels"] - r["Glow"] for k, r in bpd.items()}  # bits/dim saved
if digits_meta["train_steps"] >= 1000:  # claims about a trained flow (not a smoke-mode stand-in)
    assert gain["train"] > 0.15  # on its training digits the flow captures pixel dependencies ...
    assert gain["test"] < gain["train"] - 0.1  # ... and less of that carries over to new digits
print(f"Glow vs independent pixels: {gain['train']:+.2f} bits/dim on train, "
      f"{gain['test']:+.2f} on test")

# %% [markdown]
# On the training digits the flow is far better than independent pixels: it has learned how
# neighbouring pixels co-vary along strokes. On held-out digits much less of that advantage
# remains. With 1500 images and ~150 k parameters the flow partly memorises its training set.
# The checkpoint's recipe holds this back with weight decay; without it the held-out bits/dim
# bottoms out after a couple of thousand updates and then creeps up while the training number
# keeps falling. Held-out likelihood is the honest score of a density model (the DiNof paper's
# flow sees all of CIFAR-10's training images, and the diffusion model shares the work).

# %% [markdown]
# **Samples and temperature.** Sampling draws $z \sim \mathcal N(0, I)$ and inverts
# $\tau z$, where $\tau$ is the sampling **temperature** (written $T$ in the Glow paper;
# here $\tau$, since $T$ is the diffusion's horizon). Glow's authors noted that $\tau < 1$ trades
# diversity for cleaner samples. Below, each row is *one* $z$ at three temperatures
# (grey scale fixed to $[0, 1]$, black = 0).
#
# **Predict, then run.** Will the samples at $\tau = 0.6$ have a higher or a lower mean
# log-density $\log p_\phi$ than those at $\tau = 1$?

# %%
TEMPS = [1.0, 0.8, 0.6]
n_show = 6
with torch.no_grad():
    temp_samples = [digits_flow.sample(n_show, temperature=tau, generator=gen(22)) for tau in TEMPS]
    temp_logp = [digits_flow.log_prob(s).mean().item() for s in temp_samples]
fig = flow_image_strip(temp_samples, [f"τ = {tau}" for tau in TEMPS], stages=range(len(TEMPS)),
                       n_images=n_show, value_range=(0.0, 1.0), title="Glow samples: one ε per row")
for ax in fig.axes[:len(TEMPS)]:  # the top row's column titles
    ax.title.set_fontsize(10)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
print("mean log p_theta of the samples: " + ", ".join(
    f"τ = {tau}: {lp:.1f} nats" for tau, lp in zip(TEMPS, temp_logp)))
assert temp_logp[0] < temp_logp[1] < temp_logp[2]  # lower temperature: more typical, likelier samples

# %% [markdown]
# **Answer:** higher — 87.9 nats at $\tau = 1$, 96.9 at 0.8, 103.5 at 0.6 in the full run. A
# smaller $\tau$ draws $z$ closer to the origin, where the Gaussian part of
# $\log p_\phi = \log \mathcal N(z; 0, I) + \log|\det|$ is largest; what it costs is
# diversity. In the figure follow one row: the digit keeps its shape as $\tau$ falls, but the odd
# bright pixels (the white bars along the bottom edge in the first and last rows) fade and the
# whole image drifts towards mid-grey — smoother, lower-contrast, more "average" digits.
#
# **The image flow's trajectory.** The same `flow.trajectory(x)` on test digits, shown
# with `flow_image_strip` (each column on its own grey scale; every state is put back in the
# 8×8 layout). After the squeeze each layer mixes the four pixels of every 2×2 block, so the
# digit dissolves into block patterns within a few steps; `L1.split` standardises the half of
# the channels it factors out, the second level (on 4×4 blocks of the remaining half) works on
# the rest, and the prior maps it to the last part of $z$. The last column should look like
# Gaussian noise; as with the 2D flow, it is so only approximately.

# %%
img_states = digits_flow.trajectory(x_test_img[:6])
img_names = ["x", *digits_flow.layer_names()]
picks = [0, *(img_names.index(n) for n in ("L1.K1.coupling", "L1.K4.coupling", "L1.K8.coupling",
                                          "L1.split", "L2.K4.coupling", "L2.K8.coupling", "prior"))]
print(" → ".join(img_names[k] for k in picks))
fig = flow_image_strip(img_states, img_names, stages=picks, n_images=6,
                       title="digits → latent (each column on its own grey scale)")
for ax in fig.axes[:len(picks)]:  # the top row's column titles
    ax.title.set_fontsize(9)
plt.show()

# %% [markdown]
# **The paper's flow.** DiNof uses Glow with $L = 3$ levels, $K = 16$ steps per level and 256
# hidden channels on 32×32×3 images (DiNof §4.1; §4.2.3 counts "∼7M more parameters than the
# standard SDE models"). Same code, bigger numbers:

# %%
paper = Glow.paper()
n_paper = paper.num_parameters()
print(f"Glow.paper(): in_shape {paper.in_shape}, L = {paper.n_levels}, K = {paper.n_steps}, "
      f"hidden {paper.hidden}: {n_paper:,} parameters, {len(paper.layer_names())} layers\n"
      f"the digits flow: {digits_flow.num_parameters():,} parameters")
assert 7.0e6 <= n_paper <= 8.5e6

# %% [markdown]

# %% [markdown]
# ## Exercises
#
# 1. **Assignment A3** ([`assignments/student/A3_glow_coupling.ipynb`](assignments/student/A3_glow_coupling.ipynb)):
#    write the coupling's forward pass with its log-det (exercise d.1) and its inverse (d.2); the
#    checks there name the usual mistakes. Warm-up here: write `coupling_inverse_by_hand(y, net)`
#    for the cell of §2 and check that it returns `x` and minus the forward log-det.
# 2. **Why a sigmoid?** In `coupling_by_hand` replace the scale by RealNVP's unbounded
#    $\log \text{scale} = \text{raw}$. Does the log-det still match autograd? With the perturbed
#    `net`, how large do the scale and $1/\text{scale}$ (what the inverse multiplies by) get for $|x_a| \le 3$? What would that
#    do to sampling, which runs the inverses of many such layers in a row?
# 3. **Gaussianise harder.** Train the small flow of §3 on $p_0$ with 4× the updates, or with 8
#    steps instead of 4. How far does the KL fall, and do the bands of the §4 latent check fade?
#    Compare with what the *same* small flow reaches on $p_{0.2}$.
# 4. **Temperature extremes.** Sample the digits flow at $\tau = 0$ and $\tau = 1.3$. What is the
#    $\tau = 0$ "sample", and is its $\log p_\phi$ the highest of all? Is the most likely image a
#    typical digit?

# %% [markdown]
# ## Recap
#
# > - **Change of variables**: $\log p(x) = \log p_z(F(x)) + \log|\det \partial F/\partial x|$. The
# >   log-det is what makes pushed-forward samples and the formula agree.
# > - **A Glow step** = ActNorm (data-initialised, standardises the first batch) → LU-parametrised
# >   invertible linear map ($\log|\det| = \sum \log|d|$, $O(C)$) → affine coupling
# >   (triangular Jacobian, scale $\operatorname{sigmoid}(6\tanh(\text{raw}/6) + 2) \in (0, 1)$, zero-initialised
# >   output so each step starts near the identity), written out by hand and matched to
# >   `AffineCoupling`. Every log-det matched autograd's brute-force Jacobian.
# > - **On 2D toys** Glow fits moons and 8gaussians but leaves bridges of mass between modes and a
# >   clear KL gap: a continuous bijection from one Gaussian must stretch space to separate modes.
# >   The diffused marginal $p_{T_m}$ is smooth, and the same small flow models it almost exactly
# >   — the reason DiNof hands the flow $x(T_m)$ rather than the data.
# > - **The trajectory** $h_0 = x, \dots, h_M = z$ is returned layer by layer (its middle states are
# >   layer coordinates, not data space) and the sampling direction retraces it up to round-off.
# >   The 8gaussians latent has the right mean, variance and radial profile but is banded, one
# >   band per mode: not fully Gaussianised, by exactly the KL gap (KL is invariant under the flow).
# > - **On digits** the multi-scale Glow (squeeze, split, 1×1 convolutions) models the training
# >   images far better than independent pixels but overfits 1500 images: held-out bits/dim is the
# >   honest score. Lower sampling temperatures $\tau$ give cleaner, likelier, less diverse
# >   samples. The paper's configuration has 7,920,684 parameters.
# >
# > **Next:** [notebook 04, DiNof end to end in 2D](04_dinof_2d.ipynb): the flow models $x(T_m)$,
# > and the reverse SDE takes the samples from $T_m$ down to the data.
