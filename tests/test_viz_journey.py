"""dinof_lite.viz.journey: DiNof's flow + SDE journey drawn in matplotlib and plotly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_rgba
from matplotlib.text import Text

from dinof_lite import viz
from dinof_lite.dinof import DiNof

pytestmark = pytest.mark.usefixtures("no_show")


@pytest.fixture(scope="module")
def model(tiny_any_tm_dinof) -> DiNof:
    """The shared tiny untrained any-T_m DiNof (conftest)."""
    return tiny_any_tm_dinof


def _sample(model, T_m: float = 0.5, n: int = 60, **kw):
    kw = {"trajectory_every": 1, **kw}
    return model.sample_result(n, T_m=T_m, generator=torch.Generator().manual_seed(1), **kw)


def _split(values) -> list[np.ndarray]:
    """A plotly x or y list with ``None`` separators → one array per polyline."""
    out, cur = [], []
    for v in values:
        if v is None:
            out.append(np.array(cur))
            cur = []
        else:
            cur.append(v)
    return out


def test_plot_journey_draws_flow_and_sde_paths(model):
    s = _sample(model)
    ax = viz.plot_journey(None, s, n_paths=7, title="j")
    flow_lc, sde_lc = [c for c in ax.get_children() if isinstance(c, LineCollection)]
    fs, ss = s.flow_states.numpy(), s.sde_states.numpy()
    assert len(flow_lc.get_segments()) == 7 and len(sde_lc.get_segments()) == 7  # 2·n_paths lines
    for i in range(7):
        np.testing.assert_allclose(flow_lc.get_segments()[i], fs[:, i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sde_lc.get_segments()[i], ss[:, i], rtol=1e-5, atol=1e-6)
    # the flow ends where the SDE starts: x(T_m)
    np.testing.assert_allclose(
        flow_lc.get_segments()[0][-1], sde_lc.get_segments()[0][0], atol=1e-6
    )
    flow_rgb, sde_rgb = flow_lc.get_colors()[0][:3], sde_lc.get_colors()[0][:3]
    np.testing.assert_allclose(flow_rgb, to_rgba(viz.FLOW_COLOR)[:3])
    np.testing.assert_allclose(sde_rgb, to_rgba(viz.SDE_COLOR)[:3])
    assert np.abs(flow_rgb - sde_rgb).sum() > 0.5  # clearly distinct colours
    z, x_tm, x = [c for c in ax.get_children() if isinstance(c, PathCollection)]
    np.testing.assert_allclose(z.get_offsets(), s.z[:7].numpy(), atol=1e-6)
    np.testing.assert_allclose(x_tm.get_offsets(), s.x_Tm[:7].numpy(), atol=1e-6)
    np.testing.assert_allclose(x.get_offsets(), s.x[:7].numpy(), atol=1e-6)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["flow (deterministic)", "reverse SDE (stochastic)"] and len(labels) == 5
    assert ax.get_title() == "j"


def test_plot_journey_count_text(model):
    s = _sample(model, T_m=0.3)
    ax = viz.plot_journey(None, s, n_paths=100)  # more paths than samples: all 60
    (lc, _) = [c for c in ax.get_children() if isinstance(c, LineCollection)]
    assert len(lc.get_segments()) == 60
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 1
    n_layers = len(s.flow_states) - 1
    assert texts[0] == (
        f"flow: {n_layers} layers, 1 pass\nSDE: 30 steps, {s.nfe} score evals · T_m = 0.3"
    )
    assert s.n_steps == 30 and str(s.nfe) in texts[0]
    assert viz.journey_counts(s).startswith(f"flow: {n_layers} layers, 1 pass · SDE: 30 steps")
    ax = viz.plot_journey(None, s, show_counts=False, lim=2.0)
    assert not ax.texts and ax.get_xlim() == (-2.0, 2.0)


def test_journey_figure_panels(model):
    s = _sample(model)
    ref = torch.randn(40, 2)
    fig = viz.journey_figure(s, reference=ref, n_points=50, n_paths=5, lim=3.0)
    assert len(fig.axes) == 4
    a_z, a_tm, a_x, a_j = fig.axes
    (pts,) = [c for c in a_z.get_children() if isinstance(c, PathCollection)]
    np.testing.assert_allclose(pts.get_offsets(), s.z[:50].numpy(), atol=1e-6)
    (pts,) = [c for c in a_tm.get_children() if isinstance(c, PathCollection)]
    np.testing.assert_allclose(pts.get_offsets(), s.x_Tm[:50].numpy(), atol=1e-6)
    ref_pts, pts = [c for c in a_x.get_children() if isinstance(c, PathCollection)]
    np.testing.assert_allclose(ref_pts.get_offsets(), ref.numpy(), atol=1e-6)
    np.testing.assert_allclose(pts.get_offsets(), s.x[:50].numpy(), atol=1e-6)
    assert "50 SDE steps" in a_x.get_title()
    assert len([c for c in a_j.get_children() if isinstance(c, LineCollection)]) == 2
    assert all(ax.get_xlim() == (-3.0, 3.0) for ax in fig.axes)
    assert any(isinstance(t, Text) and "T_m = 0.5" in t.get_text() for t in a_j.texts)


def test_journey_plotly_frames_slider_and_coordinates(model):
    samples = {t: _sample(model, T_m=t, n=40) for t in (0.8, 0.2, 0.5)}  # unsorted on purpose
    fig = viz.journey_plotly(samples, reference=torch.randn(30, 2), n_paths=4, title="toy")
    assert len(fig.frames) == 3
    assert [f.name for f in fig.frames] == ["0.2", "0.5", "0.8"]
    steps = fig.layout.sliders[0].steps
    assert [st.label for st in steps] == ["0.2", "0.5", "0.8"]
    assert [list(st.args[0]) for st in steps] == [["0.2"], ["0.5"], ["0.8"]]
    assert len(fig.data) == 6 and fig.data[0].name == "data"  # reference + the 5 frame traces
    for frame, t in zip(fig.frames, (0.2, 0.5, 0.8)):
        s = samples[t]
        assert frame.traces == (1, 2, 3, 4, 5)
        assert f"T_m = {t:g}" in frame.layout.title.text
        assert f"SDE: {s.n_steps} steps, NFE = {s.nfe}" in frame.layout.title.text
        assert frame.layout.title.text.startswith("toy")
        flow, sde, z, x_tm, x = frame.data
        fs, ss = s.flow_states.numpy(), s.sde_states.numpy()
        for i, (px, py) in enumerate(zip(_split(flow.x), _split(flow.y))):
            np.testing.assert_allclose(np.stack([px, py], 1), fs[:, i], atol=1.01e-3)
        sde_paths = list(zip(_split(sde.x), _split(sde.y)))
        assert len(sde_paths) == 4
        idx = np.unique(np.round(np.linspace(0, len(ss) - 1, min(len(ss), 30))).astype(int))
        for i, (px, py) in enumerate(sde_paths):
            assert len(px) <= 30
            np.testing.assert_allclose(np.stack([px, py], 1), ss[idx, i], atol=1.01e-3)
            np.testing.assert_allclose([px[0], py[0]], ss[0, i], atol=1.01e-3)  # x(T_m) ...
            np.testing.assert_allclose([px[-1], py[-1]], ss[-1, i], atol=1.01e-3)  # ... to x
        np.testing.assert_allclose(np.stack([z.x, z.y], 1), s.z[:4].numpy(), atol=1.01e-3)
        np.testing.assert_allclose(np.stack([x_tm.x, x_tm.y], 1), s.x_Tm[:4].numpy(), atol=1.01e-3)
        np.testing.assert_allclose(np.stack([x.x, x.y], 1), s.x.numpy(), atol=1.01e-3)
    assert all(v == round(v, 3) for v in fig.frames[0].data[1].x if v is not None)


def test_journey_plotly_html_is_small(model):
    samples = {t: _sample(model, T_m=t, n=300) for t in np.linspace(0.1, 1.0, 10).round(2)}
    html = viz.journey_plotly(samples).to_html(include_plotlyjs="cdn")
    assert len(html.encode()) < 1_000_000
    assert html.count('"name":"') >= 10  # every frame is in the page


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda s: viz.plot_journey(None, dataclasses.replace(s, flow_states=None)),
            r"sample has no trajectory; call model.sample_result\(..., trajectory_every=1\)",
        ),
        (lambda s: viz.journey_figure(dataclasses.replace(s, sde_states=None)), "no trajectory"),
        (
            lambda s: viz.journey_plotly({0.5: dataclasses.replace(s, sde_states=None)}),
            "no trajectory",
        ),
        (
            lambda s: viz.plot_journey(
                None, dataclasses.replace(s, flow_states=torch.zeros(3, 5, 1, 4, 4))
            ),
            r"2D data.*\(K, B, 2\)",
        ),
        (lambda s: viz.journey_plotly({}), "non-empty mapping"),
        (lambda s: viz.journey_plotly([s]), "non-empty mapping"),
        (lambda s: viz.journey_plotly({0.5: s, 0.5000001: s}), "print the same"),
        (lambda s: viz.plot_journey(None, s, n_paths=0), "n_paths"),
        (lambda s: viz.journey_figure(s, n_points=0), "n_points"),
        (
            lambda s: viz.journey_figure(s, reference=torch.zeros(4, 3)),
            r"reference must have shape",
        ),
    ],
    ids=[
        "no-flow",
        "no-sde",
        "plotly-no-traj",
        "images",
        "empty",
        "not-mapping",
        "duplicate",
        "n_paths",
        "n_points",
        "reference",
    ],
)
def test_bad_inputs_raise_clear_errors(model, call, match):
    s = _sample(model, n=8)
    with pytest.raises(ValueError, match=match):
        call(s)


def test_sample_without_trajectory_is_rejected(model):
    s = model.sample_result(8, T_m=0.5)
    with pytest.raises(ValueError, match="trajectory_every=1"):
        viz.plot_journey(None, s)
