"""What :meth:`DiNof.sample_result <dinof_lite.dinof.DiNof.sample_result>` returns.

A DiNof sample has two parts (DiNof Eq. 8, read backwards): the deterministic flow pass
``z = h_M → … → h_0 = x(T_m)`` and the stochastic reverse SDE from ``T_m`` down to ``eps``
(Song et al. 2021, Eq. 6). :class:`DiNofSample` holds the samples, both hand-over points and,
when asked for, both parts' states.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

__all__ = ["DiNofSample", "flow_state_labels"]


@dataclass
class DiNofSample:
    """The result of :meth:`~dinof_lite.dinof.DiNof.sample_result` (always this type).

    Attributes:
        x: (B, *dims) final samples ``x(eps)`` (the last predictor mean if ``denoise``).
        x_Tm: (B, *dims) the flow's output, start of the reverse SDE.
        z: (B, *dims) the Gaussian latent (already multiplied by the temperature).
        T_m: hand-over time; n_steps: reverse-SDE predictor steps.
        nfe: score-network evaluations (the flow's single pass is not counted).
        n_flow_layers: M, the layers of the flow's pass (``len(flow.layer_names())``).
        flow_states: (F, B, *dims) ``[z, …, x_Tm]``, the deterministic part in sampling order
            (every ``flow_every``-th layer), or None without a trajectory.
        flow_layers: F labels: ``"z"``, the inverted layers' names (``"L1.K3.coupling⁻¹"``),
            ``"x(T_m)"``; or None.
        sde_states: (S, B, *dims) ``[x_Tm, …, x]``, the stochastic part (every
            ``trajectory_every``-th step), or None; sde_times: (S,) their times, ``T_m`` → ``eps``.
        flow_time_s, sde_time_s: wall-clock seconds of the two parts.
    """

    x: Tensor
    x_Tm: Tensor
    z: Tensor
    T_m: float
    n_steps: int
    nfe: int
    n_flow_layers: int = 0
    flow_states: Tensor | None = None
    flow_layers: list[str] | None = None
    sde_states: Tensor | None = None
    sde_times: Tensor | None = None
    flow_time_s: float = 0.0
    sde_time_s: float = 0.0

    @property
    def wall_time_s(self) -> float:
        """Wall-clock seconds of the whole sample: flow pass plus reverse SDE."""
        return self.flow_time_s + self.sde_time_s


def flow_state_labels(flow: nn.Module, every: int = 1) -> list[str]:
    """Labels of the states ``flow.inverse_trajectory(z, every=every)`` records: ``"z"``, the
    inverted layers (``"L1.K3.coupling⁻¹"``), ``"x(T_m)"``."""
    names = flow.layer_names()
    m = len(names)
    return [
        "z" if i == 0 else "x(T_m)" if i == m else f"{names[m - i]}⁻¹"
        for i in flow.intermediate_indices(every)
    ]
