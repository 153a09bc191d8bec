"""The Fourier-feature MLP of DiffFlow's 2D experiments (Zhang & Chen 2021, App. E; authors' code).

The time ``t`` enters through ``sin``/``cos`` features ``sin(c_j t + φ_j)``, ``cos(c_j t + φ_j)``
with fixed frequencies ``c_j`` evenly spaced in ``[0.1, 100]`` and learned phases ``φ_j``
(one frequency per hidden unit). DiffFlow's times lie in ``[1e-3, 0.05]``, so ``c_j t`` spans at
most ``[0, 5]`` radians: slow features for the coarse time dependence, fast ones for the fine.
The embedding is added to a linear embedding of ``x``, then GELU layers map it to the output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FourierMLP"]


class FourierMLP(nn.Module):
    """``net(x, t)``: ``x (B, dim)``, ``t`` a float, a 0-d tensor or ``(B,)`` → ``(B, dim)``.

    Args:
        dim: data dimension ``D``.
        hidden: width (also the number of time frequencies); the authors' 2D value is 128.
        n_layers: hidden ``Linear + GELU`` layers after the first GELU (2D: 3).
        freq_range: ``(lowest, highest)`` time frequency ``c_j`` (authors: 0.1 to 100).
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        n_layers: int = 3,
        freq_range: tuple[float, float] = (0.1, 100.0),
    ) -> None:
        super().__init__()
        if dim < 1 or hidden < 1 or n_layers < 0:
            raise ValueError(
                f"need dim >= 1, hidden >= 1, n_layers >= 0; got {dim}, {hidden}, {n_layers}"
            )
        self.dim = dim
        self.register_buffer("freqs", torch.linspace(*freq_range, hidden))
        self.phase = nn.Parameter(torch.randn(hidden))
        self.x_embed = nn.Linear(dim, hidden)
        self.t_embed = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden)
        )
        layers: list[nn.Module] = [nn.GELU()]
        for _ in range(n_layers):
            layers += [nn.Linear(hidden, hidden), nn.GELU()]
        self.layers = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x: Tensor, t: Tensor | float) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (batch, {self.dim}), got {tuple(x.shape)}")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.dim() == 0:  # one time for the whole batch: embed it once, broadcast the result
            t = t.reshape(1)
        elif t.shape != (x.shape[0],):
            raise ValueError(
                f"t must be a float or have shape ({x.shape[0]},), got {tuple(t.shape)}"
            )
        args = t[:, None] * self.freqs + self.phase  # (B or 1, hidden)
        temb = self.t_embed(torch.cat([args.sin(), args.cos()], dim=1))
        return self.layers(self.x_embed(x) + temb)
