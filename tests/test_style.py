"""Style gate: `ruff format` and `ruff check` (config in pyproject.toml) must pass on the package,
the tests, the scripts and the root conftest. Never skipped: ruff is in the ``dev`` extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["dinof_lite", "tests", "scripts", "conftest.py"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_format_is_clean():
    proc = _ruff("format", "--diff")
    # `--diff` names each file it would change in a `--- path` header, across ruff versions
    files = sorted(
        {line[4:].strip() for line in proc.stdout.splitlines() if line.startswith("--- ")}
    )
    if proc.returncode or files:
        pytest.fail(
            f"`ruff format {' '.join(TARGETS)}` would reformat {len(files)} file(s) "
            f"(run `ruff format` on them):\n" + "\n".join(files) + f"\n{proc.stderr}",
            pytrace=False,
        )


def test_ruff_check_is_clean():
    proc = _ruff("check")
    if proc.returncode:
        pytest.fail(
            f"`ruff check {' '.join(TARGETS)}` failed (fix with `ruff check --fix`):\n"
            f"{proc.stdout}{proc.stderr}",
            pytrace=False,
        )


def _private_imports(path: Path) -> list[str]:
    """``from dinof_lite.X import _name`` (or a relative ``from .X import _name``) in ``path``."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = "." * node.level + (node.module or "")
        if node.level == 0 and not module.startswith("dinof_lite"):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(
                    f"{path.relative_to(ROOT)}:{node.lineno}: from {module} import {alias.name}"
                )
    return found


def test_no_module_imports_a_private_name_of_another():
    """Shared helpers are public (``dinof_lite.train.read_checkpoint``, not ``pretrained._read``)."""
    files = [
        p for folder in ("dinof_lite", "scripts") for p in sorted((ROOT / folder).rglob("*.py"))
    ]
    assert files
    offenders = [hit for p in files for hit in _private_imports(p)]
    assert not offenders, "private names imported across modules:\n" + "\n".join(offenders)
