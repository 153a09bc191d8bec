"""Networks: score networks and their building blocks, and the Glow normalizing flow."""

from dinof_lite.nets.embeddings import GaussianFourierEmbedding, SinusoidalEmbedding
from dinof_lite.nets.glow import Glow
from dinof_lite.nets.mlp import ScoreMLP
from dinof_lite.nets.unet import UNet, UNetConfig

__all__ = [
    "GaussianFourierEmbedding",
    "SinusoidalEmbedding",
    "ScoreMLP",
    "Glow",
    "UNet",
    "UNetConfig",
]
