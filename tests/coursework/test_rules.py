"""The grader's static rules (dinof_lite.coursework.rules): what an answer may not write."""

from __future__ import annotations

import pytest

from dinof_lite.coursework.graders import EXERCISES
from dinof_lite.coursework.rules import refusal
from tests._answers import CORRECT, TRICKS

FORWARD = EXERCISES["check_forward_sample"]


@pytest.mark.parametrize(
    "line",
    [
        "getattr(sde, 'per' + 'turb')(x0, t, z)",
        "__import__('dinof_lite').sde",
        "eval('sde.perturb')(x0, t, z)",
        "exec('y = 1')",
        "globals()['VPSDE']",
        "vars(sde)",
        "sde.marginal_prob.__self__",
        "x0.__class__.__mro__",
        "open('/etc/passwd').read()",
        "torch.sys.modules['dinof_lite.sde']",
        "torch.ctypes.CDLL(None)",
        "type(sde).perturb(sde, x0, t, z)",
        "sde.perturb(x0, t, z)",
        "VPSDE().marginal_prob(x0, t)",
        "torch.hub.load('x', 'y')",
        "torch.load('model.pt')",
        "torch.from_file('/etc/passwd', size=4)",
        "numpy.fromfile('/etc/passwd')",
        "(lambda: (yield))().gi_frame.f_back.f_globals",
        "torch.distributed.init_process_group('gloo')",
        "torch.compile(lambda y: y)(x0)",
    ],
)
def test_refuses_dynamic_access_escapes_and_the_library_answer(line):
    source = f"def forward_sample(x0, t, z, sde):\n    return {line}\n"
    assert refusal(source, FORWARD.forbidden, FORWARD.forbidden_attributes) is not None


@pytest.mark.parametrize(
    ("statement", "names"),
    [
        ("import importlib", "importlib"),
        ("import os", "os"),
        ("from dinof_lite.sde import VPSDE", "dinof_lite.sde"),
        ("import sqlite3", "sqlite3"),
        ("from . import solution", "."),
        ("import numpy.ctypeslib", None),
    ],
)
def test_refuses_imports_outside_the_maths_libraries(statement, names):
    rule = refusal(statement + "\n", FORWARD.forbidden, FORWARD.forbidden_attributes)
    assert rule is not None
    if names:
        assert f"`import {names}` is not allowed" in rule and "math, numpy, torch" in rule


def test_names_the_rule_for_the_library_answer():
    rule = refusal(
        "def forward_sample(x0, t, z, sde):\n    return sde.perturb(x0, t, z)\n",
        FORWARD.forbidden,
        FORWARD.forbidden_attributes,
    )
    assert rule.startswith("`.perturb` is not allowed here: (a.3) asks you to write x_t")
    vp = EXERCISES["check_vp_marginal"]
    rule = refusal(
        "def vp_marginal(x0, t):\n    sde = VPSDE()\n", vp.forbidden, vp.forbidden_attributes
    )
    assert rule == (
        "`VPSDE` is not allowed here: the library's VPSDE is the answer to this exercise; "
        "write it yourself."
    )


def test_accepts_ordinary_maths_with_local_names_like_sigma():
    for answers in CORRECT.values():
        for exercise in EXERCISES.values():
            if exercise.function in answers:
                source = answers[exercise.function]
                assert refusal(source, exercise.forbidden, exercise.forbidden_attributes) is None


@pytest.mark.parametrize(
    "trick",
    ["environ_pop", "passed_property", "stub_checks", "patch_close", "exec_course_source",
     "exec_repo_solution", "builtins_exec", "checks_namespace_swap", "eval_exec",
     "gradebook_write", "liar_tensor", "library_function",
     "library_by_other_paths", "library_by_import_machinery"],
)  # fmt: skip
def test_tricks_that_reach_the_interpreter_or_the_library_are_refused(trick):
    """(The others, e.g. ``grading.require = …``, are refused by nothing and harm nothing: the
    answer's process has no ``grading`` to patch.)"""
    for exercise in EXERCISES.values():
        if exercise.function in TRICKS[trick]:
            source = TRICKS[trick][exercise.function]
            rule = refusal(source, exercise.forbidden, exercise.forbidden_attributes)
            assert rule is not None, exercise.function


def test_a_syntax_error_is_named_with_its_line():
    assert refusal("def f(:\n", {}) == "the answer is not valid Python: invalid syntax (line 1)."
