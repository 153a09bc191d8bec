"""Datasets: 2D toys and the Gaussian-mixture oracle (:mod:`dinof_lite.data.toy`), sklearn's 8×8
digits (:mod:`dinof_lite.data.digits`)."""

from dinof_lite.data import toy
from dinof_lite.data.digits import DIGITS_N_BINS, load_digits, load_digits_with_labels
from dinof_lite.data.images import (
    IMAGE_DATASETS,
    ImageDataset,
    default_data_dir,
    load_image_dataset,
)

__all__ = ["toy", "DIGITS_N_BINS", "load_digits", "load_digits_with_labels"]
__all__ += ["IMAGE_DATASETS", "ImageDataset", "default_data_dir", "load_image_dataset"]
