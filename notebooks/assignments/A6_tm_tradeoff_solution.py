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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/assignments/A6_tm_tradeoff_solution.ipynb)
#
# # Assignment A6 · The $T_m$ trade-off: how early can the flow take over?
#
# **Exercises (i)–(k).** DiNof's one knob is $T_m$: the flow hands over to the reverse SDE at
# $T_m$, so a sample costs $\mathrm{round}(N\,T_m)$ score evaluations instead of $N$ — but a small
# $T_m$ asks the flow to model a distribution $p_{T_m}$ that is still close to the data, which is
# hard. The paper answers with a table of quality against $T_m$ (DiNof §4, Table 1). You answer it
# for the shipped any-$T_m$ model `dinof_8gaussians_vp_anytm` (one score network and one flow
# conditioned on $T_m \in [0.1, 1]$, so every $T_m$ runs without retraining):
#
# - (i) `measure`: quality (MMD² against fresh data) and cost (NFE) of DiNof at one $T_m$, and of
#   the **baseline** — the same score network from $p_T = \mathcal N(0, I)$ with all $N$ steps;
# - (j) `sweep`: every $T_m$ of a grid, the baseline, and the **noise floor** of the metric (what
#   two true sample sets of the same size differ by);
# - (k) `smallest_matching_T_m`: the smallest $T_m$ whose quality matches the baseline within
#   the noise floor.
#
# The checks recompute everything with the library (`tm_study`, `noise_floor`, `first_match` in
# `dinof_lite/evaluation/tm_study.py`) and accept your numbers within the statistical tolerance:
# your samples may differ from the library's draw for draw, the NFE may not.

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
from dinof_lite.evaluation import mmd
from dinof_lite.evaluation.tm_study import noise_floor
from dinof_lite.pretrained import load_dinof
from dinof_lite.sampling import pc_sample_result
from dinof_lite.utils import smoke_or

model = load_dinof("dinof_8gaussians_vp_anytm")
gmm = GaussianMixture.preset("8gaussians")
print(model.sde, "T_m range", model.T_m_range)

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_2", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (i): `measure`
#
# Draw `n = len(data)` samples with `gen = torch.Generator().manual_seed(seed)`:
# for a number `T_m`, `model.sample_result(n, T_m=T_m, generator=gen)` (its `.x` and `.nfe`);
# for `T_m=None`, the baseline `pc_sample_result(model.sde, model.score_fn, (n, *model.dims),
# n_steps=model.sde.N, predictor="euler_maruyama", corrector="none", eps=model.sample_eps,
# generator=gen)`. Return `{"mmd": mmd(data, x), "nfe": …}`, where the NFE counts score-network
# evaluations.
#
# *Predict first:* at $T_m = 0.3$ with $N = 1000$, how many score evaluations does a sample
# cost, and how many does the baseline? (The check says.)

# %% nbgrader={"grade": false, "grade_id": "measure", "locked": false, "schema_version": 3, "solution": true, "task": false}
def measure(model, T_m, data, seed=0):
    """{"mmd": MMD² of len(data) samples against data, "nfe": score evaluations} of DiNof at T_m
    (T_m=None: the plain sampler from p_T with all N steps)."""
    ### BEGIN SOLUTION
    n = data.shape[0]
    gen = torch.Generator().manual_seed(seed)
    if T_m is None:
        res = pc_sample_result(model.sde, model.score_fn, (n, *model.dims), n_steps=model.sde.N,
                               predictor="euler_maruyama", corrector="none", eps=model.sample_eps,
                               generator=gen)
    else:
        res = model.sample_result(n, T_m=T_m, generator=gen)
    return {"mmd": mmd(data, res.x), "nfe": res.nfe}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_measure", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_measure(measure))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_3", "locked": true, "schema_version": 3, "solution": false, "task": false}
# *Answer:* $\mathrm{round}(1000 \cdot 0.3) = 300$ for DiNof and $1000$ for the baseline: the
# flow's one pass is not a
# score evaluation and is not counted (notebook `04b_frontier_and_fast_solvers`, §2, times both
# parts).
#
# ### Exercise (j): `sweep`
#
# Draw **fresh** data, `data = gmm.sample(n, torch.Generator().manual_seed(seed + 1))` (never the
# training set: a model that memorised it would look perfect), `measure` every $T_m$ (rows sorted
# by $T_m$) and the baseline on it, and return
# `{"rows": [{"T_m", "mmd", "nfe"}, …], "baseline": {"mmd", "nfe"}, "floor": noise_floor(gmm, n)["mmd"], "n": n}`.
#
# *Predict first:* MMD² is estimated from $n$ samples. If you halve $n$, does the noise floor
# halve, double, or stay the same? (Answer after the figure.)

# %% nbgrader={"grade": false, "grade_id": "sweep", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sweep(model, T_m_values, gmm, n, seed=0):
    """Quality and cost at every T_m (ascending), the baseline, and the MMD² noise floor at n."""
    ### BEGIN SOLUTION
    data = gmm.sample(n, torch.Generator().manual_seed(seed + 1))
    rows = [{"T_m": T_m, **measure(model, T_m, data, seed)} for T_m in sorted(T_m_values)]
    baseline = measure(model, None, data, seed)
    return {"rows": rows, "baseline": baseline, "floor": noise_floor(gmm, n)["mmd"], "n": n}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "check_sweep", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
grading.require(checks.check_sweep(sweep))

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_4", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ### Exercise (k): `smallest_matching_T_m`
#
# A $T_m$ **matches** when its MMD² is at most the baseline's plus the noise floor (lower is
# better; a difference below the floor is no difference). Return the smallest matching $T_m$, or
# `None` if none matches. The check first tries your rule on constructed sweeps, then on your own
# sweep below.

# %% nbgrader={"grade": false, "grade_id": "smallest_matching_T_m", "locked": false, "schema_version": 3, "solution": true, "task": false}
def smallest_matching_T_m(result):
    """The smallest T_m whose MMD² <= baseline MMD² + floor, or None."""
    ### BEGIN SOLUTION
    limit = result["baseline"]["mmd"] + result["floor"]
    ok = [row["T_m"] for row in result["rows"] if row["mmd"] <= limit]
    return min(ok) if ok else None
    ### END SOLUTION


# %% [markdown] nbgrader={"grade": false, "grade_id": "text_5", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Your answer: the trade-off of the shipped model
#
# $n = 1000$ samples per row (the full run sweeps $T_m = 0.1, 0.2, 0.3, 0.4, 0.6, 0.8$, the smoke run
# three of them).

# %% nbgrader={"grade": false, "grade_id": "your_sweep", "locked": true, "schema_version": 3, "solution": false, "task": false}
# NBVAL_IGNORE_OUTPUT
grid = smoke_or([0.1, 0.2, 0.3, 0.4, 0.6, 0.8], [0.1, 0.3, 0.6])
n = 1000
try:
    result = sweep(model, grid, gmm, n)
    for row in result["rows"]:
        print(f"T_m = {row['T_m']:.1f}: MMD² {row['mmd']:+.5f}, NFE {row['nfe']}")
    print(f"baseline: MMD² {result['baseline']['mmd']:+.5f}, NFE {result['baseline']['nfe']}; "
          f"noise floor {result['floor']:.5f}")
except NotImplementedError:
    result = None
    print("Finish `measure` and `sweep` first: this cell runs once they are written.")

# %% nbgrader={"grade": true, "grade_id": "check_smallest_matching_T_m", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 1}
grading.require(checks.check_smallest_matching_T_m(smallest_matching_T_m, result))

# %% tags=["grader-skip"]
# NBVAL_IGNORE_OUTPUT
if checks.passed("measure", "sweep", "smallest_matching_T_m") and result is not None:
    best = smallest_matching_T_m(result)
    N = model.sde.N
    print(f"smallest matching T_m = {best}: {round(N * best)} NFE instead of {N} "
          f"({1 - best:.0%} of the score evaluations saved)")
    assert best is not None and best in grid
    tm = [r["T_m"] for r in result["rows"]]
    base, floor = result["baseline"]["mmd"], result["floor"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    ax.axhspan(base - floor, base + floor, color="0.85", label="baseline ± noise floor")
    ax.axhline(base, color="k", ls="--", lw=1, label=f"baseline from $p_T$ ({N} NFE)")
    ax.plot(tm, [r["mmd"] for r in result["rows"]], "o", color="C1", label="DiNof from $T_m$")
    ax.axvline(best, color="C2", lw=1.5, label=f"smallest matching $T_m$ = {best}")
    ax.set(xlabel="hand-over time $T_m$", ylabel="MMD² to fresh data (lower is better)",
           title="quality vs $T_m$")
    ax.legend(fontsize=8)
    ax2.plot(tm, [r["nfe"] for r in result["rows"]], "s", color="C0", label="DiNof: round(N·$T_m$)")
    ax2.axhline(N, color="k", ls="--", lw=1, label="baseline: N")
    ax2.set(xlabel="hand-over time $T_m$", ylabel="score evaluations per sample (NFE)",
            title="cost vs $T_m$", ylim=(0, 1.1 * N))
    ax2.legend(fontsize=8)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
    plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_6", "locked": true, "schema_version": 3, "solution": false, "task": false}
# *What to look at:* left, each orange dot is one $T_m$; the grey band is the baseline's MMD²
# (dashed) plus or minus what two true sets of 1000 points differ by. Dots inside or below the
# band are as good as the baseline; the green line marks the smallest such $T_m$. Right, the cost
# falls in proportion to $T_m$ (exact: it is a count of steps). The orange dots do not fall
# smoothly with $T_m$: at this $n$ their scatter is of the order of the floor itself, which is why
# the floor, not zero, decides.
#
# ## Too few samples
#
# The same rule on 200 samples per row:

# %% tags=["grader-skip"]
# NBVAL_IGNORE_OUTPUT
if checks.passed("sweep", "smallest_matching_T_m"):
    small = sweep(model, [0.1, 0.6], gmm, 200)
    effect = max(r["mmd"] for r in small["rows"]) - small["baseline"]["mmd"]
    print(f"n = 200: noise floor {small['floor']:.5f}, effect (worst row − baseline) {effect:+.5f}")
    print(f"n = {n}: noise floor {result['floor']:.5f}")
    assert small["floor"] > result["floor"]

# %% [markdown] nbgrader={"grade": false, "grade_id": "text_7", "locked": true, "schema_version": 3, "solution": false, "task": false}
# *Answer:* the floor roughly **doubles** when $n$ halves: the unbiased MMD² estimate has a
# standard deviation of order $1/n$ when the two distributions are equal (here five times fewer
# samples give about seven times the floor). With 200 samples the floor is larger than the
# whole effect it should resolve — every
# $T_m$ would "match" and the answer would say nothing. The check of (k) refuses such a sweep
# ("too few samples").
#
# **Going further.**
# 1. Repeat the sweep with `seed=1, 2, 3`: how often does the answer change? The spread is the
#    statistical uncertainty of "the smallest matching $T_m$".
# 2. Replace MMD² by the sliced Wasserstein distance (`sample_quality(x, data)["sw"]`, its floor
#    `noise_floor(gmm, n)["sw"]`): is the answer the same?
# 3. Add the wall-clock time to `measure`: is the saving in seconds as large as the saving in
#    NFE? (Notebook `04_dinof_2d` §5 measures both; `04b_frontier_and_fast_solvers` §2 explains
#    why the seconds are noisy.)

# %% nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false, "task": false}
checks.summary()
