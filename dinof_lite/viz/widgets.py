"""``T_m`` sliders for a DiNof model (ipywidgets; also usable headless).

:class:`TmExplorer` (2D models) and :class:`DigitsTmExplorer` (image models) sample the model
once per ``T_m`` of a grid (cached, one seed for every ``T_m`` so each value is reproducible) and
show the views of that ``T_m`` when the slider moves: for 2D the time axis, the plane, the
flow's job and the trade-off (:func:`~dinof_lite.viz.journey.journey_dashboard`); for digits the
strip ``z → x(T_m) → SDE → x(eps)`` and a sample grid
(:func:`~dinof_lite.viz.digits_journey.digits_dashboard`).

The figure is rendered to PNG into an ``ipywidgets.Image`` (Jupyter, VS Code and, after
:func:`enable_colab_widgets`, Colab). Rendered PNGs are cached too, so moving back to a ``T_m``
already seen swaps an image. A value beyond the grid snaps to its nearest end; one that is not a
finite number is refused: :meth:`TmExplorer.update` raises a ValueError naming ``T_m`` before
anything changes, and the slider snaps back to the ``T_m`` it shows, so slider, label and figure
always agree. :meth:`TmExplorer.plotly` is the kernel-free twin.
"""

from __future__ import annotations

import io
import math
import numbers
import time
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from dinof_lite.sampling.solvers import get_solver
from dinof_lite.utils import make_generator
from dinof_lite.viz.digits_journey import digits_dashboard, digits_frame
from dinof_lite.viz.journey import DASHBOARD_INCHES, journey_dashboard
from dinof_lite.viz.journey_frame import journey_frame, marginal_map
from dinof_lite.viz.journey_plotly import journey_plotly

__all__ = [
    "TmExplorer",
    "DigitsTmExplorer",
    "enable_colab_widgets",
    "SLIDER_SOLVER",
    "SLIDER_STEPS",
]

#: The sliders' sampler and its steps: the frontier's fastest match of the plain sampler's
#: 1000-step reference from the flow's sample (``docs/figures/frontier.json``), the stochastic
#: SDE-DPM-Solver++(2M) at 20 evaluations, so an unseen ``T_m`` samples in a fraction of a
#: second. ``solver=None`` runs the paper's reverse SDE with ``round(N·T_m/T)`` steps instead.
SLIDER_SOLVER = "dpm_solver_pp_2m_sde"
SLIDER_STEPS = 20


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager; True in Colab, False elsewhere (never raises)."""
    try:
        from google.colab import output

        output.enable_custom_widget_manager()
    except Exception:  # ImportError outside Colab; anything else must not break a notebook
        return False
    return True


def _check_finite(T_m) -> None:
    """A ValueError naming ``T_m`` unless it is a finite real number (NaN, inf, str, bool …)."""
    ok = not isinstance(T_m, bool) and isinstance(T_m, numbers.Real)
    if not (ok and (isinstance(T_m, numbers.Integral) or math.isfinite(T_m))):
        kind = "" if isinstance(T_m, float) else f" ({type(T_m).__name__})"  # '0.3' (str)
        raise ValueError(f"T_m must be a finite number; got {T_m!r}{kind}")


def _png(fig: Figure, dpi: int) -> bytes:
    """``fig`` as a 256-colour PNG: the same picture at about half the bytes, so a saved
    notebook (which stores the widget's current image) stays small."""
    from PIL import Image

    buf, out = io.BytesIO(), io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    rgb = Image.open(buf).convert("RGB")  # octree keeps the colour maps' and paths' hues
    rgb.quantize(256, method=Image.Quantize.FASTOCTREE).save(out, format="png", optimize=True)
    return out.getvalue()


class _TmSlider:
    """The slider logic shared by both explorers: grid, validation, caches, widget."""

    dpi = 110  # a figure's 9-pt text stays 9 pt at the PNG's natural size

    def __init__(
        self,
        model,
        T_m_values: Sequence[float] | None,
        seed: int,
        n_steps_full: int | None = None,
        sample_kwargs: dict | None = None,
        solver: str | None = SLIDER_SOLVER,
    ) -> None:
        if T_m_values is None:
            if getattr(model, "any_T_m", False):
                lo, hi = model.T_m_range
                T_m_values = np.linspace(float(lo), float(hi), 10)
            else:
                T_m_values = [model.T_m]
        values = sorted({round(self.check_T_m(t), 6) for t in T_m_values})
        if not values:
            raise ValueError("T_m_values must contain at least one value")
        for t in values:
            model.resolve_T_m(t)  # the model's own error for a T_m it cannot sample
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int; got {seed!r}")
        if n_steps_full is not None and (
            isinstance(n_steps_full, bool) or not isinstance(n_steps_full, int) or n_steps_full < 1
        ):
            raise ValueError(f"n_steps_full must be a positive int or None; got {n_steps_full!r}")
        self.sample_kwargs = dict(sample_kwargs or {})
        for key in ("T_m", "generator", "trajectory_every") + (
            ("n_steps",) if n_steps_full else ()
        ):
            if key in self.sample_kwargs:
                raise ValueError(f"sample_kwargs must not set {key!r} (the explorer sets it)")
        if solver is not None:
            get_solver(solver)  # an unknown name lists the valid ones before anything changes
            self.sample_kwargs["solver"] = solver
            if n_steps_full is None:
                self.sample_kwargs.setdefault("n_steps", SLIDER_STEPS)
        self.model, self.T_m_values, self.seed = model, values, seed
        self.n_steps_full = n_steps_full
        self._frames: dict[float, object] = {}
        self._png: dict[tuple[float, int], bytes] = {}
        self.figure = Figure()  # not pyplot's: a notebook must not show it again at cell end
        self.png = b""  #: the PNG shown now
        self.current: float | None = None  #: the T_m shown now
        self._image = self._label = self._slider = None

    def sample_kwargs_at(self, T_m: float) -> dict:
        """``sample_kwargs``, plus ``n_steps = round(n_steps_full · T_m / T)`` when that is set
        (:meth:`~dinof_lite.sde.SDE.n_steps_from`: the step size of an ``n_steps_full``-step
        sampler over [0, T])."""
        if self.n_steps_full is None:
            return dict(self.sample_kwargs)
        n_steps = self.model.sde.n_steps_from(T_m, self.n_steps_full)
        return {**self.sample_kwargs, "n_steps": n_steps}

    @staticmethod
    def check_T_m(T_m) -> float:
        """``T_m`` as a float, or a ValueError if it is not a finite real number."""
        _check_finite(T_m)
        try:
            return float(T_m)
        except OverflowError:  # an int beyond float's range
            raise ValueError(
                f"T_m must be a number within float range; got an int of {T_m.bit_length()} bits"
            ) from None

    @property
    def step(self) -> float:
        """The slider step: the smallest spacing of the grid (0.01 for a one-value grid)."""
        return float(np.diff(self.T_m_values).min()) if len(self.T_m_values) > 1 else 0.01

    def snap(self, T_m: float) -> float:
        """The grid value nearest to ``T_m`` (a finite number); a value beyond the grid snaps to
        its nearest end."""
        _check_finite(T_m)
        lo, hi = self.T_m_values[0], self.T_m_values[-1]
        if T_m <= lo or T_m >= hi:  # compared exactly: |grid − 1e308| would tie at every value
            return lo if T_m <= lo else hi
        grid = np.asarray(self.T_m_values)
        return float(grid[np.abs(grid - float(T_m)).argmin()])

    def is_cached(self, T_m: float) -> bool:
        return round(float(T_m), 6) in self._frames

    def frame(self, T_m: float):
        """The views' data at the grid value nearest ``T_m``, computed once and cached."""
        key = round(self.snap(T_m), 6)
        if key not in self._frames:
            self._frames[key] = self._compute(key)
        return self._frames[key]

    def precompute(self, progress: bool = True, render: bool = True):
        """Compute every ``T_m`` of the grid (a tqdm bar with ``progress``), then (``render``)
        render every PNG, so each move of the slider only swaps an image; returns ``self``."""
        from tqdm.auto import tqdm

        for t in tqdm(self.T_m_values, desc="sampling the T_m grid", disable=not progress):
            self.frame(t)
        if render:
            for t in self.T_m_values:
                self.render(t)
        return self

    def render(self, T_m: float) -> bytes:
        """The PNG of the views at ``T_m`` (cached until a new ``T_m`` is sampled)."""
        key = (round(self.snap(T_m), 6), len(self._frames))
        if key not in self._png:
            self._draw(self.frame(T_m))
            key = (key[0], len(self._frames))  # frame() may have sampled a new T_m
            self._png = {k: v for k, v in self._png.items() if k[1] == key[1]}  # drop stale
            self._png[key] = _png(self.figure, self.dpi)
        return self._png[key]

    def update(self, T_m: float) -> dict:
        """Snap ``T_m`` to the grid, sample it (or reuse the cache) and show its views.

        Returns ``{"T_m", "n_steps", "nfe", "sample_s", "redraw_s", "cached"}``; ``redraw_s``
        includes rendering the PNG. A ``T_m`` that is not finite raises ValueError first.
        """
        t = self.snap(T_m)
        cached = self.is_cached(t)
        t0 = time.perf_counter()
        f = self.frame(t)
        t1 = time.perf_counter()
        self.png = self.render(t)
        self.current = t
        info = {
            "T_m": t,
            "n_steps": f.n_steps,
            "nfe": f.nfe,
            "sample_s": t1 - t0,
            "redraw_s": time.perf_counter() - t1,
            "cached": cached,
        }
        if self._image is not None:
            self._image.value = self.png
            self._label.value = self._describe(f, info)
        if self._slider is not None and self._slider.value != t:
            self._slider.value = t  # update() from code moves the slider too
        return info

    def _describe(self, f, info: dict) -> str:
        src = "cached" if info["cached"] else f"sampled in {info['sample_s']:.2f} s"
        return (
            f"<b>T_m = {info['T_m']:g}</b> · {self.sample_kwargs.get('solver', 'reverse SDE')}: "
            f"{f.n_steps} steps, {f.nfe} score "
            f"evals · flow: 1 pass · {src} · redraw {info['redraw_s']:.2f} s"
        )

    def widget(self, start: float | None = None):
        """The UI: a ``FloatSlider`` over the grid (snapped, ``continuous_update=False``), an
        HTML line with steps/NFE/timings and the figure as an ``Image``; returns the ``VBox``.

        Starts at ``start`` (default: the grid value nearest ``model.T_m``)."""
        import ipywidgets as w

        start = self.snap(self.model.T_m if start is None else start)
        slider = w.FloatSlider(
            value=start,
            min=self.T_m_values[0],
            max=self.T_m_values[-1],
            step=self.step,
            description="T_m",
            continuous_update=False,
            readout_format=".2f",
            disabled=len(self.T_m_values) == 1,
        )
        self._label = w.HTML()
        self._image = w.Image(format="png", layout=w.Layout(width="auto", max_width="100%"))

        def on_change(change) -> None:
            new = change["new"]
            if not (isinstance(new, numbers.Real) and math.isfinite(new)):
                slider.value = self.current  # refuse NaN: back to the T_m shown
                return
            t = self.snap(new)
            if t != new:
                slider.value = t  # re-enters with the grid value
            elif t != self.current:
                self.update(t)

        slider.observe(on_change, names="value")
        self._slider = slider
        self.update(start)
        return w.VBox([slider, self._label, self._image])


class TmExplorer(_TmSlider):
    """Slide through ``T_m`` on a 2D DiNof: who does the work, the flow or the reverse SDE.

    Args:
        model: a 2D :class:`~dinof_lite.dinof.DiNof` (any-T_m for more than one ``T_m``).
        gmm: the data's exact :class:`~dinof_lite.data.toy.GaussianMixture` (densities, KL,
            NLL).
        T_m_values: the grid; default 10 values spanning ``model.T_m_range``, else
            ``[model.T_m]``.
        n: samples per ``T_m``; n_paths: highlighted samples (at most 10 read well); seed.
        reference: data points ``(M, 2)`` drawn in grey in the plane (default: 1000 from gmm).
        projection: the 2-vector whose coordinate the time-axis view shows.
        n_steps_full: steps ``round(n_steps_full · T_m / T)`` (default: :data:`SLIDER_STEPS`
            with a solver, the model's ``round(N · T_m / T)`` without).
        sample_kwargs: extra ``model.sample_result`` arguments (``n_steps``, ``predictor``, …).
        solver: the fast solver run from the flow's sample (default :data:`SLIDER_SOLVER`,
            the frontier's fastest match of the 1000-step reference, :data:`SLIDER_STEPS`
            steps), or None for the paper's reverse SDE (PC sampler).
    """

    def __init__(
        self,
        model,
        gmm,
        *,
        T_m_values: Sequence[float] | None = None,
        n: int = 1000,
        n_paths: int = 6,
        seed: int = 0,
        reference=None,
        projection=(1.0, 0.0),
        n_steps_full: int | None = None,
        sample_kwargs: dict | None = None,
        solver: str | None = SLIDER_SOLVER,
    ) -> None:
        if tuple(getattr(model, "dims", ())) != (2,):
            raise ValueError(
                f"TmExplorer needs a 2D model (for images use DigitsTmExplorer); this model has "
                f"dims {getattr(model, 'dims', None)}"
            )
        super().__init__(model, T_m_values, seed, n_steps_full, sample_kwargs, solver)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}")
        if isinstance(n_paths, bool) or not isinstance(n_paths, int) or not 1 <= n_paths <= 10:
            raise ValueError(f"n_paths must be an int in [1, 10]; got {n_paths!r}")
        self.gmm, self.n, self.n_paths = gmm, n, min(n_paths, n)
        self.mmap = marginal_map(model.sde, gmm, projection=projection)
        self.entropy = gmm.entropy(generator=make_generator(seed + 3))
        ref = gmm.sample(1000, make_generator(seed + 7)) if reference is None else reference
        self.reference = np.asarray(ref.cpu() if hasattr(ref, "cpu") else ref, dtype=float)
        self.figure.set_size_inches(*DASHBOARD_INCHES)

    def _compute(self, T_m: float):
        return journey_frame(
            self.model,
            T_m,
            self.gmm,
            n=self.n,
            n_paths=self.n_paths,
            seed=self.seed,
            entropy=self.entropy,
            sample_kwargs=self.sample_kwargs_at(T_m),
        )

    def _draw(self, frame) -> None:
        journey_dashboard(
            frame,
            self.mmap,
            reference=self.reference,
            history=list(self._frames.values()),
            figure=self.figure,
        )

    def plotly(self, T_m_values: Sequence[float] | None = None, **kwargs):
        """:func:`~dinof_lite.viz.journey_plotly.journey_plotly` over the grid, or over the grid
        values nearest ``T_m_values`` (sampling what is not cached yet); ``kwargs`` go to it."""
        kwargs.setdefault("reference", self.reference[:1000])
        values = (
            self.T_m_values if T_m_values is None else sorted({self.snap(t) for t in T_m_values})
        )
        return journey_plotly([self.frame(t) for t in values], self.mmap, **kwargs)


class DigitsTmExplorer(_TmSlider):
    """Slide through ``T_m`` on an image DiNof (the shipped ``dinof_digits``): a strip of a few
    images ``z → x(T_m) → SDE frames → x(eps)`` and a grid of ``n`` samples.

    ``T_m_values`` defaults to ``(0.2, 0.6, 1.0)`` inside the model's range; by default each
    ``T_m`` takes :data:`SLIDER_STEPS` evaluations of :data:`SLIDER_SOLVER` (with
    ``solver=None``, 1000·T_m reverse steps of a UNet take seconds per ``T_m`` on a CPU);
    ``n_steps_full``, ``sample_kwargs`` and ``solver`` as in :class:`TmExplorer`.
    """

    def __init__(
        self,
        model,
        *,
        T_m_values: Sequence[float] | None = None,
        n: int = 16,
        n_strip: int = 4,
        n_frames: int = 3,
        seed: int = 0,
        n_steps_full: int | None = None,
        sample_kwargs: dict | None = None,
        solver: str | None = SLIDER_SOLVER,
    ) -> None:
        dims = tuple(getattr(model, "dims", ()))
        if len(dims) != 3 or dims[0] != 1:
            raise ValueError(
                f"DigitsTmExplorer needs a one-channel image model (for 2D use TmExplorer); this "
                f"model has dims {getattr(model, 'dims', None)}"
            )
        if T_m_values is None and getattr(model, "any_T_m", False):
            lo, hi = model.T_m_range
            T_m_values = [t for t in (0.2, 0.6, 1.0) if lo <= t <= hi] or [model.T_m]
        super().__init__(model, T_m_values, seed, n_steps_full, sample_kwargs, solver)
        for name, v, lo in (("n", n, 1), ("n_strip", n_strip, 1), ("n_frames", n_frames, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")
        if n_strip > n:
            raise ValueError(f"n_strip ({n_strip}) must not exceed n ({n})")
        self.n, self.n_strip, self.n_frames = n, n_strip, n_frames
        self.figure.set_size_inches(8.0, 4.0)

    def _compute(self, T_m: float):
        return digits_frame(
            self.model,
            T_m,
            n=self.n,
            n_strip=self.n_strip,
            n_frames=self.n_frames,
            seed=self.seed,
            sample_kwargs=self.sample_kwargs_at(T_m),
        )

    def _draw(self, frame) -> None:
        digits_dashboard(frame, figure=self.figure)
