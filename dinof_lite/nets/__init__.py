"""Networks: score networks and their building blocks, and the Glow normalizing flow."""

from dinof_lite.nets.embeddings import GaussianFourierEmbedding, SinusoidalEmbedding
from dinof_lite.nets.glow import Glow
from dinof_lite.nets.mlp import ScoreMLP

__all__ = ["GaussianFourierEmbedding", "SinusoidalEmbedding", "ScoreMLP", "Glow"]
