"""A workdir lock: one run writes a workdir at a time, and the lock dies with its process.

``python -m dinof_lite train`` (and ``demo``, and the :class:`~dinof_lite.train.Trainer` API)
take ``<workdir>/.lock`` before writing anything and release it on exit, also after an exception.
The lock is the operating system's: an exclusive ``fcntl.flock`` on the open ``.lock`` file,
which the kernel drops when the holder's process ends, however it ends. So a run killed with
``kill -9`` (or a crashed notebook kernel) leaves nothing to clean up: the same command resumes.
Two live runs still refuse each other: the second one's ``flock`` fails, and it reports the
holder from the JSON record the file holds (``pid``, ``host``, start ``time``, a random
``token``, ``"os_lock": "flock"``).

Two cases fall back on that record alone, as dinof_lite 0.2 did:

- a platform without ``fcntl`` (Windows): the file is created with ``O_CREAT | O_EXCL``; a lock
  whose owner is gone (same host, pid not alive) is reported as stale and removed only when
  asked (``break_stale=True``, the CLI's ``--break-lock``);
- a record without ``"os_lock"``, written by a dinof_lite 0.2 run (which held no OS lock): a
  live pid on this host refuses, a dead one is taken over; one from another host refuses unless
  ``break_stale``.

``flock`` belongs to the open file, so a process forked while holding it (a ``DataLoader``
worker) holds it until it exits too; processes started with ``subprocess`` do not inherit it.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: fall back on the pid record (see the module docstring)
    fcntl = None

__all__ = ["LOCK_NAME", "WorkdirLock", "WorkdirLockedError", "pid_alive", "read_lock"]

LOCK_NAME = ".lock"


class WorkdirLockedError(RuntimeError):
    """Another run holds the workdir (or a dead one left its lock): the message says which."""

    def __init__(self, message: str, owner: dict, stale: bool) -> None:
        super().__init__(message)
        self.owner, self.stale = owner, stale

    def __reduce__(self):  # picklable, so rank 0 can share it with the other ranks
        return type(self), (str(self), self.owner, self.stale)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_lock(path: str | os.PathLike) -> dict:
    """The owner record of a lock file (``{}`` if unreadable or half-written)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class WorkdirLock:
    """``with WorkdirLock(workdir): ...`` — hold ``workdir/.lock`` for the block.

    Args:
        workdir: the run directory (created if missing: taking the lock is its first write).
        break_stale: where the lock is only a record (no ``fcntl``, or a dinof_lite 0.2 record),
            remove one left by a process that is no longer running on this host (or, where
            liveness cannot be checked, by another host) instead of refusing. With ``flock``
            a killed run's lock is gone anyway, and a live run's lock is never broken.
        break_hint: how the user asks for ``break_stale`` (said in the refusal).

    Raises:
        WorkdirLockedError: the workdir is locked by a live run, or (record-only locks) by a
            dead one and ``break_stale`` is false.
    """

    def __init__(
        self,
        workdir: str | os.PathLike,
        *,
        break_stale: bool = False,
        break_hint: str = "rerun with --break-lock",
    ) -> None:
        self.workdir = Path(workdir)
        self.break_hint = break_hint
        self.path = self.workdir / LOCK_NAME
        self.break_stale = break_stale
        self.token = uuid.uuid4().hex
        self.held = False
        self.fd: int | None = None  # the open, flock-ed lock file
        self.broken: dict | None = None  # the owner of a stale lock that was broken
        self.previous: dict | None = None  # the record a killed run left (flock taken over)

    def _record(self) -> dict:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
        record["token"] = self.token
        if fcntl is not None:
            record["os_lock"] = "flock"
        return record

    def acquire(self) -> WorkdirLock:
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # e.g. a path under /proc, a full or read-only disk
            error = OSError(
                f"cannot create the workdir {self.workdir} ({err.strerror}); "
                "choose a directory you can write"
            )
            error.errno = err.errno
            raise error from None
        if fcntl is None:
            return self._acquire_record_only()
        for _ in range(5):  # retried only when a releasing run removed the file meanwhile
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._refuse(read_lock(self.path), stale=False)
            try:
                same_file = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same_file = False
            if not same_file:  # we locked a file its owner unlinked on release: take the new one
                os.close(fd)
                continue
            try:
                self._take_over(read_lock(self.path))
            except BaseException:
                os.close(fd)  # drops the flock; the record on disk is untouched
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(self._record()).encode(), 0)
            self.fd, self.held = fd, True
            return self
        raise WorkdirLockedError(
            f"could not take the lock {self.path}", read_lock(self.path), False
        )

    def _take_over(self, owner: dict) -> None:
        """We hold the flock; decide about the record ``owner`` the file still holds."""
        if not owner:  # a new file, or one torn by a killed writer
            return
        if owner.get("os_lock"):  # its flock is gone, so its process is: a killed run
            self.previous = owner
            return
        pid, host = owner.get("pid"), owner.get("host")  # a 0.2 run, which held no flock
        if host == socket.gethostname() and isinstance(pid, int) and pid != os.getpid():
            if pid_alive(pid):
                self._refuse(owner, stale=False)
            self.previous = owner
            return
        if not self.break_stale:  # another host's pid cannot be checked from here
            self._refuse(owner, stale=False)
        self.broken = owner

    def _acquire_record_only(self) -> WorkdirLock:
        """Without ``fcntl``: create the record with ``O_EXCL``; stale ones need ``break_stale``."""
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._refuse_or_break()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._record(), fh)
            self.held = True
            return self
        raise WorkdirLockedError(
            f"could not take the lock {self.path}", read_lock(self.path), False
        )

    def _refuse_or_break(self) -> None:
        owner = read_lock(self.path)
        pid, host = owner.get("pid"), owner.get("host")
        here = socket.gethostname()
        if not owner:  # empty or torn: a writer killed between create and write
            stale = time.time() - self.path.stat().st_mtime > 10
        else:
            stale = host == here and isinstance(pid, int) and not pid_alive(pid)
        if (stale or host != here) and self.break_stale:
            self.path.unlink(missing_ok=True)
            self.broken = owner
            return
        self._refuse(owner, stale)

    def _refuse(self, owner: dict, stale: bool) -> None:
        pid, host = owner.get("pid"), owner.get("host")
        here = socket.gethostname()
        started = (
            time.strftime(" (since %Y-%m-%d %H:%M:%S)", time.localtime(owner["time"]))
            if isinstance(owner.get("time"), (int, float))
            else ""
        )
        who = f"pid {pid} on host {host}" if owner else "an unknown process"
        where = f"workdir {self.workdir} is locked by {who}{started}"
        if stale:
            raise WorkdirLockedError(
                f"{where}, but that process is no longer running: a stale lock from a killed "
                f"run; check no run uses {self.workdir}, then {self.break_hint} "
                f"(or delete {self.path})",
                owner,
                True,
            )
        hint = (
            ""
            if host == here or owner.get("os_lock")
            else f"; if that run is gone, {self.break_hint}"
        )
        raise WorkdirLockedError(
            f"{where}: another run is using it; wait for it to finish or use another "
            f"--workdir{hint}",
            owner,
            False,
        )

    def release(self) -> None:
        """Remove the lock file if it is still ours, then drop the OS lock."""
        if self.held and read_lock(self.path).get("token") == self.token:
            self.path.unlink(missing_ok=True)  # before the flock goes: see acquire's samestat
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.held = False

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
