"""Fixtures shared by several test files (headless matplotlib is set here for all of them).

- figures: ``close_figures`` (close every figure after the test), ``no_show`` (also fail on
  ``plt.show()``); use a whole file's worth with ``pytestmark = pytest.mark.usefixtures(...)``.
- ``one_thread``: torch pinned to one intra-op thread, for bitwise-reproducible reductions.
- data and models: ``gmm`` (the 8-Gaussian mixture), ``tiny_any_tm_dinof``; models built
  with other settings come from :func:`tests.factories.tiny_dinof`.
- files: ``ckpt_dir`` (an empty checkpoint folder in ``DINOF_CHECKPOINT_DIR``),
  ``make_checkpoints_script`` (``scripts/make_checkpoints.py`` loaded as a module).

Flow layers share one check function instead, :func:`tests.flow_check.check_flow_layer`; seeded
generators come from :func:`dinof_lite.utils.make_generator`.
"""

import importlib.util
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def close_figures():
    """Close every matplotlib figure after the test."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture
def no_show(monkeypatch, close_figures):
    """Fail if library code calls ``plt.show()`` (notebooks decide that); close figures after."""
    import matplotlib.pyplot as plt

    def show(*args, **kwargs):
        raise AssertionError("viz helpers must not call plt.show()")

    monkeypatch.setattr(plt, "show", show)


@pytest.fixture
def one_thread():
    """Pin intra-op threads so floating-point reductions are reproducible run to run."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def gmm():
    """The 8-Gaussian mixture of the toy experiments (read-only)."""
    from dinof_lite.data.toy import GaussianMixture

    return GaussianMixture.preset("8gaussians")


@pytest.fixture
def ckpt_dir(tmp_path, monkeypatch) -> Path:
    """An empty folder that ``dinof_lite.pretrained`` reads and writes checkpoints in."""
    monkeypatch.setenv("DINOF_CHECKPOINT_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def make_checkpoints_script():
    """``scripts/make_checkpoints.py`` imported as a module (fresh for each test file)."""
    spec = importlib.util.spec_from_file_location(
        "make_checkpoints", ROOT / "scripts" / "make_checkpoints.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_any_tm_dinof():
    """A tiny untrained any-T_m DiNof on 2D data (VP, N = 100, T_m = 0.5, range [0.1, 1])."""
    from dinof_lite import VPSDE
    from tests.factories import tiny_dinof

    return tiny_dinof(VPSDE(N=100), any_tm=True)
