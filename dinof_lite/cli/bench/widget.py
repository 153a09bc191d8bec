"""``python -m dinof_lite bench widget``: how fast the ``T_m`` sliders answer on a small CPU.

The notebooks' sliders (:class:`~dinof_lite.viz.widgets.TmExplorer` on the shipped 2D model
``dinof_8gaussians_vp_anytm``; with ``--size full`` also
:class:`~dinof_lite.viz.widgets.DigitsTmExplorer` on ``dinof_digits`` over a short grid) run in a
notebook kernel on the CPU, so this case always measures on the CPU with
``torch.set_num_threads(2)`` (a laptop or a Colab machine; restored afterwards), whatever
``--device`` and ``--threads`` say. Driven through :meth:`~dinof_lite.viz.widgets._TmSlider.update`
as the slider does, it times

1. **frame compute**: sampling a ``T_m`` not seen yet (the frame: flow, reverse SDE, densities,
   KL, MMD², NLL), once per grid value; target ≤ 1 s, the wait of a first visit;
2. **first render**: drawing a cached frame's figure into a PNG the first time, once per value;
   target ≤ 1 s;
3. **cached redraw**: moving the slider to a ``T_m`` already sampled and rendered (a PNG swap
   into the widget, built when ipywidgets is installed), over ``max(20, repeats · grid)`` moves
   between grid values; target ≤ 0.3 s, what feels immediate.

One row per explorer and measure: median and max seconds, the target and the ratios
``median / target`` and ``max / target`` (≤ 1: on target).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

__all__ = ["bench_widget", "WIDGET_CASES", "WIDGET_TARGETS", "WIDGET_THREADS"]

WIDGET_THREADS = 2
#: measure -> target seconds
WIDGET_TARGETS = {"frame compute": 1.0, "first render": 1.0, "cached redraw": 0.3}
#: size -> [(label, checkpoint, explorer class in dinof_lite.viz.widgets, explorer kwargs)]
WIDGET_CASES: dict[str, list[tuple[str, str, str, dict]]] = {
    "full": [
        ("2d n=1000, 10 T_m", "dinof_8gaussians_vp_anytm", "TmExplorer", {}),
        (
            "digits n=16, 3 T_m, 100·T_m steps",
            "dinof_digits",
            "DigitsTmExplorer",
            {"T_m_values": (0.2, 0.6, 1.0), "n_steps_full": 100},
        ),
    ],
    "smoke": [
        (
            "2d n=100, 3 T_m, 10 steps",
            "dinof_8gaussians_vp_anytm",
            "TmExplorer",
            {
                "T_m_values": (0.2, 0.6, 1.0),
                "n": 100,
                "n_paths": 3,
                "sample_kwargs": {"n_steps": 10},
            },
        ),
    ],
}


def _moves(grid: list[float], n: int, seed: int = 0) -> list[float]:
    """``n`` slider positions over ``grid``, each different from the one before."""
    rng = np.random.default_rng(seed)
    out, cur = [], None
    for _ in range(n):
        choices = [t for t in grid if t != cur] or grid
        cur = float(choices[rng.integers(len(choices))])
        out.append(cur)
    return out


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _case(label: str, name: str, cls_name: str, kwargs: dict, repeats: int) -> list[dict]:
    from dinof_lite.data.toy import GaussianMixture
    from dinof_lite.pretrained import load_dinof
    from dinof_lite.viz import widgets

    try:
        model = load_dinof(name, device="cpu")
    except FileNotFoundError as err:
        raise ValueError(
            f"{err}; create it with `python scripts/make_checkpoints.py --only {name}`"
        ) from err
    if cls_name == "TmExplorer":
        e = widgets.TmExplorer(model, GaussianMixture.preset("8gaussians"), **kwargs)
    else:
        e = getattr(widgets, cls_name)(model, **kwargs)
    grid = list(e.T_m_values)
    compute = [_timed(lambda t=t: e.frame(t)) for t in grid]  # sampling only, nothing drawn
    render = []
    for t in grid:  # every frame is cached now, so the PNG keys stay valid afterwards
        start = time.perf_counter()
        info = e.update(t)
        render.append(time.perf_counter() - start)
        if not info["cached"]:
            raise RuntimeError(f"T_m = {t}: the frame should be cached before its first render")
    try:
        e.widget(start=grid[0])  # the moves then also push the PNG and the label to the UI
        how = "update() → widget"
    except ImportError:
        how = "update(), headless"
    redraw = []
    for t in _moves(grid, max(20, repeats * len(grid))):
        n_png = len(e._png)
        start = time.perf_counter()
        e.update(t)
        redraw.append(time.perf_counter() - start)
        if len(e._png) != n_png:
            raise RuntimeError(f"T_m = {t}: a move to a rendered T_m rendered again")
    rows = []
    for measure, times in (
        ("frame compute", compute),
        ("first render", render),
        ("cached redraw", redraw),
    ):
        target = WIDGET_TARGETS[measure]
        med, worst = statistics.median(times), max(times)
        rows.append(
            {
                "explorer": f"{cls_name} {label}",
                "measure": measure,
                "via": {"frame compute": "frame()", "first render": "update()"}.get(measure, how),
                "n": len(times),
                "median s": med,
                "max s": worst,
                "target s": target,
                "median / target": med / target,
                "max / target": worst / target,
                "threads": torch.get_num_threads(),
            }
        )
    return rows


def bench_widget(device: torch.device, repeats: int = 5, size: str = "full") -> list[dict]:
    """Rows ``explorer, measure, via, n, median s, max s, target s, median / target,
    max / target, threads`` (see the module docstring); always on the CPU, 2 threads."""
    del device  # the sliders run in a notebook kernel, on the CPU
    old = torch.get_num_threads()
    torch.set_num_threads(WIDGET_THREADS)
    print(f"bench widget: on the CPU with torch.set_num_threads({torch.get_num_threads()})")
    try:
        return [
            row
            for label, name, cls_name, kwargs in WIDGET_CASES[size]
            for row in _case(label, name, cls_name, kwargs, repeats)
        ]
    finally:
        torch.set_num_threads(old)
