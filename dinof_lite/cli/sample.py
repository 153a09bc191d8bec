"""``python -m dinof_lite sample``: samples of a trained run in chunks — a grid PNG of the first
<= 64 and optionally all of them as a uint8 ``.npz`` for FID tools
(:func:`~dinof_lite.experiment.sample.sample_run`). Prints a JSON record whose ``grid`` and
``npz`` are the files written."""

from __future__ import annotations

import argparse
import json

from dinof_lite.cli.options import (
    DEVICE_HELP,
    T_M,
    device_option,
    existing_run,
    image_file,
    int_option,
    output_file,
)

__all__ = ["arguments", "run"]


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite sample``."""
    p.add_argument("--workdir", required=True, metavar="DIR", help="a run written by `train`")
    p.add_argument(
        "--T_m",
        "--tm",
        dest="T_m",
        type=T_M,
        default=None,
        help="hand-over time (default: the config's T_m)",
    )
    p.add_argument(
        "--n",
        type=int_option(min=1),
        default=64,
        help="number of samples (default: 64); without --npz only the grid's are drawn",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="grid PNG of the first <= 64 samples (default: DIR/samples/T_m{T_m}.png)",
    )
    p.add_argument(
        "--chunk", type=int_option(min=1), default=256, help="samples drawn at a time (256)"
    )
    p.add_argument("--seed", type=int_option(min=0), default=0)
    p.add_argument(
        "--npz",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="also write all samples as uint8 arr_0 (N, H, W, C) to PATH, .npz appended if "
        "missing (default: DIR/samples_T_m{T_m}_n{n}.npz)",
    )
    p.add_argument("--device", type=device_option, default="auto", help=DEVICE_HELP)


def run(args: argparse.Namespace) -> int:
    """Check the paths, sample the run, print the record (``grid``, ``npz``: the files written)."""
    from dinof_lite.experiment.run import load_run
    from dinof_lite.experiment.sample import npz_path, sample_run
    from dinof_lite.precision import resolve_precision

    # files go to DIR unless both --out and --npz PATH say otherwise
    into_dir = args.out is None or args.npz == ""
    workdir = existing_run(args.workdir, writable=into_dir)
    grid = None if args.out is None else image_file("--out", args.out)
    npz = output_file("--npz", npz_path(args.npz)) if args.npz else None
    cfg, model = load_run(workdir, args.device)
    T_m = model.resolve_T_m(args.T_m)
    grid = grid or workdir / "samples" / f"T_m{T_m:g}.png"
    if args.npz == "":
        npz = workdir / f"samples_T_m{T_m:g}_n{args.n}.npz"
    precision = resolve_precision(None, next(model.parameters()).device)
    info = sample_run(
        model,
        cfg,
        args.n,
        T_m=T_m,
        chunk=args.chunk,
        seed=args.seed,
        grid=grid,
        npz=npz,
        precision=precision,
    )
    info["precision"] = precision.mode
    print(json.dumps(info))
    return 0
