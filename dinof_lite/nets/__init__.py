"""Networks: score networks (MLP, UNet), their time embeddings, and the oracle network.

The normalizing flow (Glow) is :mod:`dinof_lite.flows`."""

from dinof_lite.nets.embeddings import GaussianFourierEmbedding, SinusoidalEmbedding
from dinof_lite.nets.mlp import ScoreMLP
from dinof_lite.nets.unet import UNet, UNetConfig

__all__ = [
    "GaussianFourierEmbedding",
    "SinusoidalEmbedding",
    "ScoreMLP",
    "UNet",
    "UNetConfig",
]
