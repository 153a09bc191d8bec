"""A workdir lock: one run writes a workdir at a time.

``python -m dinof_lite train`` (and ``demo``) take ``<workdir>/.lock`` before writing anything
and release it on exit, also after an exception. The lock file is created atomically
(``os.open(O_CREAT | O_EXCL)``) and holds JSON: the owner's ``pid``, ``host``, start ``time``
and a random ``token`` (so only the owner removes it). A second run refuses with
:class:`WorkdirLockedError`; a lock whose owner is gone (same host, pid not alive) is reported
as stale and is removed only when asked (``break_stale=True``, the CLI's ``--break-lock``).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

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
        break_stale: remove a lock left by a process that is no longer running on this host
            (or, where liveness cannot be checked, by another host) instead of refusing.
        break_hint: how the user asks for ``break_stale`` (said in the refusal).

    Raises:
        WorkdirLockedError: the workdir is locked by a live run, or by a dead one and
            ``break_stale`` is false.
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
        self.broken: dict | None = None  # the owner of a stale lock that was broken

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
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "time": time.time(),
            "token": self.token,
        }
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._refuse_or_break()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            self.held = True
            return self
        raise WorkdirLockedError(
            f"could not take the lock {self.path}", read_lock(self.path), False
        )

    def _refuse_or_break(self) -> None:
        owner = read_lock(self.path)
        pid, host = owner.get("pid"), owner.get("host")
        here = socket.gethostname()
        started = (
            time.strftime(" (since %Y-%m-%d %H:%M:%S)", time.localtime(owner["time"]))
            if isinstance(owner.get("time"), (int, float))
            else ""
        )
        if not owner:  # empty or torn: a writer killed between create and write
            age = time.time() - self.path.stat().st_mtime
            stale, who = age > 10, "an unknown process"
        else:
            stale = host == here and isinstance(pid, int) and not pid_alive(pid)
            who = f"pid {pid} on host {host}"
        where = f"workdir {self.workdir} is locked by {who}{started}"
        if stale or (self.break_stale and host != here):
            if self.break_stale:
                self.path.unlink(missing_ok=True)
                self.broken = owner
                return
            raise WorkdirLockedError(
                f"{where}, but that process is no longer running: a stale lock from a killed "
                f"run; check no run uses {self.workdir}, then {self.break_hint} "
                f"(or delete {self.path})",
                owner,
                True,
            )
        hint = "" if host == here else f"; if that run is gone, {self.break_hint}"
        raise WorkdirLockedError(
            f"{where}: another run is using it; wait for it to finish or use another "
            f"--workdir{hint}",
            owner,
            False,
        )

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if self.held and read_lock(self.path).get("token") == self.token:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
