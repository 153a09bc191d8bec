"""Digits recipes of ``scripts/make_checkpoints.py``: ``digits_classifier`` and ``dinof_digits``.

* ``digits_classifier``: the :class:`~dinof_lite.evaluation.digits_fid.DigitsClassifier` (16×16 digits
  on [0, 1]) trained by cross-entropy on the train split; meta holds its test accuracy. Its
  features define the FID-style score :func:`~dinof_lite.evaluation.digits_fid.digits_fid`.
* ``dinof_digits``: ``build_model(get_config("digits_cpu"))`` — any-T_m DiNof (tiny UNet + image
  Glow conditioned on ``T_m ∈ [0.1, 1]``, VE SDE) trained with
  :func:`~dinof_lite.dinof.training_loss` on the train split; the file keeps the EMA model and,
  in ``meta["quality"]``, the FID-style score of :data:`N_SAMPLES` samples at each of
  :data:`EVAL_T_MS` and of the plain PC baseline from ``p_T`` (same score network), against the
  test split, plus the test bits/dim of uniformly dequantised test images (joint likelihood,
  Hutchinson). Needs ``digits_classifier``.

As in :mod:`dinof_recipes`, :func:`recipes` takes ``make_checkpoints``' helpers as arguments.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from dinof_lite.data import load_image_dataset
from dinof_lite.data.quantize import dequantize
from dinof_lite.dinof import training_loss
from dinof_lite.evaluation.digits_fid import (
    DigitsClassifier,
    digits_fid,
    load_classifier,
    save_classifier,
)
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.pretrained import checkpoint_path, save_dinof
from dinof_lite.sampling import pc_sample

__all__ = [
    "DEFAULTS",
    "EVAL_T_MS",
    "recipes",
    "build_classifier",
    "build_dinof_digits",
    "sample_steps",
]

_TRAIN = get_config("digits_cpu").train
#: Per-family defaults (flags override them); ``dinof_digits`` follows the ``digits_cpu`` config.
DEFAULTS: dict[str, dict] = {
    "digits_classifier": {
        "steps": 2000,
        "batch_size": 128,
        "lr": 2e-3,
        "warmup": 50,
        "weight_decay": 1e-4,
        "ema": 0.99,
    },
    "dinof_digits": {
        "steps": _TRAIN.n_steps,
        "batch_size": _TRAIN.batch_size,
        "lr": _TRAIN.lr,
        "warmup": _TRAIN.warmup,
        "weight_decay": _TRAIN.weight_decay,
        "ema": _TRAIN.ema_decay,
    },
}
EVAL_T_MS = (0.3, 0.6, 1.0)
N_SAMPLES = 500  # samples per FID-style score (read at call time: tests may shrink it)
N_BPD = 200  # test images of the bits/dim
STEPS_PER_UNIT = (
    100  # reverse-SDE steps per unit time: round(100 T_m) (N = 1000 is too slow on a CPU)
)
BPD_TOL = 1e-3  # rtol = atol of the likelihood ODE
EVAL_SEED = 12345
DATA = {"data_range": (0.0, 1.0), "pad_to": 16}
SHIFT = 2  # classifier augmentation: random translations of up to this many pixels


def sample_steps(T_m: float) -> int:
    """Reverse-SDE predictor steps used for evaluation at ``T_m``: ``round(100 T_m)``."""
    return max(1, round(STEPS_PER_UNIT * T_m))


def build_classifier(
    name: str,
    args: argparse.Namespace,
    out_dir: Path,
    *,
    train: Callable,
    common_meta: Callable,
    hyper_parameters: Callable,
) -> tuple[Path, dict]:
    """The digits CNN by cross-entropy on the train split; metric: test accuracy."""
    hp = hyper_parameters("digits_classifier", args)
    tr = load_image_dataset("digits", split="train", **DATA)
    te = load_image_dataset("digits", split="test", **DATA)
    x_tr, x_te = tr.batch(torch.arange(len(tr))), te.batch(torch.arange(len(te)))
    # the Trainer draws rows of one tensor: pack (image pixels, label) per row
    packed = torch.cat([x_tr.flatten(1), torch.as_tensor(tr.labels).float()[:, None]], 1)

    def loss_fn(model, rows, generator):  # cross-entropy of the packed rows' labels
        x = rows[:, :-1].reshape(-1, 1, 16, 16)  # the 8×8 digit sits in a zero border of 4:
        dy, dx = torch.randint(-SHIFT, SHIFT + 1, (2,), generator=generator).tolist()
        x = torch.roll(x, (dy, dx), dims=(2, 3))  # shifting the batch by <= 2 pixels loses nothing
        return F.cross_entropy(model(x), rows[:, -1].long())

    torch.manual_seed(args.seed)
    config, result, ema = train(DigitsClassifier(), loss_fn, packed, hp, args)
    with torch.no_grad():
        acc = (ema(x_te).argmax(1) == torch.as_tensor(te.labels)).float().mean().item()
    meta = common_meta(
        name,
        {
            "kind": "load_image_dataset",
            "name": "digits",
            "split": "train",
            "pad_to": 16,
            "data_range": [0.0, 1.0],
            "n_train": len(tr),
            "n_test": len(te),
        },
        config,
        result,
        args,
    )
    meta["test_accuracy"] = acc
    path = save_classifier(out_dir / f"{name}.pt", ema, meta)
    return path, {"train s": result.wall_time, "final loss": result.final_loss, "test acc": acc}


def build_dinof_digits(
    name: str,
    args: argparse.Namespace,
    out_dir: Path,
    *,
    train: Callable,
    common_meta: Callable,
    hyper_parameters: Callable,
) -> tuple[Path, dict]:
    """``digits_cpu`` DiNof; metrics: FID-style score per ``T_m``, baseline's, test bits/dim."""
    hp = hyper_parameters("dinof_digits", args)
    classifier = load_classifier(
        out_dir / "digits_classifier.pt"
        if (out_dir / "digits_classifier.pt").is_file()
        else checkpoint_path("digits_classifier")
    )
    tr = load_image_dataset("digits", split="train", **DATA)
    te = load_image_dataset("digits", split="test", **DATA)
    torch.manual_seed(args.seed)
    model = build_model(get_config("digits_cpu"))
    config, result, ema = train(model, training_loss, tr.sampler, hp, args)
    ref = te.batch(torch.arange(len(te)))
    gen = torch.Generator().manual_seed(EVAL_SEED)
    rows = []
    for T_m in EVAL_T_MS:
        t0 = time.perf_counter()
        out = ema.sample_result(
            N_SAMPLES,
            T_m=T_m,
            n_steps=sample_steps(T_m),
            corrector="none",
            generator=gen,
        )
        rows.append(
            {
                "T_m": T_m,
                "n_steps": out.n_steps,
                "nfe": out.nfe,
                "time_s": round(time.perf_counter() - t0, 1),
                "fid": digits_fid(out.x, ref, classifier),
            }
        )
    t0 = time.perf_counter()
    x = pc_sample(
        ema.sde,
        ema.score_fn,
        (N_SAMPLES, *ema.dims),
        n_steps=sample_steps(1.0),
        predictor="reverse_diffusion",
        corrector="none",
        eps=ema.sample_eps,
        generator=gen,
    )
    base = {
        "sampler": f"reverse_diffusion from p_T, {sample_steps(1.0)} steps",
        "nfe": sample_steps(1.0),
        "time_s": round(time.perf_counter() - t0, 1),
        "fid": digits_fid(x, ref, classifier),
    }
    noise = digits_fid(torch.rand(N_SAMPLES, *ema.dims, generator=gen), ref, classifier)
    train_fid = digits_fid(tr.batch(torch.arange(len(tr))), ref, classifier)
    x_bpd = dequantize(ref[:N_BPD], n_bins=tr.n_bins, data_range=(0.0, 1.0), generator=gen)
    bpd = ema.bits_per_dim(
        x_bpd,
        n_bins=tr.n_bins,
        data_range=(0.0, 1.0),
        exact_divergence=False,
        generator=gen,
        rtol=BPD_TOL,
        atol=BPD_TOL,
    )
    bpd = bpd.detach()
    quality = {
        "n_samples": N_SAMPLES,
        "reference": f"test split ({len(te)} images)",
        "sampler": "reverse_diffusion, no corrector, round(100 T_m) steps",
        "per_T_m": rows,
        "baseline": base,
        "noise_fid": noise,
        "train_fid": train_fid,
        "test_bpd": bpd.mean().item(),
        "test_bpd_se": (bpd.std() / len(bpd) ** 0.5).item(),
        "bpd": {
            "n": len(bpd),
            "T_m": ema.T_m,
            "n_bins": tr.n_bins,
            "estimator": f"uniformly dequantised, Hutchinson, 1 probe, rtol=atol={BPD_TOL}",
        },
    }
    meta = common_meta(
        name,
        {
            "kind": "load_image_dataset",
            "name": "digits",
            "split": "train",
            "pad_to": 16,
            "data_range": [0.0, 1.0],
        },
        config,
        result,
        args,
    )
    meta.update(config="digits_cpu", experiment=get_config("digits_cpu").to_dict(), quality=quality)
    path = save_dinof(out_dir / f"{name}.pt", ema, meta)
    metrics = {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        **{f"FID@{r['T_m']}": r["fid"] for r in rows},
        "baseline FID": base["fid"],
        "noise FID": noise,
        "test bpd": quality["test_bpd"],
    }
    return path, metrics


def recipes(
    **helpers: Callable,
) -> dict[str, Callable[[str, argparse.Namespace, Path], tuple[Path, dict]]]:
    """The digits recipes, ``name -> builder(name, args, out_dir)``, bound to ``helpers``."""
    return {
        "digits_classifier": functools.partial(build_classifier, **helpers),
        "dinof_digits": functools.partial(build_dinof_digits, **helpers),
    }
