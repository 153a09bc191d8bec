"""The command line, ``python -m dinof_lite <command>``: the parser (:mod:`~dinof_lite.cli.main`),
the demo (:mod:`~dinof_lite.cli.demo`) and the benchmarks (:mod:`~dinof_lite.cli.bench`)."""

from dinof_lite.cli.main import COMMANDS, Command, build_parser, main

__all__ = ["COMMANDS", "Command", "build_parser", "main"]
