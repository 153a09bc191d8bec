"""``python -m dinof_lite bench glow``: Glow's operations side by side, and against normflows.

For each flow of :data:`GLOW_CASES`: the median time of ``log_prob`` (data → latent),
``sample`` (latent → data), ``sample`` with the layer trace and one training step, with their
ratios. For the image flows also ``log_prob`` and ``sample`` over the same operations of
normflows' multi-scale Glow (Stimper et al. 2023; its ``GlowBlock`` steps, ``Squeeze``,
``Merge`` and ``GlowBase`` priors, built as in normflows' own Glow example) with the same
levels, steps, hidden width and channels at every level (parameter counts within 0.1 %: the top
prior's parametrisation differs). Both run on the same batch, interleaved, best of ``repeats``,
in process CPU time on the CPU (other processes on a shared machine do not count) and in
synchronised wall time on a GPU. The comparison needs the ``normflows`` package (``pip install
normflows``); without it those columns say so. Weights are random: the time of a pass does not
depend on their values.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from dinof_lite.cli.bench.overhead import clock
from dinof_lite.flows import Glow

__all__ = ["GLOW_CASES", "bench_glow", "normflows_glow", "time_call"]

NO_NORMFLOWS = "normflows not installed (pip install normflows)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, repeats: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[len(times) // 2]


def _peak_mib(fn: Callable[[], object], device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    _sync(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


#: name -> (Glow kwargs, batch size); "smoke" variants keep the test of this module fast.
GLOW_CASES: dict[str, dict[str, tuple[dict, int]]] = {
    "full": {
        "2d (L=1, K=8, 64)": ({"in_shape": (2,), "levels": 1, "steps": 8, "hidden": 64}, 4096),
        "digits 1×8×8 (L=2, K=8, 64)": (
            {"in_shape": (1, 8, 8), "levels": 2, "steps": 8, "hidden": 64},
            256,
        ),
        "paper 3×32×32 (L=3, K=16, 256)": (
            {"in_shape": (3, 32, 32), "levels": 3, "steps": 16, "hidden": 256},
            16,
        ),
    },
    "smoke": {
        "2d (L=1, K=2, 8)": ({"in_shape": (2,), "levels": 1, "steps": 2, "hidden": 8}, 64),
        "image 1×4×4 (L=2, K=2, 8)": (
            {"in_shape": (1, 4, 4), "levels": 2, "steps": 2, "hidden": 8},
            8,
        ),
    },
}


def _bench_flow(label: str, kwargs: dict, batch: int, device: torch.device, repeats: int) -> dict:
    torch.manual_seed(0)
    flow = Glow(**kwargs).to(device)
    x = torch.rand(batch, *flow.in_shape, device=device)
    flow(x)  # ActNorm's data-dependent init
    opt = torch.optim.Adam(flow.parameters(), lr=1e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        (-flow.log_prob(x).mean()).backward()
        opt.step()

    def log_prob():
        with torch.no_grad():
            flow.log_prob(x)

    ops = {
        "log_prob": log_prob,
        "sample": lambda: flow.sample(batch),
        "sample+trace": lambda: flow.inverse_trajectory(flow.sample_latent(batch)),
        "train step": train_step,
    }
    ms = {name: time_call(fn, device, repeats) for name, fn in ops.items()}
    row = {
        "flow": label,
        "params": flow.num_parameters(),
        "batch": batch,
        **{f"{k} ms": round(v, 2) for k, v in ms.items()},
        "sample / log_prob": round(ms["sample"] / ms["log_prob"], 2),
        "trace / sample": round(ms["sample+trace"] / ms["sample"], 2),
        "train / log_prob": round(ms["train step"] / ms["log_prob"], 2),
    }
    row.update(_versus_normflows(flow, kwargs, x, repeats))
    peak = _peak_mib(train_step, device)
    if peak is not None:
        row["train peak MiB"] = round(peak, 1)
    return row


def bench_glow(device: torch.device, repeats: int = 5, size: str = "full") -> list[dict]:
    """One row per flow: parameters, ms per batch for each operation, and the ratios."""
    return [
        _bench_flow(label, kwargs, batch, device, repeats)
        for label, (kwargs, batch) in GLOW_CASES[size].items()
    ]


def normflows_glow(kwargs: dict) -> torch.nn.Module:
    """normflows' multi-scale Glow with the architecture of ``Glow(**kwargs)`` (an image flow
    without context). Raises ImportError naming the package when normflows is missing."""
    try:
        import normflows as nf
    except ImportError as err:
        raise ImportError(NO_NORMFLOWS) from err
    c, h, w = kwargs["in_shape"]
    levels, steps, hidden = kwargs["levels"], kwargs["steps"], kwargs["hidden"]
    q0, merges, flows = [], [], []
    for i in range(levels):  # normflows lists the levels from the coarsest one
        channels = c * 2 ** (levels + 1 - i)
        flows.append(
            [nf.flows.GlowBlock(channels, hidden, split_mode="channel") for _ in range(steps)]
            + [nf.flows.Squeeze()]
        )
        if i == 0:  # the top latent keeps all channels; each finer level adds half of them
            latent = (c * 2 ** (levels + 1), h // 2**levels, w // 2**levels)
        else:
            k = levels - i
            latent = (c * 2**k, h // 2**k, w // 2**k)
            merges.append(nf.flows.Merge())
        q0.append(nf.distributions.GlowBase(latent))
    return nf.MultiscaleFlow(q0, flows, merges, class_cond=False)


def _versus_normflows(flow: Glow, kwargs: dict, x: torch.Tensor, repeats: int) -> dict:
    """``log_prob`` and ``sample`` of ``flow`` over normflows' twin, interleaved, best of
    ``repeats``; the columns say why when there is no comparison."""
    cols = ("log_prob / normflows", "sample / normflows")
    if not flow.image:
        return dict.fromkeys(cols, "n/a (vector flow)")
    try:
        twin = normflows_glow(kwargs).to(x.device)
    except ImportError:
        return dict.fromkeys(cols, NO_NORMFLOWS)
    n, timed = x.shape[0], clock(x.device)
    pairs = {
        cols[0]: (lambda: flow.log_prob(x), lambda: twin.log_prob(x, None)),
        cols[1]: (lambda: flow.sample(n), lambda: twin.sample(n)),
    }
    out = {}
    with torch.no_grad():
        twin.log_prob(x, None)  # normflows' ActNorm initialises itself on its first batch
        for col, (ours, theirs) in pairs.items():
            ours(), theirs()  # warm-up
            best = [float("inf"), float("inf")]
            for _ in range(repeats):
                for j, fn in enumerate((ours, theirs)):
                    best[j] = min(best[j], timed(fn)[0])
            out[col] = round(best[0] / best[1], 2)
    return out
