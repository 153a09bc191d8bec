"""A throw-away JupyterLab server for the browser test (``tests/test_browser.py``).

:class:`LabServer` starts ``python -m jupyterlab`` on a free loopback port with token auth, its
own temporary ``JUPYTER_CONFIG_DIR`` / ``DATA_DIR`` / ``RUNTIME_DIR`` / ``IPYTHONDIR`` and user
settings, so nothing of the user's Jupyter setup leaks in and nothing is written outside the
temporary folder. The lab extensions and server extensions installed in this Python's prefix
(ipywidgets' ``jupyterlab_widgets``, jupytext, plotly) still load: Jupyter always searches
``sys.prefix/share/jupyter`` and ``sys.prefix/etc/jupyter`` besides the user folders.
Kernels inherit the server's environment (``DINOF_SMOKE=1``, ``OMP_NUM_THREADS``).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# JupyterLab user settings: no network calls (news, update checks), no toasts over the page,
# every cell attached to the DOM (the default windowing hides off-screen cells), the kernel
# started without asking, and no autosave.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},  # saves happen when asked
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabServer:
    """``with LabServer(root, tmp) as lab:`` — JupyterLab serving ``root`` at ``lab.url(path)``.

    Args:
        root: the server's root directory (a temporary copy of ``notebooks/``).
        tmp: a scratch folder for the Jupyter config/data/runtime dirs, settings and the log.
        env: extra environment variables for the server and its kernels.
        startup_timeout: seconds to wait for ``/api/status`` to answer.
    """

    def __init__(
        self,
        root: Path,
        tmp: Path,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.root, self.tmp = Path(root), Path(tmp)
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log_path = self.tmp / "jupyterlab.log"
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        """``http://127.0.0.1:<port>/<path>`` with the token (``path`` may carry a query)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path}{sep}token={self.token}"

    def _write_settings(self, folder: Path) -> None:
        for plugin, values in SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            path = folder / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def start(self) -> LabServer:
        """Start the server and wait until its REST API answers (raises RuntimeError if not)."""
        dirs = {
            name: self.tmp / name
            for name in ("config", "data", "runtime", "ipython", "settings", "workspaces")
        }
        for folder in dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        self._write_settings(dirs["settings"])
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
            cmd.append("--allow-root")
        self._log = self.log_path.open("w")
        self._proc = subprocess.Popen(
            cmd, env=env, cwd=self.tmp, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self._proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=5) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer within {self.startup_timeout:.0f} s:\n{self.log()}"
        )

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel), e.g. before a retry."""
        headers = {"Authorization": f"token {self.token}"}
        with urllib.request.urlopen(
            urllib.request.Request(f"{self.base}/api/sessions", headers=headers), timeout=30
        ) as resp:
            sessions = json.loads(resp.read())
        for session in sessions:
            request = urllib.request.Request(
                f"{self.base}/api/sessions/{session['id']}", headers=headers, method="DELETE"
            )
            urllib.request.urlopen(request, timeout=60).close()

    def log(self, tail: int = 4000) -> str:
        """The last ``tail`` characters of the server's log."""
        if self._log is not None:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:]

    def stop(self) -> None:
        """Terminate the server (and so its kernels); kill it if it does not exit in 20 s."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
