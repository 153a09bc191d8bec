"""``python -m dinof_lite train``: train (or resume) an image config in a workdir.

:func:`train_options` defines the flags of a training run once; ``trial`` adds its own to them.
The run itself is :func:`~dinof_lite.experiment.run.train_run` on a
:class:`~dinof_lite.experiment.run.TrainOptions`.
"""

from __future__ import annotations

import argparse
import json

from dinof_lite.cli.options import DEVICE_HELP, device_option, int_option

__all__ = ["arguments", "run", "train_options", "to_train_options"]


def train_options(p: argparse.ArgumentParser) -> None:
    """The flags of a training run, shared by ``train`` and ``trial``."""
    from dinof_lite.experiment.configs import config_names
    from dinof_lite.precision import TRAIN_PRECISIONS

    p.add_argument(
        "--config",
        required=True,
        metavar="NAME",
        help=f"experiment config: {', '.join(config_names())}",
    )
    p.add_argument(
        "--workdir",
        required=True,
        metavar="DIR",
        help="run directory (resumed if it holds checkpoint.pt)",
    )
    p.add_argument(
        "--steps",
        type=int_option(min=1),
        default=None,
        help="total training steps, >= 1 (default: config's)",
    )
    p.add_argument(
        "--seed", type=int_option(min=0), default=None, help="training seed (default: config's)"
    )
    p.add_argument("--device", type=device_option, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--break-lock",
        action="store_true",
        help="take over a DIR/.lock that only a record guards (a dinof_lite 0.2 run on another "
        "host, or no fcntl); a killed run's lock needs nothing (never a live run's)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the score network")
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the precision policy's half precision: score network in bf16 (fp16 with a "
        "gradient scaler on GPUs without native bf16: T4, V100), flow, likelihoods, SDE and "
        "sampler state in float32 (default: on for CUDA, off otherwise)",
    )
    p.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        default=None,
        help="choose the precision mode instead of --amp: float32, bf16 or fp16 (fp16 runs "
        "the T4 / V100 path, gradient scaler included, on any device)",
    )
    score = p.add_mutually_exclusive_group()
    score.add_argument(
        "--score",
        default=None,
        metavar="HUB_ID",
        help="train only the flow, on this published score network, frozen: a diffusers "
        "hub id or folder, e.g. google/ddpm-cifar10-32 (with --config cifar10_vp)",
    )
    score.add_argument(
        "--score-checkpoint",
        default=None,
        metavar="PATH",
        help="train only the flow, on the frozen network of this score_sde_pytorch "
        "checkpoint (its EMA weights)",
    )
    p.add_argument(
        "--score-config",
        default=None,
        metavar="NAME",
        help="the experiment config whose network --score-checkpoint holds (default: --config)",
    )
    p.add_argument(
        "--fake-data",
        action="store_true",
        help="train on seeded random images of the config's shape (smoke tests)",
    )
    p.add_argument("--data-root", default=None, metavar="DIR", help="where the datasets live")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--rank-report",
        action="store_true",
        help="debug: each rank writes DIR/rank{r}.json with digests of its weights",
    )


def to_train_options(args: argparse.Namespace):
    """The :class:`~dinof_lite.experiment.run.TrainOptions` of :func:`train_options`' flags."""
    from dinof_lite.experiment.run import TrainOptions

    return TrainOptions(
        config=args.config,
        workdir=args.workdir,
        steps=args.steps,
        seed=args.seed,
        device=args.device,
        compile=args.compile,
        amp=args.amp,
        precision=args.precision,
        score=args.score,
        score_checkpoint=args.score_checkpoint,
        score_config=args.score_config,
        fake_data=args.fake_data,
        data_root=args.data_root,
        progress=not args.no_progress,
        rank_report=args.rank_report,
        break_lock=args.break_lock,
    )


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite train``: exactly :func:`train_options`."""
    train_options(p)


def run(args: argparse.Namespace) -> int:
    """Train (or resume) the run, print its summary (rank 0)."""
    from dinof_lite.experiment.run import train_run

    summary = train_run(to_train_options(args))
    if summary["rank"] == 0:
        print(json.dumps(summary))
    return 0
