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

__all__ = ["PRECISION_MODES", "POLICY", "Precision", "resolve_precision", "float32"]

#: ``mode -> description`` of every precision a run can use
PRECISION_MODES: dict[str, str] = {
    "float32": "float32 everywhere",
    "bf16": "bf16 score network (autocast); flow, likelihoods, SDE and sampler state float32",
    "bf16_unguarded": "bf16 autocast of everything, flow included (reference only: unsafe)",
}

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
F = TypeVar("F", bound=Callable)


class _Guard:
    """Whether :func:`float32` regions are honoured (off only inside ``bf16_unguarded``)."""

    on: bool = True


@dataclass(frozen=True)
class Precision:
    """One precision of :data:`PRECISION_MODES` on one device type.

    Args:
        mode: ``"float32"``, ``"bf16"`` (the policy) or ``"bf16_unguarded"`` (reference only).
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
        """True when some computations run in bfloat16."""
        return self.mode != "float32"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """``torch.bfloat16`` for the mixed modes, else ``None`` (the ``Trainer``'s argument)."""
        return torch.bfloat16 if self.mixed else None

    def describe(self) -> str:
        """One line for logs: the mode and what runs in which dtype."""
        return f"{self.mode} ({PRECISION_MODES[self.mode]})"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """The region where the policy applies (a loss, a sampler call)."""
        guard = _Guard.on
        _Guard.on = self.mode != "bf16_unguarded"
        try:
            with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.mixed):
                yield
        finally:
            _Guard.on = guard


def resolve_precision(mode: str | None, device: torch.device | str) -> Precision:
    """The run's :class:`Precision`: ``mode``, or (``None``) ``"bf16"`` on CUDA, else float32."""
    device_type = torch.device(device).type
    if mode is None:
        mode = "bf16" if device_type == "cuda" else "float32"
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
