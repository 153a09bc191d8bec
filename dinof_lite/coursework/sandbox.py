"""Run a student's answer where it cannot touch the grade: a fresh, limited subprocess.

The grader never executes student code itself. :func:`refusal` reads the answer's source
statically (``ast``) and names the rule it breaks: a name or attribute the exercise may not use
(the implementation it asks for, e.g. ``VPSDE`` in (a.1) or ``sde.perturb`` in (a.3)), an
import outside ``math`` / ``torch`` / ``numpy`` / ``warnings``, or any dynamic access
(``getattr``, ``__import__``, ``eval``/``exec``, ``importlib``, underscore attributes,
``globals()``, …), refused outright because it could build a forbidden name from strings.

:class:`Sandbox` then runs the answer in ``python -I`` with ``resource.setrlimit`` limits (CPU
seconds, address space, file size, no core dumps), an empty temporary working directory, a
minimal environment, and an audit hook that allows file reads only inside the Python
installation and that working directory and refuses sockets, subprocesses, ``ctypes`` and
imports of ``dinof_lite`` (best effort: a determined attacker on a shared machine needs a
container, see the teacher's guide). The grader sends arguments (arrays as ``.npy`` bytes,
numbers, SDE descriptions) and gets back only numbers and arrays, loaded with
``allow_pickle=False``. A call that exceeds the wall-clock limit kills the process group.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
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

import numpy as np
import torch

from dinof_lite.sde import SDE, VESDE, VPSDE, subVPSDE

__all__ = ["ALLOWED_IMPORTS", "DYNAMIC", "SandboxError", "Sandbox", "refusal"]

#: modules an answer may import (and the names it finds defined without importing)
ALLOWED_IMPORTS = frozenset({"math", "torch", "numpy", "warnings"})
#: names that reach objects dynamically (by a string) or leave the answer's namespace
DYNAMIC = frozenset(
    {
        "getattr", "setattr", "delattr", "hasattr", "__import__", "eval", "exec", "compile",
        "globals", "locals", "vars", "dir", "open", "input", "breakpoint", "help", "exit",
        "quit", "memoryview", "importlib", "builtins", "sys", "os", "inspect", "operator",
    }
)  # fmt: skip
#: attributes that lead out of the maths libraries into the interpreter, files or the network
_ESCAPES = frozenset(
    {"sys", "os", "modules", "builtins", "importlib", "hub", "load", "loads", "ctypeslib",
     "system", "popen", "subprocess", "attrgetter", "import_module", "util", "library"}
)  # fmt: skip
_MAX_REPLY = 64 << 20
_CHILD = Path(__file__).with_name("_sandbox_child.py")


class SandboxError(Exception):
    """The answer could not be run or answered outside the rules (its text is the reason)."""


def refusal(
    source: str, forbidden: dict[str, str], forbidden_attributes: dict[str, str] | None = None
) -> str | None:
    """The rule ``source`` breaks, or None. ``forbidden`` maps a name the exercise may not use
    (anywhere: a variable, an import, an attribute) to the reason shown to the student;
    ``forbidden_attributes`` the same for attributes only (``sde.perturb``)."""
    forbidden_attributes = forbidden_attributes or {}
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return f"the answer is not valid Python: {err.msg} (line {err.lineno})."
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""] if node.level == 0 else ["." * node.level]
            for module in modules:
                if module.split(".")[0] not in ALLOWED_IMPORTS:
                    allowed = ", ".join(sorted(ALLOWED_IMPORTS))
                    return f"`import {module}` is not allowed in an answer (allowed: {allowed})."
            for alias in node.names:
                if alias.name in forbidden:
                    return f"`{alias.name}` is not allowed here: {forbidden[alias.name]}"
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if name in forbidden_attributes:
                return f"`.{name}` is not allowed here: {forbidden_attributes[name]}"
            if name.startswith("_") or name in _ESCAPES:
                return (
                    f"`.{name}` is not allowed in an answer: attributes that start with `_` or "
                    "reach the interpreter (sys, os, modules, …) are refused by the grader."
                )
        elif isinstance(node, ast.alias):
            name = node.asname
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.arg):
            name = getattr(node, "name", None) or getattr(node, "arg", None)
        if name is None:
            continue
        if name in forbidden:
            return f"`{name}` is not allowed here: {forbidden[name]}"
        if name in DYNAMIC or name.startswith("__"):
            return (
                f"`{name}` is not allowed in an answer: the grader refuses dynamic access "
                "(getattr, __import__, importlib, eval/exec, globals(), names built from "
                "strings) and file or system access."
            )
    return None


def _encode(value):
    if isinstance(value, torch.Tensor):
        buf = io.BytesIO()
        np.save(buf, value.detach().cpu().numpy(), allow_pickle=False)
        return {"__npy__": base64.b64encode(buf.getvalue()).decode()}
    if isinstance(value, SDE):
        if type(value) not in (VPSDE, VESDE, subVPSDE):
            raise TypeError(f"the sandbox cannot send a {type(value).__name__}")
        if isinstance(value, VESDE):
            kw = {"sigma_min": value.sigma_min, "sigma_max": value.sigma_max, "N": value.N}
            kw["exact_marginal"] = value.exact_marginal
        else:
            kw = {"beta_min": value.beta_0, "beta_max": value.beta_1, "N": value.N}
        return {"__sde__": type(value).__name__, "kw": kw}
    if isinstance(value, bool | int | float):
        return value
    raise TypeError(f"the sandbox cannot send a {type(value).__name__}")


def _decode(value):
    """Plain JSON from the child → tensors, numbers and tuples; anything else is refused."""
    if isinstance(value, dict):
        if set(value) == {"__npy__"} and isinstance(value["__npy__"], str):
            raw = io.BytesIO(base64.b64decode(value["__npy__"], validate=True))
            array = np.load(raw, allow_pickle=False)
            if array.dtype.kind not in "biuf":
                raise SandboxError(f"the answer returned an array of {array.dtype}")
            return torch.from_numpy(array.copy())
        if value.get("complex") is True:
            raise SandboxError("the answer returned a complex tensor")
        raise SandboxError(f"the answer returned a {value.get('unsupported', 'value')!s:.40}")
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if value is None or isinstance(value, bool | int | float):
        return value
    raise SandboxError("the answer returned something that is not a number or an array")


def _roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {sys.prefix, sys.base_prefix, *(paths[k] for k in ("stdlib", "platstdlib"))}
    roots |= {paths["purelib"], paths["platlib"]}
    return sorted(str(Path(r).resolve()) for r in roots)


class Sandbox:
    """One answer in one subprocess: ``with Sandbox(source, names, ...) as box: box.call(...)``.

    Args:
        source: the answer's code (its solution cells), already passed by :func:`refusal`.
        names: the modules it finds defined (a subset of ``math, torch, numpy, np``).
        time_limit: wall-clock seconds for everything the answer does (CPU seconds too).
        memory_mb: its address-space limit.
    """

    def __init__(self, source: str, names=("math", "torch"), *, time_limit: float = 60.0,
                 memory_mb: int = 4096, sdes: bool = False) -> None:  # fmt: skip
        self.source, self.names, self.sdes = source, list(names), sdes
        self.time_limit, self.memory_mb = float(time_limit), int(memory_mb)
        self.deadline = 0.0
        self.proc: subprocess.Popen | None = None

    def _limits(self) -> None:  # runs in the child between fork and exec
        os.setsid()
        cpu = int(self.time_limit) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        memory = self.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def __enter__(self) -> Sandbox:
        self._dir = tempfile.TemporaryDirectory(prefix="dinof_answer_")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        package_parent = str(Path(__file__).resolve().parents[2])
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": self._dir.name}
        self.deadline = time.monotonic() + self.time_limit
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_CHILD), package_parent, str(to_child_r),
             str(from_child_w)],
            cwd=self._dir.name, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(to_child_r, from_child_w),
            preexec_fn=self._limits,
        )  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        task = {"source": self.source, "names": self.names, "sdes": self.sdes, "roots": _roots()}
        self._send(task)
        reply = self._receive()
        if "error" in reply:
            raise SandboxError(f"{reply['error']} (while {reply.get('where', 'running')})")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._dir.cleanup()

    def _send(self, message: dict) -> None:
        try:
            os.write(self._to_child, (json.dumps(message) + "\n").encode())
        except BrokenPipeError:
            self._receive()  # reports how the process ended

    def _receive(self) -> dict:
        while b"\n" not in self._buffer:
            left = self.deadline - time.monotonic()
            ready = select.select([self._from_child], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise SandboxError(
                    f"time limit: the answer did not finish within {self.time_limit:g} s "
                    "(an endless loop?)"
                )
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                code = self.proc.wait()
                how = f"signal {-code}" if code < 0 else f"exit status {code}"
                if code in (-signal.SIGXCPU, -signal.SIGKILL):
                    how += ": over its CPU time or memory limit"
                raise SandboxError(f"the answer ended the grader's process ({how})")
            self._buffer += chunk
            if len(self._buffer) > _MAX_REPLY:
                raise SandboxError("the answer's reply is too large")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            raise SandboxError("the answer's process sent a malformed reply") from None
        if not isinstance(reply, dict):
            raise SandboxError("the answer's process sent a malformed reply")
        return reply

    def call(self, function: str, *args):
        """``function(*args)`` in the sandbox; returns tensors / numbers / tuples of them.
        Raises ``NotImplementedError`` for the stub, :class:`SandboxError` otherwise."""
        self._send({"function": function, "args": [_encode(a) for a in args]})
        reply = self._receive()
        if reply.get("not_implemented"):
            raise NotImplementedError(function)
        if "error" in reply:
            raise SandboxError(str(reply["error"])[:2000])
        if "result" not in reply:
            raise SandboxError("the answer's process sent a malformed reply")
        return _decode(reply["result"])
