"""Deprecated alias of :mod:`dinof_lite.flows` (moved in 0.2; this alias goes in 0.3)."""

import warnings

from dinof_lite.flows import *  # noqa: F403
from dinof_lite.flows import __all__  # noqa: F401

warnings.warn(
    "dinof_lite.nets.glow moved to dinof_lite.flows"
    "; import it from there (the old path goes in 0.3)",
    DeprecationWarning,
    stacklevel=2,
)
