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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/08_celebahq256_gpu.ipynb)
#
# # 08 · DiNof on CelebA-HQ-256 with a GPU
#
# The paper's high-resolution result: NCSN++ cont. (VE, $\sigma_\max = 348$) with the same Glow
# prior at $T_m = 0.6$ on 256×256 faces, FID 7.11 after 0.5M iterations at batch 8 (sampling
# batch 64; DiNof Table 3). Notebook 07 walked through the commands on CIFAR-10; this one covers
# what changes at 256×256 — the data, the network, the memory — runs the pipeline once more, and
# in §4 shows what a real run produces, from the paper's published table.
#
# > **Where the outputs below come from — a pipeline check, not results.** Without a GPU (and in
# > the test suite, `DINOF_SMOKE=1`) the command cells run `celebahq256_ve_smoke`: a tiny UNet and
# > Glow on *fake* 8×8 images for 4 steps. **The stored outputs of those cells come from that
# > twin**: they show that the commands run, nothing about DiNof on faces. With a GPU and the
# > data in place they run the real configuration for a short, resumable stretch.
#
# Boxes marked **Predict, then run** ask a question before the cell that answers it; exercises
# close the notebook.

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
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from dinof_lite.cli import main as dinof
from dinof_lite.data import default_data_dir
from dinof_lite.experiment.configs import get_config
from dinof_lite.flows import Glow
from dinof_lite.flows.squeeze import squeeze
from dinof_lite.utils import smoke_mode

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
cfg = get_config("celebahq256_ve")
HAVE_DATA = (default_data_dir() / "celebahq256").is_dir()
GPU = torch.cuda.is_available() and HAVE_DATA and not smoke_mode()
WORKDIR = Path("runs/celebahq256_ve") if GPU else Path(tempfile.mkdtemp()) / "celebahq_smoke"
RUN = (["--config", "celebahq256_ve", "--steps", "500"] if GPU
       else ["--config", "celebahq256_ve_smoke", "--fake-data", "--no-progress"])
print("GPU run" if GPU else "PIPELINE CHECK: smoke twin on fake data (no GPU, no data, or smoke mode)")

# %% [markdown]
# ## 1. What changes at 256×256
#
# * **Data.** CelebA-HQ-256 has no official download link; `dinof_lite` reads a folder of 30,000
#   256×256 images (`png`/`jpg`) at `$DINOF_DATA_DIR/celebahq256/`, sorted by file name, the last
#   3000 held out as the test split. The error message for a missing folder says where to put it.
# * **Network.** NCSN++ with seven resolutions, `ch_mult = (1, 1, 2, 2, 2, 2, 2)`, two residual
#   blocks each, attention at 16×16; the Glow keeps $L = 3$, $K = 16$ and 256 hidden channels.
# * **Sampler.** Reverse diffusion + Langevin with snr 0.17 (CIFAR-10: 0.16).
# * **Batch.** 8 for training in the paper; the EMA decay stays 0.999.

# %%
glow = Glow.paper(cfg.shape)
print(f"{cfg.name}: data {cfg.shape} on {cfg.data_range}, σ_max {cfg.sde_params['sigma_max']}, "
      f"snr {cfg.snr}, batch {cfg.train.batch_size}, T_m {cfg.T_m}")
print(f"UNet {cfg.unet.num_parameters():,} parameters (ch_mult {cfg.unet.ch_mult}, "
      f"{cfg.unet.num_res_blocks} blocks)")
assert cfg.unet.ch_mult == (1, 1, 2, 2, 2, 2, 2) and cfg.snr == 0.17
assert cfg.sde_params["sigma_max"] == 348.0 and cfg.train.batch_size == 8

# %% [markdown]
# > **Predict, then run.** A squeeze turns every 2×2 block of pixels into 4 channels; after each
# > level but the last, half the channels are split off as latents. (a) What shape do the flow
# > steps of each of Glow's three levels see for a 3×256×256 image? (b) Does this Glow have more
# > parameters than the CIFAR-10 one (7,920,684 for 3×32×32)?

# %%
h, shapes = torch.zeros(1, *cfg.shape), []
for level in range(glow.n_levels):
    h = squeeze(h)  # (C, H, W) -> (4C, H/2, W/2)
    shapes.append(tuple(h.shape[1:]))
    if level < glow.n_levels - 1:
        h = h[:, : h.shape[1] - h.shape[1] // 2]  # the split: the other half leaves as z_level
print("flow steps see, level by level:", " → ".join("×".join(map(str, s)) for s in shapes))
print(f"Glow parameters: {glow.num_parameters():,} at 3×256×256, "
      f"{Glow.paper((3, 32, 32)).num_parameters():,} at 3×32×32")
assert shapes == [(12, 128, 128), (24, 64, 64), (48, 32, 32)]
assert [s[0] for s in shapes] == glow._level_channels()
assert glow.num_parameters() == Glow.paper((3, 32, 32)).num_parameters() == 7_920_684

# %% [markdown]
# **Answer.** (a) 12×128×128 at the first level (one squeeze of 3×256×256: 4 × 3 channels at
# half the resolution), then 24×64×64 and 48×32×32. Every squeeze keeps the number of values
# (196,608 = 3·256² at level 1); only the splits remove half. (b) No: exactly the same
# 7,920,684 — Glow is convolutional, its weights depend on the channels, not on the image size.
# The cost moves from parameters to **activations**.
#
# ## 2. Memory
#
# > **Predict, then run.** Each of the 16 coupling networks of level 1 has two hidden layers of
# > 256 channels at that level's resolution. How many activation values do those hidden layers
# > hold per image during training, and how many times more than at 32×32?

# %%
def hidden_values(image_size: int, hidden: int = 256, steps: int = 16, layers: int = 2) -> int:
    """Values in the level-1 coupling networks' hidden layers, per image (a lower bound on memory)."""
    return layers * steps * hidden * (image_size // 2) ** 2


v256, v32 = hidden_values(256), hidden_values(32)
print(f"level-1 coupling hidden activations per image: {v256:,} at 256×256 "
      f"(≈ {2 * v256 / 2**30:.2f} GiB in bf16), {v32:,} at 32×32: {v256 // v32}× more")
print(f"for the paper's batch of 8: ≈ {8 * 2 * v256 / 2**30:.1f} GiB in bf16, level 1 of the flow alone")
assert v256 // v32 == 64

# %% [markdown]
# **Answer.** $2 \cdot 16 \cdot 256 \cdot 128^2 \approx 134$ million values per image —
# ≈ 0.25 GiB in bf16 — and $(256/32)^2 = 64$ times the CIFAR-10 figure; for a batch of 8 about
# 2 GiB, for level 1 of the flow alone, before the NCSN++ UNet's own activations at seven
# resolutions. This is why activations, not the ≈ 73M parameters, fill the GPU at this size.
# `python -m dinof_lite bench train --memory` counts it (notebook 07, §3): one training step's
# tensors measured on the CPU at two small batches under the precision policy (bf16 score
# network, float32 flow — `dinof_lite.precision`), extrapolated to the paper's batch of 8, plus
# parameters, gradients, Adam and the EMA. A GPU needs ~15 % more plus 1 GiB. (Stored output:
# the paper's configuration measured on the CPU; in smoke mode its smoke twin.)
#
# > **Predict, then run.** Will the paper's batch of 8 fit on one 80 GB GPU?

# %%
# NBVAL_IGNORE_OUTPUT
from dinof_lite.experiment.memory import estimate_memory
from dinof_lite.viz.diagnostics import format_table

est = estimate_memory(get_config("celebahq256_ve_smoke" if smoke_mode() else "celebahq256_ve"))
print(format_table([est.row()]))
print(f"per-example activations: {est.activations / est.batch / 2**30:.3f} GiB; "
      f"80 GB GPUs needed with DDP: {est.gpus_needed(80)}; fits on: {', '.join(est.fits) or 'none'}")

# %%
assert est.activations > est.params  # at this size activations, not weights, fill the memory
assert est.gpus_needed(80) >= 1 and est.total > est.params + est.adam + est.ema

# %% [markdown]
# **Answer.** Yes, with room to spare: the stored run counts ≈ 18 GiB at batch 8 under the
# policy — ≈ 2.1 GiB of activations per image against 0.27 GiB of parameters — so one 24 GB GPU
# holds it; in float32 they would be larger still (1.7× on CIFAR-10, notebook 07). The last
# column names the smallest GPU that holds the whole batch (or how many 80 GB GPUs share it).
# If the batch of 8 does not fit, train on several GPUs (each holds its share of the batch and
# a full copy of the weights, gradients, Adam state and EMA):
#
# ```bash
# torchrun --standalone --nproc_per_node=4 -m dinof_lite train --config celebahq256_ve --workdir runs/celebahq256_ve
# ```
#
# ## 3. Train, sample, evaluate
#
# **Pipeline check (stored output: the smoke twin, 4 steps on fake 8×8 data — not a result).**

# %%
# NBVAL_IGNORE_OUTPUT
rc = dinof(["train", "--workdir", str(WORKDIR), *RUN])
assert rc == 0
rc = dinof(["sample", "--workdir", str(WORKDIR), "--n", "4", "--out", str(WORKDIR / "grid.png")])
assert rc == 0

# %%
saved = json.loads((WORKDIR / "config.json").read_text())
print("run:", saved["name"], "| grid written:", (WORKDIR / "grid.png").is_file())
assert (WORKDIR / "checkpoint.pt").is_file() and (WORKDIR / "grid.png").is_file()

# %%
fig, ax = plt.subplots(figsize=(3.5, 3.5))
ax.imshow(plt.imread(WORKDIR / "grid.png"), interpolation="nearest")
ax.axis("off")
ax.set_title("DiNof samples, T_m = 0.6" if GPU else
             "PIPELINE CHECK, not a result:\nsmoke twin, 4 steps on fake 8×8 data", fontsize=10)
plt.show()

# %% [markdown]
# *What to look at:* without a GPU, nothing but proof that `sample` wrote a 2×2 grid — the
# smoke twin's "faces" are 8×8 noise. A real run's samples look like the paper's Figures 5 and 7.
# `python -m dinof_lite eval --workdir runs/celebahq256_ve --fid` scores a run as in notebook 07
# (FID against the test split).
#
# ## 4. What a real run produces: the paper's published numbers
#
# The paper trains this configuration for 0.5M iterations at batch 8, samples at batch 64 and
# keeps $T_m = 0.6$ from CIFAR-10 without re-tuning it. Its Table 3 compares the FID on
# CelebA-HQ-256 with other model families. None of these numbers were computed here.
#
# > **Predict, then run.** Glow alone scores FID 68.93 on CelebA-HQ-256; the score SDE model
# > (Song et al. 2021) 7.23. DiNof puts a Glow in front of such an SDE model. Will its FID be
# > closer to Glow's or to the SDE model's, and by how much will it differ from the SDE model's?

# %%
# DiNof paper, Table 3 (CelebA-HQ-256, FID ↓)
TABLE3 = {"Glow": 68.93, "NVAE": 29.76, "DDIM": 25.60, "D2C": 18.74, "TDPM": 8.38,
          "SDE (Song et al. 2021)": 7.23, "LSGM": 7.22, "DiNof": 7.11, "RDM": 3.15}
names = sorted(TABLE3, key=TABLE3.get, reverse=True)
fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
colors = ["C0" if n == "DiNof" else ("0.3" if n.startswith("SDE") else "0.65") for n in names]
ax.hlines(range(len(names)), 2.5, [TABLE3[n] for n in names], color="0.9", lw=1, zorder=0)
ax.scatter([TABLE3[n] for n in names], range(len(names)), c=colors, s=50, zorder=2)
for i, n in enumerate(names):
    ax.text(TABLE3[n] * 1.07, i, f"{TABLE3[n]:.2f}", va="center", fontsize=8)
ax.set_yticks(range(len(names)), names)
ax.set_xscale("log")
ax.set_xlim(2.5, 100)
ax.set_xticks([3, 5, 7, 10, 20, 50], ["3", "5", "7", "10", "20", "50"])
ax.minorticks_off()
ax.set_xlabel("FID ↓ (log scale)")
ax.set_title("Published numbers, not computed here: DiNof Table 3 (CelebA-HQ-256)\n"
             "blue: DiNof; dark grey: the SDE model it builds on", fontsize=10)
plt.show()
print(f"DiNof {TABLE3['DiNof']} vs SDE {TABLE3['SDE (Song et al. 2021)']} "
      f"(−{TABLE3['SDE (Song et al. 2021)'] - TABLE3['DiNof']:.2f}), LSGM {TABLE3['LSGM']} "
      f"(−{TABLE3['LSGM'] - TABLE3['DiNof']:.2f}); Glow alone {TABLE3['Glow']}")
assert min(TABLE3, key=TABLE3.get) == "RDM"
assert abs(TABLE3["LSGM"] - TABLE3["DiNof"] - 0.11) < 1e-9

# %% [markdown]
# **Answer.** Close to the SDE model's: 7.11, only 0.12 below the SDE model's 7.23 and 0.11
# below LSGM's 7.22 — a much smaller gain than on CIFAR-10, and from a single run at 0.5M
# iterations with the most recent checkpoint, so well within what a different checkpoint or seed
# could change. The flow only has to model $p_{T_m}$, a heavily noised distribution, so Glow's own
# weakness on faces (68.93) does not carry over. *What to look at:* the log axis — DiNof sits in
# the cluster of diffusion-type models (7.1–8.4), RDM (3.15) is well ahead of all of them, and
# Glow, NVAE, DDIM and D2C are 2.6–9.7× worse. (The paper's text refers to "Table 4" for these
# numbers; they are in its Table 3.)
#
# ## Exercises
#
# 1. **Shapes by hand.** Repeat the squeeze/split cell for Glow with $L = 4$ on 3×256×256 and
#    for $L = 3$ on 3×64×64. Which input sizes does a 3-level image Glow refuse, and why (see
#    `Glow._level_channels`)?
# 2. **Memory budget.** Extend `hidden_values` to all three levels (levels 2 and 3 have fewer
#    pixels but the same 256 hidden channels). What fraction of the flow's hidden activations
#    sits at level 1? Check your estimate with `python -m dinof_lite bench train` on a GPU.
# 3. **Is the gain real?** DiNof's FID is 0.12 below the SDE model's. List what you would need to
#    decide whether that difference is larger than the run-to-run spread of FID (seeds,
#    checkpoints, the 50K samples), and how many GPU-days it would cost.
# 4. **Transfer $T_m$.** The paper keeps $T_m = 0.6$ from CIFAR-10. With
#    $\sigma_\max = 348$ instead of 50, is $x(0.6)$ relatively noisier or cleaner on CelebA-HQ
#    than on CIFAR-10? (Compute $\sigma(0.6)$ for both VE SDEs with `dinof_lite.sde.get_sde`.)
