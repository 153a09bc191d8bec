"""sklearn's 8×8 digits as images: shapes, the 17-level grid, padding, the fixed split, errors."""

from __future__ import annotations

import pytest
import torch

from dinof_lite.data import DIGITS_N_BINS, load_digits, load_digits_with_labels
from dinof_lite.data.digits import N_TEST, N_TRAIN


@pytest.mark.parametrize("data_range", [(0.0, 1.0), (-1.0, 1.0), (0.5, 3.0)])
def test_values_lie_on_the_17_level_grid(data_range):
    lo, hi = data_range
    x = load_digits(data_range=data_range)
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    k = (x.double() - lo) / (hi - lo) * (DIGITS_N_BINS - 1)
    assert torch.allclose(k, k.round(), atol=1e-5)
    assert k.round().unique().tolist() == list(range(DIGITS_N_BINS))  # every level is used
    assert x.min().item() == lo and x.max().item() == hi


def test_dyadic_ranges_are_exact_and_dtype_is_honoured():
    x = load_digits(dtype=torch.float64)
    assert x.dtype == torch.float64
    assert torch.equal(x * 16, (x * 16).round())  # k/16 is exact in binary floating point
    assert torch.equal(load_digits(data_range=(-1, 1)), 2 * load_digits() - 1)


def test_pad_to_centres_the_digit_on_a_background_canvas():
    lo = -1.0
    small = load_digits(data_range=(lo, 1.0), split="test")
    big = load_digits(data_range=(lo, 1.0), split="test", pad_to=16)
    assert big.shape == (N_TEST, 1, 16, 16)
    assert torch.equal(big[..., 4:12, 4:12], small)
    border = torch.ones(16, 16, dtype=torch.bool)
    border[4:12, 4:12] = False
    assert (big[..., border] == lo).all()
    assert torch.equal(load_digits(pad_to=8), load_digits())


def test_train_and_test_are_a_fixed_disjoint_cover_of_all():
    all_x, all_y = load_digits_with_labels()
    tr_x, tr_y = load_digits_with_labels(split="train")
    te_x, te_y = load_digits_with_labels(split="test")
    assert (len(tr_x), len(te_x)) == (N_TRAIN, N_TEST) == (1500, 297)
    assert torch.equal(torch.cat([tr_x, te_x]), all_x)  # train = first 1500, test = last 297
    assert torch.equal(torch.cat([tr_y, te_y]), all_y)
    assert torch.equal(load_digits(split="train"), tr_x)  # deterministic


def test_labels_are_int64_classes():
    x, y = load_digits_with_labels()
    assert y.dtype == torch.int64 and y.shape == (len(x),)
    assert y.unique().tolist() == list(range(10))


def test_returned_tensors_do_not_alias_the_cache():
    x, y = load_digits_with_labels()
    x.fill_(7.0)
    y.fill_(7)
    x2, y2 = load_digits_with_labels()
    assert x2.max() == 1.0 and y2.max() == 9


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"split": "valid"}, ValueError, "valid: all, train, test"),
        ({"pad_to": 6}, ValueError, "pad_to"),
        ({"pad_to": 11}, ValueError, "even"),
        ({"pad_to": 16.0}, TypeError, "pad_to"),
        ({"data_range": (1.0, 1.0)}, ValueError, "hi > lo"),
        ({"data_range": (1.0, 0.0)}, ValueError, "hi > lo"),
        ({"data_range": 1.0}, ValueError, "data_range"),
        ({"dtype": torch.int64}, TypeError, "floating"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)
