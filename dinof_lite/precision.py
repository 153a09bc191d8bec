"""The precision policy: what may run in bfloat16 and what must stay in float32.

Mixed precision here means one rule, the same in training, sampling and evaluation
(docs/design.md §Precision policy), under ``Precision("bf16")``:

- the score network's convolutions, linear layers and attention: bfloat16 (``torch.autocast``);
- the flow's forward, inverse and log-determinants: float32 (:func:`float32`);
- every likelihood and bits/dim evaluation: float32 (:func:`float32`);
- SDE coefficients, noise labels and the DSM loss: float32 (elementwise operations, which
  autocast leaves in their inputs' dtype);
- the sampler state ``x_t`` and its updates: float32 (the bf16 network output is promoted);
- parameters, gradients, Adam's state and the EMA: float32 (autocast casts copies only).

``Precision(mode).autocast()`` opens the region (a whole loss, a whole sampler call); inside it
the functions marked with :func:`float32` — ``Glow``'s bijection and ``DiNof``'s likelihood —
switch autocast off and cast their floating inputs to float32, so only the score network's
matrix products run in bfloat16. Why the flow is excluded: Glow's inverse composes 150 layers
and its 1×1 convolutions are inverted by triangular solves; in bfloat16 (8 bits of mantissa)
the paper-size Glow after 300 training steps moved its log-density by 1.6 bits/dim and its
inverse by 0.07 (``python -m dinof_lite bench precision``). The score network's error is only a noisy score,
which the sampler's own noise already tolerates.

``Precision("fp16")`` is the same rule with float16 in place of bfloat16, for GPUs without
native bf16 (CUDA compute capability < 8.0: Colab's T4, V100): there bf16 autocast is emulated
(no bf16 tensor cores), while float16 runs on the tensor cores. float16's 5-bit exponent
underflows small gradients, so a training step under it scales the loss with
``torch.amp.GradScaler`` (the ``Trainer`` does, whenever its autocast dtype is float16); the
flow, being float32, is untouched by the scaling (a power of two, undone exactly).
:func:`resolve_precision` picks it by itself on such a GPU (:func:`half_mode`);
``Precision("fp16", "cpu")`` forces the same code on a CPU (docs/design.md §Precision policy).

``Precision("bf16_unguarded")`` autocasts *everything*, flow included — the behaviour before
this policy, kept so the benchmark can show what the policy prevents. Never train with it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch

__all__ = [
    "PRECISION_MODES",
    "TRAIN_PRECISIONS",
    "POLICY",
    "Precision",
    "half_mode",
    "resolve_precision",
    "float32",
]

#: ``mode -> description`` of every precision a run can use
PRECISION_MODES: dict[str, str] = {
    "float32": "float32 everywhere",
    "bf16": "bf16 score network (autocast); flow, likelihoods, SDE and sampler state float32",
    "fp16": "fp16 score network (autocast) with a gradient scaler, for GPUs without native bf16 "
    "(compute capability < 8.0); flow, likelihoods, SDE and sampler state float32",
    "bf16_unguarded": "bf16 autocast of everything, flow included (reference only: unsafe)",
}

#: the modes a run may train in (``bf16_unguarded`` exists for the benchmark only)
TRAIN_PRECISIONS = ("float32", "bf16", "fp16")

#: component -> dtype under the ``"bf16"`` policy (printed by ``bench precision``)
POLICY: dict[str, str] = {
    "score network (convs, linear, attention)": "bfloat16",
    "flow forward / inverse / log-dets": "float32",
    "likelihoods and bits/dim": "float32",
    "SDE coefficients and DSM loss": "float32",
    "sampler state": "float32",
    "parameters, gradients, Adam, EMA": "float32",
}

_HALF = (torch.bfloat16, torch.float16)
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "bf16_unguarded": torch.bfloat16}
#: the first CUDA compute capability with bf16 tensor cores (Ampere)
BF16_CAPABILITY = (8, 0)
F = TypeVar("F", bound=Callable)


class _Guard:
    """Whether :func:`float32` regions are honoured (off only inside ``bf16_unguarded``)."""

    on: bool = True


@dataclass(frozen=True)
class Precision:
    """One precision of :data:`PRECISION_MODES` on one device type.

    Args:
        mode: ``"float32"``, ``"bf16"`` (the policy), ``"fp16"`` (the policy where bf16 is not
            native) or ``"bf16_unguarded"`` (reference only).
        device_type: ``"cpu"`` or ``"cuda"`` (autocast's device type).
    """

    mode: str = "float32"
    device_type: str = "cpu"

    def __post_init__(self) -> None:
        if self.mode not in PRECISION_MODES:
            raise ValueError(
                f"unknown precision {self.mode!r}; valid: {', '.join(PRECISION_MODES)}"
            )

    @property
    def mixed(self) -> bool:
        """True when some computations run in half precision (bfloat16 or float16)."""
        return self.mode != "float32"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """``torch.bfloat16`` or ``torch.float16`` for the mixed modes, else ``None`` (the
        ``Trainer``'s argument; float16 also makes it scale the loss)."""
        return _DTYPES.get(self.mode)

    def describe(self) -> str:
        """One line for logs: the mode and what runs in which dtype."""
        return f"{self.mode} ({PRECISION_MODES[self.mode]})"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The region where the policy applies (a loss, a sampler call)."""
        guard = _Guard.on
        _Guard.on = self.mode != "bf16_unguarded"
        try:
            dtype = self.autocast_dtype or torch.bfloat16
            with torch.autocast(self.device_type, dtype=dtype, enabled=self.mixed):
                yield
        finally:
            _Guard.on = guard


def half_mode(device: torch.device | str) -> str:
    """The policy's half precision on ``device``: ``"fp16"`` on a CUDA GPU of compute capability
    below :data:`BF16_CAPABILITY` (T4 7.5, V100 7.0: bf16 would be emulated there), else
    ``"bf16"``."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.get_device_capability(device) < BF16_CAPABILITY:
        return "fp16"
    return "bf16"


def resolve_precision(mode: str | None, device: torch.device | str) -> Precision:
    """The run's :class:`Precision`: ``mode``, or (``None``) the policy's half precision on CUDA
    (:func:`half_mode`: bf16, or fp16 where bf16 is not native), float32 elsewhere."""
    device_type = torch.device(device).type
    if mode is None:
        mode = half_mode(device) if device_type == "cuda" else "float32"
    return Precision(mode, device_type)


def _autocast_on() -> list[str]:
    return [d for d in ("cpu", "cuda") if torch.is_autocast_enabled(d)]


def _to_float32(value):
    if isinstance(value, torch.Tensor) and value.dtype in _HALF:
        return value.float()
    return value


def float32(fn: F) -> F:
    """Decorator: run ``fn`` in float32 even inside an autocast region.

    Half-precision tensor arguments are cast to float32 and autocast is switched off while
    ``fn`` runs (outside autocast, or under ``bf16_unguarded``, ``fn`` runs unchanged).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        devices = _autocast_on()
        if not devices or not _Guard.on:
            return fn(*args, **kwargs)
        args = tuple(_to_float32(a) for a in args)
        kwargs = {k: _to_float32(v) for k, v in kwargs.items()}
        with contextlib.ExitStack() as stack:
            for d in devices:
                stack.enter_context(torch.autocast(d, enabled=False))
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
