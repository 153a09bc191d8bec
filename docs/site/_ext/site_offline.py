"""The course site works without a network: plotly.js and MathJax are served from the site.

Both come from Python packages the ``docs`` extra installs: ``plotly`` ships
``package_data/plotly.min.js`` and ``sphinx-mathjax-offline`` ships MathJax 3. Only the part of
MathJax a page uses is copied (the TeX-to-CHTML bundle, its web fonts and the TeX extensions it
may autoload: ~2 MB of its ~24 MB). plotly.js (~5 MB) is added only to pages that draw a plotly
figure (``site_notebooks``); MathJax to every page, since the navigation's titles have maths.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

MATHJAX = "mathjax"  # under _static/
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")


def plotly_js() -> Path:
    """plotly.js as the ``plotly`` package ships it."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ExtensionError(f"plotly.js is missing from the plotly package ({path})")
    return path


def mathjax_dir() -> Path:
    """MathJax 3 as ``sphinx-mathjax-offline`` ships it."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise ExtensionError(
            "MathJax is missing: pip install sphinx-mathjax-offline (in the docs extra: "
            'pip install -e ".[docs]")'
        )
    return Path(spec.origin).parent / "static" / "mathjax"


def _on_builder_inited(app: Sphinx) -> None:
    mathjax_dir()  # fail before reading anything
    plotly_js()
    app.config.mathjax_path = f"{MATHJAX}/tex-chtml.js"


def _on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if 'class="dinof-plotly"' in context.get("body", ""):
        app.add_js_file("plotly.min.js")
        app.add_js_file("plotly_figures.js")


def _on_build_finished(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    shutil.copyfile(plotly_js(), static / "plotly.min.js")
    source = mathjax_dir()
    for part in MATHJAX_PARTS:
        src, dst = source / part, static / MATHJAX / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)


def setup(app: Sphinx) -> dict[str, Any]:
    app.set_html_assets_policy("always")  # MathJax on every page: the navigation has maths too
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_page_context)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
