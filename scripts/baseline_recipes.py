"""Baseline recipes of ``scripts/make_checkpoints.py``: the comparison systems on 8-Gaussians.

* ``diffflow_8gaussians`` (family ``diffflow``): a :class:`~dinof_lite.baselines.diffflow.DiffFlow`
  in the authors' 2D configuration (two Fourier-feature MLPs, 3 layers × 128, N = 30,
  ``t ∈ [1e-3, 0.05]``, e = 0.9, g = 0.2; Zhang & Chen 2021, App. E) trained on its trajectory
  loss on fresh samples of the exact mixture every step. ``meta["quality"]`` holds MMD² and
  sliced W2 of λ = 1 samples against fresh data, the NLL bound and the probability-flow-ODE NLL
  of fresh points next to the entropy, the NFE and the wall time per 1000 samples.
* ``diffenc_8gaussians`` (family ``diffenc``): a :class:`~dinof_lite.baselines.diffenc.DiffEnc`
  with the trainable encoder (v-network ScoreMLP 3 × 128, encoder MLP 2 × 64, fixed γ ∈
  [−13.3, 5], as VDM; Nielsen et al. 2024, §5) trained on its bound on fresh mixture samples;
  ``meta["quality"]`` holds MMD², sliced W2, NFE and s/1000 samples of the ancestral sampler
  (1000 and 100 steps), and the bound (with its recon / latent / diffusion parts and bits/dim) on
  fresh points next to the entropy.
* ``diffenc_digits`` (family ``diffenc_digits``): DiffEnc on sklearn's 8×8 digits on [−1, 1]
  (17 levels, VDM's discretised decoder; tiny UNet v-network, convolutional encoder), trained on
  the train split; ``meta["quality"]`` holds the bits/dim bound on the test split with its parts
  and the FID-style score (``digits_fid``) of samples against the test split. γ_min = −8, not
  −13.3: with 17 levels 0.125 apart the decoder is already sharp there (σ_0/α_0 ≈ 0.018), and
  −13.3 (meant for 256 levels) left 4.8 bits/dim after the same training instead of 2.2.

:func:`recipes` takes ``make_checkpoints``' helpers as arguments, so this module never imports the
script (no import cycle); the script registers the result into its ``RECIPES``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from dinof_lite.baselines.diffenc import DiffEnc, DiffEncConfig, diffenc_loss, save_diffenc
from dinof_lite.baselines.diffflow import DiffFlow, DiffFlowConfig, diffflow_loss, save_diffflow
from dinof_lite.data import DIGITS_N_BINS, load_digits
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.digits_fid import digits_fid, load_classifier
from dinof_lite.evaluation.quality import sample_quality
from dinof_lite.pretrained import checkpoint_path

__all__ = [
    "DEFAULTS",
    "recipes",
    "build_diffflow",
    "evaluate_diffflow",
    "build_diffenc",
    "evaluate_diffenc",
    "build_diffenc_digits",
]

#: Per-family defaults, merged into ``make_checkpoints.DEFAULTS`` (flags override them).
#: DiffFlow: the authors' 2D runs use Adam 1e-2 (decayed ×0.95 per epoch), batch 5000, 3000
#: updates, clip 1, EMA 0.999; on one CPU thread batch 256 and 1500 updates (~3 min alone).
#: Paired KL of the bound / of the ODE NLL, MMD²: 0.090 / 0.024 nats / 2e-4 for the shipped
#: file; lr 5e-3: 0.13 / 0.034 / 5e-4; 600 updates with EMA 0.999 left the EMA near its
#: initialisation (bound 5.7 nats).
DEFAULTS: dict[str, dict] = {
    "diffflow": {
        "steps": 1500,
        "batch_size": 256,
        "lr": 2e-3,
        "warmup": 100,
        "weight_decay": 0.0,
        "ema": 0.995,
        "hidden": 128,
        "n_layers": 3,
    },
    # DiffEnc's 2D example: lr 3e-3, batch 512, warm-up 100, 5000 updates (AdamW, EMA 0.9999);
    # here Adam and EMA 0.999, which suits 5000 updates.
    "diffenc": {
        "steps": 5000,
        "batch_size": 512,
        "lr": 3e-3,
        "warmup": 100,
        "weight_decay": 0.0,
        "ema": 0.999,
        "hidden": 128,
        "n_layers": 3,
    },
    # ~0.08 s per step on one CPU thread; ``hidden`` is the UNet's nf and the encoder's width
    "diffenc_digits": {
        "steps": 2000,
        "batch_size": 64,
        "lr": 2e-3,
        "warmup": 100,
        "weight_decay": 0.0,
        "ema": 0.995,
        "hidden": 16,
    },
}
N_SAMPLES = 4000  # model samples (and fresh data) per sample metric
N_NLL = 1000  # fresh data points of the NLL bound and the ODE NLL
EVAL_SEED = 12345


def _mean_se(v: torch.Tensor) -> tuple[float, float]:
    return v.mean().item(), (v.std() / len(v) ** 0.5).item()


def evaluate_diffflow(model: DiffFlow, gmm: GaussianMixture, gen: torch.Generator) -> dict:
    """Sample metrics (λ = 1 and λ = 0) vs fresh data; NLL bound and ODE NLL (nats) vs entropy.

    ``kl_ode`` / ``kl_bound`` are paired estimates ``mean(nll(x) + log p0(x))`` of
    ``KL(p0 ‖ model)`` and of the bound's gap, with standard errors: a bound below ``−3 SE``
    would be a bug.
    """
    n_samples, n_nll = N_SAMPLES, N_NLL  # read at call time: a smoke test may shrink them
    ref, data = gmm.sample(n_samples, gen).float(), gmm.sample(n_nll, gen).float()
    out: dict = {"n_samples": n_samples, "n_nll": n_nll, "eval_seed": EVAL_SEED}
    for lam in (1.0, 0.0):
        start = time.perf_counter()
        x = model.sample(n_samples, lam=lam, generator=gen)
        seconds = time.perf_counter() - start
        q = sample_quality(x, ref, gmm, seed=gen)  # the projections are drawn from gen
        out[f"lam{lam:g}"] = {
            "mmd": q["mmd"],
            "sliced_wasserstein": q["sw"],
            "gmm_nll": q["gmm_nll"],
            "nfe": model.nfe(lam),
            "s_per_1000": 1000 * seconds / n_samples,
        }
    log_p = gmm.log_prob(data.double())
    bound = model.nll_bound(data, generator=gen).double()
    start = time.perf_counter()
    ode = -model.log_likelihood(data).double()
    out["ode_s_per_1000"] = 1000 * (time.perf_counter() - start) / n_nll
    for key, nll in (("bound", bound), ("ode", ode)):
        out[f"nll_{key}"], out[f"nll_{key}_se"] = _mean_se(nll)
        out[f"kl_{key}"], out[f"kl_{key}_se"] = _mean_se(nll + log_p)
    return out


def _build_on_mixture(
    name: str,
    model: torch.nn.Module,
    loss_fn: Callable,
    evaluate: Callable,
    save: Callable,
    notes: dict,
    args: argparse.Namespace,
    out_dir: Path,
    hp: dict,
    *,
    train: Callable,
    common_meta: Callable,
) -> tuple[Path, dict, dict]:
    """Train ``model`` on fresh 8gaussians samples, evaluate its EMA, save it with its meta.

    Returns ``(path, quality, base metrics)``; ``notes`` (sampler / nll descriptions) go into
    the quality dict, the model's config into ``meta[<config name>]``.
    """
    gmm = GaussianMixture.preset("8gaussians")

    def data(batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return gmm.sample(batch_size, generator).float()  # fresh samples: no over-fitting

    config, result, ema = train(model, loss_fn, data, hp, args)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    entropy = gmm.entropy(200_000, gen)
    quality = {"entropy": entropy, **evaluate(ema, gmm, gen), **notes}
    meta = common_meta(
        name, {"kind": "GaussianMixture.preset", "name": "8gaussians"}, config, result, args
    )
    meta.update(
        {f"{type(ema).__name__.lower()}_config": dataclasses.asdict(ema.config), "quality": quality}
    )
    path = save(out_dir / f"{name}.pt", ema, meta)
    metrics = {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        "entropy": entropy,
        "NLL bound": quality["nll_bound"],
    }
    return path, quality, metrics


def build_diffflow(
    name: str,
    args: argparse.Namespace,
    out_dir: Path,
    *,
    train: Callable,
    common_meta: Callable,
    hyper_parameters: Callable,
) -> tuple[Path, dict]:
    """A DiffFlow on 8gaussians; metrics: see :func:`evaluate_diffflow`.

    ``train``, ``common_meta`` and ``hyper_parameters`` are ``make_checkpoints``' helpers.
    """
    hp = hyper_parameters("diffflow", args)
    torch.manual_seed(args.seed)
    model = DiffFlow(DiffFlowConfig(dim=2, hidden=hp["hidden"], n_layers=hp["n_layers"]))
    notes = {
        "sampler": "backward SDE, lam = 1 (lam0: Euler probability-flow ODE), N steps",
        "nll": "bound: one forward trajectory per point; ode: dopri5 rtol=atol=1e-5",
    }
    path, quality, metrics = _build_on_mixture(
        name,
        model,
        diffflow_loss,
        evaluate_diffflow,
        save_diffflow,
        notes,
        args,
        out_dir,
        hp,
        train=train,
        common_meta=common_meta,
    )
    metrics.update(
        {
            "ODE NLL": quality["nll_ode"],
            "MMD2": quality["lam1"]["mmd"],
            "SW": quality["lam1"]["sliced_wasserstein"],
        }
    )
    return path, metrics


DIFFENC_N_NLL, DIFFENC_REPEATS = 20_000, 16  # the bound is cheap: many points, 16 (t, ε) each


def evaluate_diffenc(model: DiffEnc, gmm: GaussianMixture, gen: torch.Generator) -> dict:
    """Ancestral samples (1000 and 100 steps) vs fresh data; the bound (nats) vs the entropy.

    ``kl_bound`` is the paired estimate ``mean(bound(x) + log p0(x))`` of the bound's gap with its
    standard error (below ``−3 SE`` would be a bug).
    """
    n_samples, n_nll = N_SAMPLES, DIFFENC_N_NLL  # read at call time: a smoke test may shrink them
    ref, data = gmm.sample(n_samples, gen).float(), gmm.sample(n_nll, gen).float()
    out: dict = {
        "n_samples": n_samples,
        "n_nll": n_nll,
        "n_repeats": DIFFENC_REPEATS,
        "eval_seed": EVAL_SEED,
    }
    for steps in (1000, 100):
        start = time.perf_counter()
        x = model.sample(n_samples, n_steps=steps, generator=gen)
        seconds = time.perf_counter() - start
        q = sample_quality(x, ref, gmm, seed=gen)  # the projections are drawn from gen
        out[f"steps{steps}"] = {
            "mmd": q["mmd"],
            "sliced_wasserstein": q["sw"],
            "gmm_nll": q["gmm_nll"],
            "nfe": model.nfe(steps),
            "s_per_1000": 1000 * seconds / n_samples,
        }
    bound = model.nll_bound(data, generator=gen, n_repeats=DIFFENC_REPEATS).double()
    out["nll_bound"], out["nll_bound_se"] = _mean_se(bound)
    out["kl_bound"], out["kl_bound_se"] = _mean_se(bound + gmm.log_prob(data.double()))
    out["bits_per_dim"] = out["nll_bound"] / (2 * math.log(2))
    with torch.no_grad():
        _, parts = model.loss_parts(data, generator=gen)
    out["parts"] = dict(parts)
    return out


def build_diffenc(
    name: str,
    args: argparse.Namespace,
    out_dir: Path,
    *,
    train: Callable,
    common_meta: Callable,
    hyper_parameters: Callable,
) -> tuple[Path, dict]:
    """A DiffEnc (trainable encoder) on 8gaussians; metrics: see :func:`evaluate_diffenc`."""
    hp = hyper_parameters("diffenc", args)
    torch.manual_seed(args.seed)
    model = DiffEnc(DiffEncConfig(dim=2, hidden=hp["hidden"], n_layers=hp["n_layers"]))
    notes = {
        "sampler": "VDM ancestral sampler with DiffEnc's Eq. 17 counter-term",
        "nll": "variational bound recon + latent + diffusion, antithetic t",
    }
    path, quality, metrics = _build_on_mixture(
        name,
        model,
        diffenc_loss,
        evaluate_diffenc,
        save_diffenc,
        notes,
        args,
        out_dir,
        hp,
        train=train,
        common_meta=common_meta,
    )
    metrics.update(
        {"MMD2": quality["steps1000"]["mmd"], "SW": quality["steps1000"]["sliced_wasserstein"]}
    )
    return path, metrics


DIGITS_GAMMA_MIN = -8.0  # see the module docstring
DIGITS_SAMPLES, DIGITS_STEPS, DIGITS_REPEATS = 500, 1000, 8


def build_diffenc_digits(
    name: str,
    args: argparse.Namespace,
    out_dir: Path,
    *,
    train: Callable,
    common_meta: Callable,
    hyper_parameters: Callable,
) -> tuple[Path, dict]:
    """DiffEnc on 8×8 digits; metrics: test bits/dim (bound) and FID-style score of samples."""
    hp = hyper_parameters("diffenc_digits", args)
    tr = load_digits(data_range=(-1.0, 1.0), split="train")
    te = load_digits(data_range=(-1.0, 1.0), split="test")
    torch.manual_seed(args.seed)
    model = DiffEnc(
        DiffEncConfig(
            image_shape=(1, 8, 8),
            n_bins=DIGITS_N_BINS,
            hidden=hp["hidden"],
            enc_hidden=hp["hidden"],
            gamma_min=DIGITS_GAMMA_MIN,
        )
    )
    config, result, ema = train(model, diffenc_loss, tr, hp, args)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    bpd = ema.nll_bound(te, gen, n_repeats=DIGITS_REPEATS).double() / (64 * math.log(2))
    with torch.no_grad():
        _, parts = ema.loss_parts(te, generator=gen)
    start = time.perf_counter()
    x = ema.sample(DIGITS_SAMPLES, n_steps=DIGITS_STEPS, generator=gen)
    seconds = time.perf_counter() - start
    classifier = load_classifier(
        out_dir / "digits_classifier.pt"
        if (out_dir / "digits_classifier.pt").is_file()
        else checkpoint_path("digits_classifier")
    )

    def to_16(images: torch.Tensor) -> torch.Tensor:  # the classifier's 16×16 canvas on [0, 1]
        return torch.nn.functional.pad((images + 1) / 2, (4, 4, 4, 4))

    quality = {
        "test_bpd": bpd.mean().item(),
        "test_bpd_se": (bpd.std() / len(bpd) ** 0.5).item(),
        "n_test": len(te),
        "n_repeats": DIGITS_REPEATS,
        "parts_nats": dict(parts),
        "fid": digits_fid(to_16(x), to_16(te), classifier),
        "n_samples": DIGITS_SAMPLES,
        "reference": f"test split ({len(te)} images)",
        "nfe": ema.nfe(DIGITS_STEPS),
        "s_per_1000": 1000 * seconds / DIGITS_SAMPLES,
        "eval_seed": EVAL_SEED,
        "sampler": "VDM ancestral sampler with DiffEnc's Eq. 17 counter-term, argmax decoder",
    }
    meta = common_meta(
        name,
        {
            "kind": "dinof_lite.data.load_digits",
            "split": "train",
            "data_range": [-1.0, 1.0],
            "n_bins": DIGITS_N_BINS,
        },
        config,
        result,
        args,
    )
    meta.update(diffenc_config=dataclasses.asdict(ema.config), quality=quality)
    path = save_diffenc(out_dir / f"{name}.pt", ema, meta)
    metrics = {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        "test bpd": quality["test_bpd"],
        "FID": quality["fid"],
    }
    return path, metrics


def recipes(
    **helpers: Callable,
) -> dict[str, Callable[[str, argparse.Namespace, Path], tuple[Path, dict]]]:
    """The baseline recipes, ``name -> builder(name, args, out_dir)``, bound to ``helpers``
    (``train``, ``common_meta``, ``hyper_parameters`` of ``make_checkpoints``)."""
    return {
        "diffflow_8gaussians": functools.partial(build_diffflow, **helpers),
        "diffenc_8gaussians": functools.partial(build_diffenc, **helpers),
        "diffenc_digits": functools.partial(build_diffenc_digits, **helpers),
    }
