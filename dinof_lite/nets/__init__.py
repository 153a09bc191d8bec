"""Score networks and their building blocks."""

from dinof_lite.nets.embeddings import GaussianFourierEmbedding, SinusoidalEmbedding
from dinof_lite.nets.mlp import ScoreMLP

__all__ = ["GaussianFourierEmbedding", "SinusoidalEmbedding", "ScoreMLP"]
