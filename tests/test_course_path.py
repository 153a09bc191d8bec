"""The course's core path is short and opens with a picture (docs/syllabus.md).

For every core notebook (01 → 04, then 05 on images), read from the committed ``.ipynb``:

* at most :data:`MAX_WORDS` words of prose (every markdown cell, split on whitespace) and no
  markdown cell over :data:`MAX_CELL_WORDS`;
* its introduction states the study time ("about N minutes of study");
* exactly one kernel-free animation (a plotly output whose ``layout.meta`` is
  ``"dinof-animation"``, :mod:`dinof_lite.viz.animation`), and no formula before it: no display
  maths and no inline relation (``=``, ``\\sim``, ``\\approx``; a setting such as
  ``$T_m = 0.6$`` is a value, not a formula) in a markdown cell above it;
* a notation box linking ``docs/notation.md``.

Every notebook of the course, core or not (the *going further* notebooks ``NNb_*`` too), ends
with a recap and a "next" link to another notebook of the course, or to the syllabus.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
CORE = [
    "01_forward_and_reverse_sdes",
    "02_score_matching_and_pc_sampling",
    "03_glow_normalizing_flows",
    "04_dinof_2d",
    "05_dinof_digits_cpu",
]
ALL = sorted(p.stem for p in NB_DIR.glob("0*.ipynb"))
MAX_WORDS = 1500
MAX_CELL_WORDS = 150
PLOTLY = "application/vnd.plotly.v1+json"
ANIMATION = "dinof-animation"
MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+\$", re.S)  # display, then inline spans, in order
RELATION = re.compile(r"=|\\sim\b|\\approx\b|\\le\b|\\ge\b|<|>")
SETTING = re.compile(r"\$\s*[\w\\{}^]+\s*=\s*-?\d+(?:\.\d+)?\s*\$")  # "$T_m = 0.6$": a value


def _formulas(markdown) -> list[str]:
    """The display maths and inline relations of ``markdown`` sources, settings excepted."""
    return [
        m.group(0)
        for s in markdown
        for m in MATH.finditer(s)
        if m.group(0).startswith("$$")
        or (RELATION.search(m.group(0)) and not SETTING.fullmatch(m.group(0)))
    ]


def _read(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(NB_DIR / f"{stem}.ipynb", as_version=4)


def _markdown(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _animations(nb) -> list[int]:
    """Indices of the cells whose outputs hold a dinof animation."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and any(
            (o.get("data", {}).get(PLOTLY) or {}).get("layout", {}).get("meta") == ANIMATION
            for o in c.get("outputs", [])
        )
    ]


@pytest.mark.parametrize("stem", CORE)
def test_core_notebook_is_short(stem):
    words = [len(s.split()) for s in _markdown(_read(stem))]
    assert sum(words) <= MAX_WORDS, f"{stem}: {sum(words)} words of prose (at most {MAX_WORDS})"
    assert max(words) <= MAX_CELL_WORDS, (
        f"{stem}: a markdown cell of {max(words)} words (at most {MAX_CELL_WORDS})"
    )


@pytest.mark.parametrize("stem", CORE)
def test_core_notebook_states_its_time_and_notation(stem):
    md = _markdown(_read(stem))
    intro = "\n".join(md[:2])
    assert re.search(r"about \d+ minutes of study", intro), f"{stem}: no study time at the top"
    assert any("docs/notation.md" in s for s in md), f"{stem}: no notation box"


@pytest.mark.parametrize("stem", CORE)
def test_core_notebook_opens_with_one_animation_before_any_formula(stem):
    nb = _read(stem)
    found = _animations(nb)
    assert len(found) == 1, f"{stem}: {len(found)} animations (want exactly one)"
    formulas = _formulas(c.source for c in nb.cells[: found[0]] if c.cell_type == "markdown")
    assert not formulas, f"{stem}: formulas before the opening animation: {formulas[:3]}"


@pytest.mark.parametrize("stem", ALL)
def test_notebook_ends_with_a_recap_and_a_next_link(stem):
    md = _markdown(_read(stem))
    tail = "\n".join(md[-3:])
    assert re.search(r"^#+ .*(recap|summary)", tail, re.I | re.M), f"{stem}: no recap at the end"
    links = re.findall(r"\]\(([^)]+)\)", tail)
    assert any(
        re.search(r"(^|/)(0\d[a-z]?_\w+|A\d_\w+)\.ipynb|syllabus\.md", link) for link in links
    ), f"{stem}: no 'next' link to a notebook or the syllabus at the end ({links})"


def test_the_core_list_is_the_syllabus_path():
    syllabus = (ROOT / "docs" / "syllabus.md").read_text(encoding="utf-8")
    for stem in CORE:
        assert f"{stem}.ipynb" in syllabus, f"docs/syllabus.md does not list {stem}"


def test_the_formula_rule_tells_formulas_from_symbols_and_settings():
    assert (
        _formulas(["# 04 · a flow prior at $T_m$, then $x(T_m)$ in one pass at $T_m = 0.6$"]) == []
    )
    assert _formulas(["noise $x_t = a_t x_0 + \\sigma_t \\xi$ with $\\xi$"]) == [
        "$x_t = a_t x_0 + \\sigma_t \\xi$"
    ]
    assert _formulas(["$z \\sim \\mathcal N(0, I)$", "$$\\mathcal L$$"]) == [
        "$z \\sim \\mathcal N(0, I)$",
        "$$\\mathcal L$$",
    ]
