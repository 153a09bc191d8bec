"""A frontier's reference, computed once and kept: the plain sampler at many steps.

The plain sampler (the SDE's own predictor, no corrector, from ``p_T``) at 1000 steps is what a
fast sampler must match. On digits it costs about half an hour of CPU per seed, so it is made
once by ``python scripts/frontier_reference.py`` and kept in the repository — the per-seed
scores, their mean and standard error, the seeds, the command and the samples themselves
(``<name>.json`` and ``<name>_samples.pt`` under :data:`REFERENCE_DIR`) — and
``bench frontier`` reuses it (:func:`load_reference`) instead of sampling it again::

    ref = make_reference(model, score, n_steps=1000, n=200, seeds=(0, 1, 2), name="digits",
                         command="python scripts/frontier_reference.py digits")
    ref = load_reference("digits", model="dinof_digits", n=200, seeds=(0, 1, 2))
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from dinof_lite.sampling import pc_sample

__all__ = ["REFERENCE_DIR", "plain_sample", "make_reference", "load_reference"]

#: where the references live: ``<repo>/data/frontier``
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "frontier"


def plain_sample(model, n: int, n_steps: int, seed: int) -> Tensor:
    """The plain sampler's ``n`` samples: ``sde.default_pc``'s predictor, no corrector,
    ``n_steps`` steps from ``p_T`` to ``model.sample_eps``, noise from ``seed``."""
    return pc_sample(
        model.sde,
        model.score_fn,
        (n, *model.dims),
        n_steps=n_steps,
        predictor=model.sde.default_pc[0],
        corrector="none",
        eps=model.sample_eps,
        generator=torch.Generator().manual_seed(seed),
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_reference(
    model,
    score: Callable[[Tensor, int], float],
    *,
    n_steps: int,
    n: int,
    seeds: Sequence[int],
    name: str,
    model_name: str,
    metric: str,
    command: str,
    directory: Path = REFERENCE_DIR,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Sample the plain sampler at ``n_steps`` for each seed, score each set with
    ``score(x, seed)``, and write ``<name>.json`` (the record below) and ``<name>_samples.pt``
    (``(len(seeds), n, *dims)`` float32) under ``directory``; returns the record."""
    directory.mkdir(parents=True, exist_ok=True)
    samples, values, start = [], [], time.perf_counter()
    for seed in seeds:
        x = plain_sample(model, n, n_steps, seed)
        samples.append(x.detach().cpu().float())
        values.append(float(score(x, seed)))
        if progress is not None:
            progress(f"{name} reference, seed {seed}: {metric} {values[-1]:.4g}")
    path = directory / f"{name}_samples.pt"
    torch.save(torch.stack(samples), path)
    v = torch.tensor(values, dtype=torch.float64)
    record = {
        "dataset": name,
        "model": model_name,
        "sampler": f"plain: {model.sde.default_pc[0]} predictor, no corrector, from p_T",
        "nfe": n_steps,
        "n": n,
        "seeds": list(seeds),
        "metric": metric,
        "values": values,
        "mean": float(v.mean()),
        "se": float(v.std() / math.sqrt(len(values))) if len(values) > 1 else 0.0,
        "samples": path.name,
        "samples_sha256": _sha256(path),
        "command": command,
        "torch": torch.__version__,
        "wall_s": round(time.perf_counter() - start, 1),
    }
    (directory / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def load_reference(
    name: str, *, model: str, n: int, seeds: Sequence[int], directory: Path = REFERENCE_DIR
) -> dict:
    """The stored reference ``name``; a ValueError naming the command that makes it when it is
    missing, made for another model, sample size or seeds, or its samples file changed."""
    path = directory / f"{name}.json"
    make = f"python scripts/frontier_reference.py {name}"
    if not path.is_file():
        raise ValueError(f"no stored reference {path}; make it with `{make}`")
    record = json.loads(path.read_text(encoding="utf-8"))
    want = {"model": model, "n": n, "seeds": list(seeds)}
    got = {k: record.get(k) for k in want}
    if got != want:
        raise ValueError(f"{path} was made for {got}, this run needs {want}; remake it: `{make}`")
    samples = directory / record["samples"]
    if not samples.is_file() or _sha256(samples) != record["samples_sha256"]:
        raise ValueError(f"{samples} is missing or not the file {path} records; remake: `{make}`")
    return record
