"""The command line, ``python -m dinof_lite <command>``: the parser (:mod:`~dinof_lite.cli.main`),
one module per command (``dinof_lite.cli.<command>``: ``demo``, ``bench``, ``train``, ``sample``,
``eval``, ``trial``, ``assignments``, ``site``), their option types (:mod:`~dinof_lite.cli.options`),
the demo's pipeline (:mod:`~dinof_lite.cli.demo.pipeline`) and the benchmarks
(:mod:`~dinof_lite.cli.bench`)."""

from dinof_lite.cli.main import COMMANDS, Command, build_parser, main

__all__ = ["COMMANDS", "Command", "build_parser", "main"]
