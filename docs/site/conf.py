"""Sphinx configuration of the course site (built by ``python -m dinof_lite site build``).

The build reads a staging copy of the repository (``dinof_lite.cli.site_sources``): this folder's
pages at its root, ``README.md``, ``docs/design.md`` and the executed notebooks at their own
paths, so every relative link between them works on the site as it does on GitHub. Notebooks
are rendered from their committed outputs (``nb_execution_mode = "off"``). Why Sphinx with
myst-nb: docs/design.md §The course site.
"""

from __future__ import annotations

import sys
from importlib.metadata import version as _installed_version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "dinof_lite"
author = "dinof_lite contributors"
release = version = _installed_version("dinof_lite")  # without importing torch
copyright = "dinof_lite contributors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "site_notebooks",  # plotly figures and saved widgets as offline HTML; Colab / download links
    "site_offline",  # plotly.js and MathJax served from the site itself
    "site_docstrings",  # Google sections, bare shapes, references to re-exported names
]

root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "**/__pycache__"]
templates_path: list[str] = []
html_static_path = ["_static"]

# --------------------------------------------------------------------- strictness
# The build runs with -W (warnings are errors): a broken link or cross-reference, a page missing
# from the toctree, a docstring that does not parse. nitpicky also refuses references that do not
# resolve, except to the libraries below (no network, so no intersphinx inventories).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|np|numpy|nn|plt|matplotlib|go|plotly|argparse|ipywidgets|pathlib)(\..*)?"),
    (r"py:.*", r"(Tensor|Module|Figure|Axes|Path|Generator|Namespace|Parameter|optional)"),
    (r"py:.*", r"(collections\.abc|typing|t|types|os|dataclasses|enum|abc|io)\..*"),  # t: traitlets
    (r"py:.*", r"(.*\.)?_\w+(\..*)?"),  # private names are not documented
    (r"py:.*", r"(.*\.)?[A-Z]"),  # type variables (T, F)
]
# A heading that skips a level (# to ###) is the notebooks' own choice of layout, not an error.
suppress_warnings = ["myst.header"]

# --------------------------------------------------------------------- notebooks (myst-nb)
nb_execution_mode = "off"  # publish the committed outputs; never re-run a notebook here
nb_ipywidgets_js: dict = {}  # saved widgets become static HTML (site_notebooks), no CDN script
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# --------------------------------------------------------------------- API reference
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"show-inheritance": True, "undoc-members": True}
add_module_names = False

# --------------------------------------------------------------------- maths
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

# --------------------------------------------------------------------- theme
html_theme = "furo"
html_title = f"dinof_lite {release}"
html_copy_source = False  # the notebooks are offered for download as they are instead
html_show_sourcelink = False
html_css_files = ["site.css"]

# --------------------------------------------------------------------- links out
site_repository = "dinof-lite/dinof_lite"  # GitHub owner/name: the Colab links open from there
site_branch = "main"
