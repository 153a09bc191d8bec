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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/05_dinof_digits_cpu.ipynb)
#
# # 05 · DiNof on images: handwritten digits on a CPU
#
# **Time:** about 30 minutes of study; the full run takes about 40 s on 2 CPU cores with the
# shipped checkpoints.
#
# Notebook 04 ran DiNof on points in the plane; the paper's models work on images, with a UNet
# score network and an image Glow, run by the same library code. Here: sklearn's handwritten
# digits on a 16×16 canvas. The notebook (0) shows DiNof drawing digits, (1) reads the config,
# (2) loads the shipped model, (3) samples across the switch time `T_m` beside the plain
# diffusion baseline, (4) follows a few images, with a `T_m` slider, and (5)
# scores the samples with an offline FID-style score.
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
import dataclasses
import math
import sys
import time

import matplotlib.pyplot as plt
import plotly.io as pio
import torch

from dinof_lite import Trainer
from dinof_lite.data import load_image_dataset
from dinof_lite.dinof import training_loss
from dinof_lite.evaluation.digits_fid import digits_features, frechet_distance, load_classifier
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.pretrained import checkpoint_meta, load_dinof
from dinof_lite.sampling import pc_sample
from dinof_lite.utils import make_generator, smoke_or
from dinof_lite.viz import DigitsTmExplorer, digits_dashboard, format_table, plot_loss_curve
from dinof_lite.viz.image_slider import image_animation

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 10})
if "google.colab" not in sys.modules:  # JupyterLab / VS Code render plotly's JSON mimetype natively
    pio.renderers.default = "plotly_mimetype"
torch.manual_seed(0)
gen = make_generator  # gen(seed): a seeded CPU generator

cfg = get_config("digits_cpu")
kw = {"data_range": (0.0, 1.0), "pad_to": 16}
train_set = load_image_dataset("digits", split="train", **kw)
test_set = load_image_dataset("digits", split="test", **kw)
test_x = test_set.batch(torch.arange(len(test_set)))  # (N, 1, 16, 16) on [0, 1]
print(
    f"{len(train_set)} train / {len(test_set)} test digits, {test_x.shape[1:]}, "
    f"{train_set.n_bins} grey levels"
)


def show_grid(ax, x: torch.Tensor, ncols: int = 6, title: str = "") -> None:
    """The first ncols² images of ``x (B, 1, H, W)`` tiled on ``ax`` (black 0, white 1)."""
    x = x[: ncols * ncols].clamp(0, 1)
    n, _, h, w = x.shape
    rows = math.ceil(n / ncols)
    canvas = torch.ones(rows * (h + 1), ncols * (w + 1))
    for i in range(n):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = x[i, 0]
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


# %% [markdown]
# ## 0. The picture first
#
# The shipped model (without it the next cell trains one) draws eight digits. Its flow turns
# random numbers into eight noisy images in one pass; then the reverse SDE removes the noise
# step by step.
#
# **Predict.** Before you press ▶: at which time `t` on the slider will you first recognise
# the digits?

# %%
# NBVAL_IGNORE_OUTPUT
try:
    model, meta = load_dinof("dinof_digits"), checkpoint_meta("dinof_digits")
    print(
        f"loaded dinof_digits, trained {meta['train_steps']} steps in {meta['train_time_s']:.0f} s"
    )
    curve = meta["loss_curve"]
except FileNotFoundError as err:
    print(f"{err}\n-> training here")
    torch.manual_seed(0)
    config = dataclasses.replace(
        cfg.train,
        n_steps=smoke_or(cfg.train.n_steps, 20),
        ckpt_every=None,
        device="cpu",
        progress=True,
    )
    trainer = Trainer(build_model(cfg), training_loss, train_set.sampler, config)
    result = trainer.fit()
    model, meta = trainer.ema_model.module.eval(), {}
    curve = {"steps": list(range(1, result.step + 1)), "loss": result.losses}
n_unet = sum(p.numel() for p in model.score_net.parameters())
print(f"{model.extra_repr()}\nUNet {n_unet:,} + Glow {model.flow.num_parameters():,} parameters")

# %%
# NBVAL_IGNORE_OUTPUT
journey = model.sample_result(
    8, T_m=0.6, n_steps=60, corrector="none", generator=gen(3), trajectory_every=3
)  # the flow's x(T_m), then every 3rd SDE step
assert torch.equal(journey.sde_states[0], journey.x_Tm) and torch.equal(
    journey.sde_states[-1], journey.x
)
labels = [f"{float(t):.2f}" for t in journey.sde_times]
labels[0], labels[-1] = "0.60 (flow)", "ε (sample)"
image_animation(
    journey.sde_states,
    labels,
    slider_prefix="t = ",
    title="DiNof: the flow's sample at Tₘ = 0.6, then 60 reverse SDE steps",
)

# %% [markdown]
# **Answer.** Most digits show their shape about halfway down the slider; at the start the
# flow's images are noise with a faint brighter blob where the stroke will be. The flow
# did the coarse work in one pass; the SDE's 60 steps replace the noise with clean strokes.
# Section 4 shows how this changes with $T_m$.
#
# > **Notation** (every symbol: [`docs/notation.md`](../docs/notation.md)). $T_m$ is DiNof's
# > switch time. The VE SDE's noise scale is $\sigma(t) = \sigma_{\min} (\sigma_{\max} /
# > \sigma_{\min})^t$, and the marginal standard deviation $\sigma_t = \sqrt{\sigma(t)^2 -
# > \sigma_{\min}^2}$ is what the flow hands over at $T_m$.
# > $z \sim \mathcal N(0, I)$ is the flow's latent, $x(T_m) = F^{-1}(z; c)$ its sample with the
# > context $c$ of $T_m$, $s_\theta$ the UNet's score and $x(\varepsilon)$ the image the reverse
# > SDE returns. NFE counts score evaluations.

# %% [markdown]
# ## 1. The config: a tiny UNet and a conditional Glow
#
# `get_config("digits_cpu")` has the same structure as the paper-sized `cifar10_ve`;
# `build_model(cfg)` turns it into `DiNof(sde, UNet, Glow)`. It is an **any-$T_m$** model: the
# Glow is conditioned on $T_m$ and trained on $T_m \sim U(0.1, 1)$, the UNet on all of
# $[\varepsilon, T]$ — so one model serves every $T_m$ and, at $T_m = 1$, is the plain diffusion
# model. The digits are on $[0, 1]$ with the VE SDE.

# %%
print(f"{cfg.name}: {cfg.dataset} {cfg.shape} on {cfg.data_range}, {cfg.sde} SDE {cfg.sde_params}")
print(
    f"UNet: nf {cfg.unet.nf}, ch_mult {cfg.unet.ch_mult}, {cfg.unet.num_res_blocks} block(s) per "
    f"level, attention at {cfg.unet.attn_resolutions}: {cfg.unet.num_parameters():,} parameters"
)
print(
    f"Glow: L = {cfg.flow_levels} levels x K = {cfg.flow_steps} steps, {cfg.flow_hidden} hidden "
    f"channels; T_m range {cfg.T_m_range}"
)
print(
    f"training: {cfg.train.n_steps} steps, batch {cfg.train.batch_size}, lr {cfg.train.lr}, "
    f"EMA {cfg.train.ema_decay}"
)
assert cfg.shape == (1, 16, 16) and cfg.T_m_range == (0.1, 1.0) and cfg.sde == "ve"

# %% [markdown]
# ## 2. How the shipped model was trained
#
# `python scripts/make_checkpoints.py --only dinof_digits` made the checkpoint with this config
# and the library's `Trainer`: one Adam, one loss — DSM on $[\varepsilon, T]$ plus the flow's
# NLL of the exact marginal $x(T_m)$ at $T_m \sim U(0.1, 1)$ per example. Without it, section
# 0 trained one (in smoke mode a handful of steps: blobs, not digits).

# %%
ax = plot_loss_curve(
    None,
    curve["loss"],
    steps=curve["steps"],
    log_y=False,
    smooth=5,
    title="joint DiNof loss during training",
)
ax.set_ylabel("joint loss: DSM + w · flow NLL")
plt.show()

# %% [markdown]
# The flow's term is in nats per dimension (`flow_reduction='mean'`, printed in section 0, with
# $w = 1$; notebook 04 defines both): with $D = 16 \times 16$ pixels the per-example NLL would be
# hundreds of nats, and its gradient would dominate the one gradient-norm clip shared by both
# networks.

# %% [markdown]
# ## 3. Samples across $T_m$, and the baseline
#
# DiNof draws $z$, runs the conditional Glow backwards once to get $x(T_m)$, then the reverse SDE
# from $T_m$ down to $\varepsilon$: the reverse-diffusion predictor with $\mathrm{round}(100\,T_m)$
# steps (no corrector), one NFE per step. The baseline is the same UNet run by the plain sampler
# from $p_T = \mathcal N(0, \sigma_{\max}^2 I)$ with 100 steps. One batch per setting serves
# both the grids and the score of section 5.
#
# **Predict.** Which grid will have the cleanest black backgrounds: DiNof at $T_m = 0.2$, $0.6$,
# $1$, or the baseline?

# %%
# NBVAL_IGNORE_OUTPUT
T_MS = (0.2, 0.6, 1.0)
N = smoke_or(200, 16)  # samples per setting


def steps_for(T_m: float) -> int:
    return max(1, round(100 * T_m))


samples, rows = {}, []
for T_m in T_MS:
    out = model.sample_result(
        N, T_m=T_m, n_steps=steps_for(T_m), corrector="none", generator=gen(10)
    )
    samples[f"DiNof T_m={T_m}"] = out.x
    rows.append(
        {"sampler": f"DiNof T_m={T_m}", "NFE": out.nfe, "wall s": out.flow_time_s + out.sde_time_s}
    )
t0 = time.perf_counter()
samples["baseline (from p_T)"] = pc_sample(
    model.sde,
    model.score_fn,
    (N, *model.dims),
    n_steps=100,
    predictor="reverse_diffusion",
    corrector="none",
    eps=model.sample_eps,
    generator=gen(10),
)
rows.append({"sampler": "baseline (from p_T)", "NFE": 100, "wall s": time.perf_counter() - t0})
print(format_table(rows))

# %%
assert [r["NFE"] for r in rows] == [20, 60, 100, 100]  # DiNof saves a fraction 1 - T_m of the NFE
assert all(torch.isfinite(x).all() for x in samples.values())
noise = torch.rand(N, 1, 16, 16, generator=gen(13))  # uniform noise: the worst case of section 5
fig, axes = plt.subplots(2, 3, figsize=(9.5, 6.9), layout="constrained")
show_grid(axes[0, 0], test_x[:36], title="test data")
for ax, (name, x) in zip(axes.flat[1:], samples.items()):
    show_grid(ax, x, title=f"{name}  ({next(r['NFE'] for r in rows if r['sampler'] == name)} NFE)")
show_grid(axes[1, 2], noise, title="uniform noise (for scale)")
plt.show()

# %% [markdown]
# **Answer.** $T_m = 0.6$: clean backgrounds and solid strokes. $T_m = 1$ and the baseline — the
# same 100-step sampler started from pure noise — leave speckle; they give nearly the same digits,
# image for image, since they share the seed and at $T_m = 1$ the flow's output is close to
# $\sigma_{\max} z$. At $T_m = 0.2$ the backgrounds are clean but many digits are faint or
# malformed: the flow had to draw them nearly by itself. The NFE in the titles is exact; the
# wall times are measured on a shared machine, so they follow it only roughly.

# %% [markdown]
# ## 4. The journey of a few images, and a $T_m$ slider
#
# `DigitsTmExplorer` samples the model once per $T_m$ of a grid and shows, for four images, the
# strip $z \to x(T_m) \to$ three frames of the reverse SDE $\to x(\varepsilon)$, beside a grid of
# samples. The flow's part is **one** deterministic pass (orange frame). Every image uses one
# grey scale ($z$ its own), so the noise left at $x(T_m)$ can be compared across $T_m$.
#
# **Predict.** The VE SDE adds noise of standard deviation $\sigma_{T_m}$, with $\sigma(t) =
# 0.01 \cdot 1000^t$, to strokes about 1 bright on black. At which of $T_m = 0.2, 0.6, 1.0$ will
# you still recognise the digit in the flow's output $x(T_m)$?

# %%
# NBVAL_IGNORE_OUTPUT
digits_explorer = DigitsTmExplorer(
    model,
    T_m_values=(0.2, 0.4, 0.6, 0.8, 1.0),
    n=16,
    seed=11,
    n_steps_full=100,
    solver=None,  # the reverse SDE
    sample_kwargs={"corrector": "none"},
)
digits_explorer.precompute(progress=False)
digits_explorer.widget(start=0.6)

# %%
frame = digits_explorer.frame(0.6)
print(
    f"T_m = {frame.T_m}: flow {frame.n_flow_layers} layers in one pass, reverse SDE "
    f"{frame.n_steps} steps; strip frames at t = {[round(float(t), 2) for t in frame.sde_frame_times]}"
)
assert frame.n_steps == 60 and frame.x.shape == (16, 16, 16)
assert all(0.6 > t > model.sample_eps for t in frame.sde_frame_times)
sigma_Tm = {t: float(model.sde.marginal_coeffs(torch.tensor(t))[1]) for t in (0.2, 0.6, 1.0)}
print("noise std σ_{T_m} the flow hands over:", {t: round(v, 3) for t, v in sigma_Tm.items()})
for T_m in (0.2, 1.0):
    digits_dashboard(digits_explorer.frame(T_m))
    plt.show()

# %% [markdown]
# **Answer.** Clearly at $T_m = 0.2$, barely at $0.6$, not at all at $1$. At $T_m = 0.2$ the
# noise is light ($\sigma_{0.2} \approx 0.04$, printed above): the flow's output already is the
# digit, and the SDE only cleans it up (first dashboard). At $T_m = 0.6$ ($\sigma_{0.6} \approx
# 0.63$, the slider's start) the digit is a faint blob under noise as strong as the strokes. At
# $T_m = 1$ the flow hands over pure noise of standard deviation $\sigma_{\max} = 10$; the strokes
# emerge only late, and with so few steps and no corrector the background stays noisy.

# %% [markdown]
# ## 5. An FID-style score against $T_m$
#
# FID is the Fréchet distance between Gaussians fitted to Inception features of samples and
# data. Offline and at 16×16 we use the features of a small CNN trained on the digits instead
# (`digits_fid`, shipped as `digits_classifier`), so the numbers are only comparable with each
# other. The score is biased upwards at small sample counts, so every set has the same $N$, and
# its spread is estimated by the bootstrap (resample the $N$ images with replacement).
#
# **Predict.** Rank the four samplers of section 3 by this score (lower is better). Where will
# $N$ real train digits land — at zero? And uniform noise?

# %%
# NBVAL_IGNORE_OUTPUT
classifier, cmeta = load_classifier(), checkpoint_meta("digits_classifier")
print(f"classifier test accuracy {cmeta['test_accuracy']:.3f}")
ref_feat = digits_features(test_x, classifier)
sets = {**samples, "uniform noise": noise, "train split": train_set.batch(torch.arange(N))}
feats = {name: digits_features(x, classifier) for name, x in sets.items()}
fid = {name: frechet_distance(f, ref_feat) for name, f in feats.items()}  # = digits_fid(x, test_x)
boot, fid_sd = gen(14), {}
for name, f in feats.items():  # bootstrap: the score of N images drawn with replacement
    idx = [torch.randint(len(f), (len(f),), generator=boot) for _ in range(smoke_or(50, 10))]
    fid_sd[name] = float(torch.tensor([frechet_distance(f[i], ref_feat) for i in idx]).std())
print(
    format_table(
        [
            {"images": k, f"FID-style ({N} vs {len(test_x)})": v, "bootstrap s.d.": fid_sd[k]}
            for k, v in fid.items()
        ]
    )
)
if meta:
    q = meta["quality"]
    print(
        f"shipped evaluation ({q['n_samples']} samples): "
        + ", ".join(f"T_m = {r['T_m']}: {r['fid']:.1f}" for r in q["per_T_m"])
        + f"; baseline {q['baseline']['fid']:.1f}"
    )

# %%
assert cmeta["test_accuracy"] >= 0.95
assert max(fid[f"DiNof T_m={t}"] for t in T_MS) < 0.5 * fid["uniform noise"]
if meta:  # shipped evaluation, 500 samples: T_m = 0.6 beats the baseline with 60% of its NFE
    q = meta["quality"]
    by_tm = {r["T_m"]: r["fid"] for r in q["per_T_m"]}
    assert by_tm[0.6] < q["baseline"]["fid"] and by_tm[0.6] < 0.1 * q["noise_fid"]
fig, ax = plt.subplots(figsize=(8.5, 3.8), layout="constrained")
ax.errorbar(
    T_MS,
    [fid[f"DiNof T_m={t}"] for t in T_MS],
    yerr=[fid_sd[f"DiNof T_m={t}"] for t in T_MS],
    fmt="o",
    ms=7,
    capsize=4,
    color="C0",
    label=f"DiNof from $T_m$\n({N} samples, ± bootstrap s.d.)",
)
b, b_sd = fid["baseline (from p_T)"], fid_sd["baseline (from p_T)"]
ax.axhline(b, color="C1", ls="--", label="baseline: same UNet\nfrom $p_T$, 100 NFE")
ax.axhspan(b - b_sd, b + b_sd, color="C1", alpha=0.15, label="baseline ± bootstrap s.d.")
ax.axhline(fid["train split"], color="0.3", ls=":", label=f"{N} real train digits")
ax.set_xticks(T_MS, [f"{t:g}\n({round(100 * t)} NFE)" for t in T_MS])
ax.set_xlim(0.1, 1.1)
ax.set_ylim(0, None)
ax.set_xlabel("$T_m$ (score evaluations)")
ax.set_ylabel("FID-style score (lower is better)")
ax.set_title(f"uniform noise scores {fid['uniform noise']:.0f} (off the chart)", fontsize=10)
ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
plt.show()

# %% [markdown]
# **Answer.** $T_m = 0.6$ first, by far (the blue point lies far below the orange band); then
# the baseline and $T_m = 1$, tied within their bootstrap spread; $T_m = 0.2$ last. Real digits
# do not score zero: $N$ train digits land on the dotted line, the score's small-sample bias.
# Uniform noise scores in the hundreds. The shipped evaluation (500 samples) agrees.
#
# Why: 100 steps are few for the VE SDE's range of $\sigma$, so the baseline leaves noise. At
# $T_m = 0.6$ the flow has done the coarse work and its $\mathrm{round}(100\,T_m)$ steps
# suffice; at small $T_m$ the flow must draw nearly clean digits, which this tiny Glow does
# poorly — the paper's Table 1 trade-off, on a CPU.
#
# **Going further** (optional): [notebook 05b](05b_digits_likelihood_and_fast_solvers.ipynb)
# computes the digits' bits/dim through DiNof's exact likelihood and puts a fast ODE solver from
# the flow's sample on a cost–quality frontier.

# %% [markdown]
# ## Exercises
#
# 1. **Your sampler on images**: after exercise (e) of assignment
#    [`A4_dinof_sampling`](assignments/student/A4_dinof_sampling.ipynb), run your `dinof_sample`
#    on this model (give `flow.inverse` the context `model.context(T_m, n)`): $\mathrm{round}(N
#    T_m) = 600$ steps at $T_m = 0.6$. Do they beat the 60 reverse-diffusion steps of section 3?
# 2. **A corrector.** Sample $T_m = 0.6$ with `corrector="langevin", snr=0.16` (120 NFE). Does
#    the FID-style score improve more than by giving the predictor 120 steps instead?
# 3. **How many steps does the baseline need?** Run the baseline with 200 and 400 steps. At what
#    NFE does it match DiNof at $T_m = 0.6$ with 60?
# 4. **The score's bias.** Score $n$ = 25, 50, 100, 200 train digits against the test split,
#    plot it against $1/n$ and extrapolate to $n \to \infty$: how much of section 5 is bias?

# %% [markdown]
# ## Recap
#
# > - The same `DiNof` runs on images; only the networks change: a small UNet and a Glow
# >   conditioned on $T_m$, one model for every $T_m$.
# > - The flow draws the coarse digit in one pass; the reverse SDE from $T_m$ cleans it up.
# > - $T_m = 0.6$ gives the cleanest digits and the best FID-style score with 60% of the plain
# >   sampler's NFE; a small $T_m$ asks too much of the flow, and at $T_m = 1$ DiNof *is* the
# >   plain sampler.
# > - Compare FID-style scores only at the same $N$: the score is biased at small $N$.
# >
# > **Next:** optionally [notebook 05b](05b_digits_likelihood_and_fast_solvers.ipynb) (bits/dim
# > and fast solvers); then [notebook 06](06_dinof_diffflow_diffenc.ipynb) (DiNof beside
# > DiffFlow and DiffEnc) or [notebook 07](07_cifar10_gpu.ipynb) (CIFAR-10 on a GPU).
