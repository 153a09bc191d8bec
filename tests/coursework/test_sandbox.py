"""The answer's sandbox (dinof_lite.coursework.sandbox) and its wire format, without nbgrader.

Each sandbox is a real subprocess (about two seconds to import torch), so one process serves
several calls where it survives them. The sources here skip the static rules on purpose: the
sandbox must hold on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dinof_lite.coursework.checks._core import Failed
from dinof_lite.coursework.sandbox import Sandbox, SandboxError
from dinof_lite.coursework.wire import Opaque, WireError, decode, encode
from dinof_lite.sde import VESDE

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "notebooks" / "assignments" / "A1_forward_sde_solution.py"


def test_wire_round_trips_data_and_refuses_what_is_not():
    value = {
        "x": torch.arange(6.0).reshape(2, 3),
        0.5: (1, True, None, "text", [torch.tensor(2.5), torch.tensor([1, 2])]),
        "sde": VESDE(0.02, 30.0),
    }
    back = decode(encode(value))
    assert torch.equal(back["x"], value["x"]) and back[0.5][:4] == (1, True, None, "text")
    assert back[0.5][4][0].shape == () and back[0.5][4][1].dtype == torch.int64
    assert isinstance(back["sde"], VESDE) and back["sde"].sigma_max == 30.0
    opaque = decode(encode(object()))
    assert isinstance(opaque, Opaque) and type(opaque).__name__ == "object"
    for bad in (
        {"__tensor__": "not base64!"},
        {"__sde__": "os.system", "kw": {}},
        {"__handle__": 0},
        {"__eval__": "1"},
        {"__dict__": [[[1], 2]]},
        {"__generator__": "k", "state": "AAAA"},
    ):
        with pytest.raises(WireError):
            decode(bad, generators={})
    deep = []
    for _ in range(50):
        deep = [deep]
    with pytest.raises(WireError, match="nested deeper"):
        decode(deep)


def test_a_process_that_exits_or_hangs_costs_its_exercise_only():
    with Sandbox("import os\n\ndef f():\n    os._exit(0)\n", time_limit=20) as box:
        with pytest.raises(SandboxError, match="ended the grader's process"):
            box.call("f")
        with pytest.raises(SandboxError):  # and stays ended
            box.call("f")
    endless = "def f():\n    while True:\n        pass\n"
    with Sandbox(endless, time_limit=3) as box, pytest.raises(SandboxError, match="within 3 s"):
        box.call("f")
    with (
        pytest.raises(SandboxError, match="time limit"),
        Sandbox("while True:\n    pass\n", time_limit=3),
    ):
        pass


def test_memory_files_network_and_processes_are_refused():
    source = f"""
import os, socket, subprocess, numpy

def hog():
    return torch.ones(1 << 31).sum()  # 8 GiB > the 2 GiB limit

def read_solution():
    return len(open({str(SOLUTION)!r}).read())

def read_numpy_source():
    return len(open(numpy.__file__).read())

def write(path):
    open(path, "w").write("x")
    return 1

def connect():
    socket.create_connection(("127.0.0.1", 9), timeout=1)

def run():
    subprocess.run(["true"])

def signal_parent():
    os.kill(os.getppid(), 9)
"""
    with Sandbox(source, time_limit=30, memory_mb=2048) as box:
        with pytest.raises(RuntimeError, match="allocate"):
            box.call("hog")
        with pytest.raises(PermissionError, match="refuses to open"):
            box.call("read_solution")
        assert box.call("read_numpy_source") > 0  # the Python installation stays readable
        assert box.call("write", "answer.txt") == 1  # its own working directory
        with pytest.raises(PermissionError, match="refuses to open"):
            box.call("write", str(ROOT / "forged.txt"))
        for name in ("connect", "run", "signal_parent"):
            with pytest.raises(PermissionError, match="the grader's sandbox refuses"):
                box.call(name)
        assert box.network in ("own namespace (no interfaces)", "audit hook only")
    assert not (ROOT / "forged.txt").exists()


def test_only_data_comes_back():
    source = "class Mine:\n    pass\n\ndef f(x):\n    return x * 2, 3.5, Mine(), {'a': x.numpy()}\n"
    with Sandbox(source, {"torch": "torch"}, time_limit=20) as box:
        doubled, number, mine, table = box.call("f", torch.ones(2))
    assert doubled.tolist() == [2.0, 2.0] and number == 3.5
    assert isinstance(mine, Opaque) and type(mine).__name__ == "Mine"
    assert torch.is_tensor(table["a"])  # a NumPy array reads back as a tensor


class _Flow:
    """A stand-in for a grader-kept object: one allowed method, one that is not."""

    def __init__(self) -> None:
        self.in_shape, self.calls = (2,), 0

    def inverse(self, z, context=None):
        self.calls += 1
        return 2 * z

    def load_state_dict(self, state):  # mutates: never reachable from the answer
        self.calls = -1000

    @property
    def eps(self):
        raise Failed("model.eps is deprecated here")


def test_objects_stay_in_the_grader_behind_an_allowlist():
    source = """
def sample(flow, n, generator):
    z = torch.randn((n, *flow.in_shape), generator=generator)
    return flow.inverse(z)

def mutate(flow):
    flow.load_state_dict({})

def read_eps(flow):
    return flow.eps

def catch_eps(flow):
    try:
        return flow.eps
    except Exception:
        return 0.0
"""
    flow, gen = _Flow(), torch.Generator().manual_seed(3)
    with Sandbox(source, time_limit=30) as box:
        got = box.call("sample", flow, 4, gen)
        want = 2 * torch.randn((4, 2), generator=torch.Generator().manual_seed(3))
        assert torch.equal(got, want) and flow.calls == 1
        after = torch.randn(1, generator=gen)  # the grader's generator advanced with the answer's
        ref = torch.Generator().manual_seed(3)
        torch.randn((4, 2), generator=ref)
        assert torch.equal(after, torch.randn(1, generator=ref))
        with pytest.raises(AttributeError, match="no attribute 'load_state_dict'"):
            box.call("mutate", flow)
        with pytest.raises(Failed, match="deprecated here"):  # the check's own exception
            box.call("read_eps", flow)
        assert box.call("catch_eps", flow) == 0.0
    assert flow.calls == 1


def test_gradients_cross_both_ways():
    weight = torch.nn.Parameter(torch.tensor(0.7))
    matrix = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)

    def score_fn(x, t):
        return weight * torch.tanh(x @ matrix) * t[:, None]

    source = """
def divergence(fn, x, t):
    x = x.detach().requires_grad_(True)
    f = fn(x, t)
    return sum(torch.autograd.grad(f[:, i].sum(), x, retain_graph=True)[0][:, i]
               for i in range(x.shape[1]))

def loss(fn, x, t):
    return (fn(x, t) ** 2).mean()
"""
    x = torch.randn(5, 2, dtype=torch.float64)
    t = torch.rand(5, dtype=torch.float64)
    with Sandbox(source, time_limit=30) as box:
        got = box.call("divergence", score_fn, x, t)
        xr = x.clone().requires_grad_(True)
        f = score_fn(xr, t)
        want = sum(torch.autograd.grad(f[:, i].sum(), xr, retain_graph=True)[0][:, i]
                   for i in range(2))  # fmt: skip
        assert torch.allclose(got, want.detach(), atol=1e-12)
        remote = box.call("loss", score_fn, x, t)
        local = (score_fn(x, t) ** 2).mean()
        assert remote.requires_grad and torch.allclose(remote, local.detach())
        (g_remote,) = torch.autograd.grad(remote, weight)
        (g_local,) = torch.autograd.grad(local, weight)
        assert torch.allclose(g_remote, g_local, atol=1e-12)
        xg = x.clone().requires_grad_(True)
        jac = torch.autograd.functional.jacobian(lambda v: box.call("loss", score_fn, v, t), xg)
        jac_local = torch.autograd.functional.jacobian(lambda v: (score_fn(v, t) ** 2).mean(), x)
        assert torch.allclose(jac, jac_local, atol=1e-12)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"not json", "malformed message"),
        (b'{"op": "result", "value": {"__tensor__": "%%%"}}', "does not read"),
        (b'{"op": "result", "value": ' + b"[" * 40 + b"]" * 40 + b"}", "does not read"),
    ],
)
def test_forged_messages_from_the_answer_are_refused(message, error):
    """An answer that writes the protocol itself gets no more than its own values."""
    line = message + b"\n"
    source = f"import os, sys\n\ndef f():\n    os.write(int(sys.argv[3]), {line!r})\n"
    with Sandbox(source, time_limit=20) as box, pytest.raises(SandboxError, match=error):
        box.call("f")
