"""The sandboxed side of :mod:`dinof_lite.coursework.sandbox`: runs one answer, answers calls.

Started as ``python -I _sandbox_child.py PACKAGE_PARENT READ_FD WRITE_FD`` in an empty working
directory, under the resource limits the grader set. It imports what the calls need, installs an
audit hook (file reads only inside the Python installation and the working directory; no
sockets, subprocesses, ``ctypes`` or new imports of ``dinof_lite``), executes the answer source
in a namespace holding only the allowed names, then serves calls: each request names a function
and its arguments (arrays as ``.npy`` bytes, numbers, SDE descriptions), each reply holds plain
numbers and arrays, never a Python object. Nothing here decides a grade.
"""

import base64
import io
import json
import os
import sys

_ARRAY = "__npy__"
_SDE = "__sde__"


def _decode(value, np, torch, sdes):
    if isinstance(value, dict) and _ARRAY in value:
        raw = io.BytesIO(base64.b64decode(value[_ARRAY]))
        return torch.from_numpy(np.load(raw, allow_pickle=False).copy())
    if isinstance(value, dict) and _SDE in value:
        return sdes[value[_SDE]](**value["kw"])
    if isinstance(value, list):
        return [_decode(v, np, torch, sdes) for v in value]
    return value


def _encode(value, np, torch):
    """Plain data only: tensors and arrays as .npy, numbers, tuples/lists of those."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            return {"complex": True}
        value = value.numpy()
    if isinstance(value, np.ndarray | np.generic):
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            return {"unsupported": str(value.dtype)}
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
        return {_ARRAY: base64.b64encode(buf.getvalue()).decode()}
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [_encode(v, np, torch) for v in value]
    return {"unsupported": type(value).__name__}


def _audit(allowed_roots, workdir):
    blocked_prefixes = ("socket.", "subprocess.", "ctypes.", "os.exec", "os.spawn", "os.posix")
    blocked = {"os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "pty.spawn"}

    def hook(event, args):
        if event == "open":
            path = args[0]
            if isinstance(path, int):
                return
            real = os.path.realpath(os.fsdecode(path))
            if not any(real == r or real.startswith(r + os.sep) for r in allowed_roots):
                raise PermissionError(f"the grader's sandbox refuses to open {path!r}")
            mode = args[1] or "r"
            if any(c in str(mode) for c in "wax+") and not real.startswith(workdir + os.sep):
                raise PermissionError(f"the grader's sandbox refuses to write {path!r}")
        elif event == "import" and str(args[0]).split(".")[0] in ("dinof_lite", "ctypes"):
            raise ImportError(f"the grader's sandbox refuses to import {args[0]}")
        elif event in blocked or event.startswith(blocked_prefixes):
            raise PermissionError(f"the grader's sandbox refuses {event}")

    sys.addaudithook(hook)


def main() -> None:
    package_parent, read_fd, write_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    inbox, outbox = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    task = json.loads(inbox.readline())
    import math

    import numpy as np
    import torch

    torch.set_num_threads(1)
    sdes = {}
    if task["sdes"]:
        sys.path.insert(0, package_parent)
        from dinof_lite import sde as sde_module

        sdes = {name: getattr(sde_module, name) for name in ("VPSDE", "VESDE", "subVPSDE")}
    modules = {"math": math, "torch": torch, "numpy": np, "np": np}
    namespace = {name: modules[name] for name in task["names"]}
    workdir = os.path.realpath(os.getcwd())
    _audit([os.path.realpath(r) for r in task["roots"]] + [workdir], workdir)

    def reply(message) -> None:
        outbox.write(json.dumps(message) + "\n")
        outbox.flush()

    try:
        exec(compile(task["source"], "<answer>", "exec"), namespace)  # noqa: S102 - sandboxed
    except BaseException as err:  # noqa: BLE001 - reported to the grader as text
        reply({"error": f"{type(err).__name__}: {err}", "where": "defining the answer"})
        return
    reply({"ready": True})
    for line in inbox:
        request = json.loads(line)
        fn = namespace.get(request["function"])
        try:
            if not callable(fn):
                raise NameError(f"the answer defines no function {request['function']!r}")
            args = [_decode(a, np, torch, sdes) for a in request["args"]]
            out = fn(*args)
            reply({"result": _encode(out, np, torch)})
        except NotImplementedError:
            reply({"not_implemented": True})
        except BaseException as err:  # noqa: BLE001 - reported to the grader as text
            reply({"error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    main()
