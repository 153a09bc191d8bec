"""The out-of-kernel graders without nbgrader: static rules, the sandbox, secret parameters.

The nbgrader pipeline itself (course, generate, autograde, gradebook) runs in
tests/test_grading.py on A1; here each piece is checked on its own, in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dinof_lite.coursework.graders import EXERCISES, grade_answer
from dinof_lite.coursework.sandbox import Sandbox, SandboxError, refusal
from tests._answers import CORRECT, TRICKS

ROOT = Path(__file__).resolve().parents[1]
FORWARD = EXERCISES["check_forward_sample"]


@pytest.mark.parametrize(
    "line",
    [
        "getattr(sde, 'per' + 'turb')(x0, t, z)",
        "__import__('dinof_lite').sde",
        "import importlib",
        "eval('sde.perturb')(x0, t, z)",
        "exec('y = 1')",
        "globals()['VPSDE']",
        "vars(sde)",
        "sde.marginal_prob.__self__",
        "x0.__class__.__mro__",
        "open('/etc/passwd').read()",
        "torch.sys.modules['dinof_lite.sde']",
        "from dinof_lite.sde import VPSDE",
        "import os",
        "type(sde).perturb(sde, x0, t, z)",
        "sde.perturb(x0, t, z)",
        "VPSDE().marginal_prob(x0, t)",
        "torch.hub.load('x', 'y')",
    ],
)
def test_static_rules_refuse_dynamic_access_and_the_library_answer(line):
    source = f"def forward_sample(x0, t, z, sde):\n    return {line}\n"
    if line.startswith(("import", "from")):
        source = line + "\n\n" + source.replace(f"return {line}", "return x0")
    assert refusal(source, FORWARD.forbidden, FORWARD.forbidden_attributes) is not None


def test_static_rules_accept_ordinary_maths_with_local_names_like_sigma():
    for answers in CORRECT.values():
        for test, exercise in EXERCISES.items():
            source = answers[exercise.function]
            assert refusal(source, exercise.forbidden, exercise.forbidden_attributes) is None


@pytest.mark.parametrize("variant", ["plain", "numpy", "row_loop"])
def test_correct_answers_pass_outside_the_kernel(variant):
    for exercise in EXERCISES.values():
        source = CORRECT[variant][exercise.function]
        result = grade_answer(exercise, source, seed=11, time_limit=30)
        assert result.passed, result


@pytest.mark.parametrize("trick", ["ignores_arguments", "library_function", "rebind_grading"])
def test_forged_answers_fail_outside_the_kernel(trick):
    for exercise in EXERCISES.values():
        result = grade_answer(exercise, TRICKS[trick][exercise.function], seed=3, time_limit=30)
        assert not result.passed, result


def test_secret_parameters_differ_between_seeds_and_name_the_rule():
    source = TRICKS["ignores_arguments"]["vp_marginal"]
    a = grade_answer(EXERCISES["check_vp_marginal"], source, seed=1, time_limit=30)
    b = grade_answer(EXERCISES["check_vp_marginal"], source, seed=2, time_limit=30)
    assert "drawn at grading time" in a.message and a.message != b.message


def test_sandbox_survives_exit_hang_memory_and_file_reads():
    exit_now = "import os\n\ndef f():\n    os._exit(0)\n"
    with Sandbox(exit_now, time_limit=20) as box, pytest.raises(SandboxError, match="ended"):
        box.call("f")
    with Sandbox("def f():\n    while True:\n        pass\n", time_limit=3) as box:
        with pytest.raises(SandboxError, match="time limit"):
            box.call("f")
    hog = "def f():\n    return torch.ones(1 << 31).sum()\n"  # 8 GiB > the 2 GiB limit
    with Sandbox(hog, time_limit=20, memory_mb=2048) as box, pytest.raises(SandboxError):
        box.call("f")
    solution = ROOT / "notebooks" / "assignments" / "A1_forward_sde_solution.py"
    reader = f"def f():\n    return float(len(numpy.fromfile({str(solution)!r}, dtype='u1')))\n"
    with Sandbox(reader, names=("numpy",), time_limit=20) as box:
        with pytest.raises(SandboxError, match="refuses to open"):
            box.call("f")
    net = "import socket\n\ndef f():\n    socket.create_connection(('127.0.0.1', 9))\n"
    with Sandbox(net, time_limit=20) as box, pytest.raises(SandboxError, match="refuses"):
        box.call("f")


def test_sandbox_returns_only_numbers():
    with Sandbox("def f(x):\n    return x * 2, 3.5, 'text'\n", time_limit=20) as box:
        with pytest.raises(SandboxError, match="str"):
            box.call("f", __import__("torch").ones(2))
    with Sandbox("def f(x):\n    return x * 2, 3.5\n", time_limit=20) as box:
        doubled, number = box.call("f", __import__("torch").ones(2))
        assert doubled.tolist() == [2.0, 2.0] and number == 3.5


def test_installed_package_carries_no_solution():
    """The wheel holds dinof_lite/ only (package-data: checkpoints, JSON); no file in it holds
    a solution region, so a non-editable install gives a student's code nothing to read."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"]["find"]["include"] == ["dinof_lite*"]
    assert all(p.endswith((".pt", ".json")) for p in config["package-data"]["dinof_lite"])
    for path in (ROOT / "dinof_lite").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".json", ".ipynb"):
            assert "### BEGIN SOLUTION" not in path.read_text("utf-8", errors="ignore"), path
