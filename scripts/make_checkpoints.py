"""Train the small models the notebooks load, and write ``data/checkpoints/*.pt``.

Usage (from the repository root; 1–5 minutes per model on one CPU thread)::

    python scripts/make_checkpoints.py                          # every model
    python scripts/make_checkpoints.py --only score_mlp_8gaussians_vp glow_digits
    python scripts/make_checkpoints.py --steps 200 --out-dir /tmp/ckpt   # a quick try
    python scripts/make_checkpoints.py --only dinof_8gaussians_vp --threads 1

Every model is trained with the library's :class:`~dinof_lite.train.Trainer` (one Adam, linear
warm-up, gradient-norm clip 1.0, EMA) and the file keeps the EMA weights. Each recipe family has
its own default hyper-parameters (:data:`DEFAULTS`); a command-line flag, when given, overrides
them for every recipe it applies to.

* ``score_mlp_8gaussians_{vp,ve}``: a :class:`~dinof_lite.nets.ScoreMLP` trained on
  :func:`~dinof_lite.losses.dsm_loss` (unweighted DSM, λ(t) = s(t)²) on fresh samples of the exact
  8-Gaussians mixture every step; meta holds the score error against the exact oracle.
* ``glow_{8gaussians,moons}``: a vector :class:`~dinof_lite.flows.Glow` (1 level × 8 steps)
  trained by maximum likelihood (mean NLL in nats) on fresh samples every step; meta holds the
  test NLL on 20k fresh samples (and, for the mixture, its exact entropy, the floor of any NLL).
* ``glow_digits``: an image Glow (1×8×8, 2 levels × 8 steps) trained on the mean bits/dim of the
  uniformly dequantised train split of sklearn's digits on [0, 1]; meta holds train and test bpd.
* ``dinof_8gaussians_vp{,_tm03}``, ``dinof_8gaussians_vp_anytm`` (:mod:`dinof_recipes`, families
  ``dinof`` / ``dinof_anytm``): a :class:`~dinof_lite.dinof.DiNof` (ScoreMLP + vector Glow) on the
  VP SDE, trained with :func:`~dinof_lite.dinof.training_loss` on fresh mixture samples at
  T_m = 0.6, T_m = 0.3, or any T_m ∈ [0.1, 1] (conditional flow, default 0.6); meta holds, for each
  T_m served, MMD / sliced W2 / mixture NLL of 4000 samples and the exact NLL of 1000 fresh points
  next to the entropy (any-T_m: also the plain-diffusion baseline from p_T).
* ``digits_classifier``, ``dinof_digits`` (:mod:`digits_recipe`): the CNN behind the FID-style
  score of :mod:`dinof_lite.evaluation.digits_fid` (meta: test accuracy), and the ``digits_cpu`` any-T_m
  DiNof (UNet + image Glow, VE) with its FID-style score per T_m, the PC baseline's and test bpd.
* ``diffflow_8gaussians`` (:mod:`baseline_recipes`, family ``diffflow``): a
  :class:`~dinof_lite.baselines.diffflow.DiffFlow` in the authors' 2D configuration on its
  trajectory loss; meta holds MMD², sliced W2, NFE, s/1000 samples, the NLL bound and ODE NLL
  next to the entropy.
* ``diffenc_8gaussians``, ``diffenc_digits`` (:mod:`baseline_recipes`, families ``diffenc``,
  ``diffenc_digits``): a :class:`~dinof_lite.baselines.diffenc.DiffEnc` with the trainable encoder
  on its variational bound; meta holds MMD², sliced W2, NFE, s/1000 samples and the bound next to
  the entropy (8gaussians), or test bits/dim and the FID-style score (8×8 digits).

The files also keep the constructor arguments, the training config, a down-sampled loss curve and
the provenance (this script, its command line, library and torch versions) — see
:mod:`dinof_lite.pretrained`.
"""

from __future__ import annotations

import argparse
import functools
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "scripts"):  # a clone without `pip install -e .`; dinof_recipes
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import baseline_recipes  # noqa: E402
import digits_recipe  # noqa: E402
import dinof_recipes  # noqa: E402

import dinof_lite  # noqa: E402
from dinof_lite.data import DIGITS_N_BINS, load_digits, toy  # noqa: E402
from dinof_lite.data.quantize import dequantize  # noqa: E402
from dinof_lite.data.toy import GaussianMixture  # noqa: E402
from dinof_lite.flows import Glow  # noqa: E402
from dinof_lite.losses import dsm_loss, get_score_fn  # noqa: E402
from dinof_lite.nets import ScoreMLP  # noqa: E402
from dinof_lite.pretrained import KNOWN_MODELS, checkpoint_dir, save_flow, save_score_model  # noqa: E402
from dinof_lite.sde import get_sde  # noqa: E402
from dinof_lite.train import TrainConfig, Trainer  # noqa: E402
from dinof_lite.viz.diagnostics import score_error  # noqa: E402

#: Per-family default hyper-parameters; the command-line flags of the same name override them.
DEFAULTS: dict[str, dict] = {
    "score": {
        "steps": 8000,
        "batch_size": 512,
        "lr": 2e-3,
        "warmup": 200,
        "weight_decay": 0.0,
        "ema": 0.999,
        "hidden": 128,
        "n_layers": 3,
    },
    "glow_2d": {
        "steps": 8000,
        "batch_size": 512,
        "lr": 2e-3,
        "warmup": 200,
        "weight_decay": 0.0,
        "ema": 0.999,
        "hidden": 64,
        "levels": 1,
        "flow_steps": 8,
    },
    # 1500 training images over-fit fast (test bpd rises after ~2k steps without weight decay)
    "glow_digits": {
        "steps": 3000,
        "batch_size": 128,
        "lr": 2e-3,
        "warmup": 200,
        "weight_decay": 3e-4,
        "ema": 0.998,
        "hidden": 64,
        "levels": 2,
        "flow_steps": 8,
    },
    **dinof_recipes.DEFAULTS,
    **digits_recipe.DEFAULTS,
    **baseline_recipes.DEFAULTS,
}
LOSS_BIN = 20  # the stored loss curve averages the per-step losses over bins of this many steps
EVAL_SEED = 12345  # generator of every evaluation draw (test samples, dequantisation noise)
N_TEST = 20_000  # fresh test samples for the 2D models
INIT_BATCH = 4096  # ActNorm's data-dependent initialisation sees this many 2D samples
DIGITS_RANGE = (0.0, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=sorted(RECIPES), help="models to (re)build")
    p.add_argument("--out-dir", type=Path, default=None, help="default: data/checkpoints")
    p.add_argument("--steps", type=int, help="training updates")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=int)
    p.add_argument("--weight-decay", type=float, help="Adam's L2 weight decay")
    p.add_argument("--ema", type=float, help="EMA decay")
    p.add_argument("--hidden", type=int, help="hidden width (score MLP, Glow couplings)")
    p.add_argument("--n-layers", type=int, help="residual blocks (score models)")
    p.add_argument("--levels", type=int, help="Glow levels L")
    p.add_argument("--flow-steps", type=int, help="Glow steps of flow K per level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def hyper_parameters(family: str, args: argparse.Namespace) -> dict:
    """The family's :data:`DEFAULTS`, overridden by the flags given on the command line."""
    return {
        k: v if getattr(args, k) is None else getattr(args, k) for k, v in DEFAULTS[family].items()
    }


def binned(losses: list[float], width: int) -> tuple[list[int], list[float]]:
    """Mean loss over consecutive bins of ``width`` steps: (last step of each bin, mean)."""
    steps, means = [], []
    for start in range(0, len(losses), width):
        chunk = losses[start : start + width]
        steps.append(start + len(chunk))
        means.append(sum(chunk) / len(chunk))
    return steps, means


def train(model, loss_fn, data, hp: dict, args: argparse.Namespace):
    """Fit ``model`` with the :class:`Trainer`: ``(config, result, EMA model in eval mode)``."""
    config = TrainConfig(
        n_steps=hp["steps"],
        batch_size=hp["batch_size"],
        lr=hp["lr"],
        warmup=hp["warmup"],
        weight_decay=hp["weight_decay"],
        grad_clip=1.0,
        ema_decay=hp["ema"],
        seed=args.seed,
        device="cpu",
        log_every=100,
        ckpt_every=None,
        progress=not args.no_progress,
    )
    trainer = Trainer(model, loss_fn, data, config, workdir=None)
    result = trainer.fit()
    return config, result, trainer.ema_model.module.eval()


def common_meta(name: str, dataset: dict, config: TrainConfig, result, args) -> dict:
    """Meta keys every recipe writes: dataset, training config and curve, provenance."""
    loss_steps, loss_means = binned(result.losses, LOSS_BIN)
    return {
        "name": name,
        "description": KNOWN_MODELS.get(name, ""),
        "dataset": dataset,
        "train_config": config.to_dict(),
        "train_steps": result.step,
        "train_time_s": round(result.wall_time, 1),
        "final_loss": result.final_loss,
        "loss_curve": {"bin": LOSS_BIN, "steps": loss_steps, "loss": loss_means},
        "provenance": {
            "script": "scripts/make_checkpoints.py",
            "command": "python " + shlex.join(["scripts/make_checkpoints.py", *args.argv]),
            "dinof_lite_version": dinof_lite.__version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "threads": torch.get_num_threads(),
        },
    }


def build_score(
    name: str, args: argparse.Namespace, out_dir: Path, *, sde_name: str, sde_kwargs: dict
) -> tuple[Path, dict]:
    """A ScoreMLP on 8gaussians for the SDE ``sde_name``; metric: score error vs the oracle."""
    hp = hyper_parameters("score", args)
    sde = get_sde(sde_name, **sde_kwargs)
    gmm = GaussianMixture.preset("8gaussians")
    torch.manual_seed(args.seed)
    net_kwargs = {"dim": 2, "hidden": hp["hidden"], "n_layers": hp["n_layers"]}
    net = ScoreMLP.for_sde(sde, **net_kwargs)
    net_kwargs["embedding"] = sde.default_embedding
    net_kwargs["emb_dim"] = net.temb[0].in_features

    def loss_fn(model, x0, generator):
        return dsm_loss(sde, get_score_fn(sde, model), x0, generator=generator)

    def data(batch_size, generator):  # fresh samples of the exact mixture: no over-fitting
        return gmm.sample(batch_size, generator)

    config, result, ema = train(net, loss_fn, data, hp, args)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    err = score_error(
        sde,
        get_score_fn(sde, ema),
        gmm.score_fn(sde),
        gmm.sample(N_TEST, gen),
        t_range=(0.05, 1.0),
        generator=gen,
    )
    meta = common_meta(
        name, {"kind": "GaussianMixture.preset", "name": "8gaussians"}, config, result, args
    )
    meta["score_error"] = {
        "t_range": [0.05, 1.0],
        "n": N_TEST,
        "value": err,
        "definition": "E_{t~U(0.05,1), x_t}[s(t)^2 ||score - oracle||^2]",
    }
    path = save_score_model(out_dir / f"{name}.pt", sde, ema, meta, net_kwargs=net_kwargs)
    return path, {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        "score error E[s^2|score-oracle|^2]": err,
    }


def build_glow_2d(
    name: str, args: argparse.Namespace, out_dir: Path, *, dataset: str
) -> tuple[Path, dict]:
    """A vector Glow on the toy ``dataset`` by maximum likelihood; metric: test NLL (nats)."""
    hp = hyper_parameters("glow_2d", args)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    if dataset == "8gaussians":
        gmm = GaussianMixture.preset(dataset)
        data = gmm.sample  # (n, generator) -> (n, 2): fresh samples of the exact mixture
        test = gmm.sample(N_TEST, gen)
        info = {"kind": "GaussianMixture.preset", "name": dataset}
    else:  # toy.sample takes an int seed: draw one per batch from the trainer's generator

        def data(batch_size, generator):
            seed = int(torch.randint(2**31 - 1, (), generator=generator))
            return toy.sample(dataset, batch_size, seed=seed)

        test = toy.sample(dataset, N_TEST, seed=EVAL_SEED)
        info = {
            "kind": "dinof_lite.data.toy.sample",
            "name": dataset,
            "train": "fresh samples, seed drawn per batch",
            "test_seed": EVAL_SEED,
        }
    torch.manual_seed(args.seed)
    flow = Glow((2,), levels=hp["levels"], steps=hp["flow_steps"], hidden=hp["hidden"])
    with torch.no_grad():  # ActNorm's data-dependent initialisation, on a large batch
        flow(data(INIT_BATCH, torch.Generator().manual_seed(args.seed + 1)))

    def loss_fn(model, x0, generator):  # mean negative log-likelihood, nats
        return -model.log_prob(x0).mean()

    config, result, ema = train(flow, loss_fn, data, hp, args)
    with torch.no_grad():
        nll = -ema.log_prob(test)
    meta = common_meta(name, info, config, result, args)
    meta["test_nll"] = nll.mean().item()
    meta["test_nll_se"] = (nll.std() / N_TEST**0.5).item()
    meta["n_test"] = N_TEST
    metrics = {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        "test NLL": meta["test_nll"],
    }
    if dataset == "8gaussians":
        meta["entropy"] = gmm.entropy(200_000, gen)
        metrics["entropy"] = meta["entropy"]
    return save_flow(out_dir / f"{name}.pt", ema, meta), metrics


def mean_bpd(flow: Glow, x: torch.Tensor, generator: torch.Generator, draws: int = 4) -> float:
    """Bits/dim of ``x`` averaged over the images and ``draws`` dequantisations."""
    with torch.no_grad():
        return (
            sum(
                flow.bits_per_dim(
                    x, n_bins=DIGITS_N_BINS, data_range=DIGITS_RANGE, generator=generator
                )
                .mean()
                .item()
                for _ in range(draws)
            )
            / draws
        )


def build_glow_digits(name: str, args: argparse.Namespace, out_dir: Path) -> tuple[Path, dict]:
    """An image Glow on the digits' train split, trained on bits/dim; metrics: train/test bpd."""
    hp = hyper_parameters("glow_digits", args)
    train_x = load_digits(data_range=DIGITS_RANGE, split="train")
    test_x = load_digits(data_range=DIGITS_RANGE, split="test")
    torch.manual_seed(args.seed)
    flow = Glow((1, 8, 8), levels=hp["levels"], steps=hp["flow_steps"], hidden=hp["hidden"])
    with torch.no_grad():  # ActNorm's initialisation on the whole (dequantised) train split
        flow(
            dequantize(
                train_x,
                n_bins=DIGITS_N_BINS,
                data_range=DIGITS_RANGE,
                generator=torch.Generator().manual_seed(args.seed + 1),
            )
        )

    def loss_fn(model, x0, generator):  # mean bits/dim of the uniformly dequantised batch
        return model.bits_per_dim(
            x0, n_bins=DIGITS_N_BINS, data_range=DIGITS_RANGE, generator=generator
        ).mean()

    config, result, ema = train(flow, loss_fn, train_x, hp, args)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    meta = common_meta(
        name,
        {
            "kind": "dinof_lite.data.load_digits",
            "split": "train",
            "n_train": len(train_x),
            "n_test": len(test_x),
            "data_range": list(DIGITS_RANGE),
        },
        config,
        result,
        args,
    )
    meta.update(
        n_bins=DIGITS_N_BINS,
        data_range=list(DIGITS_RANGE),
        train_bpd=mean_bpd(ema, train_x, gen),
        test_bpd=mean_bpd(ema, test_x, gen),
    )
    metrics = {
        "train s": result.wall_time,
        "final loss": result.final_loss,
        "train bpd": meta["train_bpd"],
        "test bpd": meta["test_bpd"],
    }
    return save_flow(out_dir / f"{name}.pt", ema, meta), metrics


#: name -> builder(name, args, out_dir) -> (path written, {metric: value}).
RECIPES: dict[str, Callable[[str, argparse.Namespace, Path], tuple[Path, dict]]] = {
    "score_mlp_8gaussians_vp": functools.partial(build_score, sde_name="vp", sde_kwargs={}),
    # VE uses σ_max = 10 ≈ the largest pairwise distance of the data.
    "score_mlp_8gaussians_ve": functools.partial(
        build_score, sde_name="ve", sde_kwargs={"sigma_max": 10.0}
    ),
    "glow_8gaussians": functools.partial(build_glow_2d, dataset="8gaussians"),
    "glow_moons": functools.partial(build_glow_2d, dataset="moons"),
    "glow_digits": build_glow_digits,
    **dinof_recipes.recipes(
        train=train, common_meta=common_meta, hyper_parameters=hyper_parameters
    ),
    **digits_recipe.recipes(
        train=train, common_meta=common_meta, hyper_parameters=hyper_parameters
    ),
    **baseline_recipes.recipes(
        train=train, common_meta=common_meta, hyper_parameters=hyper_parameters
    ),
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir = args.out_dir or checkpoint_dir()
    for name in args.only or sorted(RECIPES):
        t0 = time.perf_counter()
        path, metrics = RECIPES[name](name, args, out_dir)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        print(
            f"{name}: {path} ({path.stat().st_size / 1024:.0f} KiB), {shown} "
            f"(total {time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
