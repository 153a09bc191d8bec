"""``python -m dinof_lite demo``: an any-T_m DiNof on a 2D toy — its sampling journey, and quality
and speed against ``T_m`` next to the plain diffusion sampler. The options are here; the pipeline
is :mod:`dinof_lite.cli.demo.pipeline` (:func:`~dinof_lite.cli.demo.pipeline.run_demo` on a
:class:`~dinof_lite.cli.demo.pipeline.DemoConfig`)."""

from __future__ import annotations

import argparse

import torch

from dinof_lite.cli.demo.pipeline import (
    PRETRAINED,
    DemoConfig,
    dataset_names,
    render_markdown,
    run_demo,
)
from dinof_lite.cli.options import (
    DEVICE_HELP,
    T_M,
    device_option,
    float_option,
    int_option,
    output_file,
)

__all__ = [
    "DemoConfig",
    "PRETRAINED",
    "arguments",
    "dataset_names",
    "render_markdown",
    "run",
    "run_demo",
]


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite demo``."""
    names = dataset_names()
    p.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    p.add_argument(
        "--dataset",
        default="8gaussians",
        metavar="NAME",
        help=f"2D dataset: {', '.join(names)} (default: 8gaussians)",
    )
    from dinof_lite.sde import SDES  # every registered SDE, also one a user registered

    p.add_argument("--sde", default="vp", choices=tuple(SDES), help="forward SDE (default: vp)")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="load the shipped any-T_m model (8gaussians, vp) instead of training",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps (default 2500; 150 in smoke mode, i.e. with CI or DINOF_SMOKE set)",
    )
    p.add_argument(
        "--seed",
        type=int_option(min=0),
        default=0,
        help="seed for data, init, training and sampling",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--lr",
        type=float_option(min=0, min_open=True),
        default=2e-3,
        help="Adam learning rate (default: 2e-3)",
    )
    p.add_argument(
        "--hidden",
        type=int,
        default=64,
        help="ScoreMLP and Glow coupling width (default: 64)",
    )
    p.add_argument("--flow-steps", type=int, default=8, help="Glow steps, one level (8)")
    p.add_argument(
        "--tm-min",
        type=T_M,
        default=0.1,
        help="the model serves every T_m in [tm-min, T] (default: 0.1)",
    )
    p.add_argument(
        "--tm",
        type=T_M,
        default=0.3,
        help="T_m of journey.png (default: 0.3, where p_T_m is still far from Gaussian)",
    )
    p.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="samples per T_m in the study (default 1000; smoke 300)",
    )
    p.add_argument(
        "--sample-steps",
        type=int,
        default=None,
        help="steps of the whole reverse path [eps, T] (the baseline's; DiNof takes "
        "round(steps*T_m)); default 500, smoke 40",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per T_m, best kept, interleaved (default 2; smoke 1)",
    )
    p.add_argument(
        "--predictor",
        default=None,
        help="PC predictor: reverse_diffusion, euler_maruyama, ancestral, none (default: "
        "as the paper's configs, reverse_diffusion for ve, euler_maruyama for vp/subvp)",
    )
    p.add_argument(
        "--corrector",
        default=None,
        help="PC corrector: langevin or none (default: langevin for ve, none for vp/subvp)",
    )
    p.add_argument(
        "--snr",
        type=float_option(min=0, min_open=True),
        default=0.16,
        help="Langevin signal-to-noise ratio (0.16)",
    )
    p.add_argument("--device", type=device_option, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--threads",
        type=int_option(min=0),
        default=1,
        help="torch.set_num_threads (default 1: these tiny nets run fastest single-threaded, "
        "and far faster than multi-threaded on a busy CPU); 0 keeps torch's default",
    )
    p.add_argument(
        "--figure",
        default=None,
        metavar="PATH",
        help="also copy journey.png here (e.g. docs/figures/demo.png)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue training from OUT/checkpoint.pt instead of starting afresh",
    )
    p.add_argument(
        "--break-lock",
        action="store_true",
        help="take over an OUT/.lock that only a record guards (see train --break-lock)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    """Run the demo (:func:`~dinof_lite.cli.demo.pipeline.run_demo`), print its table and files."""
    if args.dataset not in dataset_names():
        raise SystemExit(
            f"error: unknown dataset {args.dataset!r}; valid: {', '.join(dataset_names())}"
        )
    if args.figure:
        output_file("--figure", args.figure)  # a directory would fail after the whole run
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = DemoConfig(
        out=args.out,
        dataset=args.dataset,
        sde=args.sde,
        pretrained=args.pretrained,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        flow_steps=args.flow_steps,
        tm_min=args.tm_min,
        T_m=args.tm,
        n_samples=args.n_samples,
        sample_steps=args.sample_steps,
        repeats=args.repeats,
        predictor=args.predictor,
        corrector=args.corrector,
        snr=args.snr,
        seed=args.seed,
        device=args.device,
        figure=args.figure,
        resume=args.resume,
        progress=not args.no_progress,
        break_lock=args.break_lock,
    )
    record = run_demo(cfg)
    print(render_markdown(record))
    for label, path in record["files"].items():
        print(f"{label:>12}: {path}")
    return 0
