"""The source tree the course site is built from: a staging copy of the repository's pages.

:func:`stage_sources` copies ``docs/site/*.md`` (the home page) to the root of a fresh folder,
and ``README.md``, ``docs/design.md``, ``docs/syllabus.md``, ``docs/notation.md``,
``docs/figures/`` and the executed notebooks
(``notebooks/0*.ipynb``, ``notebooks/assignments/*_solution.ipynb`` and the student versions) to
their own relative paths, so every link between them works on the site as it does on GitHub.
It then writes the API reference, ``api/*.rst``: one page per top-level module or package of
``dinof_lite`` (:func:`api_pages`), each documenting every public module under it with the
members it defines itself, so a new module gets its page without anyone listing it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import shutil
from pathlib import Path
from types import ModuleType

import dinof_lite

__all__ = ["NOTEBOOK_GLOBS", "api_modules", "api_pages", "own_members", "stage_sources"]

NOTEBOOK_GLOBS = (
    "notebooks/0*.ipynb",
    "notebooks/assignments/*_solution.ipynb",
    "notebooks/assignments/student/*.ipynb",
)
PAGES = ("README.md", "docs/design.md", "docs/syllabus.md", "docs/notation.md")


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _deprecated_alias(origin: str) -> bool:
    """Whether the module in file ``origin`` opens its docstring with "Deprecated alias" (read,
    not imported: importing an alias warns)."""
    source = Path(origin).read_text(encoding="utf-8")
    return (ast.get_docstring(ast.parse(source)) or "").startswith("Deprecated alias")


def _walk(path: list[str], prefix: str) -> list[str]:
    """Public module names under a package ``path``, depth first, skipping deprecated aliases."""
    names = []
    for info in pkgutil.iter_modules(path, prefix):
        if not _public(info.name) or info.name.endswith("__main__"):
            continue
        spec = info.module_finder.find_spec(info.name, None)
        if spec is None or spec.origin is None or _deprecated_alias(spec.origin):
            continue
        names.append(info.name)
        if info.ispkg:
            names += _walk(list(spec.submodule_search_locations), info.name + ".")
    return names


def api_modules() -> list[ModuleType]:
    """Every public module of ``dinof_lite`` but the deprecated aliases, in walk order."""
    return [importlib.import_module(n) for n in _walk(dinof_lite.__path__, "dinof_lite.")]


def own_members(module: ModuleType) -> list[str]:
    """The names of ``module.__all__`` that ``module`` defines (or a private submodule of it
    does): each object is documented once, where it lives, not where it is re-exported."""
    is_package = hasattr(module, "__path__")
    names = []
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            home = obj.__module__
            if home == module.__name__ or home.startswith(module.__name__ + "._"):
                names.append(name)
        elif not is_package and not inspect.ismodule(obj):
            names.append(name)
    return names


def _automodule(name: str, members: list[str], underline: str) -> str:
    head = f"{name}\n{underline * len(name)}\n\n.. automodule:: {name}\n"
    return head + (f"   :members: {', '.join(members)}\n" if members else "") + "\n"


def api_pages(modules: list[ModuleType]) -> dict[str, str]:
    """``{page name: reST}``: one page per top-level unit, its submodules as sections, plus
    ``index`` listing them."""
    pages: dict[str, str] = {}
    for module in modules:
        top = ".".join(module.__name__.split(".")[:2])
        level = "=" if module.__name__ == top else "-"
        pages[top] = pages.get(top, "") + _automodule(module.__name__, own_members(module), level)
    entries = "".join(f"   {top}\n" for top in pages)
    pages["index"] = (
        "API reference\n=============\n\n"
        "Generated from the docstrings: one page per module or package of ``dinof_lite``.\n\n"
        f".. automodule:: dinof_lite\n\n.. toctree::\n   :maxdepth: 1\n\n{entries}"
    )
    return pages


def stage_sources(repo: Path, site_dir: Path, dest: Path) -> list[Path]:
    """Fill ``dest`` (emptied first) with the pages of the site; return the notebooks copied."""
    if dest.exists():
        shutil.rmtree(dest)
    files = {Path(p.name): p for p in site_dir.glob("*.md")}
    files.update({Path(rel): repo / rel for rel in PAGES})
    files.update({p.relative_to(repo): p for p in (repo / "docs" / "figures").iterdir()})
    notebooks = sorted(p for pattern in NOTEBOOK_GLOBS for p in repo.glob(pattern))
    files.update({nb.relative_to(repo): nb for nb in notebooks})
    for rel, src in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    (dest / "api").mkdir()
    for name, text in api_pages(api_modules()).items():
        (dest / "api" / f"{name}.rst").write_text(text, encoding="utf-8")
    return notebooks
