"""``train``, ``sample`` and ``eval`` sub-commands of ``python -m dinof_lite`` (see
:mod:`dinof_lite.cli`): each an ``add_arguments(parser)`` and a ``run(args) -> exit code``.

Errors a user can fix (unknown config, a run with a different config, T_m out of range, missing
data) end with ``error: ...`` and exit code 1, no traceback; ``eval --fid`` without
torch-fidelity prints how to install it and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = [
    "train_arguments",
    "train_command",
    "sample_arguments",
    "sample_command",
    "eval_arguments",
    "eval_command",
]


def _fail(err: Exception) -> SystemExit:
    return SystemExit(f"error: {err}")


# --------------------------------------------------------------------------- train
def train_arguments(p: argparse.ArgumentParser) -> None:
    from dinof_lite.experiment.configs import config_names

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
        "--steps", type=int, default=None, help="total training steps (default: config's)"
    )
    p.add_argument("--seed", type=int, default=None, help="training seed (default: config's)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, ...")
    p.add_argument("--compile", action="store_true", help="torch.compile the score network")
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast of the loss (default: on for CUDA, off otherwise)",
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


def train_command(args: argparse.Namespace) -> int:
    from dinof_lite.experiment.run import TrainOptions, train_run

    opts = TrainOptions(
        config=args.config,
        workdir=args.workdir,
        steps=args.steps,
        seed=args.seed,
        device=args.device,
        compile=args.compile,
        amp=args.amp,
        fake_data=args.fake_data,
        data_root=args.data_root,
        progress=not args.no_progress,
        rank_report=args.rank_report,
    )
    try:
        summary = train_run(opts)
    except (ValueError, FileNotFoundError) as err:
        raise _fail(err) from err
    if summary["rank"] == 0:
        print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------- sample
def sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", required=True, metavar="DIR", help="a run written by `train`")
    p.add_argument(
        "--T_m",
        "--tm",
        dest="T_m",
        type=float,
        default=None,
        help="hand-over time (default: the config's T_m)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=64,
        help="number of samples (default: 64); without --npz only the grid's are drawn",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="grid PNG of the first <= 64 samples (default: DIR/samples/T_m{T_m}.png)",
    )
    p.add_argument("--chunk", type=int, default=256, help="samples drawn at a time (default: 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--npz",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="also write all samples as uint8 arr_0 (N, H, W, C) to PATH "
        "(default: DIR/samples_T_m{T_m}_n{n}.npz)",
    )
    p.add_argument("--device", default="auto")


def sample_command(args: argparse.Namespace) -> int:
    from dinof_lite.experiment.run import load_run
    from dinof_lite.experiment.sample import sample_run

    try:
        cfg, model = load_run(args.workdir, args.device)
        T_m = model.resolve_T_m(args.T_m)
        workdir = Path(args.workdir)
        grid = args.out or workdir / "samples" / f"T_m{T_m:g}.png"
        npz = None
        if args.npz is not None:
            npz = args.npz or workdir / f"samples_T_m{T_m:g}_n{args.n}.npz"
        info = sample_run(
            model, cfg, args.n, T_m=T_m, chunk=args.chunk, seed=args.seed, grid=grid, npz=npz
        )
    except (ValueError, FileNotFoundError) as err:
        raise _fail(err) from err
    print(json.dumps(info))
    return 0


# --------------------------------------------------------------------------- eval
def eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", required=True, metavar="DIR", help="a run written by `train`")
    p.add_argument("--n-bpd", type=int, default=256, help="test images for bits/dim (0: skip)")
    p.add_argument("--T_m", "--tm", dest="T_m", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rtol", type=float, default=1e-5, help="ODE solver tolerances (rtol = atol)")
    p.add_argument("--fid", action="store_true", help="also FID and IS (needs the fid extra)")
    p.add_argument("--n-fid", type=int, default=50_000, help="samples for FID / IS")
    p.add_argument("--chunk", type=int, default=256, help="sampling chunk for FID samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")


def eval_command(args: argparse.Namespace) -> int:
    from dinof_lite.experiment.data import experiment_dataset
    from dinof_lite.experiment.evaluate import FidUnavailable, evaluate_bpd, evaluate_fid
    from dinof_lite.experiment.run import append_metrics, load_run, load_run_options
    from dinof_lite.experiment.sample import sample_run

    if args.fid:  # fail fast, before any long computation
        try:
            import torch_fidelity  # noqa: F401
        except ImportError:
            from dinof_lite.experiment.evaluate import FID_HELP

            print(f"error: {FID_HELP}", file=sys.stderr)
            return 2
    workdir = Path(args.workdir)
    try:
        cfg, model = load_run(workdir, args.device)
        T_m = model.resolve_T_m(args.T_m)
        meta = load_run_options(workdir)
        test = experiment_dataset(
            cfg, "test", fake=meta.get("fake_data", False), root=meta.get("data_root")
        )
        record: dict = {"eval": True, "T_m": T_m}
        if args.n_bpd > 0:
            record.update(
                evaluate_bpd(
                    model,
                    cfg,
                    test,
                    n=args.n_bpd,
                    batch_size=args.batch_size,
                    seed=args.seed,
                    T_m=T_m,
                    rtol=args.rtol,
                    atol=args.rtol,
                )
            )
        if args.fid:
            npz = workdir / f"samples_T_m{T_m:g}_n{args.n_fid}.npz"
            if not npz.exists():
                sample_run(
                    model, cfg, args.n_fid, T_m=T_m, chunk=args.chunk, seed=args.seed, npz=npz
                )
            device = next(model.parameters()).device
            record.update(evaluate_fid(npz, test, device=device))
    except FidUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        raise _fail(err) from err
    ckpt_step = _checkpoint_step(workdir)
    record["step"] = ckpt_step
    append_metrics(workdir, record)
    print(json.dumps(record))
    return 0


def _checkpoint_step(workdir: Path) -> int:
    from dinof_lite.train.checkpoint import load_checkpoint

    return int(load_checkpoint(workdir)["step"])
