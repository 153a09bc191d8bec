"""The README's frontier table and the curves, from the committed results file.

``python scripts/frontier_report.py [docs/figures/frontier.json]`` prints the Markdown table
(:func:`~dinof_lite.evaluation.frontier_report.markdown_table`: per method, the first NFE that
matches each dataset's reference) and redraws ``frontier_<dataset>.png`` beside the file from
its records, without sampling anything. The file itself comes from
``python -m dinof_lite bench frontier --datasets <dataset> --json docs/figures/frontier.json``
(each record keeps its command).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dinof_lite.cli.bench.frontier import redraw
from dinof_lite.evaluation.frontier_report import markdown_table

DEFAULT = Path(__file__).resolve().parents[1] / "docs" / "figures" / "frontier.json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default=str(DEFAULT), help="the frontier's JSON file")
    args = p.parse_args(argv)
    path = Path(args.path)
    records = json.loads(path.read_text(encoding="utf-8"))
    print(markdown_table(records))
    for name, record in records.items():
        print(f"\n{name}: {record['command']}")
    for figure in redraw(path):
        print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
