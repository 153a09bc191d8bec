"""The samplers' own cost per step, against the network's: part of ``bench sampling``.

A sampler's time is ``NFE × (one network forward) + its own arithmetic, checks and Python``. On
a model at the notebooks' batch sizes — 1000 points for a 2D model (the shipped
``dinof_8gaussians_vp_anytm``), 64 images for an image model (``dinof_digits``) — each row times
one sampler and, interleaved with it, the bare network ``score_net(x, label)`` on the same
batch, and reports

    ratio = sampler time / (NFE × one bare forward)          (target <= 1.15)

``repeats`` pairs, alternating: each sampler run is divided by the bare forwards timed just
before it, as many as its NFE (runs of the same length, side by side, meet a busy machine
alike). The row is the pair with the median ratio (the lower median for an even ``repeats``):
its ``bare ms``, ``sampler ms`` and ``ratio``. On a shared machine a median of paired ratios is
steadier than a ratio of two minima, where one lucky bare run sets the denominator. On the
CPU both are timed in process CPU time (``time.process_time``): other processes on a shared
machine then do not count, which wall time cannot promise; on a GPU in wall time after a
synchronisation.

On Linux the CPU ratio of the 2D model moves between processes by up to about 0.1: where glibc
shrinks and regrows the top of its heap between the network's activations, the page faults
that follow count against the sampler (thousands of minor faults per 200-step run, against
almost none in the bare loop). With ``MALLOC_TOP_PAD_=16000000`` in the environment the spread
goes: five runs on a 2-core machine gave the plain PC sampler 1.06–1.08 and PC + Langevin
1.08–1.10. Compare ratios over a few runs, not within one.

The samplers: the plain PC sampler (the SDE's predictor, no corrector), PC with the Langevin
corrector, DiNof's PC sampler from the flow at ``T_m = 0.6`` (its reverse-SDE part), and the
fast solvers from ``p_T``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch

from dinof_lite.sampling import pc_sample_result
from dinof_lite.sampling.base import synchronize
from dinof_lite.sampling.fast import fast_sample_result
from dinof_lite.sampling.solvers import get_solver

__all__ = [
    "OVERHEAD_CASES",
    "OVERHEAD_TARGET",
    "OVERHEAD_SOLVERS",
    "clock",
    "sampler_overhead",
]

OVERHEAD_TARGET = 1.15
#: (size, "2d" or "image") -> (batch, NFE per sampler): the notebooks' batch sizes
OVERHEAD_CASES: dict[tuple[str, str], tuple[int, int]] = {
    ("full", "2d"): (1000, 200),
    ("full", "image"): (64, 20),
    ("smoke", "2d"): (100, 8),
    ("smoke", "image"): (4, 4),
}
OVERHEAD_SOLVERS = ("dpm_solver_pp_2m", "heun", "edm_sde", "dpm_solver_pp_2m_sde")


def _samplers(model, n: int, nfe: int) -> dict[str, Callable[[], int]]:
    """name -> a call running the sampler once and returning its NFE."""
    sde, score, pred = model.sde, model.score_fn, model.sde.default_pc[0]
    shape, eps = (n, *model.dims), model.sample_eps

    def pc(corrector: str, steps: int):
        def run():
            gen = torch.Generator().manual_seed(0)
            r = pc_sample_result(
                sde, score, shape, n_steps=steps, predictor=pred, corrector=corrector,
                eps=eps, generator=gen,
            )  # fmt: skip
            return r.nfe

        return run

    def dinof():  # the flow's single pass included
        s = model.sample_result(
            n, T_m=0.6, n_steps=nfe, corrector="none", generator=torch.Generator().manual_seed(0)
        )
        return s.nfe

    def fast(name: str):
        def run():
            gen = torch.Generator().manual_seed(0)
            steps = nfe // get_solver(name).nfe_per_step
            r = fast_sample_result(
                sde, score, shape, solver=name, n_steps=steps, eps=eps, generator=gen
            )
            return r.nfe

        return run

    return {
        f"PC {pred}": pc("none", nfe),
        f"PC {pred} + langevin": pc("langevin", nfe // 2),
        "DiNof T_m=0.6 (PC)": dinof,
        **{name: fast(name) for name in OVERHEAD_SOLVERS},
    }


def clock(device: torch.device) -> Callable[[Callable[[], int]], tuple[float, int]]:
    """``timed(fn) -> (seconds, fn())``: process CPU time on the CPU, synchronised wall time on
    a GPU."""

    def timed(fn):
        synchronize(device)
        now = time.process_time if device.type == "cpu" else time.perf_counter
        start = now()
        out = fn()
        synchronize(device)
        return now() - start, out

    return timed


def _forwards(net, x: torch.Tensor, label: torch.Tensor, k: int) -> int:
    """``k`` bare forwards of the network; returns ``k``."""
    for _ in range(k):
        net(x, label)
    return k


@torch.no_grad()
def sampler_overhead(
    models: dict[str, object], device: torch.device, repeats: int = 5, size: str = "full"
) -> list[dict]:
    """One row per (model, sampler) of ``models`` (name -> a loaded any-``T_m`` DiNof):
    ``bare ms`` (one network forward), ``sampler ms``, ``nfe``, ``ratio`` = sampler / (NFE ×
    bare) and whether it meets :data:`OVERHEAD_TARGET`."""
    timed, rows = clock(device), []
    for name, model in models.items():
        n, nfe = OVERHEAD_CASES[(size, "2d" if len(model.dims) == 1 else "image")]
        label = f"{name} n={n}"
        x = torch.randn(n, *model.dims, generator=torch.Generator().manual_seed(0)).to(device)
        label_t = model.sde.noise_label(torch.full((n,), 0.5, device=device))

        bare = functools.partial(_forwards, model.score_net, x, label_t, nfe)  # as long a run
        for sampler, run in _samplers(model, n, nfe).items():
            run()  # warm-up
            pairs, count = [], 0  # (ratio, one bare forward, sampler run)
            for _ in range(repeats):  # interleaved: each run beside its own bare forwards
                seconds, k = timed(bare)
                seconds_run, count = timed(run)
                pairs.append((seconds_run / (count * seconds / k), seconds / k, seconds_run))
            ratio, one_bare, one_run = sorted(pairs)[(len(pairs) - 1) // 2]  # the median pair
            rows.append(
                {
                    "case": f"overhead {label}",
                    "method": sampler,
                    "nfe": count,
                    "bare ms": round(1e3 * one_bare, 3),
                    "sampler ms": round(1e3 * one_run, 3),
                    "ratio": round(ratio, 3),
                    "note": f"<= {OVERHEAD_TARGET}" if ratio <= OVERHEAD_TARGET else "over",
                }
            )
    return rows
