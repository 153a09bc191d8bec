"""The API reference reads the project's docstrings as they are written.

* Google-style sections (``Args:``, ``Returns:``) are turned into fields by napoleon, but only in
  the docstrings of modules, classes and functions: a property or attribute docstring such as
  "Wall-clock seconds of the whole sample: flow pass plus reverse SDE." is a sentence here, not
  napoleon's ``type: description``.
* Shapes are written bare, ``x (B, *dims)``: a star that opens a shape's name (``*dims``,
  ``*shape``) outside a literal is escaped, so reST does not read it as the start of emphasis.
  Any other markup error still fails the strict build.
* A cross-reference to a name re-exported by a package (``dinof_lite.dinof.DiNof``,
  ``:class:`Trainer``` in a module that imports it) resolves to the page where the object is
  documented, the module that defines it: the objects are compared, not their names. A
  reference to an object that exists but has no entry (a module constant outside ``__all__``,
  an instance attribute) stays plain code; one to a name that does not exist fails the build.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.ext.napoleon import Config, GoogleDocstring
from sphinx.util.nodes import make_refnode

# ``Attributes:`` become fields of their class (:ivar:), not entries beside the dataclass fields
NAPOLEON = Config(napoleon_numpy_docstring=False, napoleon_use_rtype=False, napoleon_use_ivar=True)
SENTENCE_KINDS = ("attribute", "property", "data")
# ``...`` literals and `...` roles are left alone; in the rest a star that opens a shape name
SPANS = re.compile(r"(``.+?``|`[^`]+`)")
SHAPE_STAR = re.compile(r"(?<![\\\w*])\*(?=(dims|shape|batch|spatial)\b)")
SCALARS = (int, float, str, bool, type(None), tuple)


def _escape_shape_stars(line: str) -> str:
    parts = SPANS.split(line)
    return "".join(p if i % 2 else SHAPE_STAR.sub(r"\\*", p) for i, p in enumerate(parts))


def _on_docstring(app: Sphinx, what: str, name: str, obj: Any, options, lines: list[str]) -> None:
    text = [_escape_shape_stars(line) for line in lines]
    if what not in SENTENCE_KINDS:
        text = GoogleDocstring(text, NAPOLEON, app, what, name, obj, options).lines()
    lines[:] = text


_MISSING = object()
_RESOLVED: dict[str, Any] = {}  # dotted name -> object or _MISSING (module imports are slow)


def _lookup(dotted: str) -> Any:
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):  # the longest module first: a package's attribute may
        try:  # shadow its submodule (dinof_lite.cli.main is the function and the module)
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def resolve(dotted: str) -> Any:
    """The object a dotted name points at (the longest importable module, then attributes).
    Raises ``LookupError`` when there is none; both answers are cached (imports are slow)."""
    if dotted not in _RESOLVED:
        try:
            _RESOLVED[dotted] = _lookup(dotted)
        except (ImportError, AttributeError, ValueError, TypeError):
            _RESOLVED[dotted] = _MISSING
    if _RESOLVED[dotted] is _MISSING:
        raise LookupError(dotted)
    return _RESOLVED[dotted]


def _candidates(node: nodes.Element) -> list[str]:
    """Where a reference may point: the current class, the current module, then as written."""
    target = node["reftarget"].lstrip("~.")
    module, cls = node.get("py:module"), node.get("py:class")
    scopes = ([f"{module}.{cls}"] if module and cls else []) + ([module] if module else [])
    return [f"{scope}.{target}" for scope in scopes] + [target]


def _key(dotted: str, obj: Any) -> tuple:
    """Objects are matched by identity; numbers and strings (which the interpreter may share)
    by their value and their name."""
    if isinstance(obj, SCALARS):
        return ("value", dotted.rsplit(".", 1)[-1], obj)
    return ("id", id(obj))


def _documented(app: Sphinx) -> dict[tuple, str]:
    """``key of an object -> its documented full name`` over the Python domain (once a build)."""
    index = getattr(app.env, "_site_documented", None)
    if index is None:
        index, keep = {}, []
        for fullname, entry in app.env.get_domain("py").objects.items():
            if entry.objtype == "module" or entry.aliased:
                continue
            try:
                obj = resolve(fullname)
            except LookupError:
                continue
            keep.append(obj)  # holds the objects, so their ids stay theirs
            index.setdefault(_key(fullname, obj), fullname)
        app.env._site_documented, app.env._site_keep = index, keep
    return index


def _unique_suffix(app: Sphinx, target: str) -> str | None:
    """The one documented name ending in ``.target`` (``DiNof.sample``), if exactly one does."""
    by_last = getattr(app.env, "_site_by_last", None)
    if by_last is None:
        by_last = {}
        for name in app.env.get_domain("py").objects:
            by_last.setdefault(name.rsplit(".", 1)[-1], []).append(name)
        app.env._site_by_last = by_last
    names = [n for n in by_last.get(target.rsplit(".", 1)[-1], []) if n.endswith("." + target)]
    return names[0] if len(names) == 1 else None


def _instance_attribute(node: nodes.Element) -> bool:
    """``:attr:`name``` inside a class whose code uses ``self.name``."""
    module, cls = node.get("py:module"), node.get("py:class")
    if node.get("reftype") != "attr" or not (module and cls):
        return False
    try:
        source = inspect.getsource(resolve(f"{module}.{cls}"))
    except (LookupError, TypeError, OSError):
        return False
    return re.search(rf"\bself\.{re.escape(node['reftarget'])}\b", source) is not None


def _on_missing_reference(app: Sphinx, env, node: nodes.Element, contnode: nodes.Node):
    """Link a reference to where its object is documented; leave a reference to an object that
    exists but is not documented (a module constant, an instance attribute) as plain code; and
    let a reference to a name that does not exist fail the build."""
    if node.get("refdomain") != "py":
        return None
    index, exists = _documented(app), False
    for dotted in _candidates(node):
        try:
            obj = resolve(dotted)
        except LookupError:
            continue
        exists = True
        fullname = index.get(_key(dotted, obj))
        if fullname is not None:
            break
    else:
        fullname = _unique_suffix(app, node["reftarget"].lstrip("~."))
    if fullname is not None:
        entry = env.get_domain("py").objects[fullname]
        return make_refnode(
            app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, fullname
        )
    return contnode if exists or _instance_attribute(node) else None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _on_docstring)
    app.connect("missing-reference", _on_missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
