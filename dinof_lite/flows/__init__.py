"""Glow normalizing flows (Kingma & Dhariwal 2018) for vectors and images, SPEC §3.

One public model, :class:`Glow`; its layers are exported for teaching and testing. Every layer
has ``forward(x, context) -> (y, logdet (B,))`` and ``inverse(y, context) -> (x, logdet (B,))``.
"""

from dinof_lite.flows.actnorm import ActNorm
from dinof_lite.flows.coupling import AffineCoupling
from dinof_lite.flows.glow import FlowStep, Glow
from dinof_lite.flows.invconv import InvConv
from dinof_lite.flows.priors import GaussianPrior, Split
from dinof_lite.flows.squeeze import squeeze, unsqueeze

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "FlowStep",
    "GaussianPrior",
    "Glow",
    "InvConv",
    "Split",
    "squeeze",
    "unsqueeze",
]
