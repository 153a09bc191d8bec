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
spy counting calls) stays here (:mod:`~dinof_lite.coursework.handles`): the answer gets a proxy
whose calls come back to this process. A result of :meth:`Sandbox.call` on inputs that require
grad (or on a callable holding a trainable tensor) backpropagates through the answer's process. Nothing the
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

from dinof_lite.coursework.handles import Handles
from dinof_lite.coursework.wire import WireError, set_generator_state

__all__ = ["SandboxError", "Sandbox"]

_MAX_MESSAGE = 64 << 20
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
        self.handles = Handles()  # the objects that stay in this process
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

    # ------------------------------------------------------------------ calls
    def _request(self, message: dict) -> dict:
        """Send ``message``; serve the answer's calls back until its reply."""
        self._send(message)
        while True:
            reply = self._receive()
            if reply.get("op") in ("callback", "vjp", "getattr"):
                t0 = time.monotonic()
                answer = self.handles.serve(reply)  # the answer's time: it asked for this work
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
            raised = self.handles.raised
            if isinstance(index, int) and 0 <= index < len(raised):
                raise raised[index]  # a check's own exception, raised in a callback
            if reply.get("type") == "NotImplementedError":
                raise NotImplementedError(str(reply.get("message", ""))[:2000])
            raise _answer_error(reply.get("type"), reply.get("message", ""))
        if reply.get("op") not in ("result", "grads"):
            self._kill()
            raise SandboxError("the answer's process sent a malformed reply")
        try:
            return self.handles.decode(reply.get("value"))
        except WireError as err:
            raise SandboxError(
                f"the answer returned what the grader does not read: {err}"
            ) from None

    def call(self, function: str, *args, **kwargs):
        """``function(*args, **kwargs)`` in the answer's process; returns tensors, numbers and
        containers of them. Raises what the answer raised (``NotImplementedError`` for the stub)
        or :class:`SandboxError` (time limit, a dead process, a malformed reply)."""
        gens: dict = {}
        sent = self.handles.sent_with(lambda: [self.handles.encode(a, gens) for a in args])
        message = {
            "op": "call", "id": self._calls, "function": function, "args": sent.value,
            "kwargs": self.handles.encode(dict(kwargs), gens),
            "grad_enabled": torch.is_grad_enabled(),
        }  # fmt: skip
        grad_args = [i for i, a in enumerate(args) if torch.is_tensor(a) and a.requires_grad]
        param_handles = [h for h in sent.handles if self.handles.params[h]]
        leaves = [args[i] for i in grad_args]
        leaves += [p for h in param_handles for p in self.handles.params[h]]
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
            {"op": "backward", "id": call_id, "grads": [self.handles.encode(g) for g in grads]}
        )
        value = self._outcome(reply, {})
        if not isinstance(value, list):
            raise SandboxError("the answer's process sent malformed gradients")
        return [v if torch.is_tensor(v) else None for v in value]
