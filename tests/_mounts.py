"""Test helper: a read-only directory, also for root (shared by the error tests)."""

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only_mount(path: Path):
    """Make the directory ``path`` read-only for the ``with`` block: a read-only bind mount when
    root (root ignores permission bits; skips if mounting is not allowed), else chmod 0o555."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        ok = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
        if ok.returncode:
            pytest.skip(f"cannot bind-mount as root here: {ok.stderr.decode().strip()}")
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        try:
            yield path
        finally:
            subprocess.run(["umount", str(path)], check=False)
    else:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
