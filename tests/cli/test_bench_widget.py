"""``python -m dinof_lite bench widget``: the table's structure, never its wall-clock values."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from dinof_lite.cli import main
from dinof_lite.cli.bench.widget import WIDGET_CASES, WIDGET_TARGETS, _moves

COLUMNS = [
    "explorer",
    "measure",
    "via",
    "n",
    "median s",
    "max s",
    "target s",
    "median / target",
    "max / target",
    "threads",
]


def _table(text: str, first_column: str) -> list[list[str]]:
    """The cells of the table ``format_table`` printed (header first; 2+ spaces apart)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_column))
    assert set(lines[start + 1]) <= {"-", " "}  # the rule under the header
    table = [lines[start]] + [line for line in lines[start + 2 :] if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in table]


@pytest.mark.slow  # a benchmark run
def test_bench_widget_smoke_prints_one_table(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "widget.json"
    argv = ["bench", "widget", "--size", "smoke", "--repeats", "1", "--json", str(out)]
    assert main(argv) == 0
    assert torch.get_num_threads() == threads  # the case's 2 threads are not left behind
    text = capsys.readouterr().out
    assert "torch.set_num_threads(2)" in text
    header, *body = _table(text, "explorer")
    assert header == COLUMNS
    (label, *_), *_ = WIDGET_CASES["smoke"]
    assert [cells[0] for cells in body] == [f"TmExplorer {label}"] * 3
    assert [cells[1] for cells in body] == ["frame compute", "first render", "cached redraw"]
    assert [int(cells[3]) for cells in body] == [3, 3, 20]  # 3 T_m; max(20, 1 · 3) moves
    for cells in body:
        assert len(cells) == len(COLUMNS)
        med, worst, target, r_med, r_max = (float(c) for c in cells[4:9])
        assert all(math.isfinite(v) and v >= 0 for v in (med, worst, r_med, r_max))
        assert worst >= med and target == WIDGET_TARGETS[cells[1]]
        # the ratios are the printed times over the target (4 significant digits each)
        assert r_med == pytest.approx(med / target, rel=2e-3)
        assert r_max == pytest.approx(worst / target, rel=2e-3)
        assert int(cells[9]) == 2
    assert body[0][2] == "frame()" and body[1][2] == "update()"
    assert body[2][2] in ("update() → widget", "update(), headless")
    rows = json.loads(out.read_text())
    assert [list(r) for r in rows] == [COLUMNS] * 3
    assert [r["median s"] for r in rows] == [pytest.approx(float(c[4]), rel=1e-3) for c in body]


def test_bench_widget_takes_no_model_option():
    with pytest.raises(SystemExit, match="bench widget takes no option model"):
        main(["bench", "widget", "--size", "smoke", "--model", "x.pt"])


def test_moves_change_the_value_every_time_and_cover_the_grid():
    grid = [0.2, 0.6, 1.0]
    moves = _moves(grid, 30)
    assert len(moves) == 30 and set(moves) == set(grid)
    assert all(a != b for a, b in zip(moves, moves[1:]))
    assert moves == _moves(grid, 30) and _moves([0.5], 3) == [0.5] * 3
