"""``train``, ``sample`` and ``eval`` sub-commands of ``python -m dinof_lite`` (see
:mod:`dinof_lite.cli`): each an ``add_arguments(parser)`` and a ``run(args) -> exit code``.

Errors a user can fix (unknown config, a run with a different config, T_m out of range, missing
data, a bad number or device, a workdir that is a file, read-only or locked by another run, a
damaged or foreign checkpoint, a full disk) end with ``error: ...`` and exit code 1, no
traceback (``python -m dinof_lite --debug ...`` shows it); every option is checked before
anything is written or computed. ``eval --fid`` without torch-fidelity prints how to install it
and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dinof_lite.precision import resolve_precision
from dinof_lite.train.config import NonFiniteLossError
from dinof_lite.train.lock import WorkdirLockedError
from dinof_lite.train.validation import (
    check_dir,
    check_writable,
    device_option,
    float_option,
    int_option,
)

#: exceptions that are the user's to fix: ``error: <message>``, exit 1, no traceback
USER_ERRORS = (ValueError, TypeError, OSError, WorkdirLockedError, NonFiniteLossError)

__all__ = [
    "USER_ERRORS",
    "train_arguments",
    "train_command",
    "sample_arguments",
    "sample_command",
    "eval_arguments",
    "eval_command",
]


def _fail(err: Exception) -> SystemExit:
    return SystemExit(f"error: {err}")


def _existing_run(workdir: str, *, writable: bool) -> Path:
    """``--workdir`` of sample / eval: an existing directory (writable when results go there)."""
    path = check_dir("--workdir", workdir, must_exist=False)
    if not path.exists():
        raise FileNotFoundError(
            f"--workdir {path} does not exist; give a run written by "
            f"`python -m dinof_lite train --config NAME --workdir {path}`"
        )
    if writable:
        check_writable("--workdir", path)
        metrics = path / "metrics.jsonl"
        if metrics.exists() and not os.access(metrics, os.W_OK):
            raise PermissionError(
                f"--workdir {path}: {metrics} is not writable; fix its permissions"
            )
    return path


def _output_file(option: str, path) -> Path:
    """A file to write: not a directory, in a directory that exists or can be created."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path} is a directory; give a file name")
    check_writable(option, path.parent)
    return path


# --------------------------------------------------------------------------- train
DEVICE_HELP = "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps"


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
        help="the precision policy's bf16: score network in bf16, flow, likelihoods, SDE and "
        "sampler state in float32 (default: on for CUDA, off otherwise)",
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
        break_lock=args.break_lock,
    )
    try:
        summary = train_run(opts)
    except USER_ERRORS as err:
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
        type=float_option(min=0, max=1, min_open=True),
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
        help="also write all samples as uint8 arr_0 (N, H, W, C) to PATH "
        "(default: DIR/samples_T_m{T_m}_n{n}.npz)",
    )
    p.add_argument("--device", type=device_option, default="auto", help=DEVICE_HELP)


def sample_command(args: argparse.Namespace) -> int:
    from dinof_lite.experiment.run import load_run
    from dinof_lite.experiment.sample import sample_run

    try:
        # files go to DIR unless both --out and --npz PATH say otherwise
        into_dir = args.out is None or args.npz == ""
        workdir = _existing_run(args.workdir, writable=into_dir)
        for option, path in (("--out", args.out), ("--npz", args.npz)):
            if path:
                _output_file(option, path)
        cfg, model = load_run(workdir, args.device)
        T_m = model.resolve_T_m(args.T_m)
        grid = args.out or workdir / "samples" / f"T_m{T_m:g}.png"
        npz = None
        if args.npz is not None:
            npz = args.npz or workdir / f"samples_T_m{T_m:g}_n{args.n}.npz"
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
    except USER_ERRORS as err:
        raise _fail(err) from err
    print(json.dumps(info))
    return 0


# --------------------------------------------------------------------------- eval
def eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", required=True, metavar="DIR", help="a run written by `train`")
    p.add_argument(
        "--n-bpd", type=int_option(min=0), default=256, help="test images for bits/dim (0: skip)"
    )
    p.add_argument(
        "--T_m", "--tm", dest="T_m", type=float_option(min=0, max=1, min_open=True), default=None
    )
    p.add_argument(
        "--batch-size", type=int_option(min=1), default=64, help="images per ODE batch (64)"
    )
    p.add_argument(
        "--rtol",
        type=float_option(min=0, max=1, min_open=True),
        default=1e-5,
        help="ODE solver tolerances, in (0, 1] (rtol = atol)",
    )
    p.add_argument("--fid", action="store_true", help="also FID and IS (needs the fid extra)")
    p.add_argument("--n-fid", type=int_option(min=2), default=50_000, help="samples for FID / IS")
    p.add_argument(
        "--chunk", type=int_option(min=1), default=256, help="sampling chunk for FID samples"
    )
    p.add_argument("--seed", type=int_option(min=0), default=0)
    p.add_argument("--device", type=device_option, default="auto", help=DEVICE_HELP)


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
    if args.n_bpd == 0 and not args.fid:
        raise _fail(
            ValueError("--n-bpd 0 and no --fid: nothing to evaluate; give --n-bpd N >= 1 or --fid")
        )
    try:
        # the record is appended to DIR/metrics.jsonl: check that before computing anything
        workdir = _existing_run(args.workdir, writable=True)
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
            device = next(model.parameters()).device
            if not npz.exists():
                sample_run(
                    model,
                    cfg,
                    args.n_fid,
                    T_m=T_m,
                    chunk=args.chunk,
                    seed=args.seed,
                    npz=npz,
                    precision=resolve_precision(None, device),
                )
            record.update(evaluate_fid(npz, test, device=device))
        record["step"] = _checkpoint_step(workdir)
    except FidUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except USER_ERRORS as err:
        raise _fail(err) from err
    print(json.dumps(record))  # printed first: a failure to append below loses nothing
    try:
        append_metrics(workdir, record)
    except OSError as err:
        raise _fail(
            OSError(f"could not append the record above to {workdir}/metrics.jsonl: {err}")
        ) from err
    return 0


def _checkpoint_step(workdir: Path) -> int:
    from dinof_lite.train.checkpoint import load_checkpoint

    return int(load_checkpoint(workdir)["step"])
