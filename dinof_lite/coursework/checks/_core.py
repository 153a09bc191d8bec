"""Grading machinery shared by every check: results, the safe runner and the kernel-wide summary.

A check calls the student's function through :func:`run_check`, which turns whatever happens into
a :class:`CheckResult` and never raises for a student mistake:

- ``NotImplementedError`` → ``"not attempted"`` (the exercise cell still holds its placeholder),
- any other exception → ``"error"``, with the exception and a hint,
- a wrong answer → ``"failed"``, with the diagnosis the check's ``grade`` function returns,
- a right answer → ``"passed"``.

Messages are deterministic (no timings, floats rounded to 3 significant digits) because nbval
compares them with the outputs stored in the notebooks.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = [
    "CheckResult",
    "Failed",
    "run_check",
    "summary",
    "results",
    "reset",
    "fmt",
    "call_student",
    "close",
    "expect_tensor",
    "diagnose",
    "yours_or_library",
    "passed",
    "quiet",
]

STATUSES = ("passed", "failed", "not attempted", "error")
_ICONS = {"passed": "✅", "failed": "❌", "not attempted": "⏳", "error": "💥"}
_COLOURS = {
    "passed": "#e6f4ea",
    "failed": "#fce8e6",
    "not attempted": "#fef7e0",
    "error": "#fce8e6",
}
_RESULTS: dict[str, CheckResult] = {}
_LOCAL = threading.local()


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: ``name`` (the exercise function), ``status`` (one of
    ``"passed" | "failed" | "not attempted" | "error"``) and a human-readable ``message``."""

    name: str
    status: str
    message: str
    #: set once the check has displayed the result, so IPython's echo of the returned value
    #: (a check call as a cell's last line) does not show it a second time
    _shown: list[bool] = field(default_factory=lambda: [False], repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; valid: {', '.join(STATUSES)}")

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __str__(self) -> str:
        return f"{_ICONS[self.status]} {self.name}: {self.status}. {self.message}"

    __repr__ = __str__

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self._shown[0]:
            self._shown[0] = False
            return
        display({"text/plain": str(self), "text/html": self._repr_html_()}, raw=True)

    def _repr_html_(self) -> str:
        body = html.escape(self.message).replace("\n", "<br>")
        return (
            f'<div style="background:{_COLOURS[self.status]};padding:6px 10px;'
            f'border-radius:4px;color:#202124"><b>{_ICONS[self.status]} '
            f"<code>{html.escape(self.name)}</code>: {self.status}.</b> {body}</div>"
        )


class Failed(Exception):
    """Raised inside a ``grade`` function to fail the check with a diagnosis message."""


def fmt(v: float | Tensor) -> str:
    """A float as 3 significant digits (robust to run-to-run noise in the last bits).

    A tensor is detached first: ``float()`` of a tensor that requires grad warns.
    """
    if isinstance(v, Tensor):
        v = v.detach()
    return f"{float(v):.3g}"


NEGATIVE_DT = (
    "{what}: dt is negative in reverse time (dt = {dt}), so its square root is undefined "
    "(math.sqrt(dt) raises 'math domain error', torch.sqrt gives NaN, dt ** 0.5 a complex "
    "number). The noise over one step has std g·√|dt|: use math.sqrt(-dt) (or abs(dt) ** 0.5)."
)


def call_student(fn: Callable, *args, dt: float | None = None):
    """``fn(*args)``; with a negative ``dt`` among them, the symptoms of ``sqrt(dt)`` become a
    :class:`Failed` that says so (instead of a bare "math domain error", a NaN or a complex
    tensor)."""
    try:
        out = fn(*args)
    except ValueError as err:
        if dt is not None and dt < 0 and "math domain error" in str(err):
            raise Failed(NEGATIVE_DT.format(what="sqrt of a negative dt", dt=fmt(dt))) from None
        raise
    except TypeError as err:  # torch refuses a Python complex in some ops
        if dt is not None and dt < 0 and "complex" in str(err).lower():
            raise Failed(
                NEGATIVE_DT.format(what="a complex number from sqrt(dt)", dt=fmt(dt))
            ) from None
        raise
    if dt is not None and dt < 0 and isinstance(out, Tensor):
        if out.is_complex():
            raise Failed(NEGATIVE_DT.format(what="your result is complex", dt=fmt(dt)))
        if out.is_floating_point() and torch.isnan(out).any():
            raise Failed(
                NEGATIVE_DT.format(what="your result contains NaN; is it sqrt(dt)?", dt=fmt(dt))
            )
    return out


def close(a: Tensor, b: Tensor, tol: float = 1e-5) -> bool:
    """Same shape and ``|a − b| ≤ tol·(1 + |b|)`` everywhere (float64 comparison)."""
    if not isinstance(a, Tensor) or a.shape != b.shape or a.is_complex():
        return False
    a, b = a.detach().double(), b.detach().double()
    return bool(torch.isfinite(a).all()) and bool(((a - b).abs() <= tol * (1 + b.abs())).all())


def expect_tensor(
    got: object, shape: tuple[int, ...], what: str, advice: str = "", finite: bool = True
) -> Tensor:
    """Fail unless ``got`` is a (``finite``) tensor of ``shape``; ``advice`` explains the shape."""
    if not isinstance(got, Tensor):
        raise Failed(f"{what} should be a torch.Tensor of shape {shape}, got {type(got).__name__}.")
    if tuple(got.shape) != tuple(shape):
        raise Failed(
            f"wrong shape: {what} has shape {tuple(got.shape)}, expected {tuple(shape)}. " + advice
        )
    if finite and not torch.isfinite(got).all():
        raise Failed(f"{what} contains NaN or inf.")
    return got


def diagnose(got: Tensor, candidates: dict[str, Tensor], tol: float = 1e-5) -> None:
    """Raise :class:`Failed` with the message of the first wrong-answer reference ``got`` matches.

    ``candidates`` maps a diagnosis (e.g. ``"missing sqrt: …"``) to what a function with that
    mistake returns on the same inputs.
    """
    for message, wrong in candidates.items():
        if close(got, wrong, tol):
            raise Failed(message)


def _display(result: CheckResult) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the dev extra
        print(result)
        return
    if get_ipython() is None:
        print(result)
    else:
        display(result)
        result._shown[0] = True


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Checks run in this thread inside the block neither show nor record their result (the
    grader runs them in threads, outside any notebook)."""
    before = getattr(_LOCAL, "quiet", False)
    _LOCAL.quiet = True
    try:
        yield
    finally:
        _LOCAL.quiet = before


def run_check(
    name: str, exercise: str, grade: Callable[[], str], *, hint: str = "", show: bool = True
) -> CheckResult:
    """Run ``grade()`` (which calls the student's function) and record the outcome.

    Args:
        name: the exercise function's name, e.g. ``"dsm_loss"``.
        exercise: its label in the notebooks, e.g. ``"(b)"``.
        grade: returns the success message, or raises
            :class:`~dinof_lite.coursework.checks._core.Failed` with a diagnosis.
        hint: appended to ``"error"`` messages.
        show: display the result (rich HTML in a notebook, else ``print``).
    """
    try:
        result = CheckResult(name, "passed", grade())
    except NotImplementedError:
        result = CheckResult(
            name,
            "not attempted",
            f"Exercise {exercise} `{name}` is not done yet: replace the "
            "`raise NotImplementedError` in its cell with your code and run "
            "the cell and this check again.",
        )
    except Failed as err:
        result = CheckResult(name, "failed", str(err))
    except Exception as err:  # noqa: BLE001 - any student crash becomes a report
        msg = f"Exercise {exercise} `{name}` raised {type(err).__name__}: {err}"
        result = CheckResult(name, "error", msg + (f"\nHint: {hint}" if hint else ""))
    if getattr(_LOCAL, "quiet", False):
        return result
    _RESULTS[name] = result
    if show:
        _display(result)
    return result


def results() -> dict[str, CheckResult]:
    """The latest result of every check run in this kernel, in the order they were first run."""
    return dict(_RESULTS)


def reset() -> None:
    """Forget all recorded results (tests use it)."""
    _RESULTS.clear()


def yours_or_library(name: str, yours: Callable, library: Callable) -> Callable:
    """``yours`` once the check ``name`` has passed in this kernel, else ``library`` (with a note),
    so the demonstrations after an exercise run in the student notebooks too."""
    result = _RESULTS.get(name)
    if result is not None and result.passed:
        print(f"Using your `{name}`.")
        return yours
    print(f"Using the library's `{name}` until yours passes its check.")
    return library


def passed(*names: str) -> bool:
    """True when every named check has passed in this kernel; else say which are missing."""
    missing = [n for n in names if not (n in _RESULTS and _RESULTS[n].passed)]
    if missing:
        need = "its check passes" if len(missing) == 1 else "their checks pass"
        print(f"Finish {', '.join(f'`{n}`' for n in missing)} first: this cell runs once {need}.")
    return not missing


def summary() -> None:
    """Print a table of every check run in this kernel and a final count."""
    if not _RESULTS:
        text = "No checks have been run yet."
    else:
        width = max(len(n) for n in _RESULTS)
        lines = [f"{'exercise':<{width}}  status", f"{'-' * width}  {'-' * 13}"]
        lines += [f"{n:<{width}}  {_ICONS[r.status]} {r.status}" for n, r in _RESULTS.items()]
        done = sum(r.passed for r in _RESULTS.values())
        lines.append(f"{done}/{len(_RESULTS)} checks passed.")
        text = "\n".join(lines)
    print(text)
