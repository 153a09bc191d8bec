"""ActNorm: a per-channel affine bijection with data-dependent initialisation (Glow §3.1).

``y = (x + b) · exp(log_s)`` per channel, for vectors ``(B, C)`` and images ``(B, C, H, W)``.
On its first forward pass the layer sets ``b = −mean`` and ``log_s = −log std`` over that batch,
so the batch's outputs have zero mean and unit variance per channel. Whether that happened is
the boolean buffer ``initialized``: it is saved in the ``state_dict``, so a reloaded (or resumed)
flow never re-initialises on the first batch it sees after loading. Once the flag has been seen
set, a Python copy of it is trusted (until the next ``load_state_dict``), so a forward pass
does not read the buffer back from the device (a host sync per layer on a GPU).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dinof_lite.flows.base import FlowLayer
from dinof_lite.utils import check_batch

__all__ = ["ActNorm"]


def _per_channel(v: Tensor, like: Tensor) -> Tensor:
    """``(C,)`` → ``(1, C)`` for vectors, ``(1, C, 1, 1)`` for images."""
    return v.view(1, -1, *([1] * (like.dim() - 2)))


def spatial_size(x: Tensor) -> int:
    """Positions per channel: ``H·W`` for images, 1 for vectors (the log-det multiplier)."""
    return x[0, 0].numel()


class ActNorm(FlowLayer):
    """Per-channel scale and bias, ``forward(x) -> (y, logdet (B,))``, log-det ``H·W·Σ log_s``.

    Args:
        num_channels: ``C``.
        eps: added to the batch std at initialisation (a constant channel gets scale ``1/eps``).
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.log_scale = nn.Parameter(torch.zeros(num_channels))
        self.register_buffer("initialized", torch.tensor(False))
        self.eps = eps
        self._seen_initialized = False  # `initialized` seen True since the last load

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._seen_initialized = False  # the loaded flag decides again

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set bias and scale from the batch ``x`` so that ``forward(x)`` is standardised.

        Raises ``ValueError`` (leaving the layer uninitialised) for a batch that is empty, holds
        NaN / inf, or has fewer than 2 values per channel: its statistics would set NaN or
        ``1/eps`` scales that no later batch corrects.
        """
        check_batch(x, "the batch it initialises from", "ActNorm")
        if x.shape[0] * spatial_size(x) < 2:
            raise ValueError(
                "ActNorm initialises its scale from the first batch's std, which needs at least "
                f"2 values per channel; got shape {tuple(x.shape)}. Run the first forward pass "
                "on a batch of several examples"
            )
        dims = [d for d in range(x.dim()) if d != 1]
        mean = x.mean(dim=dims)
        std = (x - _per_channel(mean, x)).pow(2).mean(dim=dims).sqrt()
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if not self._seen_initialized:
            if not bool(self.initialized):
                self.initialize(x)
            self._seen_initialized = True
        y = (x + _per_channel(self.bias, x)) * _per_channel(self.log_scale.exp(), x)
        logdet = (spatial_size(x) * self.log_scale.sum()).expand(x.shape[0])
        return y, logdet

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = y * _per_channel(torch.exp(-self.log_scale), y) - _per_channel(self.bias, y)
        logdet = (-spatial_size(y) * self.log_scale.sum()).expand(y.shape[0])
        return x, logdet

    def extra_repr(self) -> str:
        return f"{self.bias.numel()}, initialized={bool(self.initialized)}"
