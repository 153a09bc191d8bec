"""The sampler DiNof's reverse SDE uses by default: the SDE's own (predictor, corrector) pair.

DiNof's sampling itself is :meth:`DiNof.sample <dinof_lite.dinof.DiNof.sample>` /
:meth:`DiNof.sample_result <dinof_lite.dinof.DiNof.sample_result>`.
"""

from __future__ import annotations

__all__ = ["default_pc"]


def default_pc(sde) -> tuple[str, str]:
    """The SDE's (predictor, corrector) pair, ``sde.default_pc``: as in the authors' configs,
    reverse diffusion + Langevin for VE (NCSN++), Euler–Maruyama alone for VP / sub-VP (DDPM++)."""
    return tuple(sde.default_pc)
