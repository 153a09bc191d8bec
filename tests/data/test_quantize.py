"""Uniform dequantisation and the bits/dim formula, checked against exact values.

See docs/design.md §Bits per dimension.
"""

from __future__ import annotations

import math

import pytest
import torch

from dinof_lite.data.quantize import bits_per_dim, dequantize


@pytest.mark.parametrize(
    "n_bins,data_range", [(256, (0.0, 1.0)), (256, (-1.0, 1.0)), (17, (0.0, 1.0))]
)
def test_dequantize_stays_in_its_bin(n_bins, data_range):
    lo, hi = data_range
    k = torch.randint(0, n_bins, (4000,), generator=torch.Generator().manual_seed(0))
    x = lo + (hi - lo) * k.double() / (n_bins - 1)
    y = dequantize(
        x, n_bins=n_bins, data_range=data_range, generator=torch.Generator().manual_seed(1)
    )
    u = (y - lo) / (hi - lo) * n_bins - k.double()  # the uniform noise, recovered
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean().item() - 0.5) < 0.02 and abs(u.var().item() - 1 / 12) < 0.005
    again = dequantize(
        x, n_bins=n_bins, data_range=data_range, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(y, again)


def test_bits_per_dim_offsets():
    """log p = 0 on the data cube → log2(n_bins) − log2(hi − lo): 8 on [0,1], 7 on [−1,1]."""
    zero = torch.zeros(3)
    assert torch.allclose(bits_per_dim(zero, 10), torch.full((3,), 8.0))
    assert torch.allclose(bits_per_dim(zero, 10, data_range=(-1, 1)), torch.full((3,), 7.0))
    assert torch.allclose(bits_per_dim(zero, 10, n_bins=17), torch.full((3,), math.log2(17)))
    # one nat per dimension more likelihood is 1/ln 2 bits per dimension less
    assert torch.allclose(
        bits_per_dim(torch.full((1,), 10.0), 10), torch.tensor([8 - 1 / math.log(2)])
    )


def test_uniform_model_codes_uniform_data_at_its_entropy():
    """Dequantised uniform 8-bit data under the uniform density on [0,1]^D: E[−log2 P] = 8 bits."""
    x = torch.randint(0, 256, (100, 5)).float() / 255
    y = dequantize(x)
    log_p = torch.zeros(100)  # the density of U[0,1]^5 is 1 everywhere on the cube
    assert ((y >= 0) & (y < 1)).all()
    assert torch.allclose(bits_per_dim(log_p, 5), torch.full((100,), 8.0))


def test_errors():
    with pytest.raises(TypeError, match="x.float\\(\\) / 255"):
        dequantize(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="hi > lo"):
        dequantize(torch.zeros(3), data_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="not on the 17-level grid"):
        dequantize(torch.full((3,), 0.1), n_bins=17)
    with pytest.raises(ValueError, match="outside data_range"):
        dequantize(torch.full((3,), 1.5))
