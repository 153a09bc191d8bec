"""The sandboxed side of :mod:`dinof_lite.coursework.sandbox`: runs one answer, answers calls.

Started as ``python -I _sandbox_child.py PACKAGE_PARENT READ_FD WRITE_FD`` in an empty working
directory, under the limits the grader set. It imports what the answer may use, says
``loaded``, installs an audit hook (file reads only under the given roots, writes only in the
working directory; no sockets, subprocesses, ``ctypes``, signals or new processes), executes the
answer in a namespace holding only the allowed names, says ``ready``, then serves the grader's
calls (``call``, ``backward``). Objects the grader keeps arrive as :class:`Remote` proxies whose
calls go back to the grader; under autograd they are :class:`_RemoteFn` nodes whose backward
asks the grader for a vector-Jacobian product. Nothing here decides a grade: every number it
sends is checked by the grader.
"""

import builtins
import importlib
import json
import os
import sys

_MODULES = ("math", "torch", "numpy", "warnings", "dinof_lite")
_WRITES = {
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
    "os.symlink", "os.truncate", "os.utime", "shutil.copyfile", "shutil.copymode",
    "shutil.copystat", "shutil.copytree", "shutil.rmtree", "shutil.move", "shutil.chown",
    "shutil.make_archive", "shutil.unpack_archive",
}  # fmt: skip
_READS = {"os.listdir", "os.scandir", "os.chdir", "glob.glob", "glob.glob/2"}
_REFUSED = (
    "socket.", "subprocess.", "ctypes.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.forkpty", "os.system", "os.kill", "os.killpg", "os.putenv", "os.unsetenv", "pty.",
    "signal.", "mmap.", "urllib.", "http.", "ftplib.", "smtplib.", "webbrowser.", "pickle.",
    "fcntl.", "resource.", "sys.remote_exec", "os.startfile", "winreg.",
)  # fmt: skip
_NO_IMPORT = {"ctypes", "_ctypes", "_posixsubprocess", "subprocess", "socket", "_socket", "pty",
              "multiprocessing", "mmap", "pickle", "_pickle", "marshal"}  # fmt: skip
_MAX_GRAPHS = 64


def _inside(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _audit(roots, workdir) -> None:
    """File reads only under ``roots`` and ``workdir``, writes only in ``workdir``; refuse the
    events of :data:`_REFUSED` and imports of :data:`_NO_IMPORT`."""
    readable = [*roots, workdir]

    def hook(event, args):
        if event == "open":
            if isinstance(args[0], int):
                return
            real = os.path.realpath(os.fsdecode(args[0]))
            mode, flags = str(args[1] or "r"), args[2] if len(args) > 2 else 0
            writing = any(c in mode for c in "wax+") or (flags or 0) & (os.O_WRONLY | os.O_RDWR)
            if not _inside(real, [workdir] if writing else readable):
                raise PermissionError(f"the grader's sandbox refuses to open {args[0]!r}")
        elif event in _WRITES or event in _READS:
            paths = [a for a in args if isinstance(a, str | bytes | os.PathLike)]
            allowed = [workdir] if event in _WRITES else readable
            for path in paths:
                if not _inside(os.path.realpath(os.fsdecode(path)), allowed):
                    raise PermissionError(f"the grader's sandbox refuses {event} on {path!r}")
        elif event == "import" and str(args[0]).split(".")[0] in _NO_IMPORT:
            if args[0] not in sys.modules:
                raise ImportError(f"the grader's sandbox refuses to import {args[0]}")
        elif event.startswith(_REFUSED):
            raise PermissionError(f"the grader's sandbox refuses {event}")

    sys.addaudithook(hook)


def _network() -> str:
    import socket

    try:
        names = {name for _, name in socket.if_nameindex()}
    except OSError:
        return "audit hook only"
    return "own namespace (no interfaces)" if names <= {"lo"} else "audit hook only"


def _error_class(name: object, message: object, index):
    """An exception for the grader's ``raise``: a builtin class of that name where there is one
    (so ``except ValueError`` in the answer behaves as in the kernel)."""
    name = "".join(c for c in str(name) if c.isalnum() or c == "_")[:40] or "Exception"
    base = getattr(builtins, name, None)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    try:
        err = type(name, (base,), {})(str(message))
    except TypeError:
        err = type(name, (Exception,), {})(str(message))
    err.grader_index = index
    return err


class Remote:
    """An object the grader kept: attributes as sent, calls and methods back to the grader."""

    def __init__(self, link, spec) -> None:
        d = self.__dict__
        d["_link"], d["_h"], d["_spec"] = link, spec["__handle__"], spec
        d["_params"] = [link.decode(p).requires_grad_(True) for p in spec.get("params", [])]
        link.remotes[self._h] = self

    def __getattr__(self, name):
        spec = self.__dict__["_spec"]
        if name in spec.get("methods", []):
            return lambda *args, **kwargs: self._link.invoke(self, name, args, kwargs)
        if name in spec.get("attributes", []):
            value = self._link.callback("getattr", self, name, (), {})
            self.__dict__[name] = value  # read once, as the grader had it
            return value
        raise AttributeError(f"the grader's {spec.get('type', 'object')} has no attribute {name!r}")

    def __call__(self, *args, **kwargs):
        if not self._spec.get("call"):
            raise TypeError(f"'{self._spec.get('type', 'object')}' object is not callable")
        return self._link.invoke(self, None, args, kwargs)

    def __repr__(self) -> str:
        return f"<the grader's {self._spec.get('type', 'object')}>"


def _flat_tensors(torch, args, kwargs) -> list:
    return [a for a in [*args, *kwargs.values()] if torch.is_tensor(a)]


class Link:
    """The pipe to the grader: messages, the wire format, proxies and kept graphs."""

    def __init__(self, inbox, outbox, wire, torch) -> None:
        self.inbox, self.outbox, self.wire, self.torch = inbox, outbox, wire, torch
        self.remotes, self.generators, self.graphs = {}, {}, {}
        self.remote_fn = _remote_function(torch)

    def send(self, message) -> None:
        self.outbox.write(json.dumps(message) + "\n")
        self.outbox.flush()

    def read(self):
        line = self.inbox.readline()
        if not line:  # the grader is done
            os._exit(0)
        return json.loads(line)

    def encode(self, value):
        def handle(obj):
            if isinstance(obj, Remote):
                return {"__handle__": obj._h}
            return {"__opaque__": type(obj).__name__}

        return self.wire.encode(value, handle, self.generators)

    def decode(self, value):
        def remote(spec):
            h = spec.get("__handle__")
            if h in self.remotes:
                return self.remotes[h]
            return Remote(self, spec)

        return self.wire.decode(value, remote, self.generators)

    def _states(self) -> dict:
        return {k: self.encode(g)["state"] for k, g in self.generators.items()}

    # ---------------------------------------------------------------- calls to the grader
    def callback(self, op, remote, method, args, kwargs, grads=None):
        message = {
            "op": op, "handle": remote._h, "method": method,
            "args": [self.encode(a) for a in args], "kwargs": self.encode(dict(kwargs)),
            "grad_enabled": self.torch.is_grad_enabled(),
        }  # fmt: skip
        if grads is not None:
            message["grads"] = [self.encode(g) for g in grads]
        self.send(message)
        reply = self.read()
        for key, state in (reply.get("generators") or {}).items():
            if key in self.generators:
                self.wire.set_generator_state(self.generators[key], state)
        if reply.get("op") == "raise":
            raise _error_class(reply.get("type"), reply.get("message"), reply.get("index"))
        return self.decode(reply.get("value"))

    def invoke(self, remote, method, args, kwargs):
        torch = self.torch
        tensors = _flat_tensors(torch, args, kwargs)
        differentiable = any(t.requires_grad for t in tensors) or remote._params
        if not (torch.is_grad_enabled() and differentiable):
            return self.callback("callback", remote, method, args, kwargs)
        pending = {"remote": remote, "method": method, "args": args, "kwargs": kwargs}
        out = self.remote_fn.apply(self, pending, *tensors, *remote._params)
        return pending.get("raw", out)

    # ---------------------------------------------------------------- the grader's requests
    def serve(self, namespace) -> None:
        while True:
            request = self.read()
            op = request.get("op") if isinstance(request, dict) else None
            try:
                if op == "call":
                    reply = self._call(namespace, request)
                elif op == "backward":
                    reply = self._backward(request)
                else:
                    reply = {"op": "error", "type": "ValueError", "message": f"unknown op {op}"}
            except NotImplementedError as err:
                reply = {"op": "error", "type": "NotImplementedError", "message": _text(err)}
            except BaseException as err:  # noqa: BLE001 - reported to the grader as text
                reply = {"op": "error", "type": type(err).__name__, "message": _text(err),
                         "index": getattr(err, "grader_index", None)}  # fmt: skip
            reply["generators"] = self._states()
            self.send(reply)

    def _call(self, namespace, request):
        torch = self.torch
        fn = namespace.get(request.get("function"))
        if not callable(fn):
            raise NameError(f"the answer defines no function {request.get('function')!r}")
        args = [self.decode(a) for a in request.get("args", [])]
        kwargs = {str(k): v for k, v in self.decode(request.get("kwargs")).items()}
        leaves = []
        for i in request.get("grad_args", []):
            args[i] = args[i].detach().requires_grad_(True)
            leaves.append(args[i])
        leaves += [p for h in request.get("param_handles", []) for p in self.remotes[h]._params]
        with torch.set_grad_enabled(bool(request.get("grad_enabled", True))):
            out = fn(*args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        if request.get("graph") and all(torch.is_tensor(o) for o in outs):
            self.graphs[request.get("id")] = (outs, leaves)
            while len(self.graphs) > _MAX_GRAPHS:
                self.graphs.pop(next(iter(self.graphs)))
        return {"op": "result", "value": self.encode(out)}

    def _backward(self, request):
        torch = self.torch
        outs, leaves = self.graphs[request.get("id")]
        grads = [self.decode(g) for g in request.get("grads", [])]
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad and torch.is_tensor(g)]
        need = [t for t in leaves if t.requires_grad]
        got = iter(
            torch.autograd.grad(
                [o for o, _ in pairs],
                need,
                [g for _, g in pairs],
                retain_graph=True,
                allow_unused=True,
            )  # fmt: skip
            if pairs and need
            else [None] * len(need)
        )
        value = [next(got) if t.requires_grad else None for t in leaves]
        return {"op": "grads", "value": self.encode(value)}


def _text(err) -> str:
    try:
        return str(err)[:2000]
    except BaseException:  # noqa: BLE001 - an answer's exception whose str() fails
        return "(its message could not be read)"


def _remote_function(torch):
    class _RemoteFn(torch.autograd.Function):
        """A call of a grader-kept object as one autograd node: forward and backward are calls
        back to the grader (the backward a vector-Jacobian product)."""

        @staticmethod
        def forward(ctx, link, pending, *tensors):
            ctx.link, ctx.pending = link, pending
            p = pending
            value = link.callback("callback", p["remote"], p["method"], p["args"], p["kwargs"])
            outs = value if isinstance(value, tuple) else (value,)
            if outs and all(torch.is_tensor(o) and o.is_floating_point() for o in outs):
                return value
            pending["raw"] = value  # not differentiable: handed back as it is
            return torch.zeros(())

        @staticmethod
        def backward(ctx, *grads):
            p = ctx.pending
            got = ctx.link.callback("vjp", p["remote"], p["method"], p["args"], p["kwargs"],
                                    grads=grads)  # fmt: skip
            return (None, None, *got)

    return _RemoteFn


def main() -> None:
    package_parent, read_fd, write_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    inbox, outbox = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    task = json.loads(inbox.readline())
    sys.path.insert(0, package_parent)
    import torch

    torch.set_num_threads(1)
    from dinof_lite.coursework import wire

    link = Link(inbox, outbox, wire, torch)
    namespace = {}
    for name, path in task["names"].items():
        module, _, attribute = path.partition(":")
        if module.split(".")[0] not in _MODULES:
            raise SystemExit(f"the grader may not provide {path}")
        value = importlib.import_module(module)
        namespace[name] = getattr(value, attribute) if attribute else value
    workdir = os.path.realpath(os.getcwd())
    link.send({"op": "loaded", "network": _network()})
    _audit([os.path.realpath(r) for r in task["roots"]], workdir)
    try:
        exec(compile(task["source"], "<answer>", "exec"), namespace)  # noqa: S102 - sandboxed
    except BaseException as err:  # noqa: BLE001 - reported to the grader as text
        link.send({"op": "error", "type": type(err).__name__, "message": _text(err),
                   "where": "defining the answer"})  # fmt: skip
        return
    link.send({"op": "ready"})
    link.serve(namespace)


if __name__ == "__main__":
    main()
