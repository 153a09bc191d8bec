"""Interactive ``T_m`` explorer for a DiNof model (ipywidgets; also usable headless).

:class:`TmExplorer` samples a model at a grid of truncation times ``T_m`` (cached, one seed per
``T_m`` so every value is reproducible) and redraws one matplotlib figure — the journey panel
(:func:`~dinof_lite.viz.journey.plot_journey`) and the final samples — when a slider moves.
The figure is rendered to PNG into an ``ipywidgets.Image``, which works in Jupyter, VS Code and
(after :func:`enable_colab_widgets`) Colab; :meth:`TmExplorer.plotly` gives a kernel-free
alternative for static HTML.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from dinof_lite.viz.journey import SDE_COLOR, journey_plotly, plot_journey
from dinof_lite.viz.plots import PANEL, as_points, plot_samples

__all__ = ["TmExplorer", "enable_colab_widgets"]


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager; True in Colab, False elsewhere (never raises)."""
    try:
        from google.colab import output

        output.enable_custom_widget_manager()
    except Exception:  # ImportError outside Colab; anything else must not break a notebook
        return False
    return True


class TmExplorer:
    """Slide through ``T_m``: how far the flow carries the samples and how many SDE steps remain.

    Args:
        model: a :class:`~dinof_lite.dinof.DiNof` on 2D data.
        T_m_values: the ``T_m`` grid; default 10 values spanning ``model.T_m_range`` for an
            any-``T_m`` model, else ``[model.T_m]``. Values the model rejects raise its own
            ValueError when sampled.
        n: samples per ``T_m``; n_paths: journeys drawn; seed: generator seed (same for every
            ``T_m``); reference: data points ``(M, 2)`` drawn in grey behind the samples.
        sample_kwargs: extra ``model.sample_result`` arguments (``predictor``, ``n_steps``,
            ``trajectory_every`` (default 1), ``flow_every``, …).
    """

    def __init__(
        self,
        model,
        *,
        T_m_values: Sequence[float] | None = None,
        n: int = 500,
        n_paths: int = 30,
        seed: int = 0,
        reference=None,
        sample_kwargs: dict | None = None,
    ) -> None:
        if T_m_values is None:
            if getattr(model, "any_T_m", False):
                lo, hi = model.T_m_range
                T_m_values = np.linspace(float(lo), float(hi), 10)
            else:
                T_m_values = [model.T_m]
        values = sorted({round(float(t), 6) for t in T_m_values})
        if not values:
            raise ValueError("T_m_values must contain at least one value")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}")
        self.model, self.T_m_values, self.n, self.n_paths, self.seed = (
            model,
            values,
            n,
            n_paths,
            seed,
        )
        self.reference = None if reference is None else as_points(reference, "reference")
        self.sample_kwargs = dict(sample_kwargs or {})
        for key in ("T_m", "generator"):
            if key in self.sample_kwargs:
                raise ValueError(f"sample_kwargs must not set {key!r} (the explorer sets it)")
        if self.sample_kwargs.setdefault("trajectory_every", 1) is None:
            raise ValueError(
                "sample_kwargs must not set trajectory_every=None: the explorer draws the trajectory"
            )
        self._cache: dict[float, object] = {}
        # not a pyplot figure: a notebook must not show it a second time at the end of the cell
        # and a fixed layout: constrained layout would double the redraw time
        self.figure = Figure(figsize=(PANEL * 3.2, PANEL * 1.6))
        self._axes = self.figure.subplots(
            1,
            2,
            gridspec_kw={"left": 0.05, "right": 0.98, "bottom": 0.07, "top": 0.93, "wspace": 0.15},
        )
        self.png = b""  #: the last rendered figure (PNG bytes)
        self._image = self._label = self._slider = None
        self._syncing = False  # True while update() moves the slider (no second redraw)

    @property
    def step(self) -> float:
        """The slider step: the smallest spacing of the grid (0.01 for a one-value grid)."""
        return float(np.diff(self.T_m_values).min()) if len(self.T_m_values) > 1 else 0.01

    def snap(self, T_m: float) -> float:
        """The grid value nearest to ``T_m``."""
        grid = np.asarray(self.T_m_values)
        return float(grid[np.abs(grid - float(T_m)).argmin()])

    def _key(self, T_m: float) -> float:
        return round(float(T_m), 6)

    def sample(self, T_m: float):
        """``model.sample_result(n, T_m=T_m, trajectory_every=1)`` with seed ``seed``, cached per
        ``T_m`` (``sample_kwargs`` may thin the trajectory: ``trajectory_every``, ``flow_every``)."""
        key = self._key(T_m)
        if key not in self._cache:
            gen = torch.Generator().manual_seed(self.seed)
            with torch.no_grad():
                self._cache[key] = self.model.sample_result(
                    self.n, T_m=key, generator=gen, **self.sample_kwargs
                )
        return self._cache[key]

    def is_cached(self, T_m: float) -> bool:
        return self._key(T_m) in self._cache

    def precompute(self, progress: bool = True) -> TmExplorer:
        """Sample every ``T_m`` of the grid (a tqdm bar with ``progress``); returns ``self``."""
        from tqdm.auto import tqdm

        for t in tqdm(self.T_m_values, desc="sampling T_m grid", disable=not progress):
            self.sample(t)
        return self

    def update(self, T_m: float) -> dict:
        """Snap ``T_m`` to the grid, sample (or reuse the cache) and redraw the figure.

        Returns ``{"T_m", "n_steps", "nfe", "sample_s", "redraw_s", "cached"}``; ``redraw_s``
        includes rendering the PNG shown by :meth:`widget`.
        """
        t = self.snap(T_m)
        cached = self.is_cached(t)
        t0 = time.perf_counter()
        s = self.sample(t)
        t1 = time.perf_counter()
        ax_j, ax_x = self._axes
        ax_j.clear()
        ax_x.clear()
        plot_journey(ax_j, s, n_paths=self.n_paths, title=f"journey, $T_m$ = {t:g}")
        lim = max(ax_j.get_xlim()[1], 1.0)
        if self.reference is not None:
            plot_samples(ax_x, self.reference, lim=lim, color="0.75", alpha=0.4)
        plot_samples(
            ax_x, s.x, lim=lim, color=SDE_COLOR, title=f"{self.n} samples $x(\\varepsilon)$"
        )
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        self.png = buf.getvalue()
        info = {
            "T_m": t,
            "n_steps": int(s.n_steps),
            "nfe": int(s.nfe),
            "sample_s": t1 - t0,
            "redraw_s": time.perf_counter() - t1,
            "cached": cached,
        }
        if self._image is not None:
            self._image.value = self.png
            self._label.value = self._describe(info)
        if self._slider is not None and abs(self._slider.value - t) > 1e-9:
            self._syncing = True  # a call update(T_m) from code moves the slider too
            try:
                self._slider.value = t
            finally:
                self._syncing = False
        return info

    @staticmethod
    def _describe(info: dict) -> str:
        src = "cached" if info["cached"] else f"sampled in {info['sample_s']:.2f} s"
        return (
            f"<b>T_m = {info['T_m']:g}</b> · reverse SDE: {info['n_steps']} steps, "
            f"{info['nfe']} score evals · flow: 1 pass · {src} · redraw {info['redraw_s']:.2f} s"
        )

    def widget(self):
        """The UI: a ``FloatSlider`` over the grid (snapped, ``continuous_update=False``), an
        HTML line with steps/NFE/timings and the figure as an ``Image``; returns the ``VBox``.

        The slider starts at the grid value nearest ``model.T_m``; :meth:`update` called from code
        moves it too, so slider, label and figure always show the same ``T_m``."""
        import ipywidgets as w

        lo, hi = self.T_m_values[0], self.T_m_values[-1]
        start = self.snap(self.model.T_m)
        slider = w.FloatSlider(
            value=start,
            min=lo,
            max=hi,
            step=self.step,
            description="T_m",
            continuous_update=False,
            readout_format=".2f",
            disabled=len(self.T_m_values) == 1,
        )
        self._label, self._image = w.HTML(), w.Image(format="png")

        def on_change(change) -> None:
            if self._syncing:
                return
            t = self.snap(change["new"])
            if abs(t - change["new"]) > 1e-9:
                slider.value = t  # re-enters with a grid value
                return
            self.update(t)

        slider.observe(on_change, names="value")
        self._slider = slider
        self.update(start)
        return w.VBox([slider, self._label, self._image])

    def plotly(self, **kwargs):
        """:func:`~dinof_lite.viz.journey.journey_plotly` over the whole grid (sampling what is
        not cached yet); ``kwargs`` go to it (``reference`` defaults to the explorer's)."""
        kwargs.setdefault("reference", self.reference)
        kwargs.setdefault("n_paths", self.n_paths)
        return journey_plotly({t: self.sample(t) for t in self.T_m_values}, **kwargs)
