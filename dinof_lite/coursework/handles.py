"""The objects that stay in the grader while a sandboxed answer runs: :class:`Handles`.

A score function, a flow, a model or a spy counting calls is not data, so it does not cross to
the answer's process (:mod:`~dinof_lite.coursework.sandbox`). The wire carries a handle instead
(``__handle__``, :mod:`~dinof_lite.coursework.wire`) and the answer gets a proxy whose requests
come back here, where :meth:`Handles.serve` answers them:

- ``getattr`` — one of the :data:`ATTRIBUTES` (fetched once, when the answer first reads it: a
  property that fails a check fails it then, as in the kernel);
- ``callback`` — the object itself, or one of its :data:`METHODS`, on decoded arguments; no
  other method (nothing that loads weights, switches modes or registers hooks) is reachable;
- ``vjp`` — the vector-Jacobian product of such a call with respect to its tensor arguments
  and the object's trainable tensors: the backward pass of the proxy, so the answer can
  differentiate through the grader's functions, and the grader through the answer.

An exception raised here goes back to the answer and is remembered (:attr:`Handles.raised`):
if the answer lets it through, the grader raises the very same object (a check's ``Failed``
stays a ``Failed``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import SimpleNamespace

import torch

from dinof_lite.coursework.wire import WireError, decode, encode

__all__ = ["ATTRIBUTES", "METHODS", "MAX_COUNT", "Handles"]

#: attributes of a kept object that the answer may read
ATTRIBUTES = (
    "in_shape", "dims", "dim", "T_m", "train_eps", "sample_eps", "eps", "any_T_m", "T_m_range",
    "sde", "flow", "score_fn", "N", "T", "n_components",
)  # fmt: skip
#: methods of a kept object that the answer may call (besides calling the object itself)
METHODS = ("inverse", "log_prob", "sample", "sample_result", "context")
#: largest integer argument of a call back into the grader (a batch size)
MAX_COUNT = 1_000_000


def _trainable(obj) -> list[torch.Tensor]:
    """Tensors that require grad which a plain function (``lambda x, t: w * x``) reads from its
    closure or its module's globals: the answer's result is differentiated with respect to
    them. Modules keep theirs here."""
    values = []
    for cell in getattr(obj, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            values.append(cell.cell_contents)
    code, scope = getattr(obj, "__code__", None), getattr(obj, "__globals__", {})
    values += [scope[n] for n in getattr(code, "co_names", ()) if n in scope]
    found = []
    for value in values:
        trainable = torch.is_tensor(value) and value.requires_grad and value.is_leaf
        if trainable and not any(value is f for f in found):
            found.append(value)
    return found


class Handles:
    """The kept objects of one sandbox, by handle, and what the answer may do with them."""

    def __init__(self) -> None:
        self.objects: list = []  # handle → object
        self.params: dict[int, list[torch.Tensor]] = {}  # handle → its trainable tensors
        self.raised: list[Exception] = []  # what requests raised, by index
        self._ids: dict[int, int] = {}  # id(object) → handle
        self._touched: list[int] = []

    def spec(self, obj) -> dict:
        """``obj`` on the wire: its handle, and the first time what its proxy offers."""
        if id(obj) in self._ids:
            self._touched.append(self._ids[id(obj)])
            return {"__handle__": self._ids[id(obj)]}
        h = len(self.objects)
        self._touched.append(h)
        self.objects.append(obj)
        self._ids[id(obj)] = h
        self.params[h] = _trainable(obj)
        methods = [m for m in METHODS if callable(getattr(type(obj), m, None))]
        params = [self.encode(p.detach()) for p in self.params[h]]
        return {"__handle__": h, "type": type(obj).__name__, "call": callable(obj),
                "methods": methods, "attributes": list(ATTRIBUTES), "params": params}  # fmt: skip

    def resolve(self, spec: dict):
        h = spec.get("__handle__")
        if not isinstance(h, int) or not 0 <= h < len(self.objects):
            raise WireError("an unknown object handle")
        return self.objects[h]

    def encode(self, value, generators: dict | None = None):
        return encode(value, self.spec, generators)

    def decode(self, value, generators: dict | None = None):
        return decode(value, self.resolve, generators)

    def sent_with(self, encode_all: Callable[[], object]) -> SimpleNamespace:
        """``encode_all()``'s value and the handles it sent (``.value``, ``.handles``)."""
        self._touched = []
        value = encode_all()
        return SimpleNamespace(value=value, handles=list(dict.fromkeys(self._touched)))

    def serve(self, request: dict) -> dict:
        """The reply to one request of the answer (``op``: ``getattr``, ``callback``, ``vjp``)."""
        try:
            obj = self.resolve({"__handle__": request.get("handle")})
            method = request.get("method")
            if request.get("op") == "getattr":
                if method not in ATTRIBUTES:
                    raise AttributeError(f"the grader's object has no attribute {method!r}")
                return {"op": "return", "value": self.encode(getattr(obj, method), {})}
            if method is None and callable(obj):
                fn = obj
            elif method in METHODS and callable(getattr(type(obj), method, None)):
                fn = getattr(obj, method)
            else:
                raise AttributeError(f"the grader's object has no method {method!r}")
            gens: dict = {}
            args = self.decode(request.get("args", []), gens)
            kwargs = self.decode(request.get("kwargs", {"__dict__": []}), gens)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise WireError("a call's arguments are a list and a dict")
            kwargs = {str(k): v for k, v in kwargs.items()}
            for value in [*args, *kwargs.values()]:
                if isinstance(value, int) and not isinstance(value, bool) and value > MAX_COUNT:
                    raise ValueError(f"{value} is more than the grader computes ({MAX_COUNT})")
            if request.get("op") == "vjp":
                value = self._vjp(fn, args, kwargs, request)
            else:
                with torch.set_grad_enabled(bool(request.get("grad_enabled"))):
                    value = fn(*args, **kwargs)
            states = {k: encode(g)["state"] for k, g in gens.items()}
            return {"op": "return", "value": self.encode(value, {}), "generators": states}
        except Exception as err:  # noqa: BLE001 - reported to the answer as its own exception
            self.raised.append(err)
            return {"op": "raise", "type": type(err).__name__, "message": str(err)[:2000],
                    "index": len(self.raised) - 1}  # fmt: skip

    def _vjp(self, fn, args: list, kwargs: dict, request: dict) -> list:
        """Gradients of ``fn``'s outputs (weighted by the request's ``grads``) with respect to
        its tensor arguments (in order, then keyword arguments) and its trainable tensors."""
        cotangents = self.decode(request.get("grads", []))
        slots = [(args, i) for i, a in enumerate(args) if torch.is_tensor(a)]
        slots += [(kwargs, k) for k, a in kwargs.items() if torch.is_tensor(a)]
        params = self.params[request["handle"]]
        with torch.enable_grad():
            leaves = []
            for holder, key in slots:
                t = holder[key].detach()
                holder[key] = t.requires_grad_(True) if t.is_floating_point() else t
                leaves.append(holder[key])
            out = fn(*args, **kwargs)
            outs = out if isinstance(out, tuple) else (out,)
            pairs = [
                (o, g)
                for o, g in zip(outs, cotangents)
                if torch.is_tensor(o) and o.requires_grad and torch.is_tensor(g)
            ]
            inputs = [t for t in [*leaves, *params] if t.requires_grad]
            grads = iter(
                torch.autograd.grad(
                    [o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True
                )  # fmt: skip
                if pairs and inputs
                else [None] * len(inputs)
            )
        return [next(grads) if t.requires_grad else None for t in [*leaves, *params]]
