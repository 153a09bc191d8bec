"""The values that cross between the grader and a sandboxed answer: plain data, never a pickle.

Both sides (:mod:`~dinof_lite.coursework.sandbox` and its child process) write one JSON object
per line. A value is JSON itself (``None``, booleans, numbers, strings, lists) or a one-key
object naming what it rebuilds:

==================  ==========================================================================
``__tensor__``      a tensor (or a NumPy array, read back as a tensor) as ``.npy`` bytes, base64;
                    read with ``allow_pickle=False``, numbers and booleans only
``__tuple__``       a tuple; ``__dict__`` a dict as ``[key, value]`` pairs (keys keep their type)
``__sde__``         a :class:`~dinof_lite.sde.VPSDE` / ``VESDE`` / ``subVPSDE`` from its
                    ``params()``; ``__gmm__`` a :class:`~dinof_lite.data.toy.GaussianMixture`
``__generator__``   a ``torch.Generator`` state (the grader keeps both copies in step)
``__record__``      the fields of a result object (``model.sample_result(...)``), read by
                    attribute
``__handle__``      an object that stays in the grader's process (a score network, a flow, a
                    spy): the other side gets a proxy (see ``sandbox.py``)
``__opaque__``      anything else, by its type's name only
==================  ==========================================================================

Nesting is limited to :data:`MAX_DEPTH` levels and strings to :data:`MAX_TEXT` characters, so a
reply cannot exhaust the grader's stack or memory.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch

__all__ = [
    "MAX_DEPTH", "MAX_TEXT", "WireError", "Opaque", "encode", "decode", "set_generator_state"
]  # fmt: skip

MAX_DEPTH = 12
MAX_TEXT = 4000
_SDES = ("VPSDE", "VESDE", "subVPSDE")
_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


class WireError(ValueError):
    """A message that is not a value of this format (its text says what)."""


class Opaque:
    """Stands for a value the wire does not carry; its class is named after the original type,
    so a check's "got <type>" message names what the answer returned."""

    def __repr__(self) -> str:
        return f"<a {type(self).__name__}>"


def _opaque(name: object) -> Opaque:
    name = _IDENTIFIER.sub("", str(name))[:40] or "object"
    return type(name, (Opaque,), {})()


def _npy(array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, array.copy(order="C"), allow_pickle=False)  # ascontiguousarray makes 0-d 1-d
    return base64.b64encode(buf.getvalue()).decode()


def _from_npy(text: object) -> torch.Tensor:
    if not isinstance(text, str):
        raise WireError("an array must be base64 text")
    try:
        array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    except ValueError as err:
        raise WireError(f"not an .npy array: {err}") from None
    if array.dtype.kind not in "biuf":
        raise WireError(f"an array of {array.dtype} is not numbers")
    return torch.from_numpy(array.copy())


def _generator_state(gen: torch.Generator) -> str:
    return base64.b64encode(gen.get_state().numpy().tobytes()).decode()


def set_generator_state(gen: torch.Generator, text: object) -> None:
    """Give ``gen`` the state ``text`` (what :func:`encode` wrote for a generator)."""
    if not isinstance(text, str):
        raise WireError("a generator state must be base64 text")
    raw = base64.b64decode(text, validate=True)
    try:
        gen.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
    except RuntimeError as err:
        raise WireError(f"not a generator state: {err}") from None


def encode(value, handle: Callable | None = None, generators: dict | None = None, depth: int = 0):
    """``value`` as JSON-ready data. ``handle(obj)`` encodes what is not data (or None: opaque);
    ``generators`` (key → generator) receives each generator sent, so its state can be synced."""
    from dinof_lite.data.toy import GaussianMixture
    from dinof_lite.sde import SDE

    if depth > MAX_DEPTH:
        raise WireError(f"a value nested deeper than {MAX_DEPTH} levels")
    again = lambda v: encode(v, handle, generators, depth + 1)  # noqa: E731
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biuf" else {"__opaque__": str(value.dtype)}
    if isinstance(value, torch.Tensor | np.ndarray):
        array = value.detach().cpu().resolve_conj().numpy() if torch.is_tensor(value) else value
        if array.dtype.kind not in "biuf":
            return {"__opaque__": f"array_of_{array.dtype}"}
        return {"__tensor__": _npy(array)}
    if isinstance(value, list):
        return [again(v) for v in value]
    if isinstance(value, tuple):  # torch.Size too
        return {"__tuple__": [again(v) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[again(k), again(v)] for k, v in value.items()]}
    if isinstance(value, SDE) and type(value).__name__ in _SDES:
        return {"__sde__": type(value).__name__, "kw": value.params()}
    if type(value) is GaussianMixture:
        data = (value.means, value.covs, value.weights)
        return {"__gmm__": [again(v) for v in data]}
    if isinstance(value, torch.Generator):
        known = generators if generators is not None else {}
        key = next((k for k, g in known.items() if g is value), str(id(value)))
        known[key] = value
        return {"__generator__": key, "state": _generator_state(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__record__": {k: again(v) for k, v in fields.items()}}
    if handle is not None:
        return handle(value)
    return {"__opaque__": type(value).__name__}


def decode(value, handle: Callable | None = None, generators: dict | None = None, depth: int = 0):
    """The value :func:`encode` wrote. ``handle(spec)`` rebuilds a ``__handle__`` (or refuses);
    ``generators`` maps a key to the generator that stands for it here (made on first sight)."""
    from dinof_lite import sde as sde_module
    from dinof_lite.data.toy import GaussianMixture

    if depth > MAX_DEPTH:
        raise WireError(f"a value nested deeper than {MAX_DEPTH} levels")
    again = lambda v: decode(v, handle, generators, depth + 1)  # noqa: E731
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, list):
        return [again(v) for v in value]
    if not isinstance(value, dict) or len(value) == 0:
        raise WireError(f"not a value: {type(value).__name__}")
    kind = next(iter(value))
    body = value[kind]
    if kind == "__tensor__":
        return _from_npy(body)
    if kind == "__tuple__" and isinstance(body, list):
        return tuple(again(v) for v in body)
    if kind == "__dict__" and isinstance(body, list):
        pairs = [again(p) for p in body]
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise WireError("a dict is a list of [key, value] pairs")
        try:
            return {k: v for k, v in pairs}
        except TypeError:
            raise WireError("a dict key that is not hashable") from None
    if kind == "__sde__" and body in _SDES and isinstance(value.get("kw"), dict):
        kw = value["kw"]
        if not all(isinstance(v, bool | int | float) for v in kw.values()):
            raise WireError("an SDE's parameters are numbers")
        try:
            return getattr(sde_module, body)(**kw)
        except (TypeError, ValueError) as err:
            raise WireError(f"not an SDE: {err}") from None
    if kind == "__gmm__" and isinstance(body, list) and len(body) == 3:
        return GaussianMixture(*(again(v) for v in body))
    if kind == "__generator__" and isinstance(body, str):
        if generators is None:
            raise WireError("a generator where none is expected")
        gen = generators.setdefault(body, torch.Generator())
        set_generator_state(gen, value.get("state"))
        return gen
    if kind == "__record__" and isinstance(body, dict):
        return SimpleNamespace(**{str(k): again(v) for k, v in body.items()})
    if kind == "__handle__":
        if handle is None:
            raise WireError("an object handle where none is expected")
        return handle(value)
    if kind == "__opaque__":
        return _opaque(body)
    raise WireError(f"not a value: {kind!s:.40}")
