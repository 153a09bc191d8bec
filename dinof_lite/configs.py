"""Deprecated alias of :mod:`dinof_lite.experiment.configs` (moved in 0.2; this alias goes in 0.3)."""

import warnings

from dinof_lite.experiment.configs import *  # noqa: F403
from dinof_lite.experiment.configs import __all__  # noqa: F401

warnings.warn(
    "dinof_lite.configs moved to dinof_lite.experiment.configs"
    "; import it from there (the old path goes in 0.3)",
    DeprecationWarning,
    stacklevel=2,
)
