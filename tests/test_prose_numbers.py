"""Prose that cannot drift: every number a core notebook's markdown states is backed by the
committed outputs or the code beside it.

A number stated in a markdown cell must match one of, within the same ``##`` section:

- a number **printed** by a code cell (stream output, ``text/plain`` of a value, or a rendered
  ``text/markdown`` output; figures and widgets carry no numbers);
- a number in an ``assert`` statement (its code, not its comment);
- a literal in the code (a parameter the prose names: ``T_M = 0.6``, ``hidden=128``).

The introduction (before the first ``##``) and the closing sections (summary, recap) may
match anything in the notebook. "Match" is up to the digits the prose writes: a stated ``0.316``
is backed by a printed 0.3155–0.3165, a stated ``0.3`` by 0.25–0.35 (the prose may round, never
add digits); "about 10", "≈ 0.03", "~1.7×" widen that to 10 %. A percentage also matches its
fraction.

Not stated numbers, so never checked: headings, numbered-list markers, section / equation /
algorithm / table / figure / notebook / exercise / step references (``§3``, ``Eq. 6``, ``Table
1``, ``notebook 03``), years of citations, arXiv ids, link targets, code spans and fenced code,
numbers glued to letters (``2D``, ``8gaussians``, ``A1``), shapes (``8×8``), planning figures
(``about 30 minutes of study``, ``~40 s on 2 CPU cores``: estimates, not results), the integers 0 and 1,
and inside maths everything but a lone number between relations (``$\\sigma_1 = 50$``,
``$7\\cdot10^{-4}$``; not the 2 of ``$2\\sqrt\\alpha$``). Questions and instructions state no
result: the **Predict** paragraphs and the Exercises section are skipped. A sentence that
quotes a paper's own table or section ("DiNof Table 1", "DiNof §4.1") answers to the paper.

A number the outputs cannot back without re-running the notebook is written as a reference to
the printed output instead ("the printed range"), never restated.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = [
    "01_forward_and_reverse_sdes",
    "01b_paths_likelihoods_and_start_times",
    "02_score_matching_and_pc_sampling",
    "02b_langevin_steps_and_ode_likelihood",
    "03_glow_normalizing_flows",
    "03b_glow_trajectories_and_images",
    "04_dinof_2d",
    "04b_frontier_and_fast_solvers",
    "05_dinof_digits_cpu",
    "05b_digits_likelihood_and_fast_solvers",
]
#: sections whose prose looks back over the whole notebook
WHOLE_NOTEBOOK_SECTIONS = ("summary", "recap")
#: sections of questions and instructions, not results
SKIPPED_SECTIONS = ("exercises",)
APPROX = re.compile(
    r"(?:about|around|roughly|nearly|almost|some|approximately|~|≈|∼|\\approx|\\sim)\s*$", re.I
)

# ------------------------------------------------------------------------- numbers in prose


@dataclass(frozen=True)
class Stated:
    """A number the prose states: its value, half a unit of its last digit, whether the prose
    hedged it ("about"), the number as written and the text around it (for the message)."""

    value: float
    tol: float
    approx: bool
    percent: bool
    context: str
    token: str = ""


_NUM = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"
_PLAIN_NUMBER = re.compile(rf"(?<![\w.\\^_{{])(?<![A-Za-z]-)({_NUM})(?![\w])(\s*%)?")
_REFERENCE = re.compile(
    r"(?:§\s*|\b(?:Eqs?|Algs?|Figs?|App|Apps|Tables?|Sections?|Sect|Notebooks?|NB|Exercises?|"
    r"Steps?|Levels?|Items?|Parts?|Weeks?|Sessions?|Days?|Theorem|Lemma|Chapter|Rows?|Cells?|"
    r"Questions?|Answers?)\.?\s*(?:\(\w\)\s*)?)"
    r"\d+(?:\.\d+)*[a-z]?(?:\s*(?:,|–|-|and|or|&)\s*\d+(?:\.\d+)*[a-z]?)*",
    re.I,
)
_YEAR = re.compile(r"(?:et al\.|[A-Z][\w\-]*|&)\s*,?\s*\(?(?:19|20)\d\d[a-z]?(?=\s*[),;:.]|\s*$)")
_ARXIV = re.compile(r"arXiv[:\s]*\d{4}\.\d{4,5}", re.I)
_SHAPE = re.compile(r"\d+(?:\s*[×x]\s*\d+)+(?!\s*(?:fewer|more|faster|slower|smaller|larger))")
#: "DiNof Table 1", "DiNof §4.1", "Song et al. 2021, Table 3": a paper's own numbers
_QUOTES_PAPER = re.compile(
    r"(?:\bDiNof|et al\.(?:\s*\(?(?:19|20)\d\d[a-z]?\)?)?|&\s*[A-Z][a-z]+(?:\s+(?:19|20)\d\d)?),?"
    r"\s*(?:Tables?|§)\s*\d"
)
#: planning figures, not results: "about 30 minutes of study", "~40 s on 2 CPU cores"
_PLANNING = re.compile(
    r"\d+(?:\s*[–-]\s*\d+)?\s*(?:minutes?|min)\s+of\s+study"
    r"|\d+(?:\s*[–-]\s*\d+)?\s*(?:s|seconds?|minutes?|min)\s+on\s+\d+\s+CPU\s+cores?",
    re.I,
)
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_RELATION = re.compile(r"=|\\approx|\\le(?:q)?\b|\\ge(?:q)?\b|<|>|≈|\\sim\b|\\pm|±|,|\\to\b")


def _precision(token: str) -> float:
    """Half a unit of the last digit written."""
    token = token.replace(",", "")
    decimals = len(token.split(".")[1]) if "." in token else 0
    return 0.5 * 10.0**-decimals


def _math_numbers(expr: str) -> list[tuple[str, float, float]]:
    """The lone numbers of a maths span: ``(text, value, tol)``. A part between relation signs
    that is one number (``50``, ``-0.0003``, ``7\\cdot10^{-4}``, ``10^{-3}``) is stated; a
    number inside a formula is not."""
    found = []
    expr = re.sub(r"\\(?:,|;|!|quad|qquad)|\\text\{[^}]*\}|\\%|\\mathrm\{[^}]*\}", " ", expr)
    for part in _RELATION.split(expr):
        part = part.strip().strip("()").strip()
        part = part.lstrip("-−+").strip()
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:\\cdot|\\times|×)\s*10\^\{?(-?\d+)\}?", part)
        if m:
            mant, exp = m.group(1), int(m.group(2))
            found.append((part, float(mant) * 10.0**exp, _precision(mant) * 10.0**exp))
            continue
        m = re.fullmatch(r"10\^\{?(-?\d+)\}?", part)
        if m:
            exp = int(m.group(1))
            found.append((part, 10.0**exp, 0.5 * 10.0**exp))
            continue
        if re.fullmatch(r"\d+(?:\.\d+)?", part):
            found.append((part, float(part), _precision(part)))
    return found


def _blank(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _paragraphs(source: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", source) if p.strip()]


def _sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text`` (a full stop after an abbreviation ends none)."""
    ends = [
        m.end()
        for m in re.finditer(r"[.;!?](?=\s+[A-Z(*$])", text)
        if not re.search(
            r"(?:\bal|\bEqs?|\bFigs?|\bAlg|\bApp|\be\.g|\bi\.e|\bcf|\bvs)\.$", text[: m.end()]
        )
    ]
    starts = [0, *ends]
    return list(zip(starts, [*ends, len(text)]))


def stated_numbers(paragraph: str) -> list[Stated]:
    """The numbers a markdown paragraph states (see the module docstring for what is not)."""
    text = paragraph
    for pattern in (
        re.compile(r"```.*?```", re.S),
        re.compile(r"`[^`]*`"),
        re.compile(r"(?<=\])\([^)]*\)"),  # link targets
        re.compile(r"<[^>]+>"),  # html tags
        re.compile(r"https?://\S+"),
        re.compile(r"^\s*>?\s*#.*$", re.M),  # headings
        re.compile(r"^\s*>?\s*\d+\.(?=\s)", re.M),  # numbered list markers
        _ARXIV,
        _YEAR,
        _REFERENCE,
        _PLANNING,
    ):
        text = _blank(text, pattern)
    # a sentence that quotes a paper's table or section is checked against the paper, not here
    for start, end in _sentences(text):
        if _QUOTES_PAPER.search(paragraph[start:end]):
            text = text[:start] + " " * (end - start) + text[end:]
    out: list[Stated] = []
    maths: list[tuple[int, str]] = []

    def keep_math(m: re.Match) -> str:
        maths.append((m.start(), m.group(1) or m.group(2)))
        return " " * len(m.group(0))

    text = _MATH.sub(keep_math, text)
    text = _blank(text, _SHAPE)
    for m in _PLAIN_NUMBER.finditer(text):
        token = m.group(1)
        value = float(token.replace(",", ""))
        if value in (0.0, 1.0) and "." not in token:
            continue
        before = text[max(0, m.start() - 16) : m.start()]
        context = paragraph[max(0, m.start() - 50) : m.end() + 30].replace("\n", " ")
        out.append(
            Stated(
                value,
                _precision(token),
                bool(APPROX.search(before)),
                bool(m.group(2)),
                context,
                token,
            )
        )
    for start, expr in maths:
        before = paragraph[max(0, start - 16) : start]
        for token, value, tol in _math_numbers(expr):
            if value in (0.0, 1.0) and re.fullmatch(r"\d+", token):
                continue
            hedged = bool(APPROX.search(before)) or bool(
                re.search(r"(?:\\approx|\\sim|≈)\s*" + re.escape(token), expr)
            )
            context = paragraph[max(0, start - 40) : start + len(expr) + 30].replace("\n", " ")
            out.append(Stated(value, tol, hedged, False, context, token))
    return out


# ------------------------------------------------------------------------- what backs them


@dataclass(frozen=True)
class Backing:
    value: float
    tol: float
    source: str  # "output", "assert" or "code"


_OUT_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)")


def _numbers_in_text(text: str, source: str) -> list[Backing]:
    found = []
    for m in _OUT_NUMBER.finditer(text):
        token = m.group(1).replace(",", "")
        mant = re.split(r"[eE]", token)[0]
        exp = int(re.split(r"[eE]", token)[1]) if re.search(r"[eE]", token) else 0
        found.append(Backing(float(token), _precision(mant) * 10.0**exp, source))
    return found


def output_numbers(cell) -> list[Backing]:
    """Numbers a code cell printed: streams, text values and rendered markdown."""
    found = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            found += _numbers_in_text(out.get("text", ""), "output")
            continue
        data = out.get("data", {})
        if "text/markdown" in data:
            found += _numbers_in_text(data["text/markdown"], "output")
        elif "text/plain" in data and not any(
            k.startswith(("image/", "application/")) for k in data
        ):
            found += _numbers_in_text(data["text/plain"], "output")
    return found


def code_numbers(cell) -> list[Backing]:
    """Literals of a code cell: those inside ``assert`` statements, and all the others."""
    source = "\n".join(
        line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    in_assert = {
        id(node) for a in ast.walk(tree) if isinstance(a, ast.Assert) for node in ast.walk(a)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            seg = ast.get_source_segment(source, node) or repr(node.value)
            mant = re.split(r"[eE]", seg.replace("_", ""))[0]
            exp = int(re.split(r"[eE]", seg)[1]) if re.search(r"[eE]", seg) else 0
            tol = _precision(mant) * 10.0**exp if re.fullmatch(r"[\d.]+", mant) else 0.0
            kind = "assert" if id(node) in in_assert else "code"
            found.append(Backing(abs(float(node.value)), tol, kind))
    return found


def matches(stated: Stated, backing: Backing) -> bool:
    """Whether ``backing`` rounds to ``stated`` at the digits the prose wrote. Only the prose's
    digits count: a printed ``0.6`` backs a stated ``0.6`` or ``0.60``, never a stated ``0.616``."""
    tol = stated.tol
    if stated.approx and backing.source != "code":
        tol = max(tol, 0.1 * stated.value)
    values = [stated.value] + ([stated.value / 100] if stated.percent else [])
    scale = [1.0] + ([0.01] if stated.percent else [])
    return any(
        math.isclose(v, backing.value, rel_tol=0, abs_tol=tol * s + 1e-12)
        for v, s in zip(values, scale)
    )


# ------------------------------------------------------------------------- the notebook


@dataclass
class Unbacked:
    cell: int
    stated: Stated

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.stated.value:g} in “…{self.stated.context}…”"


def _section_title(heading: str) -> str:
    return re.sub(r"^#+\s*(?:\d+[.\s]+)?", "", heading).strip().lower()


def unbacked_numbers(nb) -> list[Unbacked]:
    """Every number the notebook's markdown states that nothing in its section backs."""
    # split the notebook into ## sections: (title, [(cell index, paragraph)], [code cells])
    sections: list[dict] = [{"title": "", "prose": [], "code": []}]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            sections[-1]["code"].append(cell)
            continue
        if cell.cell_type != "markdown":
            continue
        for para in _paragraphs(cell.source):
            heading = re.match(r"^\s*(##?)\s+(.*)$", para.strip().splitlines()[0])
            if heading and heading.group(1) == "##":
                sections.append(
                    {"title": _section_title(heading.group(2)), "prose": [], "code": []}
                )
            sections[-1]["prose"].append((i, para))
    everything = [c for s in sections for c in s["code"]]
    found = []
    for k, section in enumerate(sections):
        if section["title"].startswith(SKIPPED_SECTIONS):
            continue
        whole = k == 0 or section["title"].startswith(WHOLE_NOTEBOOK_SECTIONS)
        cells = everything if whole else section["code"]
        backing = [b for c in cells for b in output_numbers(c) + code_numbers(c)]
        for i, para in section["prose"]:
            if re.match(r"^\s*>?\s*\*\*Predict", para):
                continue
            for stated in stated_numbers(para):
                if not any(matches(stated, b) for b in backing):
                    found.append(Unbacked(i, stated))
    return found


@pytest.mark.parametrize("name", CORE)
def test_core_notebook_prose_numbers_match_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    bad = unbacked_numbers(nb)
    assert not bad, (
        f"{name}: {len(bad)} number(s) in the prose that no printed output, assert or code "
        "literal of their section backs (fix the prose, or refer to the printed output):\n"
        + "\n".join(map(str, bad))
    )


# ------------------------------------------------------------------------- the rules themselves


def _notebook(*cells):
    """A notebook of ``("md", text)`` and ``("code", source, printed)`` cells."""
    nb = nbformat.v4.new_notebook()
    for kind, *rest in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(rest[0]))
        else:
            cell = nbformat.v4.new_code_cell(rest[0])
            if len(rest) > 1:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=rest[1])]
            nb.cells.append(cell)
    return nb


_PROSE = (
    "## 3. The loss (Song et al. 2021, Eq. 7; notebook 02, §4, Table 1)\n\n"
    "The DSM loss is 0.316, about 0.3, with the floor at $7\\cdot10^{{-4}}$ and a ratio of 9×;\n"
    "the {drift} steps of `n_steps=50` on 2D `8gaussians` data cut the cost by 40 %.\n"
    "$2\\sqrt\\alpha\\,\\text{{snr}}$ has no stated number, $\\sigma_t = 0.08$ has one.\n\n"
    "> **Predict, then run.** Near 0, near 0.5 or near 7?"
)
_CODE = (
    "code",
    "T_M = 0.6\nassert loss < 0.5",
    "loss 0.3159 floor 7.2e-04 ratio 9 sigma 0.0801 250 cost 0.40\n",
)
_EXERCISES = ("md", "## Exercises\n\n1. Run it for 4000 steps.")


def test_the_rules_accept_backed_prose_and_skip_what_states_no_result():
    nb = _notebook(("md", _PROSE.format(drift="250")), _CODE, _EXERCISES)
    assert not unbacked_numbers(nb)
    rounded = _PROSE.format(drift="250").replace("0.316", "0.32")  # the prose may round
    assert not unbacked_numbers(_notebook(("md", rounded), _CODE, _EXERCISES))
    found = {s.value for s in stated_numbers(_PROSE.format(drift="250").split("\n\n")[1])}
    assert found == {0.316, 0.3, 7e-4, 9.0, 250.0, 40.0, 0.08}, found


@pytest.mark.parametrize(
    "old, new",
    [("0.316", "0.416"), ("0.316", "0.326"), ("7\\cdot10^{-4}", "7\\cdot10^{-3}"), ("9×", "12×")],
)
def test_a_drifted_number_fails(old, new):
    prose = _PROSE.format(drift="250").replace(old, new, 1)
    bad = unbacked_numbers(_notebook(("md", prose), _CODE, _EXERCISES))
    assert len(bad) == 1, bad


def test_a_number_from_another_section_does_not_count():
    nb = _notebook(
        ("md", _PROSE.format(drift="1250")),
        _CODE,
        ("md", "## 4. Later"),
        ("code", "pass", "1250 steps\n"),
    )
    assert [b.stated.value for b in unbacked_numbers(nb)] == [1250.0]


def _drift(token: str) -> str:
    """The same digits-worth of number, far enough off to be a real drift."""
    value = float(token.replace(",", "")) * 1.37 + 0.5 * 10 ** -(
        len(token.split(".")[1]) if "." in token else 0
    )
    return f"{value:.{len(token.split('.')[1])}f}" if "." in token else str(round(value))


@pytest.mark.parametrize("name", CORE)
def test_planted_drift_in_a_core_notebook_fails(name):
    """Change numbers of two or more significant digits in a core notebook's prose, one at a
    time, to 1.37 times their value: the test must name the cell of each change it checks (the
    first eight that a drift makes unbacked; one inside the Exercises or a Predict box is not)."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert not unbacked_numbers(nb)
    planted = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for para in _paragraphs(cell.source):
            for stated in stated_numbers(para):
                digits = re.sub(r"\D", "", stated.token).lstrip("0")
                plain = re.fullmatch(r"[\d.,]+", stated.token)
                if not plain or len(digits) < 2 or cell.source.count(stated.token) != 1:
                    continue
                original = cell.source
                cell.source = original.replace(stated.token, _drift(stated.token))
                bad = unbacked_numbers(nb)
                cell.source = original
                if bad:
                    assert [b.cell for b in bad] == [i], bad
                    planted += 1
                if planted == 8:
                    return
    assert planted >= 5, f"{name}: only {planted} numbers to plant a drift in"


def test_planning_figures_are_not_results():
    para = "**Time:** about 30 minutes of study; the full run takes ~45 s on 2 CPU cores. 0.316"
    assert [s.value for s in stated_numbers(para)] == [0.316]
