"""``python -m dinof_lite site build``: the course as a static website (Sphinx + myst-nb).

Stages the pages (:mod:`dinof_lite.cli.site_sources`) in ``OUT/src`` and runs Sphinx with the
configuration in ``docs/site/conf.py`` into ``OUT/html``, strictly: any warning — a broken
link or cross-reference, a page outside the table of contents, a docstring that does not parse
— fails the build (``-W --keep-going``, all warnings listed). The notebooks are rendered from
their committed outputs, never executed. Open ``OUT/html/index.html``: the site needs no
network. Needs a checkout of the repository and the ``docs`` extra (``pip install -e ".[docs]"``).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

from dinof_lite.cli.options import int_option
from dinof_lite.cli.site_sources import stage_sources

__all__ = ["SiteBuild", "build_site", "arguments", "run", "sphinx_argv"]

REPO = Path(__file__).resolve().parents[2]
SITE_DIR = REPO / "docs" / "site"


@dataclass(frozen=True)
class SiteBuild:
    """What :func:`build_site` made: the HTML folder, its size, the notebooks, the time taken."""

    html: Path
    n_notebooks: int
    size_bytes: int
    seconds: float


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sphinx_argv(src: Path, html: Path, doctrees: Path, jobs: int = 1, quiet: bool = True) -> list:
    """The strict ``sphinx-build`` arguments of the site: ``-W --keep-going`` (every warning is
    listed, then fails the build) and ``-E`` (every page read afresh, so a warning of an
    unchanged page still counts), with the configuration in ``docs/site``."""
    argv = ["-b", "html", "-E", "-W", "--keep-going", "-j", str(jobs), "-c", str(SITE_DIR)]
    return [*argv, "-d", str(doctrees), *(["-q"] if quiet else []), str(src), str(html)]


def build_site(out: str | Path = "build/site", jobs: int = 1, quiet: bool = True) -> SiteBuild:
    """Build the site into ``out/html`` (``out/src``: the staged pages, ``out/doctrees``: Sphinx's
    cache). Raises ``RuntimeError`` when Sphinx reports a warning or an error."""
    if not (SITE_DIR / "conf.py").is_file():
        raise FileNotFoundError(
            f"no site configuration at {SITE_DIR / 'conf.py'}: the site is built from a checkout "
            "of the repository (git clone ...; pip install -e '.[docs]')"
        )
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_nb") is None:
        raise ModuleNotFoundError(
            "the site generator is not installed: pip install -e '.[docs]' (Sphinx, myst-nb, furo)"
        )
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1 (Sphinx processes), got {jobs!r}")
    from sphinx.cmd.build import build_main

    out = Path(out).resolve()
    start = time.perf_counter()
    notebooks = stage_sources(REPO, SITE_DIR, out / "src")
    if build_main(sphinx_argv(out / "src", out / "html", out / "doctrees", jobs, quiet)) != 0:
        raise RuntimeError("the site build failed: Sphinx's warnings and errors are listed above")
    html = out / "html"
    return SiteBuild(html, len(notebooks), _folder_size(html), time.perf_counter() - start)


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite site``."""
    p.add_argument("action", choices=("build",), help="build: write the static site")
    p.add_argument(
        "--out",
        default="build/site",
        help="output folder: OUT/html is the site (default: build/site)",
    )
    p.add_argument(
        "--jobs", type=int_option(min=1), default=1, help="Sphinx processes (default: 1)"
    )
    p.add_argument("--verbose", action="store_true", help="show Sphinx's progress")


def run(args: argparse.Namespace) -> int:
    """Build the site (:func:`build_site`), print where it is."""
    try:
        site = build_site(args.out, jobs=args.jobs, quiet=not args.verbose)
    except (FileNotFoundError, ModuleNotFoundError, RuntimeError) as err:
        raise SystemExit(f"error: {err}") from err
    print(
        f"site: {site.html / 'index.html'} ({site.n_notebooks} notebooks, "
        f"{site.size_bytes / 2**20:.1f} MiB, {site.seconds:.0f} s)"
    )
    return 0
