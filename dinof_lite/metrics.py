"""Deprecated alias of :mod:`dinof_lite.evaluation.metrics` (moved in 0.2; this alias goes in 0.3)."""

import warnings

from dinof_lite.evaluation.metrics import *  # noqa: F403
from dinof_lite.evaluation.metrics import __all__  # noqa: F401

warnings.warn(
    "dinof_lite.metrics moved to dinof_lite.evaluation.metrics"
    "; import it from there (the old path goes in 0.3)",
    DeprecationWarning,
    stacklevel=2,
)
