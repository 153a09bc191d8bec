"""Command-line interface: ``python -m dinof_lite <command> [options]``.

Commands are argparse sub-parsers registered in :data:`COMMANDS`; each has an ``add_arguments``
function (fills its sub-parser) and a ``run`` function (``argparse.Namespace -> exit code``).
To add a command (``bench``, ``train``, ``sample``, ``eval``, …) write those two functions and add
one entry to :data:`COMMANDS`.

Every error a user can fix — a bad option value (checked by argparse ``type=`` functions of
:mod:`dinof_lite.train.validation`: type, range, device, names), a path that is a file,
missing or read-only, a workdir locked by another run, a damaged or foreign checkpoint, a full
disk — ends with one line ``error: ...`` on stderr and exit status 1, no traceback;
``python -m dinof_lite --debug COMMAND ...`` shows the traceback too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dinof_lite import __version__

__all__ = ["COMMANDS", "Command", "Parser", "build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors (a bad value, an unknown option or name) end
    with ``error: ...`` and exit status 1, like every other error a user can fix."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        raise SystemExit(f"error: {self.prog}: {message}")  # printed to stderr, exit status 1


def _user_errors() -> tuple[type[BaseException], ...]:
    from dinof_lite.train.config import NonFiniteLossError
    from dinof_lite.train.lock import WorkdirLockedError

    return (ValueError, TypeError, OSError, WorkdirLockedError, NonFiniteLossError)


def _types():
    from dinof_lite.train import validation

    return validation


@dataclass(frozen=True)
class Command:
    """A sub-command: ``help`` line, ``add_arguments(parser)`` and ``run(args) -> exit code``."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


DEVICE_HELP = "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps"


# --------------------------------------------------------------------------- demo
def _demo_arguments(p: argparse.ArgumentParser) -> None:
    from dinof_lite.cli.demo import dataset_names  # light import: data.toy only

    names = dataset_names()
    v = _types()
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
        type=v.int_option(min=0),
        default=0,
        help="seed for data, init, training and sampling",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--lr",
        type=v.float_option(min=0, min_open=True),
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
        type=v.float_option(min=0, max=1, min_open=True),
        default=0.1,
        help="the model serves every T_m in [tm-min, T] (default: 0.1)",
    )
    p.add_argument(
        "--tm",
        type=v.float_option(min=0, max=1, min_open=True),
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
        type=v.float_option(min=0, min_open=True),
        default=0.16,
        help="Langevin signal-to-noise ratio (0.16)",
    )
    p.add_argument("--device", type=v.device_option, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--threads",
        type=v.int_option(min=0),
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


def _demo_run(args: argparse.Namespace) -> int:
    import torch

    from dinof_lite.cli.demo import DemoConfig, dataset_names, render_markdown, run_demo

    if args.dataset not in dataset_names():
        raise SystemExit(
            f"error: unknown dataset {args.dataset!r}; valid: {', '.join(dataset_names())}"
        )
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
    try:
        record = run_demo(cfg)
    except _user_errors() as err:  # bad options, missing checkpoint, locked out: no traceback
        raise SystemExit(f"error: {err}") from err
    print(render_markdown(record))
    for label, path in record["files"].items():
        print(f"{label:>12}: {path}")
    return 0


# --------------------------------------------------------------------------- bench
def _bench_arguments(p: argparse.ArgumentParser) -> None:
    from dinof_lite.cli.bench import BENCHMARKS

    v = _types()
    p.add_argument("name", metavar="NAME", help=f"benchmark: {', '.join(sorted(BENCHMARKS))}")
    p.add_argument("--device", type=v.device_option, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--repeats",
        type=v.int_option(min=1),
        default=5,
        help="timed calls per measurement (glow: median; sampling: best, interleaved)",
    )
    p.add_argument(
        "--size",
        default="full",
        choices=("full", "smoke"),
        help="full: the real configurations; smoke: tiny ones (seconds)",
    )
    p.add_argument(
        "--threads",
        type=v.int_option(min=0),
        default=0,
        help="torch.set_num_threads (0: torch's default)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="also write the rows as JSON")
    p.add_argument(
        "--model",
        default=None,
        metavar="NAME_OR_PATH",
        help="bench sampling: an any-T_m DiNof checkpoint (default: the shipped "
        "dinof_8gaussians_vp_anytm)",
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help="bench train: parameter, gradient, Adam, EMA and activation memory of the paper "
        "configs at their batch under the precision policy, and the GPUs they fit",
    )
    p.add_argument(
        "--paths",
        default=None,
        metavar="LIST",
        help="bench train: comma-separated execution paths timed beside eager "
        "(bf16, channels_last, compiled; default: all)",
    )


def _bench_run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from dinof_lite.cli.bench import run_benchmark
    from dinof_lite.utils import pick_device
    from dinof_lite.viz.diagnostics import format_table

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.json:
            _types().check_writable("--json", Path(args.json).parent)
        options = {} if args.model is None else {"model": args.model}
        if args.memory:
            options["memory"] = True
        if args.paths is not None:
            options["paths"] = tuple(p for p in args.paths.split(",") if p)
        rows = run_benchmark(
            args.name, device=args.device, repeats=args.repeats, size=args.size, **options
        )
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    print(
        f"bench {args.name} on {pick_device(args.device)} ({torch.get_num_threads()} threads), "
        f"{args.repeats} repeats:"
    )
    print(format_table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)
    return 0


# --------------------------------------------------------------------------- train / sample / eval
def _lazy(name: str, module: str = "dinof_lite.experiment.commands") -> Callable:
    """``module.<name>``, imported on use (keeps ``--help`` fast)."""

    def call(arg):
        return getattr(importlib.import_module(module), name)(arg)

    return call


COMMANDS: dict[str, Command] = {
    "demo": Command(
        help="train an any-T_m DiNof on a 2D toy; journey figures and quality/speed vs T_m (~1 min on CPU)",
        add_arguments=_demo_arguments,
        run=_demo_run,
    ),
    "bench": Command(
        help="measure speed and memory side by side (e.g. `bench glow`); prints a table of ratios",
        add_arguments=_bench_arguments,
        run=_bench_run,
    ),
    "train": Command(
        help="train an image config (resumable; `torchrun --nproc_per_node=K -m dinof_lite train` "
        "for K processes)",
        add_arguments=_lazy("train_arguments"),
        run=_lazy("train_command"),
    ),
    "sample": Command(
        help="sample a trained run in chunks: a grid PNG and optionally a uint8 .npz for FID",
        add_arguments=_lazy("sample_arguments"),
        run=_lazy("sample_command"),
    ),
    "eval": Command(
        help="bits/dim of the test split (and FID / IS with --fid) of a trained run",
        add_arguments=_lazy("eval_arguments"),
        run=_lazy("eval_command"),
    ),
    "trial": Command(
        help="GPU check of a config: train --steps updates, then print images/s, peak memory, "
        "the precision used, bits/dim and a small-sample FID",
        add_arguments=_lazy("trial_arguments", "dinof_lite.experiment.trial"),
        run=_lazy("trial_command", "dinof_lite.experiment.trial"),
    ),
    "assignments": Command(
        help="write the student notebooks with nbgrader's release step (--check: exit 1 if "
        "they are out of date; --course DIR: set up an nbgrader course folder); the teach extra",
        add_arguments=_lazy("cli_arguments", "dinof_lite.coursework.student_notebooks"),
        run=_lazy("cli_run", "dinof_lite.coursework.student_notebooks"),
    ),
    "site": Command(
        help="build the course website (notebooks with their outputs, API reference) into "
        "build/site/html; needs the docs extra",
        add_arguments=_lazy("site_arguments", "dinof_lite.cli.site"),
        run=_lazy("site_command", "dinof_lite.cli.site"),
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per entry of :data:`COMMANDS`."""
    parser = Parser(
        prog="python -m dinof_lite",
        description="dinof_lite: diffusion models with normalizing-flow priors (DiNof), for learning.",
    )
    parser.add_argument("--version", action="version", version=f"dinof_lite {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (any command)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an error",
        )
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    try:
        return int(args._run(args))
    except SystemExit as exit_:
        if debug and exit_.__cause__ is not None:
            traceback.print_exception(exit_.__cause__)
        raise
    except _user_errors() as err:
        if debug:
            raise
        raise SystemExit(f"error: {err}") from err
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see __main__): finally blocks have run
        if debug:
            raise
        print(
            "interrupted: the workdir's lock is released; `train` saved a checkpoint and "
            "resumes from it when rerun",
            file=sys.stderr,
        )
        return 130
