"""``bench frontier``'s figures drawn again from the committed JSON alone: one legend entry per
sampler and per start (not one per curve), beside the axes, in text a reader can read."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import pytest

from dinof_lite.cli.bench import frontier as bench

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[2]
JSON = ROOT / "docs" / "figures" / "frontier.json"


@pytest.mark.skipif(not JSON.is_file(), reason="no committed frontier.json")
def test_redraw_from_the_json_alone(tmp_path, monkeypatch):
    shutil.copy(JSON, tmp_path / "frontier.json")
    legends, notes, curve_markers = [], [], []
    close = matplotlib.pyplot.close

    def keep(fig=None):
        legends.extend(fig.legends)
        notes.extend(t.get_text() for ax in fig.axes for t in ax.texts)
        curve_markers.append(
            {(line.get_color(), line.get_marker()) for ax in fig.axes for line in ax.lines}
        )
        close(fig)

    monkeypatch.setattr(matplotlib.pyplot, "close", keep)
    paths = bench.redraw(tmp_path / "frontier.json")
    assert sorted(p.name for p in paths) == ["frontier_2d.png", "frontier_digits.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)
    for legend, curves in zip(legends, curve_markers, strict=True):
        labels = [t.get_text() for t in legend.get_texts()]
        entries = dict(zip(labels, legend.legend_handles))
        for label, handle in entries.items():  # a sampler's entry shows its curves' marker
            if label.startswith("sampler: "):
                assert (handle.get_color(), handle.get_marker()) in curves, label
        samplers = [s for s in labels if s.startswith("sampler: ")]
        assert len(set(samplers)) == len(samplers) >= 4 and "start: p_T" in labels
        assert len(labels) <= 16 and all(t.get_fontsize() >= 9 for t in legend.get_texts())
        # level lines share the starts' line styles: they are named on the axes, not in the legend
        assert not [s for s in labels if s.startswith(("plain @", "ideal", "true samples"))]
    assert notes.count("reference: plain @ 1000 NFE") == 3  # 2D: two panels; digits: one
    assert {"ideal: true samples' KL", "ideal: data entropy H"} <= set(notes)
