"""Notebook pages of the course site: outputs a static page can show, and links out.

* ``source-read``: before myst-nb parses a notebook, outputs that need a kernel or a CDN script
  are rewritten as plain HTML, from what the notebook saved (nothing is executed):

  - a plotly figure (``application/vnd.plotly.v1+json``, e.g. the kernel-free ``T_m`` journey of
    notebook 04) becomes a ``<div class="dinof-plotly">`` holding its figure as JSON;
    ``_static/plotly_figures.js`` draws it with the site's own plotly.js, frames included, so
    its slider and play button work;
  - an ipywidgets view (the ``T_m`` sliders) becomes the widget as the notebook saved it —
    its images, labels and slider values — with a note that moving it needs a kernel; the
    notebook's widget state is then dropped, so myst-nb loads no widget script;
* ``doctree-read``: every notebook page gets an "Open in Colab" and a "Download notebook" link
  under its title, and a remote image (the notebooks' Colab badge) becomes its alt text, so a
  page loads nothing from another host;
* ``build-finished``: each notebook is copied next to its page, for the download link.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
COLAB = "https://colab.research.google.com/github/{repository}/blob/{branch}/{path}"


def _is_notebook(app: Sphinx, docname: str) -> bool:
    return Path(app.env.doc2path(docname)).suffix == ".ipynb"


def plotly_html(figure: dict[str, Any]) -> str:
    """A plotly figure (data, layout, frames) as a ``<div>`` holding its JSON, for plotly_figures.js."""
    data = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return f'<div class="dinof-plotly"><script type="application/json">{data}</script></div>\n'


def _widget_html(model_id: str, state: dict[str, Any]) -> str:
    """One saved widget model (and its children) as static HTML."""
    model = state.get(model_id)
    if model is None:
        return ""
    name, s = model["model_name"], model["state"]
    if name in ("VBoxModel", "HBoxModel"):
        children = "".join(_widget_html(c.removeprefix("IPY_MODEL_"), state) for c in s["children"])
        return f'<div class="dinof-widget-{name[0].lower()}box">{children}</div>'
    if name == "ImageModel":
        png = next(b["data"] for b in model.get("buffers", []) if b["path"] == ["value"])
        return (
            f'<img class="dinof-widget-image" src="data:image/{s["format"]};base64,{png}" alt="">'
        )
    if name in ("HTMLModel", "LabelModel"):
        text = s["value"] if name == "HTMLModel" else html.escape(s["value"])
        return f'<div class="dinof-widget-html">{text}</div>'
    if name in ("FloatSliderModel", "IntSliderModel"):
        value = format(s["value"], s.get("readout_format", "")) if name[0] == "F" else s["value"]
        return (
            f'<div class="dinof-widget-slider">{html.escape(s["description"])} = {value} '
            f"(slider from {s['min']:g} to {s['max']:g})</div>"
        )
    return ""


def widget_html(model_id: str, state: dict[str, Any]) -> str:
    """A saved ipywidgets view as static HTML, under a note that it needs a kernel to move."""
    note = (
        '<p class="dinof-widget-note">An interactive widget: it redraws through a running '
        "kernel (open the notebook in Colab or Jupyter). Below, the state it was saved in.</p>"
    )
    return f'<div class="dinof-widget">{note}{_widget_html(model_id, state)}</div>\n'


def static_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """``notebook`` with plotly and widget outputs replaced by their static HTML (in place)."""
    saved = notebook.get("metadata", {}).pop("widgets", {})
    state = saved.get(WIDGET_STATE_MIME, {}).get("state", {})
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data:
                out["data"] = {"text/html": plotly_html(data[PLOTLY_MIME])}
            elif WIDGET_VIEW_MIME in data:
                out["data"] = {"text/html": widget_html(data[WIDGET_VIEW_MIME]["model_id"], state)}
    return notebook


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if _is_notebook(app, docname):
        source[0] = json.dumps(static_outputs(json.loads(source[0])), ensure_ascii=False)


def _links(app: Sphinx, docname: str) -> nodes.raw:
    path = docname + ".ipynb"
    colab = COLAB.format(
        repository=app.config.site_repository, branch=app.config.site_branch, path=path
    )
    name = Path(path).name
    return nodes.raw(
        "",
        '<p class="dinof-notebook-links">'
        f'<a class="dinof-colab" href="{colab}">Open in Colab</a>'
        f'<a class="dinof-download" href="{name}" download="{name}">Download notebook</a></p>',
        format="html",
    )


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    for image in list(doctree.findall(nodes.image)):
        if image["uri"].startswith(("http://", "https://")):
            image.replace_self(nodes.Text(image.get("alt", "")))
    docname = app.env.docname
    if _is_notebook(app, docname):
        title = doctree.next_node(nodes.title)
        if title is None:
            raise ValueError(f"notebook {docname}.ipynb has no title (a '# ...' first heading)")
        title.parent.insert(title.parent.index(title) + 1, _links(app, docname))


def _on_build_finished(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        if _is_notebook(app, docname):
            target = Path(app.outdir) / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(app.env.doc2path(docname), target)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("site_repository", "", "html", types=[str])
    app.add_config_value("site_branch", "main", "html", types=[str])
    app.connect("source-read", _on_source_read)
    app.connect("doctree-read", _on_doctree_read)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
