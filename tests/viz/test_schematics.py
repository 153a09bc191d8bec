"""The schematics of dinof_lite.viz.schematics: figures with the key labels, no overlapping text,
and shapes that match the Glow the package builds."""

from __future__ import annotations

from itertools import combinations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from dinof_lite.dinof.conditioning import CONTEXT_DIM
from dinof_lite.flows import Glow
from dinof_lite.viz import schematics

# function name → labels its texts must contain
CASES = {
    "dinof_timeline": ["T_m", "flow", "forward SDE", "reverse SDE", "DSM", "NFE", "Eq. 8"],
    "glow_step_diagram": ["ActNorm", "1×1", "coupling", "H·W·Σ log|s|", "log|det W|", "Σ log s"],
    "multiscale_diagram": ["squeeze", "split", "3×32×32", "12×16×16", "6×16×16", "48×4×4"],
    "pc_loop_diagram": ["predictor", "corrector", "Langevin", "NFE", "N·(1 + M)", "snr"],
    "any_tm_conditioning_diagram": ["T_m", f"(B, {CONTEXT_DIM})", "coupling", "prior", "U(lo, hi)"],
}


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.fixture(scope="module", params=sorted(CASES))
def drawn(request):
    fig = getattr(schematics, request.param)()
    fig.canvas.draw()
    yield request.param, fig
    plt.close(fig)


def test_returns_figure_with_key_labels(drawn):
    name, fig = drawn
    assert isinstance(fig, Figure)
    text = "\n".join(t.get_text() for t in _texts(fig))
    missing = [label for label in CASES[name] if label not in text]
    assert not missing, f"{name} lacks {missing}"


def test_no_text_overlaps_and_all_inside(drawn):
    name, fig = drawn
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    clashes = [(a, b) for (a, ea), (b, eb) in combinations(boxes, 2) if ea.overlaps(eb)]
    assert not clashes, f"{name}: overlapping texts {clashes}"
    outside = [a for a, e in boxes if not fig.bbox.containsx(e.x0) or not fig.bbox.containsx(e.x1)]
    outside += [a for a, e in boxes if not fig.bbox.containsy(e.y0) or not fig.bbox.containsy(e.y1)]
    assert not outside, f"{name}: texts outside the figure {outside}"
    assert min(t.get_fontsize() for t in _texts(fig)) >= 8


@pytest.mark.parametrize("in_shape, levels", [((3, 32, 32), 3), ((1, 8, 8), 2), ((3, 16, 16), 4)])
def test_multiscale_shapes_match_glow(in_shape, levels):
    shapes = schematics.multiscale_shapes(in_shape, levels)
    flow = Glow(in_shape, levels=levels, steps=1, hidden=4)
    assert [s["squeezed"][0] for s in shapes] == [f[0].actnorm.bias.numel() for f in flow.flows]
    assert [s["kept"][0] for s in shapes[:-1]] == [sp.n_keep for sp in flow.splits]
    assert sum(c * h * w for c, h, w in (s["z"] for s in shapes)) == flow.dim
    c, h, w = in_shape
    assert shapes[0]["squeezed"] == (4 * c, h // 2, w // 2)


def test_multiscale_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="divisible"):
        schematics.multiscale_shapes((3, 12, 12), 3)


@pytest.mark.usefixtures("no_show")
def test_other_parameters_draw():
    figs = [
        schematics.dinof_timeline(T_m=0.7, N=100, M=0),
        schematics.multiscale_diagram(levels=2, in_shape=(1, 8, 8)),
        schematics.pc_loop_diagram(N=50, M=2),
        schematics.any_tm_conditioning_diagram((0.2, 0.9)),
    ]
    text = "\n".join(t.get_text() for f in figs for t in _texts(f))
    assert "70 steps" in text and "4×4×4" in text and "NFE = 150" in text and "U(0.2, 0.9)" in text
