"""The workdir lock is the OS's ``flock``: it dies with its process (``kill -9`` included), while
two live holders refuse each other; 0.2 records and platforms without ``fcntl`` fall back on the
pid record (docs/design.md §Errors)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dinof_lite.train import lock as lock_module
from dinof_lite.train.lock import LOCK_NAME, WorkdirLock, WorkdirLockedError

ROOT = Path(__file__).resolve().parents[2]

_HOLDER = """
import sys, time
from dinof_lite.train.lock import WorkdirLock, WorkdirLockedError
try:
    lock = WorkdirLock(sys.argv[1]).acquire()
except WorkdirLockedError as err:
    print("refused:", err, flush=True)
    sys.exit(3)
print("held", flush=True)
time.sleep(600)
"""


def holder(workdir: Path) -> subprocess.Popen:
    """A separate process that takes the lock (or says why not) and then sleeps."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(workdir)], stdout=subprocess.PIPE, text=True, env=env
    )


def wait_held(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line == "held\n", line


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    """``kill -9`` runs no cleanup: the file stays, but the OS lock is gone with the process,
    so the same command (no --break-lock) takes the workdir over."""
    proc = holder(tmp_path)
    try:
        wait_held(proc)
        with pytest.raises(WorkdirLockedError) as refused:
            WorkdirLock(tmp_path).acquire()
        message = str(refused.value)
        assert f"workdir {tmp_path} is locked by pid {proc.pid} on host" in message
        assert "another run is using it" in message and "--break-lock" not in message
        assert not refused.value.stale
        before = (tmp_path / LOCK_NAME).read_text()
        assert json.loads(before)["pid"] == proc.pid  # a refusal leaves the owner's record
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.stdout.close()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == proc.pid  # left behind
    with WorkdirLock(tmp_path) as taken:
        assert taken.previous["pid"] == proc.pid and taken.broken is None
        assert read_pid(tmp_path) == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def read_pid(workdir: Path) -> int:
    return json.loads((workdir / LOCK_NAME).read_text())["pid"]


def test_two_live_holders_refuse_each_other(tmp_path):
    first = holder(tmp_path)
    try:
        wait_held(first)
        second = holder(tmp_path)
        out = second.communicate(timeout=120)[0]
        assert second.returncode == 3, out
        assert f"refused: workdir {tmp_path} is locked by pid {first.pid}" in out
        assert first.poll() is None and read_pid(tmp_path) == first.pid
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    # in one process too: the OS lock belongs to the open file, not to the process
    with WorkdirLock(tmp_path) as held:
        with pytest.raises(WorkdirLockedError, match=f"locked by pid {os.getpid()}"):
            WorkdirLock(tmp_path, break_stale=True).acquire()  # a live lock is never broken
        assert held.held and read_pid(tmp_path) == os.getpid()
    with WorkdirLock(tmp_path):  # released: taken again at once
        pass


def test_a_released_lock_file_is_not_locked_by_a_late_opener(tmp_path, monkeypatch):
    """A run that opened ``.lock`` just before its owner released (and removed) it must not
    lock the removed file: it retries on the file now at the path."""
    first = WorkdirLock(tmp_path).acquire()
    real_open = os.open
    calls = []

    def open_then_release(path, *args):
        fd = real_open(path, *args)
        calls.append(path)
        if len(calls) == 1:
            first.release()  # the owner removes the file this fd points to
        return fd

    monkeypatch.setattr(lock_module.os, "open", open_then_release)
    second = WorkdirLock(tmp_path).acquire()
    assert len(calls) == 2 and second.held and read_pid(tmp_path) == os.getpid()
    monkeypatch.undo()
    with pytest.raises(WorkdirLockedError):  # the file at the path is the one held
        WorkdirLock(tmp_path).acquire()
    second.release()


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_records_of_02_runs_without_an_os_lock(tmp_path):
    """dinof_lite 0.2 held no flock: its record decides. A live pid refuses (the file is left
    as it was), a dead one is taken over, another host's needs ``break_stale``."""
    path = tmp_path / LOCK_NAME
    here = socket.gethostname()
    live = _sleeper()
    try:
        owner = {"pid": live.pid, "host": here, "time": 0.0, "token": "t"}
        path.write_text(json.dumps(owner))
        with pytest.raises(WorkdirLockedError, match=f"locked by pid {live.pid}.*another run"):
            WorkdirLock(tmp_path, break_stale=True).acquire()
        assert json.loads(path.read_text()) == owner
    finally:
        live.kill()
        live.wait()
    dead = {"pid": _dead_pid(), "host": here, "time": 0.0, "token": "t"}
    path.write_text(json.dumps(dead))
    with WorkdirLock(tmp_path) as taken:
        assert taken.previous == dead
    elsewhere = {"pid": 1, "host": here + "-elsewhere", "time": 0.0, "token": "t"}
    path.write_text(json.dumps(elsewhere))
    with pytest.raises(WorkdirLockedError, match="if that run is gone, rerun with --break-lock"):
        WorkdirLock(tmp_path).acquire()
    assert json.loads(path.read_text()) == elsewhere
    with WorkdirLock(tmp_path, break_stale=True) as taken:
        assert taken.broken == elsewhere


def test_without_fcntl_the_pid_record_is_the_lock(tmp_path, monkeypatch):
    """The fallback (Windows): O_EXCL record; a dead owner's lock is stale and is broken only
    with ``break_stale`` (the CLI's --break-lock)."""
    monkeypatch.setattr(lock_module, "fcntl", None)
    with WorkdirLock(tmp_path) as held:
        assert "os_lock" not in json.loads((tmp_path / LOCK_NAME).read_text())
        with pytest.raises(WorkdirLockedError, match="another run is using it"):
            WorkdirLock(tmp_path, break_stale=True).acquire()
        assert held.fd is None
    assert not (tmp_path / LOCK_NAME).exists()
    pid = _dead_pid()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    with pytest.raises(WorkdirLockedError, match=f"pid {pid}.*no longer running.*--break-lock"):
        WorkdirLock(tmp_path).acquire()
    with WorkdirLock(tmp_path, break_stale=True) as taken:
        assert taken.broken["pid"] == pid
    assert not (tmp_path / LOCK_NAME).exists()
