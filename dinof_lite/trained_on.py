"""What a network was trained on — its SDE and its data range — and the checks that use it.

A score network learns the score of *one* forward SDE on data of *one* scale. Used with another
SDE it returns numbers of the wrong convention (a VP ε-network read as a VE σ-scaled score
samples with a standard deviation of ~1e8), and fed data of another scale (0–255 pixels to a
model of ``[0, 1]`` images) it returns likelihoods that mean nothing — in both cases silently.
So a loaded model carries a :class:`TrainedOn` record on the attribute ``module.trained_on``::

    sde, net = load_score_model("score_mlp_8gaussians_vp")
    net.trained_on   # TrainedOn(sde={"kind": "vp", "beta_min": 0.1, ...}, data_range=(-4.0, 4.0))
    get_score_fn(VESDE(), net)   # SDEMismatchError naming both SDEs

The checkpoints of :mod:`dinof_lite.pretrained` store it (``"trained_on"``:
:meth:`TrainedOn.to_dict`); files written before it existed get it derived from what they do store (their
``"sde"`` and ``meta["dataset"]``). A module without a record (a freshly built one) is never
checked.

**Checks.** :func:`check_sde` — at :func:`~dinof_lite.losses.get_score_fn` (which every
sampler, loss and likelihood goes through) and when a :class:`~dinof_lite.dinof.DiNof` is built —
compares the SDE's kind, parameters and ``T`` (not ``N``: the sampler's grid is not something the
network learned). :func:`check_data_range` — in :func:`~dinof_lite.losses.dsm_loss`, the ODE
likelihoods and ``Glow.log_prob`` — refuses data *far* outside the recorded range ``[lo, hi]``:
beyond ``[lo − w, hi + w]`` with ``w = hi − lo`` (for ``[0, 1]`` images: outside ``[−1, 2]``, so
dequantisation noise and ``[-1, 1]`` mix-ups of a few tenths pass, a 0–255 image does not). The
2D toys have no hard range (Gaussian tails); their record is the box that holds them,
:data:`dinof_lite.data.toy.TOY_RANGE` ``= (−4, 4)``, so only data of another scale (beyond ±12)
is refused.

**Opting out.** ``get_score_fn(sde, net, allow_sde_mismatch=True)``, or, for every check in a
block, ``with dinof_lite.trained_on.unchecked(): ...``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:  # the record needs only the SDE's name, params() and T
    from dinof_lite.sde import SDE

__all__ = [
    "DataRangeError",
    "SDEMismatchError",
    "TrainedOn",
    "check_data_range",
    "check_sde",
    "record_of",
    "sde_record",
    "unchecked",
]

_CHECKED = contextvars.ContextVar("dinof_lite_trained_on_checked", default=True)
_NOT_LEARNED = ("N",)  # SDE parameters a network does not learn (the sampler's grid)


class SDEMismatchError(ValueError):
    """A network trained for one SDE used with another; the message names both."""


class DataRangeError(ValueError):
    """Data far outside the range a model was trained on; the message names both ranges."""


def sde_record(sde: SDE) -> dict[str, Any]:
    """``{"kind": name, **params, "T": T}``, e.g. ``{"kind": "vp", "beta_min": 0.1,
    "beta_max": 20.0, "N": 1000, "T": 1.0}``."""
    return {"kind": sde.name, **sde.params(), "T": float(sde.T)}


def _describe_sde(record: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in record.items() if k != "kind")
    return f"{record.get('kind', '?')}({params})"


@dataclasses.dataclass(frozen=True)
class TrainedOn:
    """What a model was trained on.

    Attributes:
        sde: :func:`sde_record` of the forward SDE (None for a model without one, e.g. a flow).
        data_range: ``(lo, hi)`` of the training data (None: unknown, not checked).
        dataset: a short name of the data, for messages (e.g. ``"digits"``).
    """

    sde: dict[str, Any] | None = None
    data_range: tuple[float, float] | None = None
    dataset: str | None = None

    def __post_init__(self) -> None:
        if self.data_range is not None:
            lo, hi = (float(v) for v in self.data_range)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"data_range must be (lo, hi) with lo < hi; got {self.data_range}")
            object.__setattr__(self, "data_range", (lo, hi))

    @classmethod
    def of(cls, sde: SDE | None, data_range=None, dataset: str | None = None) -> TrainedOn:
        """The record of a model trained for ``sde`` on data in ``data_range``."""
        return cls(None if sde is None else sde_record(sde), data_range, dataset)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (what checkpoints store); :meth:`from_dict` reads it back."""
        rng = None if self.data_range is None else list(self.data_range)
        return {"sde": self.sde, "data_range": rng, "dataset": self.dataset}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TrainedOn:
        rng = record.get("data_range")
        return cls(record.get("sde"), None if rng is None else tuple(rng), record.get("dataset"))


def record_of(obj: Any) -> TrainedOn | None:
    """The :class:`TrainedOn` of a module, of a score function from
    :func:`~dinof_lite.losses.get_score_fn`, or of their wrappers (``DistributedDataParallel``,
    ``AveragedModel``, ``torch.compile``); None if there is none."""
    for _ in range(4):
        record = getattr(obj, "trained_on", None)
        if isinstance(record, TrainedOn):
            return record
        inner = getattr(obj, "module", None)
        inner = getattr(obj, "_orig_mod", None) if inner is None else inner
        if inner is None:
            return None
        obj = inner
    return None


@contextlib.contextmanager
def unchecked():
    """``with unchecked(): ...`` — no SDE or data-range check inside the block (this thread or
    task only): for deliberate experiments such as a VP network under another schedule."""
    token = _CHECKED.set(False)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def _same_sde(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = (set(a) | set(b)) - set(_NOT_LEARNED)
    for key in keys:
        x, y = a.get(key), b.get(key)
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif x != y:
            return False
    return True


def check_sde(sde: SDE, net: Any, *, where: str = "get_score_fn", allow: bool = False) -> None:
    """Raise :class:`SDEMismatchError` if ``net`` was trained for an SDE other than ``sde``.

    Nothing is checked for a network without a record, with ``allow=True`` or inside
    :func:`unchecked`.
    """
    record = record_of(net)
    if allow or record is None or record.sde is None or not _CHECKED.get():
        return
    given = sde_record(sde)
    if _same_sde(record.sde, given):
        return
    trained = f" on {record.dataset}" if record.dataset else ""
    raise SDEMismatchError(
        f"{where}: this {type(net).__name__} was trained{trained} for the SDE "
        f"{_describe_sde(record.sde)} but is used with {_describe_sde(given)}; its output "
        "would be read under the wrong convention and schedule. Use the SDE it was trained for "
        "(the loaders return it: sde, net = load_score_model(...); model.sde for a DiNof), or "
        "opt out deliberately with get_score_fn(..., allow_sde_mismatch=True) or "
        "`with dinof_lite.trained_on.unchecked(): ...`"
    )


def check_data_range(
    model: Any,
    x: Tensor,
    what: str = "x",
    where: str = "",
    extrema: tuple[float, float] | None = None,
) -> None:
    """Raise :class:`DataRangeError` if ``x`` lies far outside ``model``'s recorded data range.

    "Far": beyond ``[lo − w, hi + w]`` with ``w = hi − lo`` (module docstring). ``model`` is a
    module or score function with a record (:func:`record_of`); nothing is checked without one,
    without a ``data_range``, or inside :func:`unchecked`. ``extrema``: ``x``'s ``(min, max)``
    when the caller has them (:func:`dinof_lite.utils.check_batch` returns them), so that ``x``
    is not read again.
    """
    record = record_of(model)
    if record is None or record.data_range is None or not _CHECKED.get():
        return
    if not isinstance(x, Tensor) or x.numel() == 0 or not x.is_floating_point():
        return  # the caller's own checks name a wrong type or shape
    lo, hi = record.data_range
    width = hi - lo
    if extrema is None:
        with torch.no_grad():
            extrema = tuple(torch.stack(torch.aminmax(x)).tolist())
    x_min, x_max = extrema
    if lo - width <= x_min and x_max <= hi + width:
        return
    trained = f" ({record.dataset})" if record.dataset else ""
    owner = type(model).__name__ if isinstance(model, torch.nn.Module) else "score network"
    hint = (
        f"; 8-bit pixels? scale them with {what} / 255"
        if x_max > 2 and hi <= 1 and x_min >= -1
        else ""
    )
    raise DataRangeError(
        f"{where + ': ' if where else ''}{what} spans [{x_min:.4g}, {x_max:.4g}], far outside "
        f"the range [{lo:g}, {hi:g}] this {owner} was trained on{trained} "
        f"(allowed: [{lo - width:g}, {hi + width:g}]); bring the data to the training range"
        f"{hint}, or opt out deliberately with `with dinof_lite.trained_on.unchecked(): ...`"
    )
