"""What a page shows of a course notebook's opening animation (:mod:`dinof_lite.viz.animation`),
read in the browser by the site test and the JupyterLab test alike."""

from __future__ import annotations

from dinof_lite.viz.animation import META


def animation_state(scope: str = "") -> str:
    """A JavaScript function of no argument: ``null`` until the first plotly figure under the CSS
    selector ``scope`` whose ``layout.meta`` is :data:`META` is drawn, then ``{active, n,
    shown}`` — the slider's frame, the number of frames and whether the traces show that frame's
    data (``x``, ``y`` or an image's ``source``)."""
    return f"""() => {{
    const gd = [...document.querySelectorAll('{scope} .js-plotly-plot'.trim())]
        .find(d => d.layout && d.layout.meta === '{META}');
    if (!gd || !gd._fullLayout.sliders) return null;
    const frames = gd._transitionData._frames, active = gd._fullLayout.sliders[0].active;
    const frame = frames[active], same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    if (!frame) return {{active, n: frames.length, shown: false}};
    const shown = frame.data.every((d, j) => ['x', 'y', 'source'].every(
        k => same(gd.data[frame.traces ? frame.traces[j] : j][k], d[k])));
    return {{active, n: frames.length, shown}};
}}"""
