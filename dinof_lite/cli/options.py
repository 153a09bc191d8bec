"""The option types of ``python -m dinof_lite``: every ``type=`` and path check of every command.

A ``type=`` function (:func:`int_option`, :func:`float_option`, :data:`T_M`,
:func:`device_option`) turns the text of one option into a value or raises
``argparse.ArgumentTypeError``, which the parser reports as ``error: ... argument --x: ...`` with
exit status 1 (:class:`~dinof_lite.cli.main.Parser`). The path checks (:func:`existing_run`,
:func:`output_file`, :func:`image_file`) run before a command writes or computes anything and
raise ``ValueError`` / ``OSError`` naming the option, what was expected and the fix. The checks
of values themselves live in :mod:`dinof_lite.train.validation`, shared with the Python API.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dinof_lite.train.validation import (
    check_dir,
    check_float,
    check_int,
    check_writable,
    resolve_device,
)

__all__ = [
    "DEVICE_HELP",
    "T_M",
    "device_option",
    "existing_run",
    "float_option",
    "image_file",
    "int_option",
    "output_file",
]

DEVICE_HELP = "auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps"


def int_option(min: int | None = None, max: int | None = None, what: str = "an integer"):
    """A ``type=`` that parses an integer within ``[min, max]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check_int("value", value, min=min, max=max)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).replace("value must be", "must be")) from None

    parse.__name__ = "integer"
    return parse


def float_option(
    min: float | None = None,
    max: float | None = None,
    *,
    min_open: bool = False,
    max_open: bool = False,
):
    """A ``type=`` that parses a finite number within the given bounds."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        try:
            return check_float(
                "value", value, min=min, max=max, min_open=min_open, max_open=max_open
            )
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).replace("value must be", "must be")) from None

    parse.__name__ = "number"
    return parse


#: a hand-over time ``T_m`` in ``(0, 1]`` (a model refuses one outside its own range later)
T_M = float_option(min=0, max=1, min_open=True)


def device_option(text: str) -> str:
    """A ``type=`` for ``--device``: a valid device string that exists here."""
    try:
        resolve_device(text, "--device")
    except ValueError as err:  # argparse adds "argument --device: " itself
        raise argparse.ArgumentTypeError(str(err).replace("--device ", "", 1)) from None
    return text.strip().lower()


def existing_run(workdir, *, writable: bool) -> Path:
    """``--workdir`` of sample / eval: an existing directory (writable when results go there)."""
    path = check_dir("--workdir", workdir, must_exist=False)
    if not path.exists():
        raise FileNotFoundError(
            f"--workdir {path} does not exist; give a run written by "
            f"`python -m dinof_lite train --config NAME --workdir {path}`"
        )
    if writable:
        check_writable("--workdir", path)
        metrics = path / "metrics.jsonl"
        if metrics.exists() and not os.access(metrics, os.W_OK):
            raise PermissionError(
                f"--workdir {path}: {metrics} is not writable; fix its permissions"
            )
    return path


def output_file(option: str, path) -> Path:
    """A file to write: not a directory, in a directory that exists or can be created."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{option} {path} is a directory; give a file name")
    check_writable(option, path.parent)
    return path


def image_file(option: str, path) -> Path:
    """An :func:`output_file` whose extension names an image format Pillow writes (``.png``)."""
    from PIL import Image

    path = output_file(option, path)
    if path.suffix.lower() not in Image.registered_extensions():
        raise ValueError(
            f"{option} {path}: {path.suffix or 'no extension'} is not an image format; "
            f"give a file name ending in .png (e.g. {path.with_suffix('.png')})"
        )
    return path
