"""A time-conditioned residual MLP for low-dimensional (2D toy) score models."""

from __future__ import annotations

from torch import Tensor, nn

from dinof_lite.nets.embeddings import make_embedding
from dinof_lite.sde import SDE

__all__ = ["ScoreMLP"]


class _Block(nn.Module):
    """``h + W₂ SiLU(W₁ SiLU(h) + E temb)``: a residual block that sees the noise embedding."""

    def __init__(self, hidden: int, temb_dim: int) -> None:
        super().__init__()
        self.lin1, self.lin2 = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.temb = nn.Linear(temb_dim, hidden)
        self.act = nn.SiLU()

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        return h + self.lin2(self.act(self.lin1(self.act(h)) + self.temb(temb)))


class ScoreMLP(nn.Module):
    """``net(x, label)``: ``x (B, dim)``, ``label (B,)`` → ``(B, dim)``.

    The raw network output; :func:`dinof_lite.losses.get_score_fn` turns it into a score with the
    SDE's convention (ε-prediction for VP / sub-VP, σ-scaled output for VE). ``label`` is
    ``sde.noise_label(t)``: ``999 t`` (use ``embedding="sinusoidal"``) or ``σ(t)`` (``"fourier"``).
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        n_layers: int = 3,
        embedding: str = "sinusoidal",
        emb_dim: int = 64,
    ) -> None:
        super().__init__()
        if dim < 1 or hidden < 1 or n_layers < 1:
            raise ValueError(
                f"dim, hidden and n_layers must be >= 1, got {dim}, {hidden}, {n_layers}"
            )
        self.dim = dim
        self.embed = make_embedding(embedding, emb_dim)
        self.temb = nn.Sequential(nn.Linear(emb_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(_Block(hidden, hidden) for _ in range(n_layers))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    @classmethod
    def for_sde(cls, sde: SDE, **kwargs) -> ScoreMLP:
        """A ScoreMLP with the embedding that matches the SDE's noise label."""
        kwargs.setdefault("embedding", sde.default_embedding)
        return cls(**kwargs)

    def forward(self, x: Tensor, label: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (batch, {self.dim}), got {tuple(x.shape)}")
        if label.shape != (x.shape[0],):
            raise ValueError(f"label must have shape ({x.shape[0]},), got {tuple(label.shape)}")
        temb = self.temb(self.embed(label))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h)
