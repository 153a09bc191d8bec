"""``python -m dinof_lite trial``: ``train``'s flags (``--steps`` 200 by default) plus the
evaluation's; runs :func:`~dinof_lite.experiment.trial.trial` and prints its record as JSON."""

from __future__ import annotations

import argparse
import json

from dinof_lite.cli.options import float_option, int_option
from dinof_lite.cli.train import to_train_options, train_options

__all__ = ["arguments", "run"]


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite trial``: :func:`~dinof_lite.cli.train.train_options`
    (``--steps`` 200 by default) and the evaluation's."""
    train_options(p)
    p.set_defaults(steps=200)
    p.add_argument(
        "--n-eval",
        type=int_option(min=2),
        default=64,
        help="test images for bits/dim and samples for the FID (64)",
    )
    p.add_argument(
        "--rtol",
        type=float_option(min=0, max=1, min_open=True),
        default=1e-5,
        help="ODE tolerances of the bits/dim (rtol = atol; 1e-5)",
    )
    p.add_argument("--no-fid", action="store_true", help="skip sampling and the FID")


def run(args: argparse.Namespace) -> int:
    """Train and measure (:func:`~dinof_lite.experiment.trial.trial`), print the record."""
    from dinof_lite.experiment.trial import trial

    record = trial(to_train_options(args), n_eval=args.n_eval, rtol=args.rtol, fid=not args.no_fid)
    print(json.dumps(record))
    return 0
