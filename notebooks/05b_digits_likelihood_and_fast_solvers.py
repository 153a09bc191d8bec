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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/05b_digits_likelihood_and_fast_solvers.ipynb)
#
# # 05b · Going further on digits: bits per dimension and a fast ODE solver
#
# **Optional.** This notebook follows [notebook 05](05_dinof_digits_cpu.ipynb) and uses the same
# shipped model, `dinof_digits` (it loads everything itself). **Time:** about half an hour of
# study; the full run takes about half a minute on 2 CPU cores.
#
# 1. the bits per dimension of the test digits from DiNof's exact joint likelihood, first by
#    hand — and why the number cannot be set beside notebook 03b's;
# 2. a fast ODE solver started from the flow's sample, on a cost–quality frontier against the
#    reverse SDE; then exercises.
#
# **Predict, then run.** Cells headed **Predict** ask first: guess, run, then read the answer.
# Every claim is an `assert` that holds in both modes (`DINOF_SMOKE=1` shrinks the samples).

# %%
# NBVAL_IGNORE_OUTPUT
import os
import subprocess
import sys

# Colab: clone the repository (code + shipped checkpoints), install it
if "google.colab" in sys.modules:
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
import time

import matplotlib.pyplot as plt
import torch

from dinof_lite.data import load_image_dataset
from dinof_lite.data.digits import DIGITS_N_BINS, load_digits
from dinof_lite.data.quantize import bits_per_dim, dequantize
from dinof_lite.evaluation.digits_fid import digits_features, frechet_distance, load_classifier
from dinof_lite.pretrained import checkpoint_meta, load_dinof, load_flow
from dinof_lite.utils import make_generator, smoke_or
from dinof_lite.viz import format_table

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 10})
torch.manual_seed(0)
gen = make_generator  # gen(seed): a seeded CPU generator

kw = {"data_range": (0.0, 1.0), "pad_to": 16}
train_set = load_image_dataset("digits", split="train", **kw)
test_x = load_image_dataset("digits", split="test", **kw)
test_x = test_x.batch(torch.arange(len(test_x)))  # (N, 1, 16, 16) on [0, 1]
model, meta = load_dinof("dinof_digits"), checkpoint_meta("dinof_digits")  # notebook 05's model
print(f"dinof_digits: {model.extra_repr()}; {len(test_x)} test digits {tuple(test_x.shape[1:])}")

# %% [markdown]
# > **Notation** (every symbol: [`docs/notation.md`](../docs/notation.md)). As in notebook 05:
# > $T_m$ is DiNof's switch time, $\sigma(t) = \sigma_{\min} (\sigma_{\max} / \sigma_{\min})^t$
# > the VE SDE's noise scale, $z$ the flow's latent, $x(T_m)$ its sample, $s_\theta$ the UNet's
# > score. $D$ is the number of pixels, $k$ a pixel's grey level and $u \sim U[0, 1)$ the
# > dequantisation noise; bits/dim $= -\log p / (D \ln 2) + \log_2 17$. NFE counts score
# > evaluations.

# %% [markdown]
# ## 1. Bits per dimension of the test set
#
# DiNof's likelihood joins the two parts exactly (`docs/design.md` §DiNof likelihood): the
# probability-flow ODE carries $x(\varepsilon)$ to $x(T_m)$ (log-density change by the divergence
# integral, here Hutchinson's estimate with one Rademacher probe) and the flow gives
# $\log p_{T_m}$. The test images are first dequantised uniformly over their 17 grey levels (a
# density of exact grid values is meaningless); then bits/dim $= -\log p / (D \ln 2) + \log_2 17$
# with $D = 16 \times 16$, and a uniform model scores $\log_2 17$.

# %% [markdown]
# Both steps by hand first, in plain torch, on four test images: the grey level $k = 16x$ of each
# pixel, spread uniformly over its bin, $\tilde x = (k + u)/17$ with $u \sim U[0, 1)$; then the
# conversion of the model's $\log p(\tilde x)$ in nats to bits per dimension. Both must equal the
# library's `dequantize` and `bits_per_dim` with the same noise.

# %%
x4 = test_x[:4]
u = torch.rand(x4.shape, generator=gen(12))  # the noise dequantize draws from the same seed
k = torch.round(x4 * 16)  # grey levels 0 … 16
x_hand = (k + u) / 17  # each level spread over its bin of width 1/17
assert torch.equal(x_hand, dequantize(x4, n_bins=17, data_range=(0.0, 1.0), generator=gen(12)))
logp = model.log_likelihood(x_hand, generator=gen(13), rtol=1e-3, atol=1e-3).detach()
bpd_hand = -logp / (x4[0].numel() * math.log(2)) + math.log2(
    17
)  # nats → bits, per pixel, + bin width
assert torch.allclose(bpd_hand, bits_per_dim(logp, x4[0].numel(), n_bins=17), atol=1e-6)

# %%
# NBVAL_IGNORE_OUTPUT
n_bpd = smoke_or(50, 4)
t0 = time.perf_counter()
x_deq = dequantize(test_x[:n_bpd], n_bins=17, data_range=(0.0, 1.0), generator=gen(12))
bpd = model.bits_per_dim(
    x_deq, n_bins=17, data_range=(0.0, 1.0), generator=gen(12), rtol=1e-3, atol=1e-3
).detach()
print(
    f"test bits/dim at T_m = {model.T_m}: {bpd.mean():.3f} ± {bpd.std() / n_bpd**0.5:.3f} "
    f"({n_bpd} images, {time.perf_counter() - t0:.1f} s)"
)
if meta:
    q = meta["quality"]
    print(
        f"shipped evaluation ({q['bpd']['n']} images): {q['test_bpd']:.3f} ± {q['test_bpd_se']:.3f}"
    )

# %%
assert torch.isfinite(bpd).all()
if meta:  # the trained model beats the uniform distribution over 17 levels by far
    assert meta["quality"]["test_bpd"] < 0.5 * math.log2(17)

# %% [markdown]
# **Predict.** Notebook 03b's Glow scored about 2.16 bits/dim on the same test digits, at their
# native 8×8. DiNof scores about 1.14 here. Is DiNof the better model of the digits — and what
# does a bit per *dimension* count when 192 of the 256 pixels are the empty border?

# %%
# NBVAL_IGNORE_OUTPUT
inner = test_x[..., 4:12, 4:12]  # the 8×8 digit inside the 16×16 canvas
assert torch.equal(inner, load_digits(split="test")) and test_x.sum() == inner.sum()  # border ≡ 0
glow8 = load_flow("glow_digits")  # notebook 03b's Glow, on the 8×8 digits
with torch.no_grad():
    bpd8 = glow8.bits_per_dim(inner, n_bins=DIGITS_N_BINS, generator=gen(21)).mean().item()
bpd16 = meta["quality"]["test_bpd"] if meta else bpd.mean().item()
print(f"Glow, 8×8 (D = 64):    {bpd8:.2f} bits/dim = {bpd8 * 64:.0f} bits per image")
print(f"DiNof, 16×16 (D = 256): {bpd16:.2f} bits/dim = {bpd16 * 256:.0f} bits per image")

# %% [markdown]
# **Answer.** No — the two bits/dim are not comparable. Bits/dim divides a whole image's code
# length by $D$, and the two models see different $D$ for the *same* information: the 16×16
# canvas adds a border three times the digit's own area, pixels that are always the lowest grey
# level (the first `assert` checks it). A perfect model pays nothing for them — a constant pixel dequantised uniformly over
# its bin has density 17 there, which the formula above maps to exactly 0 bits — so padding alone
# divides the per-dimension number by four without the model getting any better.

# %% [markdown]
# The comparable number is **bits per image**, and it points the other way: about 290 bits for this DiNof
# against about 140 for notebook 03b's Glow. A smooth density cannot be exactly uniform on a bin
# with hard edges, so the border pixels are probably not free for DiNof, but the joint likelihood
# does not split by pixel, so this notebook cannot say how much of the gap they take.

# %% [markdown]
# ## 2. The frontier: a fast ODE solver from the flow's sample
#
# Notebook 05 ran the reverse SDE from $T_m$ with $\mathrm{round}(100\,T_m)$ reverse-diffusion
# steps. From the flow's sample $x(T_m)$ we can instead integrate the probability-flow ODE, which
# has the same marginals (Song et al. 2021, Eq. 13), with a second-order solver:
# DPM-Solver++(2M) (Lu et al. 2022b), one score evaluation per step. The same UNet runs three
# samplers at several NFE: the plain reverse-diffusion sampler from $p_T$, DiNof's sampler from
# $T_m = 0.6$ at the same step density ($\mathrm{round}(0.6 N)$ NFE), and `dpm_solver_pp_2m`
# from $p_T$ and from the flow's sample at $T_m = 0.6$.

# %% [markdown]
# Each point is the mean ± standard error of notebook 05's FID-style score over a few seeds of a
# few dozen images each. The score is biased upwards at so few images, so only compare points
# with each other (all have the same $N$); the dashed line, as many real train digits, is the
# floor nobody goes below. `python -m dinof_lite bench frontier` runs a larger version (more
# images and NFE, and Heun's solver).
#
# **Predict.** The plain sampler at 100 NFE is the reference. Will the ODE solver from $p_T$ —
# which has to cover $\sigma$ from 10 down to 0.01 — reach it in 20 NFE? And from the flow's
# sample at $T_m = 0.6$?

# %%
# NBVAL_IGNORE_OUTPUT
from dinof_lite.cli.bench.frontier import CONFIGS
from dinof_lite.evaluation.frontier import FrontierConfig, frontier, plot_frontier, summarize

classifier = load_classifier()  # notebook 05's digits CNN: its features replace Inception's
ref_feat = digits_features(test_x, classifier)
f_cfg = smoke_or(
    FrontierConfig(
        plain_nfe=(25, 100),
        tm_values=(0.6,),
        solvers=("dpm_solver_pp_2m",),
        solver_nfe=(5, 10, 20),
        solver_tms=(0.6,),
        n=64,
    ),
    CONFIGS[("digits", "smoke")],
)
f_rows = frontier(
    model,
    f_cfg,
    lambda x, seed: {"fid": frechet_distance(digits_features(x, classifier), ref_feat)},
)
f_floor = frechet_distance(
    digits_features(train_set.batch(torch.arange(f_cfg.n)), classifier), ref_feat
)
# a match: within two standard errors of the reference (the train split's score is the metric's
# small-sample bias, not its noise, so it is drawn, not used as a tolerance)
f_sum = summarize(f_rows, "fid", 0.0, smoke_or((10, 20, 60), (2, 4)))
print(format_table(f_sum))

# %%
fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
plot_frontier(f_rows, "fid", ax=ax)
for i, line in enumerate(ax.containers):  # one colour per method (the library's: one per family)
    plt.setp(line.get_children(), color=f"C{i}")
    plt.setp(line.lines[:2], markeredgecolor=f"C{i}", markerfacecolor=f"C{i}")  # points, caps
ax.axhline(f_floor, color="tab:gray", ls="--", lw=1, label=f"{f_cfg.n} real train digits")
ax.set_ylabel("FID-style score (lower is better)")
ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
top = ax.get_ylim()[1]  # plot_frontier leaves a far-off fewest-NFE point out of the range
ax.set_ylim(0, top)  # from zero, so the floor shows and a gap is read at its true size
off = ", ".join(f"{r['method']} @ {r['nfe']} NFE: {r['fid']:.0f}" for r in f_rows if r["fid"] > top)
ax.set_title(
    f"digits: FID-style score against NFE ({f_cfg.n} images, mean ± SE over "
    f"{len(f_cfg.seeds)} seeds)" + (f"\noff the chart: {off}" if off else ""),
    fontsize=10,
)
plt.show()
nfe_of = {(r["method"], r["nfe"]) for r in f_rows}
assert {("dinof 0.6", round(0.6 * k)) for k in f_cfg.plain_nfe} <= nfe_of  # round(N·T_m) steps
assert {("dpm_solver_pp_2m @0.6", k) for k in f_cfg.solver_nfe} <= nfe_of  # 1 NFE per step
assert all(math.isfinite(r["fid"]) and r["fid"] > 0.5 * f_floor for r in f_rows)
k = min(f_cfg.solver_nfe)  # at the fewest NFE the flow's head start beats starting from p_T
assert next(
    r["fid"] for r in f_rows if r["method"] == "dpm_solver_pp_2m @0.6" and r["nfe"] == k
) < next(r["fid"] for r in f_rows if r["method"] == "dpm_solver_pp_2m" and r["nfe"] == k)

# %% [markdown]
# **Answer.** From $p_T$, no: at 20 NFE the ODE solver's score is still about twice the
# reference's — it has to carry noise of scale $\sigma_{\max} = 10$ all the way to the data, and
# with so few steps the images stay blurred. From the flow's sample, yes, almost at once: the ODE
# starts at $\sigma(0.6) \approx 0.6$, where the flow has already drawn each digit's coarse
# shape, and `dpm_solver_pp_2m @0.6` reaches the reference, within two standard errors, by
# 10 NFE: 10× fewer.

# %% [markdown]
# But then it stops improving: at 20 NFE it is where it was at 10, while DiNof's reverse SDE from
# the same $T_m$ keeps improving and ends well below the reference at 60 NFE. The ODE is a
# bijection: it carries whatever the flow got wrong at $T_m$ to the images unchanged. The reverse
# SDE runs the flow's $x(T_m)$ and the true $p_{T_m}$ through the same noisy kernel, which can only
# shrink the KL between them, so its noise partly washes the flow's error out. For speed, the ODE
# from the flow; for the best images, the SDE from the flow.

# %% [markdown]
# ## Exercises
#
# 1. **Likelihood against $T_m$.** `model.bits_per_dim(x_deq[:20], T_m=t, ...)` for
#    $t = 0.3, 0.6, 1.0$: does the likelihood prefer the same $T_m$ as notebook 05's FID-style
#    score?
# 2. **Bits per image without the border.** Score the same test digits with notebook 03b's Glow at
#    8×8 and with `dinof_digits` at 16×16, and report both in bits per image. Which model wins,
#    and by how many bits?
# 3. **Heun's solver.** Add `"heun"` to `solvers` in `FrontierConfig` (Heun takes two NFE per
#    step). Does a second-order solver with two evaluations per step beat DPM-Solver++(2M) at
#    equal NFE from the flow's sample?

# %% [markdown]
# ## Recap
#
# > - Bits per dimension depend on $D$: padding the digits to 16×16 lowers the number without the
# >   model getting any better. Compare models by bits per image.
# > - From the flow's sample, a second-order ODE solver reaches the reference in very few steps
# >   but then stops improving; the reverse SDE keeps improving, because its noise washes out part
# >   of the flow's error.
# >
# > **Next:** [notebook 06](06_dinof_diffflow_diffenc.ipynb) sets DiNof beside DiffFlow and
# > DiffEnc on the same data and metrics; [notebook 07](07_cifar10_gpu.ipynb) runs the paper's
# > CIFAR-10 configuration on a GPU.
