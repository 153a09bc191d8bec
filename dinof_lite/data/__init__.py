"""Datasets: 2D toys and the Gaussian-mixture oracle (:mod:`dinof_lite.data.toy`)."""

from dinof_lite.data import toy

__all__ = ["toy"]
