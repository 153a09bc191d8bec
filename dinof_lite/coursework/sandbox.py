"""Run a student's answer where it cannot touch the grade: a fresh, limited subprocess.

:class:`Sandbox` starts ``python -I`` on :mod:`~dinof_lite.coursework._sandbox_child` with
``resource`` limits (CPU seconds, address space, file size, no core dumps), a new network
namespace where the system allows one (else the audit hook alone refuses sockets), an empty
temporary working directory and a minimal environment. The child installs an audit hook (file
reads only inside the Python installation and ``dinof_lite``, writes only in its working
directory; no sockets, subprocesses, ``ctypes`` or signals), defines the answer, then serves
calls. Best effort: a determined attacker on a shared machine needs a container (the teacher's
guide, "Threat model").

The grader calls the answer with :meth:`Sandbox.call`. Arguments and results cross as plain data
(:mod:`~dinof_lite.coursework.wire`). An object that is not data (a score network, a flow, a
spy counting calls) stays here: the answer gets a proxy whose calls come back to this process
(only the methods in :data:`METHODS` and the attributes in :data:`ATTRIBUTES`).
Gradients cross too: the proxy is an autograd function whose backward asks this process for a
vector-Jacobian product, and a result of :meth:`Sandbox.call` on inputs that require grad (or a
callable holding a trainable tensor) backpropagates through the answer's process. Nothing the
child sends is executed here; a call that runs past the time limit kills its process group.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import torch

from dinof_lite.coursework.wire import WireError, decode, encode, set_generator_state

__all__ = ["ATTRIBUTES", "METHODS", "SandboxError", "Sandbox"]

#: attributes of a proxied object that the answer may read (each fetched once, when first read)
ATTRIBUTES = (
    "in_shape", "dims", "dim", "T_m", "train_eps", "sample_eps", "eps", "any_T_m", "T_m_range",
    "sde", "flow", "score_fn", "N", "T", "n_components",
)  # fmt: skip
#: methods of a proxied object that the answer may call (besides calling the object itself)
METHODS = ("inverse", "log_prob", "sample", "sample_result", "context")
_MAX_MESSAGE = 64 << 20
_MAX_COUNT = 1_000_000  # largest integer argument of a call back into the grader (a batch size)
_START_LIMIT = 120.0  # seconds to start Python and import torch, before the answer's own limit
_CHILD = Path(__file__).with_name("_sandbox_child.py")
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000


class SandboxError(Exception):
    """The answer could not be run, or answered outside the rules (its text is the reason)."""


def _answer_error(kind: object, message: object) -> Exception:
    """An exception standing for one the answer raised: the same builtin class, or a class of
    the same name (so a check's "raised TypeError: …" reads as in the kernel)."""
    text = str(message)[:2000]
    name = "".join(c for c in str(kind) if c.isalnum() or c == "_")[:40] or "Exception"
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(text)
        except TypeError:  # a builtin that wants more arguments (UnicodeDecodeError)
            pass
    return type(name, (Exception,), {})(text)


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


def _roots() -> list[str]:
    """What the answer's process may read: the Python installation and ``dinof_lite``."""
    paths = sysconfig.get_paths()
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots |= {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(str(Path(__file__).resolve().parents[1]))  # dinof_lite itself: no solutions
    return sorted(str(Path(r).resolve()) for r in roots)


def _no_network() -> None:  # between fork and exec: a network namespace of its own, if allowed
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWUSER | _CLONE_NEWNET)


class _Attach(torch.autograd.Function):
    """Ties a result of the answer to the inputs that require grad: its backward runs the
    backward pass in the answer's process (see :meth:`Sandbox.call`)."""

    @staticmethod
    def forward(ctx, box, call_id, n_out, *tensors):
        ctx.box, ctx.call_id, ctx.n_out = box, call_id, n_out
        return tuple(t.clone() for t in tensors[:n_out])

    @staticmethod
    def backward(ctx, *grads):
        leaf_grads = ctx.box._backward(ctx.call_id, grads)
        return (None, None, None, *([None] * ctx.n_out), *leaf_grads)


class Sandbox:
    """One answer in one subprocess: ``with Sandbox(source, names) as box: box.call("f", x)``.

    Args:
        source: the answer's code (its solution cells), already passed by
            :func:`~dinof_lite.coursework.rules.refusal`.
        names: what the answer finds defined, name → ``"module"`` or ``"module:attribute"``
            (``{"torch": "torch", "EulerMaruyamaPredictor": "dinof_lite.sampling:…"}``).
        time_limit: wall-clock seconds the answer may take once its process has started: the
            time the grader waits for it, and the time it spends on the answer's calls back
            (its CPU seconds are limited too). The grader's own work between calls is free.
        memory_mb: its address-space limit.
    """

    def __init__(self, source: str, names: dict[str, str] | None = None, *,
                 time_limit: float = 60.0, memory_mb: int = 4096) -> None:  # fmt: skip
        self.source = source
        self.names = dict(names if names is not None else {"math": "math", "torch": "torch"})
        self.time_limit, self.memory_mb = float(time_limit), int(memory_mb)
        self.network = "unknown"
        self.proc: subprocess.Popen | None = None
        self._objects: list = []  # handle → object kept here
        self._sent: dict[int, int] = {}  # id(object) → handle
        self._params: dict[int, list[torch.Tensor]] = {}
        self._raised: list[BaseException] = []  # what callbacks raised, by index
        self._touched: list[int] = []  # handles sent with the current call
        self._calls = 0

    # ------------------------------------------------------------------ process
    def _limits(self) -> None:  # runs in the child between fork and exec
        os.setsid()
        cpu = int(self.time_limit + _START_LIMIT)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        memory = self.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _no_network()

    def __enter__(self) -> Sandbox:
        self._dir = tempfile.TemporaryDirectory(prefix="dinof_answer_")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        package_parent = str(Path(__file__).resolve().parents[2])
        env = {"PATH": "/usr/bin:/bin", "HOME": self._dir.name, "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}  # fmt: skip
        self._left = _START_LIMIT
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(_CHILD), package_parent, str(to_child_r),
                 str(from_child_w)],
                cwd=self._dir.name, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w), preexec_fn=self._limits,
            )  # fmt: skip
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._buffer = b""
        self._send({"source": self.source, "names": self.names, "roots": _roots()})
        try:
            loaded = self._receive()
            self.network = str(loaded.get("network", "unknown"))
            self._left = self.time_limit
            ready = self._receive()
            if ready.get("op") == "error" or loaded.get("op") == "error":
                failed = ready if ready.get("op") == "error" else loaded
                raise SandboxError(
                    f"{failed.get('type', 'Error')}: {failed.get('message', '')} "
                    f"(while {failed.get('where', 'defining the answer')})"
                )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._dir.cleanup()

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _send(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode()
        try:
            while data:
                if self._left <= 0:
                    self._timeout()
                t0 = time.monotonic()
                ready = select.select([], [self._to_child], [], min(self._left, 1.0))[1]
                self._left -= time.monotonic() - t0
                if ready:
                    data = data[os.write(self._to_child, data[: 1 << 16]) :]
        except OSError:
            self._ended()

    def _timeout(self):
        self._kill()
        raise SandboxError(
            f"time limit: the answer did not finish within {self.time_limit:g} s "
            "(an endless loop, or far too much work?)"
        )

    def _ended(self):
        code = self.proc.wait()
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        if code in (-signal.SIGXCPU, -signal.SIGKILL):
            how += ": over its CPU time or memory limit"
        raise SandboxError(f"the answer ended the grader's process ({how})")

    def _receive(self) -> dict:
        while b"\n" not in self._buffer:
            t0 = time.monotonic()
            ready = self._left > 0 and select.select([self._from_child], [], [], self._left)[0]
            self._left -= time.monotonic() - t0
            if not ready:
                self._timeout()
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                self._ended()
            self._buffer += chunk
            if len(self._buffer) > _MAX_MESSAGE:
                self._kill()
                raise SandboxError("the answer's reply is too large")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            reply = None
        if not isinstance(reply, dict):
            self._kill()
            raise SandboxError("the answer's process sent a malformed message")
        return reply

    # ------------------------------------------------------------------ objects kept here
    def _handle(self, obj) -> dict:
        """Encode ``obj`` as a proxy: the first time with its methods and attributes."""
        if id(obj) in self._sent:
            self._touched.append(self._sent[id(obj)])
            return {"__handle__": self._sent[id(obj)]}
        h = len(self._objects)
        self._touched.append(h)
        self._objects.append(obj)
        self._sent[id(obj)] = h
        self._params[h] = _trainable(obj)
        methods = [m for m in METHODS if callable(getattr(type(obj), m, None))]
        params = [self._encode(p.detach()) for p in self._params[h]]
        return {"__handle__": h, "type": type(obj).__name__, "call": callable(obj),
                "methods": methods, "attributes": list(ATTRIBUTES), "params": params}  # fmt: skip

    def _resolve(self, spec: dict):
        h = spec.get("__handle__")
        if not isinstance(h, int) or not 0 <= h < len(self._objects):
            raise WireError("an unknown object handle")
        return self._objects[h]

    def _encode(self, value, generators: dict | None = None):
        return encode(value, self._handle, generators)

    def _decode(self, value, generators: dict | None = None):
        return decode(value, self._resolve, generators)

    def _serve(self, request: dict) -> dict:
        """One request from the answer about an object kept here (``op``: ``getattr``,
        ``callback`` or ``vjp``); exceptions go back to the answer, remembered by index."""
        try:
            obj = self._resolve({"__handle__": request.get("handle")})
            method = request.get("method")
            if request.get("op") == "getattr":
                if method not in ATTRIBUTES:
                    raise AttributeError(f"the grader's object has no attribute {method!r}")
                return {"op": "return", "value": self._encode(getattr(obj, method), {})}
            if method is None and callable(obj):
                fn = obj
            elif method in METHODS and callable(getattr(type(obj), method, None)):
                fn = getattr(obj, method)
            else:
                raise AttributeError(f"the grader's object has no method {method!r}")
            gens: dict = {}
            args = self._decode(request.get("args", []), gens)
            kwargs = self._decode(request.get("kwargs", {"__dict__": []}), gens)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise WireError("a call's arguments are a list and a dict")
            kwargs = {str(k): v for k, v in kwargs.items()}
            for value in [*args, *kwargs.values()]:
                if isinstance(value, int) and not isinstance(value, bool) and value > _MAX_COUNT:
                    raise ValueError(f"{value} is more than the grader computes ({_MAX_COUNT})")
            if request.get("op") == "vjp":
                value = self._vjp(fn, args, kwargs, request)
            else:
                with torch.set_grad_enabled(bool(request.get("grad_enabled"))):
                    value = fn(*args, **kwargs)
            states = {k: encode(g)["state"] for k, g in gens.items()}
            return {"op": "return", "value": self._encode(value, {}), "generators": states}
        except Exception as err:  # noqa: BLE001 - reported to the answer as its own exception
            self._raised.append(err)
            index = len(self._raised) - 1
            return {"op": "raise", "type": type(err).__name__, "message": str(err)[:2000],
                    "index": index}  # fmt: skip

    def _vjp(self, fn, args: list, kwargs: dict, request: dict) -> list:
        """Gradients of ``fn``'s outputs (weighted by the request's ``grads``) with respect to
        its tensor arguments (in order, then keyword arguments) and its trainable tensors."""
        cotangents = self._decode(request.get("grads", []))
        slots = [(args, i) for i, a in enumerate(args) if torch.is_tensor(a)]
        slots += [(kwargs, k) for k, a in kwargs.items() if torch.is_tensor(a)]
        params = self._params[request["handle"]]
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

    # ------------------------------------------------------------------ calls
    def _request(self, message: dict) -> dict:
        """Send ``message``; serve the answer's calls back until its reply."""
        self._send(message)
        while True:
            reply = self._receive()
            if reply.get("op") in ("callback", "vjp", "getattr"):
                t0 = time.monotonic()
                answer = self._serve(reply)  # the answer's time: it asked for this work
                self._left -= time.monotonic() - t0
                self._send(answer)
                continue
            return reply

    def _outcome(self, reply: dict, gens: dict):
        for key, state in (reply.get("generators") or {}).items():
            if key in gens:
                with contextlib.suppress(WireError):
                    set_generator_state(gens[key], state)
        if reply.get("op") == "error":
            index = reply.get("index")
            if isinstance(index, int) and 0 <= index < len(self._raised):
                raise self._raised[index]  # a check's own exception, raised in a callback
            if reply.get("type") == "NotImplementedError":
                raise NotImplementedError(str(reply.get("message", ""))[:2000])
            raise _answer_error(reply.get("type"), reply.get("message", ""))
        if reply.get("op") not in ("result", "grads"):
            self._kill()
            raise SandboxError("the answer's process sent a malformed reply")
        try:
            return self._decode(reply.get("value"))
        except WireError as err:
            raise SandboxError(
                f"the answer returned what the grader does not read: {err}"
            ) from None

    def call(self, function: str, *args, **kwargs):
        """``function(*args, **kwargs)`` in the answer's process; returns tensors, numbers and
        containers of them. Raises what the answer raised (``NotImplementedError`` for the stub)
        or :class:`SandboxError` (time limit, a dead process, a malformed reply)."""
        gens: dict = {}
        self._touched = []
        message = {
            "op": "call", "id": self._calls, "function": function,
            "args": [self._encode(a, gens) for a in args],
            "kwargs": self._encode(dict(kwargs), gens),
            "grad_enabled": torch.is_grad_enabled(),
        }  # fmt: skip
        grad_args = [i for i, a in enumerate(args) if torch.is_tensor(a) and a.requires_grad]
        param_handles = [h for h in dict.fromkeys(self._touched) if self._params[h]]
        leaves = [args[i] for i in grad_args] + [p for h in param_handles for p in self._params[h]]
        graph = torch.is_grad_enabled() and bool(leaves)
        message.update(grad_args=grad_args, param_handles=param_handles, graph=graph)
        self._calls += 1
        value = self._outcome(self._request(message), gens)
        if not graph or not self._tensors(value):
            return value
        outs = value if isinstance(value, tuple) else (value,)
        attached = _Attach.apply(self, message["id"], len(outs), *outs, *leaves)
        return attached if isinstance(value, tuple) else attached[0]

    @staticmethod
    def _tensors(value) -> bool:
        outs = value if isinstance(value, tuple) else (value,)
        return bool(outs) and all(torch.is_tensor(o) and o.is_floating_point() for o in outs)

    def _backward(self, call_id: int, grads) -> list:
        reply = self._request(
            {"op": "backward", "id": call_id, "grads": [self._encode(g) for g in grads]}
        )
        value = self._outcome(reply, {})
        if not isinstance(value, list):
            raise SandboxError("the answer's process sent malformed gradients")
        return [v if torch.is_tensor(v) else None for v in value]
