"""Training memory of a configuration: parameters, gradients, Adam, EMA and activations.

Memory on a GPU is planned on the CPU. :class:`TensorMemory` is a ``TorchDispatchMode`` that sees
every tensor an operation creates (forward, backward and the optimizer step, autocast's bf16
copies included) and keeps the live bytes and their peak — the CPU counterpart of
``torch.cuda.max_memory_allocated``. :func:`estimate_memory` measures one steady-state training
step (the loss under the run's :class:`~dinof_lite.precision.Precision`, backward, gradient clip,
Adam) at two small batches, fits the batch-dependent part linearly (activations grow in
proportion to the batch) and extrapolates to the paper's batch::

    est = estimate_memory(get_config("cifar10_ve"))       # batch 128, bf16 policy
    est.total_gib, est.fits                               # ~ GiB on one device; GPUs it fits

The fixed part is counted exactly: parameters, their gradients and the EMA copy (float32, 4 bytes
each), Adam's two moments. A GPU adds its CUDA context and allocator slack, which
:data:`GPU_OVERHEAD` allows for when :func:`gpus_that_fit` matches a device.

A flow-only job (``cfg.train_score = False``: ``train --score``, a frozen published score
network) holds the score network's weights once and nothing else of it: gradients, Adam and the
EMA cover the flow (:mod:`dinof_lite.train.frozen`), and the step's activations are the flow's::

    est = estimate_memory(dataclasses.replace(get_config("cifar10_vp"), train_score=False),
                          precision="fp16")           # the T4 row of `bench train --memory`
"""

from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from dinof_lite.dinof import training_loss
from dinof_lite.experiment.configs import ExperimentConfig, build_model
from dinof_lite.precision import Precision
from dinof_lite.train.frozen import frozen_tensors

__all__ = [
    "TensorMemory",
    "MemoryEstimate",
    "measure_step",
    "estimate_memory",
    "gpus_that_fit",
    "GPUS",
    "GPU_OVERHEAD",
]

GIB = 2**30
#: common accelerator sizes in GiB (name -> memory)
GPUS: dict[str, float] = {
    "T4 / V100 16 GB": 16,
    "RTX 4090 / A10 24 GB": 24,
    "A100 40 GB": 40,
    "L40S / A6000 48 GB": 48,
    "A100 / H100 80 GB": 80,
    "H200 141 GB": 141,
}
#: (factor, GiB): a device needs ``factor · estimate + GiB`` (allocator rounding and caching,
#: cuDNN workspaces, the CUDA context)
GPU_OVERHEAD = (1.15, 1.0)


class TensorMemory(TorchDispatchMode):
    """Live bytes of the tensors created while the mode is active, and their peak.

    Storages are counted once (views share theirs) and uncounted when freed (a weak reference
    per storage). Tensors that existed before the mode was entered are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: dict[int, tuple[weakref.ref, int]] = {}

    def reset_peak(self) -> None:
        """Start a new peak from the bytes live now."""
        self.peak = self.current

    def _free(self, key: int) -> None:
        self.current -= self._live.pop(key, (None, 0))[1]

    def _track(self, t: Tensor) -> None:
        st = t.untyped_storage()
        key = id(st)
        known = self._live.get(key)
        if known is not None and known[0]() is st:
            return
        nbytes = st.nbytes()
        self._live[key] = (weakref.ref(st, lambda _, k=key: self._free(k)), nbytes)
        self.current += nbytes
        self.peak = max(self.peak, self.current)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, Tensor) and t.device.type != "meta":
                self._track(t)
        return out


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measure_step(model, optimizer, x0: Tensor, precision: Precision, seed: int = 0) -> dict:
    """One training step as the ``Trainer`` runs it, under :class:`TensorMemory`.

    Returns bytes created by the step: ``activations`` (live after the forward: what autograd
    saved for backward, and autocast's bf16 copies), ``peak_backward`` (peak up to the end of
    backward, gradients included) and ``peak_optimizer`` (peak during clip and Adam, from the
    gradients on). Parameters, the EMA and Adam's moments exist before and are not included.
    """
    g = torch.Generator(device=x0.device).manual_seed(seed)
    optimizer.zero_grad(set_to_none=True)
    with TensorMemory() as mem:
        with precision.autocast():
            loss = training_loss(model, x0, g)
        activations = mem.current
        loss.float().backward()
        del loss
        peak_backward = mem.peak
        mem.reset_peak()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        peak_optimizer = mem.peak
    optimizer.zero_grad(set_to_none=True)
    return {
        "activations": activations,
        "peak_backward": peak_backward,
        "peak_optimizer": peak_optimizer,
    }


@dataclass
class MemoryEstimate:
    """Bytes of one training process at ``batch`` under ``precision`` (see module docstring).

    ``total = params + buffers + adam + ema + max(peak_backward, peak_optimizer)``; the gradients
    and the activations are inside the two step peaks, and are listed on their own too. With a
    frozen score network (``job == "flow only"``) ``gradients``, ``adam`` and ``ema`` are the
    flow's.
    """

    config: str
    batch: int
    precision: str
    n_params: int
    params: int
    buffers: int
    gradients: int
    adam: int
    ema: int
    activations: int
    peak_backward: int
    peak_optimizer: int
    backward_per_example: float
    probes: tuple[int, ...]
    job: str = "joint"

    @property
    def total(self) -> int:
        fixed = self.params + self.buffers + self.adam + self.ema
        return fixed + max(self.peak_backward, self.peak_optimizer)

    @property
    def total_gib(self) -> float:
        return self.total / GIB

    @property
    def fits(self) -> list[str]:
        """The names of :data:`GPUS` this run fits on (one device, the whole batch)."""
        return gpus_that_fit(self.total)

    def row(self) -> dict:
        """A table row in GiB (``bench train --memory``, notebooks 07 and 08)."""
        fits = self.fits
        return {
            "config": self.config,
            "job": self.job,
            "batch": self.batch,
            "precision": self.precision,
            "params (M)": round(self.n_params / 1e6, 1),
            "params GiB": round(self.params / GIB, 2),
            "grads GiB": round(self.gradients / GIB, 2),
            "Adam GiB": round(self.adam / GIB, 2),
            "EMA GiB": round(self.ema / GIB, 2),
            "activations GiB": round(self.activations / GIB, 3),
            "peak GiB": round(self.total_gib, 3),
            "smallest GPU": fits[0] if fits else f"none: split over {self.gpus_needed(80)} × 80 GB",
        }

    def gpus_needed(self, gib: float) -> int:
        """Data-parallel processes of ``gib`` GiB each that hold the run, the batch split over
        them (each also holds DDP's gradient buckets, one more copy of the gradients)."""
        factor, extra = GPU_OVERHEAD
        fixed = self.params + self.buffers + self.adam + self.ema + self.gradients
        for k in range(1, self.batch + 1):
            smaller = self.backward_per_example * (self.batch - math.ceil(self.batch / k))
            step = max(self.peak_backward - smaller, self.peak_optimizer)
            if factor * (fixed + step) / GIB + extra <= gib:
                return k
        return self.batch

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


def gpus_that_fit(nbytes: float) -> list[str]:
    """Names of :data:`GPUS`, smallest first, with room for ``nbytes`` plus the overhead."""
    factor, extra = GPU_OVERHEAD
    return [name for name, gib in GPUS.items() if factor * nbytes / GIB + extra <= gib]


def estimate_memory(
    cfg: ExperimentConfig,
    batch: int | None = None,
    precision: str = "bf16",
    *,
    probes: tuple[int, int] | None = None,
    device: str | torch.device = "cpu",
) -> MemoryEstimate:
    """Memory of training ``cfg`` at ``batch`` (default: the config's) under ``precision``,
    extrapolated linearly from steady-state steps at the two ``probes`` batches on ``device``;
    ``cfg.train_score = False`` estimates the flow-only job (module docstring).

    ``probes=None`` picks ``(b, 2b)`` with ``b`` the first power of two whose activations are at
    least twice the parameters' bytes: below that the backward pass's peak is set by the
    gradients, not the batch, and a line through it would miss the paper batch's peak."""
    batch = cfg.train.batch_size if batch is None else int(batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1; got {batch}")
    if probes is not None and not (len(probes) == 2 and 1 <= probes[0] < probes[1]):
        raise ValueError(f"probes must be two batch sizes 1 <= a < b; got {probes}")
    device = torch.device(device)
    prec = Precision(precision, device.type)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    lo, hi = cfg.data_range
    g = torch.Generator().manual_seed(0)

    def images(n: int) -> Tensor:
        return (lo + (hi - lo) * torch.rand(n, *cfg.shape, generator=g)).to(device)

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=cfg.train.lr)
    measure_step(model, optimizer, images(2), prec)  # ActNorm's init and Adam's state
    p_bytes, t_bytes = _nbytes(model.parameters()), _nbytes(trainable)
    if probes is None:  # double until activations outweigh the gradients' share of the peak
        lo_b = 1
        while lo_b < max(batch // 2, 1):
            if measure_step(model, optimizer, images(lo_b), prec)["activations"] >= 2 * t_bytes:
                break
            lo_b *= 2
        probes = (lo_b, 2 * lo_b)
    lo_b, hi_b = probes
    steps = {b: measure_step(model, optimizer, images(b), prec) for b in probes}

    def slope(key: str) -> float:
        return (steps[hi_b][key] - steps[lo_b][key]) / (hi_b - lo_b)

    def at(key: str) -> int:
        return int(steps[lo_b][key] + slope(key) * (batch - lo_b))

    n_params = sum(p.numel() for p in model.parameters())
    b_bytes = _nbytes(model.buffers())
    return MemoryEstimate(
        config=cfg.name,
        batch=batch,
        precision=prec.mode,
        n_params=n_params,
        params=p_bytes,
        buffers=b_bytes,
        gradients=t_bytes,
        adam=_nbytes(t for s in optimizer.state.values() for t in s.values() if t.dim() > 0),
        ema=p_bytes + b_bytes - _nbytes(frozen_tensors(model)),  # the EMA shares the frozen part
        activations=at("activations"),
        peak_backward=at("peak_backward"),
        peak_optimizer=max(s["peak_optimizer"] for s in steps.values()),
        backward_per_example=slope("peak_backward"),
        probes=tuple(probes),
        job="joint" if cfg.train_score else "flow only",
    )
