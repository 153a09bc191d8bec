"""Shared fixtures for the unit tests: headless matplotlib, and figures that never reach a screen."""

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture
def no_show(monkeypatch):
    """Fail if library code calls ``plt.show()`` (notebooks decide that); close figures after."""
    import matplotlib.pyplot as plt

    def show(*args, **kwargs):
        raise AssertionError("viz helpers must not call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def tiny_any_tm_dinof():
    """A tiny untrained any-T_m DiNof on 2D data (VP, N = 100, T_m = 0.5, range [0.1, 1])."""
    import torch

    from dinof_lite import VPSDE, DiNof, Glow, ScoreMLP

    torch.manual_seed(0)
    sde = VPSDE(N=100)
    flow = Glow((2,), 1, 2, 16, context_dim=DiNof.CONTEXT_DIM)
    return DiNof(sde, ScoreMLP.for_sde(sde, hidden=16), flow, T_m=0.5, T_m_range=(0.1, 1.0))
