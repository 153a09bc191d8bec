"""What the ``T_m`` views draw, computed once per ``T_m``: :class:`JourneyFrame`.

A DiNof sample travels two paths: one deterministic pass of the flow's inverse, ``z → x(T_m)``,
then the reverse SDE from ``T_m`` down to ``eps``. :func:`journey_frame` samples a 2D model at one
``T_m`` and keeps what a student needs to *see* that journey and why ``T_m`` matters:

- a few highlighted samples: ``z``, ``x(T_m)`` and their SDE paths with times;
- the whole sample cloud ``x(eps)``, and the flow's image of a polar grid of the latent space
  (how ``flow⁻¹`` warps ``N(0, I)`` into ``p_{T_m}``), so the flow is shown in data space and
  never through its internal layer coordinates;
- the exact density of ``p_{T_m}`` beside the flow's density at ``T_m`` and their KL divergence
  (what the flow had to learn), and the work and the result: flow layers, SDE steps, NFE, wall
  time, MMD² and NLL against the data entropy.

:func:`marginal_map` is the background of the time-axis view: the exact density of one projected
coordinate of ``p_t`` for every ``t`` (Song et al. 2021, Fig. 1), which does not depend on ``T_m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.metrics import gmm_nll, mmd

__all__ = ["JourneyFrame", "MarginalMap", "journey_frame", "marginal_map", "project"]


def project(x: Tensor | np.ndarray, projection: np.ndarray) -> np.ndarray:
    """``x (..., 2) · projection (2,)``: the coordinate the time-axis view puts on its y axis."""
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, float)
    return arr @ np.asarray(projection, dtype=float)


def _unit(projection) -> np.ndarray:
    u = np.asarray(projection, dtype=float).reshape(-1)
    if u.shape != (2,) or not np.isfinite(u).all() or np.linalg.norm(u) == 0:
        raise ValueError(f"projection must be a non-zero finite 2-vector; got {projection!r}")
    return u / np.linalg.norm(u)


@dataclass
class MarginalMap:
    """The exact density ``p_t(u·x)`` of the projected coordinate on a ``(y, t)`` grid.

    Attributes:
        times: (Nt,) increasing times in ``[eps, T]``; y: (Ny,) coordinate values;
        density: (Ny, Nt), each column a 1D density in ``y`` (integrates to 1 over ``y``);
        projection: the unit 2-vector ``u``; label: the axis label (``"x₁"``, ``"x₂"`` or ``"u·x"``).
    """

    times: np.ndarray
    y: np.ndarray
    density: np.ndarray
    projection: np.ndarray
    label: str


def marginal_map(
    sde,
    gmm: GaussianMixture,
    *,
    projection=(1.0, 0.0),
    lim: float = 4.5,
    n_times: int = 160,
    n_y: int = 200,
    eps: float | None = None,
) -> MarginalMap:
    """Exact ``p_t`` of ``u·x`` for ``t ∈ [eps, T]``: the projection of a Gaussian mixture is the
    1D mixture with means ``u·μ_k`` and variances ``uᵀΣ_k u``, diffused in closed form."""
    if not isinstance(gmm, GaussianMixture) or gmm.dim != 2:
        raise ValueError("gmm must be a 2D GaussianMixture (the exact oracle of the data)")
    u = _unit(projection)
    ut = torch.as_tensor(u, dtype=torch.float64)
    line = GaussianMixture(gmm.means @ ut[:, None], (ut @ gmm.covs @ ut)[:, None], gmm.weights)
    eps = float(sde.sample_eps if eps is None else eps)
    times = np.linspace(eps, sde.T, n_times)
    y = np.linspace(-lim, lim, n_y)
    yy = torch.as_tensor(y, dtype=torch.float64)[:, None]
    density = np.stack([line.marginal(sde, t).log_prob(yy).exp().numpy() for t in times], axis=1)
    label = "x₁" if np.allclose(u, (1, 0)) else "x₂" if np.allclose(u, (0, 1)) else "u·x"
    return MarginalMap(times, y, density, u, label)


@dataclass
class JourneyFrame:
    """Everything the ``T_m`` views draw for one ``T_m`` (numpy arrays, 2D data).

    Attributes:
        T_m: hand-over time; n_steps, nfe: reverse-SDE steps and score evaluations;
            n_flow_layers: layers of the flow's one pass; flow_time_s, sde_time_s: wall time.
        z, x_Tm, x: (P, 2) the highlighted samples' latent, flow output and final sample.
        sde_times: (S,) from ``T_m`` down to ``eps``; sde_paths: (S, P, 2) their SDE paths.
        cloud: (N, 2) all final samples; cloud_Tm: (N, 2) all flow outputs ``x(T_m)``.
        warp: (C, L, 2) ``flow⁻¹`` of latent circles (radius 1, 2, 3) and rays: the grid warp.
        grid: (G,) axis of the density panels; exact, flow: (G, G) densities of ``p_{T_m}`` and
            of the flow at ``T_m`` (rows ``y``, columns ``x``, ``origin="lower"``).
        kl, kl_se: ``KL(p_{T_m} ‖ flow)`` in nats by Monte Carlo over exact samples, its std error.
        mmd: MMD² of the ``N`` samples against fresh data; nll: their mean NLL under ``p_0``;
            entropy: the data entropy (the NLL of the data itself).
    """

    T_m: float
    n_steps: int
    nfe: int
    n_flow_layers: int
    flow_time_s: float
    sde_time_s: float
    z: np.ndarray
    x_Tm: np.ndarray
    x: np.ndarray
    sde_times: np.ndarray
    sde_paths: np.ndarray
    cloud: np.ndarray
    cloud_Tm: np.ndarray
    warp: np.ndarray
    grid: np.ndarray
    exact: np.ndarray
    flow: np.ndarray
    kl: float
    kl_se: float
    mmd: float
    nll: float
    entropy: float

    @property
    def time_s(self) -> float:
        """Wall time of the whole sample: the flow's pass plus the reverse SDE."""
        return self.flow_time_s + self.sde_time_s


def _np(x: Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def _latent_grid(n_line: int = 120) -> Tensor:
    """Circles of radius 1, 2, 3 and 8 rays out to radius 3 in the latent plane: (11, L, 2)."""
    a = torch.linspace(0, 2 * math.pi, n_line, dtype=torch.float64)
    circles = [torch.stack([r * a.cos(), r * a.sin()], 1) for r in (1.0, 2.0, 3.0)]
    r = torch.linspace(0, 3, n_line, dtype=torch.float64)
    rays = [
        torch.stack([r * math.cos(k * math.pi / 4), r * math.sin(k * math.pi / 4)], 1)
        for k in range(8)
    ]
    return torch.stack(circles + rays)


@torch.no_grad()
def journey_frame(
    model,
    T_m: float,
    gmm: GaussianMixture,
    *,
    n: int = 1000,
    n_paths: int = 6,
    seed: int = 0,
    lim: float = 4.5,
    n_grid: int = 90,
    n_kl: int = 4000,
    entropy: float | None = None,
    sample_kwargs: dict | None = None,
) -> JourneyFrame:
    """Sample ``model`` (a 2D :class:`~dinof_lite.dinof.DiNof`) at ``T_m`` and measure the frame.

    ``entropy``: the data entropy, if known (else estimated from 200 000 draws of ``gmm``).

    The first ``n_paths`` of the ``n`` samples (seed ``seed``) are the highlighted ones; the KL,
    MMD² and NLL use seeds derived from ``seed`` so a frame is reproducible.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    if not isinstance(n_paths, int) or isinstance(n_paths, bool) or not 1 <= n_paths <= n:
        raise ValueError(f"n_paths must be an int in [1, n = {n}]; got {n_paths!r}")
    if not isinstance(gmm, GaussianMixture) or gmm.dim != 2:
        raise ValueError("gmm must be a 2D GaussianMixture (the exact oracle of the data)")
    if tuple(model.dims) != (2,):
        raise ValueError(f"journey frames need a 2D model; this one has dims {model.dims}")
    T_m = model.resolve_T_m(float(T_m))
    res = model.sample_result(
        n,
        T_m=T_m,
        generator=torch.Generator().manual_seed(seed),
        trajectory_every=1,
        **(sample_kwargs or {}),
    )
    ref = next(model.flow.parameters())
    paths = _np(res.sde_states[:, :n_paths])
    sde_times = _np(res.sde_times)
    sde_times[0] = T_m  # not float32(T_m): the views pair it with x(T_m), the flow's end

    grid_t = _latent_grid().to(ref.dtype)
    C, L, _ = grid_t.shape
    flat = grid_t.reshape(-1, 2)
    warp = _np(model.flow.inverse(flat, model.context(T_m, len(flat))).reshape(C, L, 2))

    axis = np.linspace(-lim, lim, n_grid)
    xx, yy = np.meshgrid(axis, axis)
    pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=ref.dtype)
    p_tm = gmm.marginal(model.sde, T_m)
    exact = p_tm.log_prob(pts.double()).exp().numpy().reshape(n_grid, n_grid)
    flow = model.flow.log_prob(pts, model.context(T_m, len(pts))).exp()
    flow = _np(flow).reshape(n_grid, n_grid)

    g = torch.Generator().manual_seed(seed + 1)
    xs = p_tm.sample(n_kl, g).to(ref.dtype)
    gap = p_tm.log_prob(xs.double()) - model.flow.log_prob(xs, model.context(T_m, n_kl)).double()
    data = gmm.sample(n, torch.Generator().manual_seed(seed + 2))
    return JourneyFrame(
        T_m=T_m,
        n_steps=int(res.n_steps),
        nfe=int(res.nfe),
        n_flow_layers=int(res.n_flow_layers),
        flow_time_s=float(res.flow_time_s),
        sde_time_s=float(res.sde_time_s),
        z=_np(res.z[:n_paths]),
        x_Tm=_np(res.x_Tm[:n_paths]),
        x=_np(res.x[:n_paths]),
        sde_times=sde_times,
        sde_paths=paths,
        cloud=_np(res.x),
        cloud_Tm=_np(res.x_Tm),
        warp=warp,
        grid=axis,
        exact=exact,
        flow=flow,
        kl=float(gap.mean()),
        kl_se=float(gap.std() / math.sqrt(n_kl)),
        mmd=float(mmd(data, res.x)),
        nll=float(gmm_nll(gmm, res.x)),
        entropy=float(
            gmm.entropy(generator=torch.Generator().manual_seed(seed + 3))
            if entropy is None
            else entropy
        ),
    )
