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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/04_dinof_2d.ipynb)
#
# # 04 · DiNof end to end: a flow prior at $T_m$, then the reverse SDE
#
# Notebooks 01–02 ran the reverse SDE all the way from $T = 1$; notebook 03 built Glow. DiNof
# (Zand, Etemad & Greenspan, [arXiv 2309.01274](https://arxiv.org/abs/2309.01274)) joins them:
# the forward process is split at an intermediate time $T_m$.
#
# * For $t < T_m$ it is the usual diffusion $dx = f\,dt + g\,dw$ — **stochastic** paths.
# * For $t \ge T_m$ a normalizing flow maps $x(T_m)$ to $z \sim \mathcal N(0, I)$ through its
#   layers $h_0 = x(T_m), h_1, \dots, h_M = z$ (DiNof Eq. 8) — **deterministic** paths.
#
# Sampling runs this backwards: one pass of the flow's inverse gives $x(T_m)$, and the
# predictor–corrector sampler covers only $[\varepsilon, T_m]$, with $\mathrm{round}(N T_m)$ steps
# instead of $N$. This notebook
#
# 1. trains (or loads) DiNof on the 8-Gaussians mixture with **one** loss and **one** optimizer;
# 2. follows samples on their journey: flow layers, then SDE steps;
# 3. lets you move $T_m$ with a slider (ipywidgets), and shows the same journey as a plotly
#    figure that needs no kernel;
# 4. reproduces the shape of the paper's Table 1 — sample quality and wall time against $T_m$,
#    beside the plain diffusion baseline;
# 5. computes DiNof's **exact likelihood** (which the authors' code never did) and compares it with
#    the mixture's true entropy, the floor no model can go under.
#
# Runtime: about a minute and a half on 2 CPU cores with the shipped checkpoints (`DINOF_SMOKE=1` shrinks
# sample sizes; every claim is an `assert` that holds in both modes). Without checkpoints the
# notebook trains the models itself, which takes a few minutes.

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
import plotly.io as pio
import torch

from dinof_lite import VPSDE, GaussianMixture, Glow, ScoreMLP, TrainConfig
from dinof_lite.dinof import CONTEXT_DIM, DiNof, training_loss
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.evaluation.tm_study import first_match, noise_floor, plot_tm_study, tm_study
from dinof_lite.pretrained import load_dinof
from dinof_lite.train import load_or_train
from dinof_lite.utils import make_generator, smoke_or
from dinof_lite.viz import TmExplorer, format_table, journey_dashboard, plot_loss_curve

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})
if "google.colab" not in sys.modules:  # JupyterLab / VS Code render plotly's JSON mimetype natively
    pio.renderers.default = "plotly_mimetype"
torch.manual_seed(0)
gen = make_generator  # gen(seed): a seeded CPU generator; every random draw below names its seed

sde = VPSDE()  # β from 0.1 to 20, N = 1000 steps on [0, 1]
gmm = GaussianMixture.preset("8gaussians")  # exact density, score and entropy at every t
data = gmm.sample(smoke_or(4000, 1000), gen(1))  # held-out reference set

# %% [markdown]
# ## 1. One model, two networks, one loss
#
# `DiNof(sde, score_net, flow, T_m)` is an `nn.Module` holding a score network and a Glow. Its
# loss follows the authors' code (DiNof Eqs. 3 and 8; `docs/design.md` §DiNof loss): one noise draw $z$ serves both terms,
#
# $$x_t = a(t)x_0 + s(t)z,\quad t \sim U(\varepsilon, T_m), \qquad
#   x(T_m) = a(T_m)x_0 + s(T_m)z,$$
# $$\mathcal L = \underbrace{\lVert s(t)\,s_\theta(x_t, t) + z\rVert^2}_{\text{DSM on }[\varepsilon, T_m)}
#   \;+\; w\,\underbrace{\big(-\log p_\phi(x(T_m))\big)}_{\text{flow NLL of the exact marginal}} .$$
#
# The flow never sees the score network's output: it fits the closed-form marginal $p_{T_m}$,
# which for $T_m = 0.6$ is a blurred, shrunk copy of the data — far easier than the data itself
# (notebook 03). The two networks share no parameters, so one Adam optimizer over both, one
# gradient clip and one EMA per network are all the library's `Trainer` needs.
#
# The shipped checkpoint was made by `scripts/make_checkpoints.py` with exactly this loss; if it
# is missing, the next cell trains the model here (with a progress bar).

# %%
# NBVAL_IGNORE_OUTPUT
def build_dinof(T_m: float, T_m_range=None) -> DiNof:
    """A fresh DiNof of the shipped recipe: a ScoreMLP and a vector Glow (conditioned on T_m)."""
    flow = Glow((2,), levels=1, steps=8, hidden=64, context_dim=CONTEXT_DIM if T_m_range else 0)
    return DiNof(sde, ScoreMLP.for_sde(sde, hidden=64), flow, T_m=T_m, T_m_range=T_m_range)


def dinof_config(n_steps: int) -> TrainConfig:
    """Training settings where a shipped checkpoint is missing (300 steps in smoke mode)."""
    return TrainConfig(n_steps=smoke_or(n_steps, 300), batch_size=256, lr=2e-3, warmup=100,
                       ema_decay=smoke_or(0.995, 0.9), device="cpu", ckpt_every=None)


mixture = lambda n, g: gmm.sample(n, g).float()  # fresh samples of p0 at every update
model, meta = load_or_train("dinof_8gaussians_vp", load_dinof, lambda: build_dinof(0.6),
                            training_loss, mixture, dinof_config(4000))
print(model.extra_repr())
print(f"score network {sum(p.numel() for p in model.score_net.parameters()):,} parameters, "
      f"flow {model.flow.num_parameters():,}")
loss, parts = model.loss_parts(data[:512], gen(2))  # model.loss(...) alone gives the scalar
print(f"loss on held-out data: {loss.item():.3f} = DSM {parts['dsm']:.3f} + flow NLL {parts['flow_nll']:.3f} nats")

# %%
curve = meta["loss_curve"]
ax = plot_loss_curve(None, curve["loss"], steps=curve["steps"], log_y=False,
                     title="joint DiNof loss during training")
ax.set_ylabel("DSM + flow NLL (nats)")
plt.show()

# %% [markdown]
# ## 2. The journey of a sample, and why $T_m$ matters
#
# The checkpoint above knows one $T_m$. To *move* $T_m$ we load an **any-$T_m$** model: a single
# Glow conditioned on $T_m$ through its `context` (features of $T_m$ and of $a(T_m)$, $s(T_m)$),
# trained on $T_m \sim U(0.1, 1)$ drawn per example, with the score network trained on the whole
# $[\varepsilon, T]$. One training run, any $T_m$ in the range at sampling time.
#
# `TmExplorer` samples it once per $T_m$ of a grid (cached, one seed for all) and draws four
# views of what happens at that $T_m$. Six samples are highlighted, each with its own colour in
# every view:
#
# 1. **time axis** (top left) — time runs from $T = 1$ on the left to 0 on the right, the
#    vertical is the coordinate $x_1$, and the grey background is the *exact* density of $x_1$
#    under $p_t$ (the mixture diffused in closed form). On $(T_m, T]$ (shaded) the flow makes
#    **one deterministic pass**: a dashed line from the latent $z$ (circle, at $T$) straight to
#    $x(T_m)$ (diamond, at $T_m$) — the flow has no time steps in between. On $[\varepsilon, T_m]$
#    the reverse SDE takes $\mathrm{round}(N T_m)$ jagged, **stochastic** steps to $x(\varepsilon)$.
# 2. **plane** (top right) — the same six samples over all samples and the data: the dashed arrow
#    is the flow's displacement $z \to x(T_m)$, the thin orange curves are the flow's image of the
#    latent circles $r = 1, 2, 3$ (how $\text{flow}^{-1}$ warps $\mathcal N(0, I)$ into
#    $p_{T_m}$), and the SDE path is coloured by time.
# 3. **the flow's job** (bottom left) — the exact $p_{T_m}$ beside the flow's density at $T_m$,
#    one colour scale, and their KL divergence;
# 4. **who does the work** (bottom right) — the flow's KL and the SDE's score evaluations (NFE)
#    against $T_m$, with the current $T_m$ ringed, and the sample quality at this $T_m$.

# %%
# NBVAL_IGNORE_OUTPUT
model_any, meta_any = load_or_train("dinof_8gaussians_vp_anytm", load_dinof,
                                    lambda: build_dinof(0.6, T_m_range=(0.1, 1.0)),
                                    training_loss, mixture, dinof_config(8000))
explorer = TmExplorer(model_any, gmm, n=smoke_or(1000, 300), n_paths=6, seed=3,
                      reference=data[:1000])
explorer.precompute()  # samples and draws every T_m of the grid once

# %%
frame = explorer.frame(0.3)
print(f"T_m = {frame.T_m}: flow {frame.n_flow_layers} layers in one pass, reverse SDE "
      f"{frame.n_steps} steps = {frame.nfe} score evaluations (plain diffusion: {sde.N})")
assert frame.n_steps == round(sde.N * 0.3) and frame.nfe == frame.n_steps  # EM, no corrector
assert (frame.sde_paths[0] == frame.x_Tm).all()  # the SDE starts exactly where the flow ended
assert abs(frame.sde_times[0] - 0.3) < 1e-6 and abs(frame.sde_times[-1] - model_any.eps) < 1e-6
fig = journey_dashboard(frame, explorer.mmap, reference=data[:1000],
                        history=[explorer.frame(t) for t in explorer.T_m_values])
plt.show()

# %% [markdown]
# At $T_m = 0.3$ the exact $p_{T_m}$ is still a ring of eight blurred modes, and the flow's
# density is a fair but imperfect copy of it (KL below a hundredth of a nat); the SDE needs
# only 300 steps to sharpen the ring into the modes. The time axis shows why: by $t = 0.3$ the
# grey bands of the five $x_1$-positions of the modes have already merged into one blob.
#
# ## 3. Move $T_m$
#
# Drag the slider (or click it and use ←/→). At $T_m = 0.1$ the flow must produce the eight sharp
# modes itself — its density turns into a lumpy square and its KL jumps — while the SDE has only
# 100 steps; the samples' NLL rises. At $T_m = 1$ the flow only has to produce $\mathcal N(0, I)$
# (KL ≈ 0) and the SDE does all 1000 steps: DiNof is plain diffusion. In between, from about
# $T_m = 0.2$ on, quality matches the baseline while the cost falls with $T_m$ (section 4).

# %%
# NBVAL_IGNORE_OUTPUT
explorer.widget(start=0.3)

# %% [markdown]
# The slider's callback is an ordinary method, so it also runs without a browser (this is what
# the test suite does): `explorer.update(T_m)` shows a $T_m$ (`explorer.png`, rendered from the
# matplotlib `explorer.figure`) and reports the work done. A value that is not a finite number is
# refused before anything changes.

# %%
info = explorer.update(0.2)
print(f"T_m = {info['T_m']}: {info['n_steps']} SDE steps, {info['nfe']} score evaluations, "
      f"from the cache: {info['cached']}")
assert info["n_steps"] == 200 and info["cached"]
try:
    explorer.update(float("nan"))
except ValueError as err:
    print("refused:", err)
assert explorer.current == 0.2

# %% [markdown]
# ### Without a kernel
#
# On a static page there is no Python behind the figure. The same four views, one frame per
# $T_m$ (five of them here, to keep the notebook small), go into a plain plotly figure whose slider and play button run in the browser alone;
# `fig.write_html("journey.html")` saves it as a standalone page.

# %%
# NBVAL_IGNORE_OUTPUT
fig = explorer.plotly(T_m_values=(0.1, 0.2, 0.3, 0.6, 1.0), reference=data[:300],
                      title="DiNof on 8 Gaussians (VP): who does the work at each T_m")
assert len(fig.frames) == 5
fig

# %% [markdown]
# ## 4. Quality and time against $T_m$ — the paper's Table 1, in 2D
#
# The paper trains DiNof on CIFAR-10 for $T_m = 0.1, \dots, 1.0$ and reports FID: 46.6 at
# $T_m = 0.1$, falling to 3.16 at $T_m = 0.6$, then creeping back to 4.18 at $T_m = 1$, against
# 4.29 for the NCSN++ baseline with 1000 steps. Here the any-$T_m$ model plays every row (one
# score network, one conditional flow), and the **baseline** is the same score network sampled
# from the Gaussian prior at $T$ with all $N$ steps. Quality: MMD and sliced Wasserstein distance
# to held-out data, and the exact NLL of the samples under the true mixture; cost: score
# evaluations and wall time.

# %%
# NBVAL_IGNORE_OUTPUT
T_ms = [round(0.1 * k, 1) for k in range(1, 11)]
rows = tm_study(model_any, T_ms, n=smoke_or(4000, 500), reference=data, gmm=gmm, seed=4)
floor = noise_floor(gmm, n=smoke_or(4000, 500), seed=5)
print(format_table(rows, ["method", "T_m", "n_steps", "nfe", "mmd", "sw", "gmm_nll", "wall_s", "speedup"]))
print(f"noise floor (two independent data sets): MMD {floor['mmd']:.5f}, SW {floor['sw']:.4f}")

# %%
fig = plot_tm_study(rows, floor=floor)
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
base = next(r for r in rows if r["method"] == "baseline")
dinof = {r["T_m"]: r for r in rows if r["method"] == "dinof"}
match = first_match(rows, metric="mmd", floor=floor["mmd"])
print(f"DiNof first matches the baseline's MMD at T_m = {match['T_m']}, "
      f"with {base['nfe'] / match['nfe']:.1f}× fewer score evaluations")
assert all(dinof[t]["nfe"] == round(sde.N * t) for t in T_ms) and base["nfe"] == sde.N
assert all(dinof[t]["mmd"] <= base["mmd"] + 2 * floor["mmd"] for t in T_ms if t >= 0.2)
assert dinof[0.1]["gmm_nll"] > base["gmm_nll"] + 0.1  # T_m = 0.1: the flow alone cannot separate the modes
assert match["T_m"] <= 0.6

# %% [markdown]
# The curve has the paper's shape on its left half: at $T_m = 0.1$ the flow must produce
# nearly separated modes by itself and quality drops clearly (the samples' NLL under the true
# mixture rises by more than 0.1 nats over the baseline's), while from $T_m = 0.2$ on every row is
# within the estimation noise of the baseline and the sampler's cost falls in proportion to $T_m$.
# Unlike CIFAR-10, where FID creeps back up above $T_m = 0.6$, the toy shows no degradation at
# large $T_m$: a small flow fits the nearly Gaussian $p_{T_m}$ of a 2D mixture easily, whereas the
# paper's image flows pay for modelling a 3072-dimensional one.
#
# ## 5. Exact likelihood: DiNof against the mixture's entropy
#
# Change of variables composes: the probability-flow ODE carries $x$ from $\varepsilon$ to
# $x(T_m)$, accumulating $\int \nabla\!\cdot\tilde f\,dt$, and the flow's exact density takes it
# from there:
#
# $$\log p_\varepsilon(x) = \log p_\phi\big(x(T_m)\big) + \int_\varepsilon^{T_m} \nabla\cdot\tilde f(x(t), t)\,dt .$$
#
# In 2D the divergence is exact. The mixture's entropy $H = \mathbb E_p[-\log p]$ is a hard floor
# for any model's NLL, and the paired difference $\mathbb E_p[\log p - \log p_\text{model}]$ is
# the KL divergence, $\ge 0$ up to Monte-Carlo error.

# %%
# NBVAL_IGNORE_OUTPUT
x_test = gmm.sample(smoke_or(1000, 200), gen(6)).float()
H = gmm.entropy(smoke_or(200_000, 50_000), gen(7))
res = model.log_likelihood_result(x_test)  # model.log_likelihood(x) is res.logp
kl = gmm.log_prob(x_test).float() - res.logp
kl_mean, kl_se = kl.mean().item(), kl.std().item() / math.sqrt(len(kl))
print(f"DiNof (T_m = 0.6) NLL {-res.logp.mean():.3f} nats vs entropy H = {H:.3f}; "
      f"KL estimate {kl_mean:.4f} ± {kl_se:.4f}")
print(f"  of which the flow's log p(x(T_m)) {res.prior_logp.mean():.3f} and the ODE's Δ "
      f"{res.delta_logp.mean():.3f} ({res.nfe} score evaluations per batch)")
assert -3 * kl_se <= kl_mean < 0.05  # never below the floor beyond noise, and within 0.05 nats

# %% [markdown]
# ## 6. One flow for every $T_m$, or one flow per $T_m$?
#
# The any-$T_m$ model amortises: one conditional flow, one score network for the whole range. The
# paper instead trains one model per $T_m$. At $T_m = 0.6$ and $T_m = 0.3$ we have both; the
# table compares sample quality and exact NLL.

# %%
# NBVAL_IGNORE_OUTPUT
model_03, _ = load_or_train("dinof_8gaussians_vp_tm03", load_dinof, lambda: build_dinof(0.3),
                            training_loss, mixture, dinof_config(4000))
compare = []
for label, m, T_m in [("single T_m = 0.6", model, 0.6), ("any-T_m at 0.6", model_any, 0.6),
                      ("single T_m = 0.3", model_03, 0.3), ("any-T_m at 0.3", model_any, 0.3)]:
    x = m.sample(smoke_or(2000, 500), T_m=T_m, generator=gen(8))
    nll = -m.log_likelihood(x_test[:smoke_or(500, 100)], T_m=T_m).mean().item()
    compare.append({"model": label, "mmd": mmd(data, x), "nll": nll, "entropy": H})
print(format_table(compare, ["model", "mmd", "nll", "entropy"]))

# %%
for row in compare:
    assert row["mmd"] < 5e-3 and row["nll"] - H < 0.1, row

# %% [markdown]
# Both routes reach the data and come within a few hundredths of a nat of the entropy: on this toy
# amortising over $T_m$ costs nothing measurable, and it buys the slider and the whole Table-1
# sweep with one training run.
#
# ## Summary
#
# * DiNof = flow prior at $T_m$ + reverse SDE below it; one loss, one optimizer.
# * Sampling cost falls to $\mathrm{round}(N T_m)$ score evaluations plus one flow pass; on the toy
#   the quality matches the baseline from $T_m \approx 0.4$ up.
# * The joint exact likelihood (ODE to $T_m$ + flow) comes within a few hundredths of a nat of the
#   true entropy.
#
# Next: notebook 05 runs the same model on images (sklearn's 8×8 digits) on a CPU.
