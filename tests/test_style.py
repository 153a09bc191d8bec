"""Lint gate: `ruff check` (config in pyproject.toml) must pass on the package and tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["dinof_lite", "tests", "conftest.py"]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff not installed")
def test_ruff_check_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"`ruff check {' '.join(TARGETS)}` failed (fix with `ruff check --fix`):\n"
        f"{proc.stdout}{proc.stderr}"
    )
