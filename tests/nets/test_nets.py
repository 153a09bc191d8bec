"""Score MLP and noise embeddings."""

import pytest
import torch

from dinof_lite.nets import GaussianFourierEmbedding, ScoreMLP, SinusoidalEmbedding
from dinof_lite.sde import VESDE, VPSDE


@pytest.mark.parametrize("sde", [VESDE(), VPSDE()], ids=lambda s: s.name)
def test_score_mlp_shapes_and_time_conditioning(sde):
    torch.manual_seed(0)
    net = ScoreMLP.for_sde(sde, hidden=32, n_layers=2)
    x = torch.randn(8, 2)
    out_a = net(x, sde.noise_label(torch.full((8,), 0.1)))
    out_b = net(x, sde.noise_label(torch.full((8,), 0.9)))
    assert out_a.shape == (8, 2)
    assert (out_a - out_b).abs().mean() > 1e-3  # the noise level changes the output


def test_embeddings():
    label = torch.tensor([0.0, 10.0, 999.0])
    e = SinusoidalEmbedding(16)(label)
    assert e.shape == (3, 16) and torch.allclose(e[0, :8], torch.zeros(8))
    f = GaussianFourierEmbedding(16)(torch.tensor([0.01, 1.0, 50.0]))
    assert f.shape == (3, 16) and torch.allclose(f.pow(2).reshape(3, 2, 8).sum(1), torch.ones(3, 8))
    # same features for every instance: a reloaded network means the same thing
    assert torch.equal(GaussianFourierEmbedding(16).W, GaussianFourierEmbedding(16).W)


def test_bad_shapes():
    net = ScoreMLP(hidden=8, n_layers=1)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        net(torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"label must have shape \(4,\)"):
        net(torch.zeros(4, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="valid: sinusoidal, fourier"):
        ScoreMLP(embedding="random")
    with pytest.raises(ValueError, match="even"):
        SinusoidalEmbedding(7)
