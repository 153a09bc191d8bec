"""``python -m dinof_lite eval``: bits/dim of the test split (and FID / IS with ``--fid``) of a
trained run (:mod:`dinof_lite.experiment.evaluate`), printed as JSON and appended to
``DIR/metrics.jsonl``. ``--fid`` without torch-fidelity prints how to install it and exits 2."""

from __future__ import annotations

import argparse
import json
import sys

from dinof_lite.cli.options import (
    DEVICE_HELP,
    T_M,
    device_option,
    existing_run,
    float_option,
    int_option,
)

__all__ = ["arguments", "run"]


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite eval``."""
    p.add_argument("--workdir", required=True, metavar="DIR", help="a run written by `train`")
    p.add_argument(
        "--n-bpd", type=int_option(min=0), default=256, help="test images for bits/dim (0: skip)"
    )
    p.add_argument("--T_m", "--tm", dest="T_m", type=T_M, default=None)
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


def run(args: argparse.Namespace) -> int:
    """Evaluate the run, print the record and append it to ``DIR/metrics.jsonl``."""
    from dinof_lite.experiment.evaluate import FID_HELP, FidUnavailable

    if args.fid:  # fail fast, before any long computation
        try:
            import torch_fidelity  # noqa: F401
        except ImportError:
            print(f"error: {FID_HELP}", file=sys.stderr)
            return 2
    if args.n_bpd == 0 and not args.fid:
        raise ValueError(
            "--n-bpd 0 and no --fid: nothing to evaluate; give --n-bpd N >= 1 or --fid"
        )
    # the record is appended to DIR/metrics.jsonl: check that before computing anything
    workdir = existing_run(args.workdir, writable=True)
    try:
        record = _evaluate(args, workdir)
    except FidUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(record))  # printed first: a failure to append below loses nothing
    from dinof_lite.experiment.run import append_metrics

    try:
        append_metrics(workdir, record)
    except OSError as err:
        raise OSError(
            f"could not append the record above to {workdir}/metrics.jsonl: {err}"
        ) from err
    return 0


def _evaluate(args: argparse.Namespace, workdir) -> dict:
    from dinof_lite.experiment.data import experiment_dataset
    from dinof_lite.experiment.evaluate import evaluate_bpd, evaluate_fid
    from dinof_lite.experiment.run import load_run, load_run_options
    from dinof_lite.experiment.sample import sample_run
    from dinof_lite.precision import resolve_precision
    from dinof_lite.train.checkpoint import load_checkpoint

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
    record["step"] = int(load_checkpoint(workdir)["step"])
    return record
