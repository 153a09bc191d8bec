"""Command-line interface: ``python -m dinof_lite <command> [options]``.

Commands are argparse sub-parsers registered in :data:`COMMANDS`, one module each:
``dinof_lite.cli.<name>`` has an ``arguments`` function (fills its sub-parser) and a ``run``
function (``argparse.Namespace -> exit code``) that calls the library with plain values. To add a
command write that module and add one entry to :data:`COMMANDS`. The option types and path
checks of every command are in :mod:`dinof_lite.cli.options`; all of the package's argparse code
is in :mod:`dinof_lite.cli`.

Every error a user can fix — a bad option value (type, range, device, names), a path that is a
file, missing or read-only, an unknown key in a run's ``config.json``, a workdir locked by another
run, a damaged or foreign checkpoint, a full disk — ends with one line ``error: ...`` on stderr
and exit status 1, no traceback: a command raises ``ValueError`` / ``TypeError`` / ``OSError`` (or
a lock or non-finite-loss error) and :func:`main` prints it;
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


@dataclass(frozen=True)
class Command:
    """A sub-command: ``help`` line, ``add_arguments(parser)`` and ``run(args) -> exit code``."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _lazy(module: str, name: str) -> Callable:
    """``module.<name>``, imported on use (a command's heavy imports wait until it runs)."""

    def call(arg):
        return getattr(importlib.import_module(module), name)(arg)

    return call


def _command(name: str, help: str) -> Command:
    """The command ``name``: ``arguments`` and ``run`` of the module ``dinof_lite.cli.<name>``."""
    module = f"dinof_lite.cli.{name}"
    return Command(help=help, add_arguments=_lazy(module, "arguments"), run=_lazy(module, "run"))


#: every command, in ``--help`` order: ``name -> Command`` (the module ``dinof_lite.cli.<name>``)
COMMANDS: dict[str, Command] = {
    name: _command(name, help)
    for name, help in {
        "demo": "train an any-T_m DiNof on a 2D toy; journey figures and quality/speed vs T_m "
        "(~1 min on CPU)",
        "bench": "measure speed and memory side by side (e.g. `bench glow`); prints a table of "
        "ratios",
        "train": "train an image config (resumable; `torchrun --nproc_per_node=K -m dinof_lite "
        "train` for K processes)",
        "sample": "sample a trained run in chunks: a grid PNG and optionally a uint8 .npz for FID",
        "eval": "bits/dim of the test split (and FID / IS with --fid) of a trained run",
        "trial": "GPU check of a config: train --steps updates, then print images/s, peak "
        "memory, the precision used, bits/dim and a small-sample FID",
        "assignments": "write the student notebooks with nbgrader's release step (--check: exit 1 "
        "if they are out of date; --course DIR: set up an nbgrader course folder); the teach "
        "extra",
        "site": "build the course website (notebooks with their outputs, API reference) into "
        "build/site/html; needs the docs extra",
    }.items()
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
            traceback.print_exception(err)
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
