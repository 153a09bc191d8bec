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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/07_celebahq256_gpu.ipynb)
#
# # 07 · DiNof on CelebA-HQ-256 with a GPU
#
# The paper's high-resolution result: NCSN++ cont. (VE, $\sigma_\max = 348$) with the same Glow
# prior at $T_m = 0.6$ on 256×256 faces, FID 7.11 after 0.5M iterations at batch 8 (sampling
# batch 64). Notebook 06 walked through the commands on CIFAR-10; this one covers what changes at
# 256×256 — the data, the network, the memory — and runs the pipeline once more.
#
# **Where the outputs below come from.** Without a GPU (and in the test suite, `DINOF_SMOKE=1`)
# the cells run `celebahq256_ve_smoke`: a tiny UNet and Glow on fake 8×8 images for a few steps.
# With a GPU and the data in place they run the real configuration for a short, resumable stretch.

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

import torch

from dinof_lite.cli import main as dinof
from dinof_lite.data import default_data_dir
from dinof_lite.experiment.configs import get_config
from dinof_lite.flows import Glow
from dinof_lite.utils import smoke_mode

cfg = get_config("celebahq256_ve")
HAVE_DATA = (default_data_dir() / "celebahq256").is_dir()
GPU = torch.cuda.is_available() and HAVE_DATA and not smoke_mode()
WORKDIR = Path("runs/celebahq256_ve") if GPU else Path(tempfile.mkdtemp()) / "celebahq_smoke"
RUN = (["--config", "celebahq256_ve", "--steps", "500"] if GPU
       else ["--config", "celebahq256_ve_smoke", "--fake-data"])
print("GPU run" if GPU else "smoke twin on fake data (no GPU, no data, or smoke mode)")

# %% [markdown]
# ## 1. What changes at 256×256
#
# * **Data.** CelebA-HQ-256 has no official download link; `dinof_lite` reads a folder of 30,000
#   256×256 images (`png`/`jpg`) at `$DINOF_DATA_DIR/celebahq256/`, sorted by file name, the last
#   3000 held out as the test split. The error message for a missing folder says where to put it.
# * **Network.** NCSN++ with seven resolutions, `ch_mult = (1, 1, 2, 2, 2, 2, 2)`, two residual
#   blocks each, attention at 16×16; the Glow keeps $L = 3$, $K = 16$, 256 hidden channels and
#   so acts on a 3×256×256 tensor squeezed to 48×128×128 at its first level.
# * **Sampler.** Reverse diffusion + Langevin with snr 0.17 (CIFAR-10: 0.16).
# * **Batch.** 8 for training in the paper; the EMA decay stays 0.999.

# %%
glow = Glow.paper(cfg.shape)
print(f"{cfg.name}: data {cfg.shape} on {cfg.data_range}, σ_max {cfg.sde_params['sigma_max']}, "
      f"snr {cfg.snr}, batch {cfg.train.batch_size}, T_m {cfg.T_m}")
print(f"UNet {cfg.unet.num_parameters():,} parameters (ch_mult {cfg.unet.ch_mult}, "
      f"{cfg.unet.num_res_blocks} blocks), Glow {glow.num_parameters():,}")
assert cfg.unet.ch_mult == (1, 1, 2, 2, 2, 2, 2) and cfg.snr == 0.17
assert cfg.sde_params["sigma_max"] == 348.0 and cfg.train.batch_size == 8

# %% [markdown]
# ## 2. Memory
#
# Activations, not parameters, fill the GPU at this size: the first Glow level alone keeps
# 48×128×128 activations per image for each of its 16 steps. `python -m dinof_lite bench train`
# prints images per second for the score network alone and for DiNof's joint step; on GPUs it
# also reports the peak memory. Mixed precision (bf16 autocast, on by default on CUDA) roughly
# halves the activation memory; if the batch of 8 does not fit, train on several GPUs:
#
# ```bash
# torchrun --standalone --nproc_per_node=4 -m dinof_lite train --config celebahq256_ve --workdir runs/celebahq256_ve
# ```
#
# ## 3. Train, sample, evaluate

# %%
# NBVAL_IGNORE_OUTPUT
dinof(["train", "--workdir", str(WORKDIR), *RUN])
dinof(["sample", "--workdir", str(WORKDIR), "--n", "4", "--out", str(WORKDIR / "grid.png")])

# %%
saved = json.loads((WORKDIR / "config.json").read_text())
print("run:", saved["name"], "| grid written:", (WORKDIR / "grid.png").is_file())
assert (WORKDIR / "checkpoint.pt").is_file() and (WORKDIR / "grid.png").is_file()

# %% [markdown]
# `python -m dinof_lite eval --workdir runs/celebahq256_ve --fid` scores a run as in notebook 06
# (FID against the test split; the paper reports 7.11 for DiNof and compares with LSGM's 7.22).
