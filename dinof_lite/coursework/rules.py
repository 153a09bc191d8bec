"""The static rules an answer must keep before the grader runs it: :func:`refusal`.

The grader reads the answer's source (its solution cells) with ``ast`` and refuses, naming the
rule:

- a name or attribute its exercise may not use: the implementation the exercise asks for
  (``VPSDE`` in (a.1), ``sde.perturb`` in (a.3), ``model.log_likelihood`` in (h), …);
- an import outside :data:`ALLOWED_IMPORTS`;
- dynamic access, which could build a forbidden name from strings or reach the interpreter:
  the names in :data:`DYNAMIC` (``getattr``, ``__import__``, ``eval``/``exec``, ``globals()``,
  ``open``, …), any name that starts with ``__``, any attribute that starts with ``_``, and the
  attributes in :data:`ESCAPES` (``sys``, ``os``, ``modules``, frames, ``ctypes``, ``load``, …).

What the rules leave is ordinary maths on the arguments. They are one of two locks: the answer
also runs in a limited process (:mod:`~dinof_lite.coursework.sandbox`).
"""

from __future__ import annotations

import ast

__all__ = ["ALLOWED_IMPORTS", "DYNAMIC", "ESCAPES", "refusal"]

#: modules an answer may import itself
ALLOWED_IMPORTS = frozenset({"math", "torch", "numpy", "warnings"})
#: names that reach objects by a string, or leave the answer's namespace
DYNAMIC = frozenset(
    {
        "getattr", "setattr", "delattr", "hasattr", "__import__", "eval", "exec", "compile",
        "globals", "locals", "vars", "dir", "open", "input", "breakpoint", "help", "exit",
        "quit", "memoryview", "importlib", "builtins", "sys", "os", "inspect", "operator",
        "gc", "ctypes", "subprocess", "socket", "pathlib", "shutil", "pickle", "marshal",
    }
)  # fmt: skip
#: attributes that lead out of the maths libraries: the interpreter, frames, files, C code
ESCAPES = frozenset(
    {
        "sys", "os", "modules", "builtins", "importlib", "hub", "load", "loads", "ctypeslib",
        "ctypes", "system", "popen", "subprocess", "attrgetter", "import_module", "util",
        "library", "load_library", "cpp_extension", "gi_frame", "gi_code", "cr_frame",
        "ag_frame", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame",
        "tb_next", "func_globals", "mro", "fromfile", "memmap", "tofile", "save", "savez",
        "serialization", "from_file", "compile", "jit", "package", "distributed", "rpc",
        "model_zoo", "load_url", "profiler",
    }
)  # fmt: skip


def _module_rule(node: ast.Import | ast.ImportFrom, forbidden: dict[str, str]) -> str | None:
    if isinstance(node, ast.Import):
        modules = [a.name for a in node.names]
    else:
        modules = [node.module or ""] if node.level == 0 else ["." * node.level]
    for module in modules:
        parts = module.split(".")
        if parts[0] not in ALLOWED_IMPORTS:
            allowed = ", ".join(sorted(ALLOWED_IMPORTS))
            return f"`import {module}` is not allowed in an answer (allowed: {allowed})."
        if any(p.startswith("_") or p in ESCAPES for p in parts[1:]):
            return f"`import {module}` is not allowed in an answer: it reaches the interpreter."
    for alias in node.names:
        for name in (alias.name, alias.asname):
            if name in forbidden:
                return f"`{name}` is not allowed here: {forbidden[name]}"
    return None


def refusal(
    source: str, forbidden: dict[str, str], forbidden_attributes: dict[str, str] | None = None
) -> str | None:
    """The rule ``source`` breaks, or None when it keeps them all.

    ``forbidden`` maps a name the exercise may not use anywhere (a variable, an import, an
    argument, an attribute) to the reason shown to the student; ``forbidden_attributes`` does
    the same for attributes only (``sde.perturb``), so a local variable may share the name.
    """
    forbidden_attributes = forbidden_attributes or {}
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return f"the answer is not valid Python: {err.msg} (line {err.lineno})."
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            rule = _module_rule(node, forbidden)
            if rule:
                return rule
            continue
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name in forbidden_attributes:
                return f"`.{name}` is not allowed here: {forbidden_attributes[name]}"
            if name in forbidden:
                return f"`.{name}` is not allowed here: {forbidden[name]}"
            if name.startswith("_") or name in ESCAPES:
                return (
                    f"`.{name}` is not allowed in an answer: attributes that start with `_` or "
                    "reach the interpreter, files or C code (sys, os, modules, frames, load, "
                    "save, …) are refused by the grader."
                )
            continue
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.arg):
            name = node.arg
        elif isinstance(node, ast.Global | ast.Nonlocal):
            name = next((n for n in node.names if n in forbidden or n.startswith("__")), None)
        else:
            continue
        if name is None:
            continue
        if name in forbidden:
            return f"`{name}` is not allowed here: {forbidden[name]}"
        if name in DYNAMIC or name.startswith("__"):
            return (
                f"`{name}` is not allowed in an answer: the grader refuses dynamic access "
                "(getattr, __import__, importlib, eval/exec, globals(), names built from "
                "strings) and file or system access."
            )
    return None
