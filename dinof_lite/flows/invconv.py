"""Invertible 1×1 convolution with an LU-parametrised weight (Glow §3.2, "LU decomposition").

``W = P · L · (U + diag(sign(s) · exp(log|s|)))`` with ``P`` a fixed permutation, ``L`` unit
lower-triangular and ``U`` strictly upper-triangular, initialised from a random rotation. On
images the map is a 1×1 convolution (``y[:, :, i, j] = W x[:, :, i, j]``); on vectors ``(B, C)``
it is the linear map ``y = W x``. ``log|det| = H·W·Σ log|s|`` costs O(C), and the inverse is two
triangular solves, never a general matrix inverse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dinof_lite.flows.actnorm import spatial_size
from dinof_lite.flows.base import FlowLayer

__all__ = ["InvConv"]


class InvConv(FlowLayer):
    """``forward(x) -> (W x, logdet (B,))`` over channels; ``inverse(y) -> (W⁻¹ y, −logdet)``.

    Args:
        num_channels: ``C`` (the weight is ``C × C``). Initialised from ``torch.linalg.qr`` of a
            Gaussian matrix drawn from torch's global generator (seed it for reproducibility).
    """

    def __init__(self, num_channels: int) -> None:
        super().__init__()
        q = torch.linalg.qr(torch.randn(num_channels, num_channels))[0]
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(num_channels, num_channels), -1))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def _factors(self) -> tuple[Tensor, Tensor]:
        eye = torch.eye(self.log_s.numel(), device=self.log_s.device, dtype=self.log_s.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return lower, upper

    def weight(self) -> Tensor:
        """The ``C × C`` matrix ``W = P L U``."""
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def inverse_weight(self) -> Tensor:
        """``W⁻¹ = U⁻¹ L⁻¹ Pᵀ`` by triangular solves."""
        lower, upper = self._factors()
        eye = torch.eye(lower.shape[0], device=lower.device, dtype=lower.dtype)
        lower_inv = torch.linalg.solve_triangular(lower, eye, upper=False, unitriangular=True)
        upper_inv = torch.linalg.solve_triangular(upper, eye, upper=True)
        return upper_inv @ lower_inv @ self.perm.T

    @staticmethod
    def _matmul(w: Tensor, x: Tensor) -> Tensor:
        return F.linear(x, w) if x.dim() == 2 else F.conv2d(x, w[:, :, None, None])

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        logdet = (spatial_size(x) * self.log_s.sum()).expand(x.shape[0])
        return self._matmul(self.weight(), x), logdet

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        logdet = (-spatial_size(y) * self.log_s.sum()).expand(y.shape[0])
        return self._matmul(self.inverse_weight(), y), logdet

    def extra_repr(self) -> str:
        return f"{self.log_s.numel()}"
