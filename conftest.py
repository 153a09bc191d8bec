"""Repository-wide pytest setup (kept deliberately tiny).

* ``DINOF_SMOKE=1`` is set *at import*, before any kernel is started, so that the
  Jupyter kernels nbval spawns for ``notebooks/*.ipynb`` inherit it and run their
  short "smoke" configuration. Export ``DINOF_SMOKE=0`` to run the full notebooks.
* ``OMP_NUM_THREADS=1`` (unless already set) pins torch/BLAS to one thread, here and in
  the notebook kernels: the suite is made of small tensors where threads only add
  overhead, and on the 2-core CI machine it ran 2-3x faster single-threaded (measured
  16 s vs 37 s; 25 s vs 70 s under load). It also keeps float reductions in one order.
  Export ``OMP_NUM_THREADS`` yourself to override.
* ``--nbval-sanitize-with notebooks/sanitize.cfg`` (pyproject addopts) is resolved
  against the repository root so ``pytest`` also works from another directory.
* Every notebook cell nbval collects is marked ``slow``, so ``python -m pytest -m "not slow"``
  (the quick loop) runs no notebook; the other slow tests carry the mark in their files.
"""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DINOF_SMOKE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if "torch" in sys.modules:  # imported before this file (e.g. by a plugin): pin it directly
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

_ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    opt = config.option
    cfg = getattr(opt, "nbval_sanitize_with", None)
    if cfg and not Path(cfg).is_absolute() and not Path(cfg).exists():
        opt.nbval_sanitize_with = str(_ROOT / cfg)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":  # an nbval cell
            item.add_marker(pytest.mark.slow)
