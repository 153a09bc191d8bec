"""Fetching a diffusers model and its scheduler: a local folder, the Hugging Face cache, or the hub.

``load_pretrained(repo_id)`` goes through diffusers' own ``from_pretrained`` and the Hugging Face
cache (``HF_HOME`` / ``HF_HUB_CACHE``). The cache is tried first, without the network; only an id
that is not cached needs the hub, and when the hub cannot be reached — ``HF_HUB_OFFLINE=1``, or
no TCP connection within :data:`PROBE_TIMEOUT_S` seconds — :class:`HubUnavailable` names the id,
the cache and the command that fills it, at once rather than after the HTTP client's retries.
diffusers is the optional ``hub`` extra and is imported only here, when called.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HubUnavailable", "import_diffusers", "load_pretrained", "PROBE_TIMEOUT_S"]

PROBE_TIMEOUT_S = 5.0
"""Seconds to wait for a TCP connection to the hub before declaring it unreachable."""

INSTALL_HINT = 'pip install -e ".[hub]" (diffusers, huggingface_hub, safetensors)'


class HubUnavailable(ConnectionError):
    """A hub id is neither cached nor downloadable now; the message names it and how to get it."""


def import_diffusers():
    """The ``diffusers`` module, or a ModuleNotFoundError naming the ``hub`` extra."""
    try:
        import diffusers
    except ImportError as err:
        raise ModuleNotFoundError(
            f"dinof_lite.hub.from_diffusers needs the optional 'hub' extra: {INSTALL_HINT}"
        ) from err
    return diffusers


def load_pretrained(repo_id: str, *, cache_dir: str | os.PathLike | None = None):
    """``(unet, scheduler)`` of a hub id or local folder: the cache first, the hub only if online.

    Both layouts are read: a pipeline repository (``unet/``, ``scheduler/``) and a flat one
    (``config.json``, ``scheduler_config.json``). Weights load through diffusers: safetensors,
    or ``.bin`` files with ``torch.load(weights_only=True)`` (as diffusers 0.42 does).
    """
    diffusers = import_diffusers()
    _check_source(repo_id)
    try:
        return _load(diffusers, repo_id, cache_dir, local_files_only=True)
    except OSError as err:
        if os.path.isdir(repo_id):
            raise ValueError(
                f"folder {repo_id!r} holds no diffusers UNet2DModel with its scheduler: {err}"
            ) from None
    why = _offline_reason()
    if why is not None:
        from huggingface_hub import constants

        cache = os.fspath(cache_dir) if cache_dir is not None else constants.HF_HUB_CACHE
        raise HubUnavailable(
            f"{repo_id!r} is not in the Hugging Face cache ({cache}) and cannot be downloaded "
            f"now: {why}. Download it once with internet access, into the same cache "
            f"(HF_HOME / HF_HUB_CACHE): `hf download {repo_id}`, or in Python "
            f"huggingface_hub.snapshot_download({repo_id!r}); HF_HUB_OFFLINE=1 then keeps "
            "later runs offline."
        )
    return _load(diffusers, repo_id, cache_dir, local_files_only=False)


def _check_source(source: str) -> None:
    """A ValueError unless ``source`` is a folder or has the form of a hub id."""
    if os.path.isdir(source):
        return
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(source)
    except HFValidationError:
        raise ValueError(
            f"model={source!r} is neither an existing folder nor a hub id ('owner/name', e.g. "
            "'google/ddpm-cifar10-32')"
        ) from None


def _first_layout(load: Callable[[str | None], Any], subfolder: str) -> Any:
    """``load(subfolder)``, or ``load(None)`` for a flat repository."""
    try:
        return load(subfolder)
    except OSError:
        return load(None)


def _load(diffusers, repo_id: str, cache_dir, local_files_only: bool):
    kw = {"cache_dir": cache_dir, "local_files_only": local_files_only}
    with warnings.catch_warnings():  # diffusers passes huggingface_hub an argument it ignores
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks", category=UserWarning)
        unet = _first_layout(
            lambda sub: diffusers.UNet2DModel.from_pretrained(
                repo_id, subfolder=sub, low_cpu_mem_usage=False, **kw
            ),
            "unet",
        )
        config = _first_layout(
            lambda sub: diffusers.DDPMScheduler.load_config(repo_id, subfolder=sub, **kw),
            "scheduler",
        )
    name = config.get("_class_name")
    cls = getattr(diffusers, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        raise ValueError(
            f"{repo_id!r}: its scheduler config names {name!r}, no diffusers scheduler"
        )
    return unet, cls.from_config(config)


def _offline_reason() -> str | None:
    """Why the hub cannot be reached now (``HF_HUB_OFFLINE``, no TCP connection), or None."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    if constants.HF_HUB_OFFLINE or flag:
        return "HF_HUB_OFFLINE is set"
    url = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy") or constants.ENDPOINT
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _unreachable(parts.hostname or "", port, PROBE_TIMEOUT_S)


def _unreachable(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection to ``host:port`` opens within ``timeout`` s, else the reason.

    The connection (name lookup included, which ``socket`` cannot time out) runs in a daemon
    thread, so a black-holed network costs ``timeout`` seconds, not the HTTP client's retries.
    """
    errors: list[str] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as err:
            errors.append(f"cannot connect to {host}:{port} ({err})")

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"no connection to {host}:{port} within {timeout:g} s"
    return errors[0] if errors else None
