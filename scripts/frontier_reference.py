"""Make a frontier's stored reference: the plain sampler at 1000 steps on the shipped model.

``python scripts/frontier_reference.py digits`` samples ``dinof_digits``' plain sampler (reverse
diffusion, no corrector, from ``p_T``) at 1000 steps, ``n`` images per seed, scores each seed's
images with the FID-style score against the test split, and writes
``data/frontier/digits.json`` (per-seed scores, mean, standard error, seeds, this command) and
``data/frontier/digits_samples.pt``; ``python -m dinof_lite bench frontier`` reuses them (see
:mod:`dinof_lite.evaluation.reference`). About 10 CPU minutes per seed at ``n = 200`` with one
thread on an idle core.
"""

from __future__ import annotations

import argparse
import sys

import torch

from dinof_lite.cli.bench.frontier import CONFIGS, digits_scorer
from dinof_lite.evaluation.reference import make_reference
from dinof_lite.pretrained import load_dinof

MODELS = {"digits": "dinof_digits"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", choices=sorted(MODELS))
    p.add_argument("--steps", type=int, default=1000, help="plain sampler steps (= NFE)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = CONFIGS[(args.dataset, "full")]
    model = load_dinof(MODELS[args.dataset])
    command = "python scripts/frontier_reference.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    record = make_reference(
        model,
        digits_scorer(),
        n_steps=args.steps,
        n=cfg.n,
        seeds=cfg.seeds,
        name=args.dataset,
        model_name=MODELS[args.dataset],
        metric="fid",
        command=command,
        progress=lambda line: print(line, flush=True),
    )
    print(
        f"{args.dataset}: {record['metric']} {record['mean']:.4g} ± {record['se']:.2g} "
        f"over seeds {record['seeds']} ({record['wall_s']} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
