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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/03_glow_normalizing_flows.ipynb)
#
# # 03 · Glow: normalizing flows, layer by layer
#
# **Time:** about 30 minutes of study; the full run takes about a minute on 2 CPU cores with the
# shipped checkpoints (`DINOF_SMOKE=1` shrinks it; every claim is an `assert` that holds in both
# modes). DiNof (Zand et al., [arXiv 2309.01274](https://arxiv.org/abs/2309.01274)) hands the
# diffused data at a time $T_m$ to a **normalizing flow**, Glow (Kingma & Dhariwal 2018). Here you
# take one Glow step apart, train Glow on 2D toys, and see why DiNof's smoothed target suits it.
# Cells marked **Predict, then run** ask first: write down your guess. Optional sequel:
# [03b · trajectories and images](03b_glow_trajectories_and_images.ipynb).

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

import matplotlib.pyplot as plt
import numpy as np
import plotly.io as pio
import torch
import torch.nn.functional as F

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.data.toy import sample as toy_sample
from dinof_lite.flows import ActNorm, AffineCoupling, FlowStep, Glow, InvConv
from dinof_lite.pretrained import load_flow
from dinof_lite.sde import VPSDE
from dinof_lite.train import TrainConfig, Trainer, load_or_train
from dinof_lite.utils import smoke_or
from dinof_lite.viz import diagnostics as dg
from dinof_lite.viz import plot_density, plot_samples, style_axes
from dinof_lite.viz.animation import points_animation
from dinof_lite.viz.schematics import glow_step_diagram

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 9})
if "google.colab" not in sys.modules:  # JupyterLab / VS Code render plotly's JSON mimetype natively
    pio.renderers.default = "plotly_mimetype"
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
    """Label a 2D panel's axes ``name_1`` and ``name_2``, with 9 pt tick labels."""
    ax.set_xlabel(f"${name}_1$", fontsize=9)
    ax.set_ylabel(f"${name}_2$", fontsize=9)
    ax.tick_params(labelsize=9)


def density_colorbar(ax, label: str) -> None:
    """A colour bar for the last image drawn on ``ax`` (a density heatmap)."""
    ax.figure.colorbar(ax.images[-1], ax=ax, shrink=0.8, pad=0.02).set_label(label, fontsize=9)


# %% [markdown]
# The next cell loads two flows trained by `scripts/make_checkpoints.py` (where a checkpoint
# is missing it trains a shorter run); the animation shows what the moons flow *does*.

# %%
# NBVAL_IGNORE_OUTPUT
gmm = GaussianMixture.preset("8gaussians")  # exact density: NLLs can be compared to the entropy


def nll_loss(model, x0, generator):
    """Maximum likelihood: the mean negative log-density (nats) of the minibatch."""
    return -model.log_prob(x0).mean()


def flow_config(n_steps: int, batch_size: int, lr: float, weight_decay: float = 0.0):
    """Training settings of a flow trained here when its shipped checkpoint is missing."""
    return TrainConfig(
        n_steps=n_steps,
        batch_size=batch_size,
        lr=lr,
        warmup=200,
        weight_decay=weight_decay,
        ema_decay=smoke_or(0.998, 0.9),
        seed=0,
        device="cpu",
        ckpt_every=None,
    )


make_2d = lambda: Glow((2,), levels=1, steps=8, hidden=64)
flows, metas = {}, {}
train_data = {
    "8gaussians": lambda n, g: gmm.sample(n, g),  # fresh mixture samples every step
    "moons": toy_sample("moons", 50_000, seed=0),  # a fixed set, minibatches drawn from it
}
for toy, data in train_data.items():
    flows[toy], metas[toy] = load_or_train(
        f"glow_{toy}",
        load_flow,
        make_2d,
        nll_loss,
        data,
        flow_config(smoke_or(3000, 200), 512, lr=2e-3),
    )

# %%
# NBVAL_IGNORE_OUTPUT
N_LINES, N_PTS, Z_MAX = 9, 21, 2.5  # a 9 + 9 line grid on [-2.5, 2.5]², 21 points per line
ticks, along = torch.linspace(-Z_MAX, Z_MAX, N_LINES), torch.linspace(-Z_MAX, Z_MAX, N_PTS)
gap = torch.full((1, 2), float("nan"))  # a NaN row ends one curve
curves = torch.cat(
    [
        torch.cat([torch.stack(xy, 1), gap])
        for k in ticks
        for xy in ((along, torch.full_like(along, k)), (torch.full_like(along, k), along))
    ]
)
keep = ~curves.isnan().any(1)
grid_states = flows["moons"].inverse_trajectory(curves[keep])  # [z, ..., x]: one state per layer
frames = []
for s in grid_states:
    f = curves.clone()
    f[keep] = s
    frames.append(f)
inv_names = ["z (latent)", *(f"{n}⁻¹" for n in reversed(flows["moons"].layer_names()))]
inv_names[-1] = "x (data)"
fig = points_animation(
    frames,
    [f"{k}: {n}" for k, n in enumerate(inv_names)],
    mode="lines",
    lim=6.0,
    title="a grid in latent space, carried by the moons flow's inverse",
    slider_prefix="state ",
    axis_titles=("coordinate 1", "coordinate 2"),
)
fig.show()

# %% [markdown]
# Press ▶. Frame 0 is a regular grid of latents $z$; each frame inverts one more layer; the last
# is in data space, where the grid has been wrapped onto the two moons. In between are the
# layers' own coordinates, not data space, which is why the picture jumps. Where the last
# frame's cells are small, the flow crowds many latents into little room: high density. That
# bookkeeping of volume is §1.

# %% [markdown]
# > **Notation** ([`docs/notation.md`](../docs/notation.md)). $F$ is the flow, data → latent:
# > $z = F(x)$, $z \sim \mathcal N(0, I)$; sampling runs $F^{-1}$. $h_0 = x, \dots, h_M = z$ are
# > the states after its $M$ layers (DiNof Eq. 8). $p_\phi$ is the flow's density ($\phi$ its
# > parameters). A coupling's *shift* and *scale* are spelled out (Glow writes $t$ and $s$; here
# > $t$ is a diffusion time, $\sigma_t$ a marginal std).

# %% [markdown]
# ## 1. The change-of-variables formula
#
# Push $z \sim \mathcal N(0, I)$ through an invertible map $x = F^{-1}(z)$. Then
#
# $$\log p_x(x) = \log p_z\big(F(x)\big) + \log\Big|\det \frac{\partial F(x)}{\partial x}\Big| .$$
#
# Where $F^{-1}$ spreads points apart, the density drops. A normalizing flow is a learned $F$ with
# a cheap inverse and determinant. A hand-made one with Glow's structure (a scale, then a
# *coupling* that moves $x_2$ by amounts that depend on $x_1$ only):
#
# $$x_1 = 1.2\,z_1, \qquad x_2 = z_2\, e^{0.35\,x_1} + 1.5 \sin(1.3\,x_1) .$$
#
# Its Jacobian $\partial F/\partial x$ is triangular, so $\log|\det| = -\log 1.2 - 0.35\,x_1$.


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
assert torch.allclose(
    autograd_logdet(f_map, x_check), f_map(x_check)[1]
)  # the hand-derived log-det
print("f(g(z)) = z, and the triangular log-det matches autograd's full Jacobian")

# %% [markdown]
# The test: a histogram of many pushed samples against the formula (integrated over the same
# bins), and against $p_z(F(x))$ alone, renormalised.
#
# **Predict, then run.** $F^{-1}$ spreads points apart on the right ($x_1 > 0$) and packs them
# on the left. Without the log-determinant, which side gets *too much* probability?

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
print(
    f"{N_PUSH} samples; total variation to the histogram: formula {tv['formula']:.3f}, "
    f"without the log-det {tv['without the log-det']:.3f}\n"
    f"(without the log-det the 'density' integrates to {total_wrong:.2f} over the window, not 1)"
)

right = centres.reshape(N_BINS, SUB).mean(1) > 0  # histogram bins with x_1 > 0
mass_right = {"histogram": p_hist[right].sum(), **{k: v[right].sum() for k, v in bin_mass.items()}}
print("probability of x_1 > 0: " + ", ".join(f"{k} {v:.3f}" for k, v in mass_right.items()))

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
for ax, (title, p) in zip(
    axes,
    [
        (f"histogram of {N_PUSH} samples", p_hist),
        ("$p_z(f(x))\\,|\\det \\partial f/\\partial x|$", bin_mass["formula"]),
        ("$p_z(f(x))$ renormalised (wrong)", bin_mass["without the log-det"]),
    ],
):
    im = ax.imshow(
        p.T, origin="lower", extent=(-LIM, LIM, -LIM, LIM), cmap="magma", vmin=0, vmax=p_hist.max()
    )
    style_axes(ax, LIM, title)
    label_xy(ax)
fig.colorbar(im, ax=axes, shrink=0.85).set_label("probability per bin", fontsize=9)
plt.show()

# %%
assert tv["formula"] < 0.05  # histogram noise only: ~0.016 with 200k samples, ~0.034 with 50k
assert tv["without the log-det"] > 0.12  # ~0.165: a visibly different distribution
assert mass_right["without the log-det"] > mass_right["histogram"] + 0.1  # too much on the right
print("the change-of-variables formula matches the histogram; without the log-det it does not")

# %% [markdown]
# **Answer:** the right. The formula (middle) reproduces the histogram (left) bin for bin; without
# the log-det (right) $x_1 > 0$ gets 0.66 where the samples give 0.49 (printed above). The
# dropped term $-0.35\,x_1$ is what lowers the density where the map stretches space.

# %% [markdown]
# ## 2. One Glow step, taken apart
#
# A Glow step (data → latent) is ActNorm → invertible linear map → affine coupling. Every layer
# has `forward(x) -> (y, logdet)` and `inverse(y) -> (x, logdet)`; the flow adds the log-dets.
#
# **ActNorm**, $y = (x + b) \cdot \text{scale}$ per channel, log-det $\sum_c \log
# \text{scale}_c$, sets $b$ and the scale from the **first batch it sees** so that batch comes out
# standardised, then stays a fixed bijection (the "initialised" flag is saved with the weights).

# %%
# NBVAL_IGNORE_OUTPUT
actnorm = ActNorm(2)
x_moons = toy_sample("moons", 1000, seed=0)
y, logdet = actnorm(x_moons)  # first call: data-dependent initialisation
print(
    f"data mean {x_moons.mean(0).numpy().round(3)}, std {x_moons.std(0, correction=0).numpy().round(3)}"
    f"\nafter ActNorm: max |mean| = {y.mean(0).abs().max():.1e}, "
    f"std {y.std(0, correction=0).detach().numpy().round(5)}; log-det {logdet[0]:.4f} for every example"
)
assert torch.allclose(y.mean(0), torch.zeros(2), atol=1e-5)
assert torch.allclose(y.std(0, correction=0), torch.ones(2), atol=1e-4)
assert torch.allclose(logdet, actnorm.log_scale.sum().expand(1000))
y2, _ = actnorm(x_moons + 5.0)  # later batches are *not* re-standardised
assert y2.mean(0).abs().min() > 1.0 and bool(actnorm.state_dict()["initialized"])

# %% [markdown]
# **The invertible linear map.** Glow learns a $C \times C$ matrix (a 1×1 convolution on images),
# stored as $W = P\,L\,(U + \operatorname{diag}(d))$: a fixed permutation $P$, unit
# lower-triangular $L$, strictly upper-triangular $U$. Then $\log|\det W| = \sum_i \log|d_i|$
# costs $O(C)$ instead of $O(C^3)$, and the inverse is two triangular solves. It starts
# orthogonal; we perturb it to mimic training.
#
# **Predict, then run.** On images the same $4 \times 4$ matrix $W$ acts on every pixel's
# channels. For 5×5 images, how does the log-det per image relate to $\log|\det W|$?

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(1)
invconv = InvConv(4)
print(
    f"at init: sum log|s| = {invconv.log_s.sum():.2e} (orthogonal), "
    f"W Wᵀ = I: {torch.allclose(invconv.weight() @ invconv.weight().T, torch.eye(4), atol=1e-5)}"
)
with torch.no_grad():
    for p in invconv.parameters():
        p.add_(0.3 * torch.randn(p.shape, generator=gen(2)))
W = invconv.weight()
sign, slogdet = torch.linalg.slogdet(W)
x_img = torch.randn(3, 4, 5, 5, generator=gen(3))  # 3 images, 4 channels, 5×5 pixels
y_img, logdet = invconv(x_img)
print(
    f"after perturbation: sum log|s| = {invconv.log_s.sum():.5f}, slogdet(W) = {slogdet:.5f}; "
    f"on 5×5 images the log-det is 25× that: {logdet[0]:.4f}"
)
assert torch.allclose(invconv.log_s.sum(), slogdet, atol=1e-5)
assert torch.allclose(logdet, 25 * slogdet.expand(3), atol=1e-4)
assert torch.allclose(y_img[:, :, 2, 3], x_img[:, :, 2, 3] @ W.T, atol=1e-5)  # W at every pixel
assert torch.allclose(invconv.inverse(y_img)[0], x_img, atol=1e-5)
assert torch.allclose(invconv.inverse_weight() @ W, torch.eye(4), atol=1e-5)

# %% [markdown]
# **Answer:** 25 times ($-10.17 = 25 \times -0.407$): the image's Jacobian is block-diagonal, one
# copy of $W$ per pixel.

# %% [markdown]
# ### The affine coupling
#
# Split the channels $x = [x_a, x_b]$: $x_a$ (the first $C - \lfloor C/2 \rfloor$) conditions,
# $x_b$ moves. Data → latent, as `dinof_lite/flows/coupling.py` computes it:
#
# $$(\text{shift}, \text{raw}) = \text{NN}(x_a), \quad
#   \text{scale} = \operatorname{sigmoid}\big(6 \tanh(\text{raw}/6) + 2\big), \quad
#   y_b = (x_b + \text{shift}) \cdot \text{scale}, \quad y_a = x_a,$$
#
# with log-det $\sum_j \log \text{scale}_j$. The inverse
# $x_b = y_b / \text{scale} - \text{shift}$ runs the network forwards on $y_a = x_a$.
# The Glow paper writes $y_b = s \odot x_b + t$ with $s = \exp(\log s)$ (Kingma & Dhariwal 2018,
# Table 1); $\operatorname{sigmoid}(\text{raw} + 2)$ and adding the shift first come from
# openai/glow's released code; the $6\tanh(\text{raw}/6)$ soft clamp (`clamp=6` by default) is
# dinof_lite's own choice, so the inverse never divides by ~0. Below, the layer in plain torch, checked against
# `AffineCoupling` and autograd.

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
net = torch.nn.Sequential(
    torch.nn.Linear(1, 32),
    torch.nn.SiLU(),
    torch.nn.Linear(32, 32),
    torch.nn.SiLU(),
    torch.nn.Linear(32, 2),
)  # x_a (B, 1) → (shift, raw)
with torch.no_grad():  # strong, varied shifts and scales, as a trained layer might have
    net[-1].weight.copy_(3 * torch.randn(net[-1].weight.shape, generator=gen(5)))
    net[-1].bias.copy_(torch.tensor([0.0, -4.0]))  # (shift, raw): scales well below 1
x = torch.randn(256, 2, generator=gen(4))
y_hand, logdet_hand = coupling_by_hand(x, net)

coupling = AffineCoupling(2, hidden=32, image=False)  # the library's layer ...
coupling.net.net.load_state_dict(net.state_dict())  # ... with the same weights
y_lib, logdet_lib = coupling(x)
ref = autograd_logdet(lambda v: coupling_by_hand(v, net), x[:64])
print(
    f"by hand vs AffineCoupling.forward: max |Δy| = {(y_hand - y_lib).abs().max():.1e}, "
    f"max |Δ log-det| = {(logdet_hand - logdet_lib).abs().max():.1e}\n"
    f"log-det ranges over [{logdet_hand.min():.3f}, {logdet_hand.max():.3f}]; "
    f"max |log-det - autograd| = {(logdet_hand[:64] - ref).abs().max():.1e}"
)
assert torch.allclose(y_hand, y_lib, atol=1e-6) and torch.allclose(
    logdet_hand, logdet_lib, atol=1e-6
)
assert torch.allclose(logdet_hand[:64], ref, atol=1e-5)
assert torch.allclose(coupling.inverse(y_lib)[0], x, atol=1e-5)  # the library's inverse undoes it
assert torch.equal(y_hand[:, 0], x[:, 0])  # x_a passes through untouched

# %% [markdown]
# The network's **last layer is zero-initialised**, as in the Glow paper (§3.3).
#
# **Predict, then run.** What does a *fresh* `AffineCoupling` do to $x_b$, and what is its
# log-det? (Set the network's output to zero in the formula.)

# %%
# NBVAL_IGNORE_OUTPUT
fresh = AffineCoupling(2, hidden=32, image=False)
y, logdet = fresh(x)
s2 = torch.sigmoid(torch.tensor(2.0))
print(
    f"fresh coupling: y_a = x_a, y_b = {s2:.4f} · x_b, log-det = log sigmoid(2) = {logdet[0]:.4f}"
)
assert torch.equal(y[:, 0], x[:, 0]) and torch.allclose(y[:, 1], s2 * x[:, 1])
assert torch.allclose(logdet, torch.log(s2).expand(256))

# %% [markdown]
# **Answer:** $y_b = \operatorname{sigmoid}(2)\,x_b = 0.881\,x_b$, log-det $\log
# \operatorname{sigmoid}(2) = -0.127$ for every example: close to the identity, which keeps deep
# flows trainable. (One coupling warping a grid: [03b](03b_glow_trajectories_and_images.ipynb).)
#
# `FlowStep` chains the three layers (Kingma & Dhariwal 2018, Fig. 2a; $t$, $s$ are the
# coupling's shift and scale, the clamp is left out). Sampling runs the boxes right to left.

# %%
glow_step_diagram()
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(3)
step = FlowStep(2, hidden=32, image=False)
x = toy_sample("8gaussians", 512, seed=1)
y, logdet = step(x)  # initialises its ActNorm
x_back, _ = step.inverse(y)
print(f"FlowStep: max |inverse(forward(x)) - x| = {(x_back - x).abs().max():.1e}")
assert torch.allclose(x_back, x, atol=1e-5)

tiny = Glow((2,), levels=1, steps=3, hidden=16)  # three steps and the prior
x_tiny = torch.randn(4, 2, generator=gen(6))
with torch.no_grad():
    tiny(torch.randn(64, 2, generator=gen(7)))  # initialise the ActNorms on a batch
    for p in tiny.parameters():  # move away from the (near-identity) initialisation
        p.add_(0.05 * torch.randn(p.shape, generator=gen(8)))
z, logdet = tiny(x_tiny)
ref = autograd_logdet(tiny, x_tiny)
print(
    f"a small Glow ({len(tiny.layer_names())} layers): "
    f"log-det {logdet.detach().numpy().round(4)}\n  autograd slogdet of the 2×2 Jacobian "
    f"{ref.numpy().round(4)}; max |inverse(forward(x)) - x| = "
    f"{(tiny.inverse(z) - x_tiny).abs().max():.1e}"
)
assert torch.allclose(logdet, ref, atol=1e-4)
assert torch.allclose(tiny.inverse(z), x_tiny, atol=1e-5)

# %% [markdown]
# A whole `Glow` stacks such steps; its summed log-dets are the exact log-determinant of the map
# (checked above by brute force).

# %% [markdown]
# ## 3. Training Glow on 2D toys
#
# Maximum likelihood, $\min -\frac1B \sum_i \log p_\phi(x_i)$, with the library's `Trainer`;
# `Glow((2,), levels=1, steps=8, hidden=64)` uses MLP couplings and a 2×2 linear map. These are
# the two flows loaded at the top.

# %%
fig, axes = plt.subplots(2, 4, figsize=(12.5, 6.2), layout="constrained")
for row, toy in enumerate(flows):
    flow = flows[toy]
    x_data = (
        gmm.sample(2000, gen(10)) if toy == "8gaussians" else toy_sample("moons", 2000, seed=10)
    )
    plot_samples(axes[row, 0], x_data, color="0.4", title=f"{toy}: 2000 data points")
    plot_samples(axes[row, 1], flow.sample(2000, generator=gen(11)), title="2000 Glow samples")
    plot_density(
        axes[row, 2], flow.log_prob, log_scale=True, n_grid=120, title="Glow $\\log p_\\phi$"
    )
    density_colorbar(axes[row, 2], "$\\log p_\\phi(x)$ (nats)")
plot_density(axes[0, 3], gmm.log_prob, log_scale=True, n_grid=120, title="true $\\log p_0$")
density_colorbar(axes[0, 3], "$\\log p_0(x)$ (nats)")
for ax in axes.flat:
    label_xy(ax)
axes[1, 3].set_visible(False)
plt.show()

# %% [markdown]
# The samples look right, but the log-density (third column, clipped 12 nats below its maximum)
# shows what a flow cannot avoid: **thin bridges of mass between the modes**. For test points
# $x \sim p_0$ the flow's NLL is $H(p_0) + \mathrm{KL}(p_0 \,\|\, p_\phi)$; the exact $\log p_0$
# on the same points turns the gap into a KL estimate.

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
    return (
        (torch.cdist(x.double(), gmm.means).min(1).values > 3 * math.sqrt(0.125))
        .double()
        .mean()
        .item()
    )


bridges = {
    "data": bridge_fraction(gmm.sample(len(x_test), gen(15))),
    "Glow": bridge_fraction(x_model),
}
moons_test = toy_sample("moons", len(x_test), seed=16)
with torch.no_grad():
    nll_moons = -flows["moons"].log_prob(moons_test).mean().item()
print(
    f"8gaussians: entropy H(p0) = {H0:.3f} nats; Glow test NLL = {-log_q.mean():.3f} nats\n"
    f"  KL(p0 || p_phi) = {kl0:.3f} ± {kl0_se:.3f} nats\n"
    f"  samples > 3 std from every mode: data {bridges['data']:.2%}, Glow {bridges['Glow']:.2%}\n"
    f"moons: Glow test NLL = {nll_moons:.3f} nats (no exact entropy for this toy)"
)
fig, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
for toy in flows:
    curve = metas[toy]["loss_curve"]
    dg.plot_loss_curve(
        ax,
        curve["loss"],
        steps=curve["steps"],
        smooth=5,
        log_y=False,
        label=toy,
        title="training NLL (nats)",
    )
ax.axhline(H0, color="k", ls="--", lw=1, label="entropy of 8gaussians")
ax.set_xlabel("update")
ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1))
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
assert kl0 > -3 * kl0_se  # a model's NLL never beats the entropy (KL >= 0) ...
assert kl0 > 0.05  # ... and this one stays visibly above it
assert bridges["Glow"] > 2 * bridges["data"]  # mass leaks into the gaps between the modes
print(
    f"KL = {kl0:.3f} nats > 0; Glow puts {bridges['Glow'] / bridges['data']:.1f}x the data's "
    f"mass in the gaps between modes"
)

# %% [markdown]
# ### Why a flow struggles here, and why DiNof's flow has it easy
#
# A flow is a *continuous bijection*: it cannot tear the Gaussian apart, so it separates eight
# islands by stretching the regions between them, and a finite network leaves bridges. DiNof
# only asks the flow for the diffused marginal $p_{T_m}$, already blurred towards
# $\mathcal N(0, I)$. Measure it: the **same small flow** (4 steps, 32 hidden) trained on $p_t$
# of the VP SDE for several $t$, graded by $\mathrm{KL}(p_t \,\|\, p_\phi)$ against the exact
# marginal.
#
# **Predict, then run.** As $t$ grows from 0 to 0.6, how will the KL change, and roughly how
# small will it be at $t = 0.6$ compared with $t = 0$?

# %%
# NBVAL_IGNORE_OUTPUT
sde = VPSDE()
SWEEP_T = [0.0, 0.1, 0.2, 0.4, 0.6]
sweep_steps = smoke_or(400, 100)
sweep = []
for t in SWEEP_T:
    p_t = gmm.marginal(sde, t)
    torch.manual_seed(0)
    config = TrainConfig(
        n_steps=sweep_steps,
        batch_size=256,
        lr=2e-3,
        warmup=50,
        ema_decay=0.0,
        seed=0,
        device="cpu",
        ckpt_every=None,
        progress=False,
    )
    trainer = Trainer(
        Glow((2,), levels=1, steps=4, hidden=32),
        nll_loss,
        lambda n, g, p=p_t: p.sample(n, g),
        config,
    )
    trainer.fit()
    x_t = p_t.sample(smoke_or(20_000, 5000), gen(17))
    with torch.no_grad():
        gap = p_t.log_prob(x_t) - trainer.model.log_prob(x_t)
    sweep.append(
        {
            "t": t,
            "H(p_t)": -p_t.log_prob(x_t).mean().item(),
            "KL": gap.mean().item(),
            "KL_se": gap.std().item() / math.sqrt(len(x_t)),
            "flow": trainer.model.eval(),
            "p_t": p_t,
        }
    )
print(f"the same flow (4 steps, 32 hidden), {sweep_steps} updates on each p_t:\n")
print(dg.format_table(sweep, ["t", "H(p_t)", "KL", "KL_se"], digits={"KL": 3, "KL_se": 2}))

fig, axes = plt.subplots(
    1, 4, figsize=(14, 3.9), layout="constrained", gridspec_kw={"width_ratios": [1.2, 1, 1, 1]}
)
dg.plot_sweep(
    axes[0],
    SWEEP_T,
    {"small Glow": [r["KL"] for r in sweep]},
    yerr={"small Glow": [r["KL_se"] for r in sweep]},
    xlabel="diffusion time $t$ ($T_m$)",
    ylabel="KL$(p_t \\| p_\\phi)$ (nats)",
    title="how hard is $p_t$ for a flow?",
)
LOG_P_RANGE = (-9.0, -1.5)  # one colour scale (nats) for the three density panels
for ax, r in zip(axes[1:], (sweep[0], sweep[2], sweep[-1])):
    plot_density(
        ax,
        r["flow"].log_prob,
        lim=3.5,
        n_grid=100,
        log_scale=True,
        title=f"flow's $\\log p_\\phi$, trained on $p_{{{r['t']:g}}}$",
    )
    ax.images[-1].set_clim(*LOG_P_RANGE)
    plot_samples(
        ax,
        r["p_t"].sample(300, gen(18)),
        lim=3.5,
        color="c",
        s=2,
        label="300 samples of $p_t$ (cyan)",
    )
    label_xy(ax)
fig.colorbar(axes[1].images[-1], ax=axes[1:], shrink=0.85, extend="min").set_label(
    "$\\log p_\\phi(x)$ (nats)", fontsize=9
)
fig.legend(
    *axes[1].get_legend_handles_labels(), loc="outside lower center", fontsize=9, markerscale=4
)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
kl_at = {r["t"]: r for r in sweep}
assert kl_at[0.6]["KL"] < 0.03  # the smoothed target is learned almost perfectly ...
assert kl_at[0.6]["KL"] + 3 * kl_at[0.6]["KL_se"] < 0.1 * kl_at[0.0]["KL"]  # ... unlike p0
assert kl_at[0.0]["KL"] > kl_at[0.2]["KL"] > kl_at[0.6]["KL"] - 3 * kl_at[0.6]["KL_se"]
print(f"KL at t = 0: {kl_at[0.0]['KL']:.3f} nats; at t = 0.6: {kl_at[0.6]['KL']:.4f} nats")

# %% [markdown]
# **Answer:** the KL falls steadily, from 0.60 nats at $t = 0$ to about 0.001 at $t = 0.6$, more
# than two decades (left panel; printed above). By $t = 0.6$ the modes have merged into one smooth
# bump, and the flow only bends a Gaussian slightly. That is DiNof's bet: its $T_m$ sweep on
# CIFAR-10 (DiNof Table 1) is best at $T_m = 0.6$, and the reverse SDE restores the detail.
#
# The flow's trajectory layer by layer, how Gaussian its latent really is, and Glow on 8×8
# digits (squeeze, split, bits/dim, temperature) are in
# [03b](03b_glow_trajectories_and_images.ipynb).

# %% [markdown]
# ## Exercises
#
# 1. **Assignment A3** ([`assignments/student/A3_glow_coupling.ipynb`](assignments/student/A3_glow_coupling.ipynb)):
#    write the coupling's forward pass and log-det (d.1) and its inverse (d.2). Warm-up here:
#    write `coupling_inverse_by_hand(y, net)` for §2 and check it returns `x` and minus the log-det.
# 2. **Why a sigmoid?** In `coupling_by_hand` use RealNVP's unbounded $\log \text{scale} =
#    \text{raw}$. Does the log-det still match autograd? How large do scale and $1/\text{scale}$
#    get for $|x_a| \le 3$, and what would that do to sampling?
# 3. **Gaussianise harder.** Train the small flow of §3 on $p_0$ with 4× the updates, or 8 steps.
#    How far does the KL fall? Compare with the same flow on $p_{0.2}$.
# 4. **The grid on 8gaussians.** Redraw the opening animation with `flows["8gaussians"]`. Where do
#    the last frame's cells shrink, and what do the long lines across the middle mean?

# %% [markdown]
# ## Recap
#
# > - $\log p(x) = \log p_z(F(x)) + \log|\det \partial F/\partial x|$: the log-det keeps track of
# >   volume, and without it the density is wrong.
# > - **A Glow step** = ActNorm (data-initialised) → LU linear map ($\log|\det| = \sum \log|d|$)
# >   → affine coupling (triangular Jacobian, scale in $(0, 1)$, zero-initialised, so each step
# >   starts near the identity).
# > - **On 2D toys** Glow leaves bridges between modes and a KL gap: a continuous bijection must
# >   stretch space to separate modes. The diffused $p_{T_m}$ is smooth and the same small flow
# >   models it almost exactly, which is why DiNof hands the flow $x(T_m)$.
# >
# > **Going further:** [03b · trajectories and images](03b_glow_trajectories_and_images.ipynb).
# > **Next:** [notebook 04, DiNof end to end in 2D](04_dinof_2d.ipynb).
