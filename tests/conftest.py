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
