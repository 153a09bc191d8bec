"""The quick tier (``python -m pytest -m "not slow"``) still reaches every package, and runs no
notebook.

A test file's quick tests are its test functions without the ``slow`` mark (on the function
or as the file's ``pytestmark``). What they import from ``dinof_lite`` (a name imported from a
package counts for the module that defines it) and the commands they run through the CLI
(``main(["demo", ...])`` reaches ``dinof_lite.cli.demo``) must cover every subpackage and every
top-level module of ``dinof_lite``.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import dinof_lite

ROOT = Path(__file__).resolve().parents[1]


def _is_slow(node: ast.AST) -> bool:
    """``pytest.mark.slow`` (or a list holding it) in a decorator or ``pytestmark`` value."""
    return any(
        isinstance(n, ast.Attribute) and n.attr == "slow" and "mark" in ast.unparse(n.value)
        for n in ast.walk(node)
    )


def _modules(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The ``dinof_lite`` modules an import statement reaches, and the packages above them."""
    found = set()
    if isinstance(node, ast.Import):
        found = {a.name for a in node.names}
    elif node.module and node.level == 0:
        found = {node.module}
        base = (
            importlib.import_module(node.module) if node.module.startswith("dinof_lite") else None
        )
        for alias in node.names if base else ():
            obj = getattr(base, alias.name, None)
            where = getattr(obj, "__name__", "") if isinstance(obj, type(base)) else ""
            found.add(where or getattr(obj, "__module__", "") or "")
    reached = set()
    for name in found:
        parts = name.split(".")
        if parts[0] == "dinof_lite":
            reached |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
    return reached


def _quick_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if any(
        isinstance(n, ast.Assign)
        and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)
        and _is_slow(n.value)
        for n in tree.body
    ):
        return set()
    tests = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
    ]
    slow = [t for t in tests if any(_is_slow(d) for d in t.decorator_list)]
    if len(slow) == len(tests):
        return set()
    skip = {id(n) for t in slow for n in ast.walk(t)}  # imports only slow tests make
    reached = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            reached |= _modules(node)
        elif _cli_command(node):
            reached |= {"dinof_lite.cli", f"dinof_lite.cli.{_cli_command(node)}"}
    return reached


def _cli_command(node: ast.AST) -> str:
    """``"demo"`` for a call ``main(["demo", ...])``, else ``""``."""
    if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "main" and node.args):
        return ""
    argv = node.args[0]
    first = argv.elts[0] if isinstance(argv, ast.List) and argv.elts else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""


def test_the_quick_tier_imports_every_package_of_dinof_lite():
    wanted = {
        m.name
        for m in pkgutil.walk_packages(dinof_lite.__path__, "dinof_lite.")
        if m.ispkg or m.name.count(".") == 1
    } - {"dinof_lite.__main__"}
    reached = set().union(*(_quick_imports(p) for p in (ROOT / "tests").rglob("test_*.py")))
    missing = sorted(wanted - reached)
    assert not missing, f"no quick test (without the slow mark) imports {', '.join(missing)}"


def test_the_quick_tier_runs_no_notebook():
    notebook = "notebooks/01_forward_and_reverse_sdes.ipynb"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow", notebook],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        timeout=300,
    )
    assert out.returncode == 5, out.stdout + out.stderr  # 5: no test selected
    assert "deselected" in out.stdout, out.stdout
