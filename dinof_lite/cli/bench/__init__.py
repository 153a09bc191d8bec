"""Benchmarks: ``python -m dinof_lite bench NAME`` measures speed and memory side by side, in one run.

Timings are never asserted in tests (machines differ); a benchmark prints a table whose *ratios*
compare variants measured in the same process on the same device, e.g. how much a traced
Glow inverse (every layer's state kept, for the notebooks' trajectory plots) costs over a plain one.

- ``glow``: log-density (data → latent), sampling (latent → data), sampling with the layer trace,
  and one training step (forward + backward), for the 2D toy flow, the digits flow and the DiNof
  paper's flow (``Glow.paper()``), and for the image flows the time of ``log_prob`` and
  ``sample`` over normflows' Glow of the same architecture (:mod:`dinof_lite.cli.bench.glow`).
- ``frontier``: sample quality against NFE — the plain sampler from ``p_T``, DiNof's PC sampler
  from ``T_m`` and the fast ODE solvers from ``p_T`` and from the flow at ``T_m`` — on the 2D
  mixture and on digits, with the speed-up at equal quality and the quality at equal NFE
  (:mod:`dinof_lite.cli.bench.frontier`).
- ``precision``: bf16 against float32 for each part (flow log-density and inverse, score
  network, joint loss and gradients, ODE bits/dim), before and after the precision policy
  (:mod:`dinof_lite.cli.bench.precision`).
- ``sampling``: DiNof from ``T_m`` vs the plain diffusion sampler from ``T`` with the same score
  network — wall time, NFE and sample quality, head to head and over ``T_m = 0.1 … 1.0``
  (:mod:`dinof_lite.cli.bench.sampling`).
- ``train``: one update of the score network alone vs DiNof's joint update (score network + flow),
  images per second and the overhead ratio (:mod:`dinof_lite.cli.bench.train`).
- ``widget``: the ``T_m`` sliders on the shipped models, on the CPU with 2 threads — sampling an
  unseen ``T_m``, the first render of its PNG and the redraw of a cached one, against 1 s, 1 s and
  0.3 s targets (:mod:`dinof_lite.cli.bench.widget`).
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable

import torch

from dinof_lite.cli.bench.frontier import bench_frontier
from dinof_lite.cli.bench.glow import GLOW_CASES, bench_glow, time_call
from dinof_lite.cli.bench.precision import bench_precision
from dinof_lite.cli.bench.sampling import bench_sampling
from dinof_lite.cli.bench.train import bench_train
from dinof_lite.cli.bench.widget import bench_widget
from dinof_lite.cli.options import DEVICE_HELP, device_option, int_option, output_file
from dinof_lite.utils import pick_device

__all__ = [
    "BENCHMARKS",
    "GLOW_CASES",
    "run_benchmark",
    "time_call",
    "bench_glow",
    "arguments",
    "run",
]


BENCHMARKS: dict[str, Callable[..., list[dict]]] = {
    "frontier": bench_frontier,
    "glow": bench_glow,
    "precision": bench_precision,
    "sampling": bench_sampling,
    "train": bench_train,
    "widget": bench_widget,
}


def run_benchmark(
    name: str,
    *,
    device: str | torch.device = "auto",
    repeats: int = 5,
    size: str = "full",
    **options,
) -> list[dict]:
    """Run benchmark ``name`` (see :data:`BENCHMARKS`) and return its table rows.

    ``options`` go to the benchmark (``model=`` for ``sampling``); unknown ones are an error.
    """
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; valid: {', '.join(sorted(BENCHMARKS))}")
    if size not in ("full", "smoke"):
        raise ValueError(f"unknown size {size!r}; valid: full, smoke")
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, got {repeats}")
    fn = BENCHMARKS[name]
    unknown = sorted(set(options) - set(inspect.signature(fn).parameters))
    if unknown:
        raise ValueError(f"bench {name} takes no option {', '.join(unknown)}")
    return fn(pick_device(device), repeats=repeats, size=size, **options)


# --------------------------------------------------------------------------- the command
def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite bench NAME``."""
    p.add_argument("name", metavar="NAME", help=f"benchmark: {', '.join(sorted(BENCHMARKS))}")
    p.add_argument("--device", type=device_option, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--repeats",
        type=int_option(min=1),
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
        type=int_option(min=0),
        default=0,
        help="torch.set_num_threads (0: torch's default)",
    )
    p.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="also write the rows as JSON (bench frontier: one record per dataset, and the "
        "figures beside it)",
    )
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
        "--datasets",
        default=None,
        metavar="LIST",
        help="bench frontier: comma-separated datasets (2d, digits; default: both)",
    )
    p.add_argument(
        "--paths",
        default=None,
        metavar="LIST",
        help="bench train: comma-separated execution paths timed beside eager "
        "(bf16, channels_last, compiled; default: all)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print its table (and write it as JSON with ``--json``)."""
    from dinof_lite.viz.diagnostics import format_table

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.json:
        output_file("--json", args.json)
    options = {} if args.model is None else {"model": args.model}
    if args.memory:
        options["memory"] = True
    if args.paths is not None:
        options["paths"] = tuple(p for p in args.paths.split(",") if p)
    if args.datasets is not None:
        options["datasets"] = tuple(d for d in args.datasets.split(",") if d)
    fn = BENCHMARKS.get(args.name)
    own_json = (
        bool(args.json) and fn is not None and "json_path" in inspect.signature(fn).parameters
    )
    if own_json:  # the benchmark writes its own record (bench frontier)
        options["json_path"] = args.json
    rows = run_benchmark(
        args.name, device=args.device, repeats=args.repeats, size=args.size, **options
    )
    print(
        f"bench {args.name} on {pick_device(args.device)} ({torch.get_num_threads()} threads), "
        f"{args.repeats} repeats:"
    )
    print(format_table(rows))
    if args.json and not own_json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)
    return 0
