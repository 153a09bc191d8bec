"""DiNof recipes of ``scripts/make_checkpoints.py``: ``dinof_8gaussians_vp*`` checkpoints.

A :class:`~dinof_lite.dinof.DiNof` (ScoreMLP + vector Glow, 1 level × 8 steps) on the VP SDE,
trained with :func:`~dinof_lite.dinof.training_loss` (DSM on ``[eps, T_m)`` + the flow's NLL of the
closed-form ``x(T_m)``, shared noise) on fresh samples of the exact 8-Gaussians mixture every step.
The file keeps the EMA model (:func:`~dinof_lite.pretrained.save_dinof`) and, in ``meta["quality"]``,
its measured quality at every ``T_m`` it serves: MMD and sliced W2 of samples against fresh data,
the mixture NLL of the samples and the model's exact NLL of fresh data next to the entropy. The
any-T_m model also records the plain-diffusion baseline (Euler–Maruyama from ``p_T``, same score
network).

:func:`recipes` takes ``make_checkpoints``' helpers as arguments, so this module never imports the
script (no import cycle); the script registers the result into its ``RECIPES``.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

import torch

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.dinof import DiNof, training_loss
from dinof_lite.evaluation.quality import sample_quality
from dinof_lite.flows import Glow
from dinof_lite.nets import ScoreMLP
from dinof_lite.pretrained import save_dinof
from dinof_lite.sampling import pc_sample
from dinof_lite.sde import get_sde

__all__ = ["DEFAULTS", "EVAL_T_MS", "recipes", "build_dinof", "evaluate"]

#: Per-family defaults, merged into ``make_checkpoints.DEFAULTS`` (flags override them). The
#: any-T_m model spreads the same capacity over a range of T_m and needs more updates.
#: T_m = 0.6, paired KL estimate (see :func:`evaluate`): 3000 steps / EMA 0.995 gave 0.026,
#: 6000 steps / EMA 0.999 gave 0.013 (116 s on one thread).
DEFAULTS: dict[str, dict] = {
    "dinof": {
        "steps": 6000,
        "batch_size": 256,
        "lr": 2e-3,
        "warmup": 100,
        "weight_decay": 0.0,
        "ema": 0.999,
        "hidden": 64,
        "n_layers": 3,
        "levels": 1,
        "flow_steps": 8,
    },
    "dinof_anytm": {
        "steps": 10_000,
        "batch_size": 256,
        "lr": 2e-3,
        "warmup": 100,
        "weight_decay": 0.0,
        "ema": 0.999,
        "hidden": 64,
        "n_layers": 3,
        "levels": 1,
        "flow_steps": 8,
    },
}
SCORE_EMB_DIM = 32  # time-embedding width of the ScoreMLP (64 put the any-T_m file over 400 KB)
EVAL_T_MS = tuple(round(0.1 * k, 1) for k in range(1, 11))  # T_m served by the any-T_m model
N_SAMPLES = 4000  # model samples (and fresh data) per sample metric
N_NLL = 1000  # fresh data points of the exact NLL
BASELINE_STEPS = 1000  # Euler–Maruyama steps of the plain-diffusion baseline from p_T
INIT_BATCH = 4096  # ActNorm's data-dependent initialisation sees this many x(T_m)
EVAL_SEED = 12345


def evaluate(model: DiNof, gmm: GaussianMixture, T_m: float, gen: torch.Generator) -> dict:
    """Quality of ``model`` at ``T_m``: sample metrics vs fresh data and the exact NLL (nats).

    Returns ``{"T_m", "mmd", "sliced_wasserstein", "gmm_nll", "nll", "nll_se", "kl", "kl_se"}``;
    ``gmm_nll`` is the mixture's NLL of :data:`N_SAMPLES` model samples, ``nll`` the model's own
    mean NLL of :data:`N_NLL` fresh data points (exact divergence in 2D) with its standard error
    ``nll_se``, and ``kl`` the mean of ``log p(x) − log p_model(x)`` over the same points (a
    paired estimate of KL(p ‖ model) = NLL − entropy, with a far smaller error ``kl_se``).
    """
    n_samples, n_nll = N_SAMPLES, N_NLL  # read at call time: a smoke test may shrink them
    with torch.no_grad():
        x = model.sample(n_samples, T_m=T_m, generator=gen)
    ref, data = gmm.sample(n_samples, gen), gmm.sample(n_nll, gen)
    nll = -model.log_likelihood(data, T_m=T_m).detach()
    excess = nll + gmm.log_prob(data)  # paired with the true density: KL(p || model) estimate
    q = sample_quality(x, ref, gmm, seed=gen)  # the projections are drawn from gen
    return {
        "T_m": T_m,
        "mmd": q["mmd"],
        "sliced_wasserstein": q["sw"],
        "gmm_nll": q["gmm_nll"],
        "nll": nll.mean().item(),
        "nll_se": (nll.std() / n_nll**0.5).item(),
        "kl": excess.mean().item(),
        "kl_se": (excess.std() / n_nll**0.5).item(),
    }


def baseline(model: DiNof, gmm: GaussianMixture, gen: torch.Generator) -> dict:
    """Plain diffusion with the model's score network: Euler–Maruyama from ``p_T`` to ``eps``."""
    n_samples = N_SAMPLES
    x = pc_sample(
        model.sde,
        model.score_fn,
        (n_samples, *model.dims),
        n_steps=BASELINE_STEPS,
        predictor="euler_maruyama",
        corrector="none",
        eps=model.sample_eps,
        generator=gen,
    )
    ref = gmm.sample(n_samples, gen)
    q = sample_quality(x, ref, gmm, seed=gen)
    return {
        "sampler": f"euler_maruyama from p_T, {BASELINE_STEPS} steps",
        "mmd": q["mmd"],
        "sliced_wasserstein": q["sw"],
        "gmm_nll": q["gmm_nll"],
    }


def _init_actnorm(model: DiNof, gmm: GaussianMixture, seed: int) -> None:
    """ActNorm's data-dependent initialisation on a large batch of ``x(T_m)`` (and contexts)."""
    gen = torch.Generator().manual_seed(seed)
    x0 = gmm.sample(INIT_BATCH, gen)
    if model.any_T_m:
        lo, hi = model.T_m_range
        T_m = lo + (hi - lo) * torch.rand(INIT_BATCH, generator=gen)
    else:
        T_m = torch.full((INIT_BATCH,), model.T_m)
    a, s = model.sde.marginal_coeffs(T_m)
    x_Tm = a[:, None] * x0 + s[:, None] * torch.randn(x0.shape, generator=gen)
    with torch.no_grad():
        model.flow(x_Tm, model.context(T_m, INIT_BATCH))


def build_dinof(
    name: str,
    args: argparse.Namespace,
    out_dir: Path,
    *,
    T_m: float,
    T_m_range: tuple[float, float] | None,
    train: Callable,
    common_meta: Callable,
    hyper_parameters: Callable,
) -> tuple[Path, dict]:
    """A DiNof on 8gaussians (VP SDE); metrics: quality at each served ``T_m`` (see :func:`evaluate`).

    ``train``, ``common_meta`` and ``hyper_parameters`` are ``make_checkpoints``' helpers.
    """
    family = "dinof" if T_m_range is None else "dinof_anytm"
    hp = hyper_parameters(family, args)
    sde = get_sde("vp")
    gmm = GaussianMixture.preset("8gaussians")
    torch.manual_seed(args.seed)
    net = ScoreMLP.for_sde(
        sde, dim=2, hidden=hp["hidden"], n_layers=hp["n_layers"], emb_dim=SCORE_EMB_DIM
    )
    flow = Glow(
        (2,),
        levels=hp["levels"],
        steps=hp["flow_steps"],
        hidden=hp["hidden"],
        context_dim=0 if T_m_range is None else DiNof.CONTEXT_DIM,
    )
    model = DiNof(sde, net, flow, T_m=T_m, T_m_range=T_m_range)
    _init_actnorm(model, gmm, args.seed + 1)

    config, result, ema = train(model, training_loss, gmm.sample, hp, args)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    entropy = gmm.entropy(200_000, gen)
    served = EVAL_T_MS if ema.any_T_m else (ema.T_m,)
    per_tm = [evaluate(ema, gmm, t, gen) for t in served]
    for row in per_tm:
        row["nll_gap"] = row["nll"] - entropy
    quality = {
        "n_samples": N_SAMPLES,
        "n_nll": N_NLL,
        "eval_seed": EVAL_SEED,
        "entropy": entropy,
        "sampler": "DiNof default (euler_maruyama, round(N*T_m) steps)",
        "nll": "-model.log_likelihood(x).mean(), exact divergence, dopri5 rtol=atol=1e-5",
        "per_T_m": per_tm,
    }
    if ema.any_T_m:
        quality["baseline"] = baseline(ema, gmm, gen)
    meta = common_meta(
        name, {"kind": "GaussianMixture.preset", "name": "8gaussians"}, config, result, args
    )
    meta.update(T_m=T_m, T_m_range=None if T_m_range is None else list(T_m_range), quality=quality)
    path = save_dinof(out_dir / f"{name}.pt", ema, meta)
    main = next(r for r in per_tm if abs(r["T_m"] - T_m) < 1e-9)
    metrics = {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        f"NLL@{T_m}": main["nll"],
        "entropy": entropy,
        f"MMD@{T_m}": main["mmd"],
    }
    if ema.any_T_m:
        metrics["baseline MMD"] = quality["baseline"]["mmd"]
    return path, metrics


def recipes(
    **helpers: Callable,
) -> dict[str, Callable[[str, argparse.Namespace, Path], tuple[Path, dict]]]:
    """The DiNof recipes, ``name -> builder(name, args, out_dir)``, bound to ``helpers``
    (``train``, ``common_meta``, ``hyper_parameters`` of ``make_checkpoints``)."""
    return {
        "dinof_8gaussians_vp": functools.partial(build_dinof, T_m=0.6, T_m_range=None, **helpers),
        "dinof_8gaussians_vp_tm03": functools.partial(
            build_dinof, T_m=0.3, T_m_range=None, **helpers
        ),
        "dinof_8gaussians_vp_anytm": functools.partial(
            build_dinof, T_m=0.6, T_m_range=(0.1, 1.0), **helpers
        ),
    }
