"""Image experiments end to end: train (1 or K processes), sample, evaluate (DiNof §4).

``python -m dinof_lite train|sample|eval`` (:mod:`dinof_lite.cli.train`,
:mod:`dinof_lite.cli.sample`, :mod:`dinof_lite.cli.eval`) are thin wrappers around
:func:`train_run`, :func:`load_run` + :func:`sample_run`, and :func:`evaluate_bpd` /
:func:`evaluate_fid`; :func:`fake_image_dataset` stands in for missing
data in smoke runs (``train --fake-data``). The workdir layout is described in
:mod:`dinof_lite.experiment.run`.
"""

from dinof_lite.experiment.data import experiment_dataset, fake_image_dataset
from dinof_lite.experiment.evaluate import FidUnavailable, evaluate_bpd, evaluate_fid
from dinof_lite.experiment.run import TrainOptions, config_from_dict, load_run, train_run
from dinof_lite.experiment.sample import make_grid, sample_run, save_grid, to_uint8

__all__ = [
    "experiment_dataset",
    "fake_image_dataset",
    "FidUnavailable",
    "evaluate_bpd",
    "evaluate_fid",
    "TrainOptions",
    "config_from_dict",
    "load_run",
    "train_run",
    "make_grid",
    "sample_run",
    "save_grid",
    "to_uint8",
]
