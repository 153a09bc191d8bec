"""Glow normalizing flows (Kingma & Dhariwal 2018, §3 and Table 1) for vectors and images.

One public model, :class:`Glow`; its layers are exported for teaching and testing. Every layer
is a :class:`FlowLayer` (:mod:`dinof_lite.flows.base` states the contract and how to add one):
``forward(x, context) -> (y, logdet (B,))`` and ``inverse(y, context) -> (x, logdet (B,))``, each
log-det that of its own direction (the inverse's is minus the forward's). :class:`Split` (two
outputs) and the ``squeeze`` functions are the exceptions.
"""

from dinof_lite.flows.actnorm import ActNorm
from dinof_lite.flows.base import FlowLayer, FlowPrior, flow_prior_missing
from dinof_lite.flows.coupling import AffineCoupling
from dinof_lite.flows.glow import FlowStep, Glow
from dinof_lite.flows.invconv import InvConv
from dinof_lite.flows.priors import GaussianPrior, Split
from dinof_lite.flows.squeeze import squeeze, unsqueeze

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "FlowLayer",
    "FlowPrior",
    "FlowStep",
    "GaussianPrior",
    "Glow",
    "InvConv",
    "Split",
    "flow_prior_missing",
    "squeeze",
    "unsqueeze",
]
