"""One return type per function: no ``return_*`` flags anywhere in the package.

A flag that switches between a tensor, a tuple and a dataclass makes every caller read the
arguments to know what comes back. The package instead pairs a plain function (the tensor) with
a ``<name>_result`` companion (always one dataclass), e.g. ``pc_sample`` / ``pc_sample_result``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dinof_lite"


def _return_flags(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                if arg.arg.startswith("return_"):
                    found.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}({arg.arg})"
                    )
        elif isinstance(node, ast.keyword) and node.arg and node.arg.startswith("return_"):
            found.append(
                f"{path.relative_to(PACKAGE.parent)}:{node.value.lineno} call with {node.arg}="
            )
    return found


def test_no_function_takes_a_return_flag():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _return_flags(path)]
    assert not found, (
        "return_* flags change a function's return type; add a <name>_result companion "
        "instead:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("plain", "rich", "result"),
    [
        ("dinof_lite.sampling:pc_sample", "dinof_lite.sampling:pc_sample_result", "SampleResult"),
        ("dinof_lite.sampling:ode_sample", "dinof_lite.sampling:ode_sample_result", "SampleResult"),
        (
            "dinof_lite.sampling:ode_log_likelihood",
            "dinof_lite.sampling:ode_log_likelihood_result",
            "LikelihoodResult",
        ),
        ("dinof_lite.dinof:DiNof.sample", "dinof_lite.dinof:DiNof.sample_result", "DiNofSample"),
        (
            "dinof_lite.dinof:DiNof.log_likelihood",
            "dinof_lite.dinof:DiNof.log_likelihood_result",
            "LikelihoodResult",
        ),
        (
            "dinof_lite.baselines:DiffFlow.sample",
            "dinof_lite.baselines:DiffFlow.sample_result",
            "SampleResult",
        ),
        (
            "dinof_lite.baselines:DiffEnc.sample",
            "dinof_lite.baselines:DiffEnc.sample_result",
            "SampleResult",
        ),
    ],
)
def test_each_plain_function_has_a_result_companion(plain, rich, result):
    import importlib
    import inspect

    def resolve(spec: str):
        module, _, attr = spec.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    f, g = resolve(plain), resolve(rich)
    assert inspect.signature(f).return_annotation == "Tensor"
    assert inspect.signature(g).return_annotation == result
    # the companion takes every argument of the plain function, with the same defaults
    extra = {
        name: p.default
        for name, p in inspect.signature(f).parameters.items()
        if inspect.signature(g).parameters.get(name) is None
        or inspect.signature(g).parameters[name].default != p.default
    }
    assert not extra, f"{rich} lacks or changes {sorted(extra)}"
