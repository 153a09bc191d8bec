"""Score conventions and denoising score matching against the Gaussian-mixture oracle."""

import pytest
import torch
from torch import nn

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.losses import dsm_loss, get_score_fn, sample_times
from dinof_lite.sde import VESDE, VPSDE, subVPSDE

SDES = [VESDE(sigma_max=10.0), VPSDE(), subVPSDE()]


class _Constant(nn.Module):
    """A 'network' that returns its label broadcast over x: exposes what get_score_fn feeds it."""

    def forward(self, x, label):
        return label[:, None].expand_as(x)


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_score_conventions(sde):
    x, t = torch.randn(5, 2), torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    std = sde.marginal_coeffs(t)[1]
    score = get_score_fn(sde, _Constant())(x, t)
    if sde.name == "ve":  # net(x, σ(t)) / s(t)
        expected = sde.sigma(t) / std
    else:  # −net(x, 999 t) / s(t)
        expected = -999 * t / std
    assert torch.allclose(score, expected[:, None].expand_as(x))


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_score_fn_reuses_a_times_label_only_while_it_is_unchanged(sde):
    """The score function keeps the last time's label and scale (a PC step calls it twice at one
    t); a time changed in place, a new time object or a time that needs gradients is recomputed."""
    score_fn, x = get_score_fn(sde, _Constant()), torch.randn(5, 2)

    def fresh(t):  # the convention, from scratch
        return sde.score_from_net(_Constant()(x, sde.noise_label(t)), t, x)

    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    assert torch.equal(score_fn(x, t), fresh(t)) and torch.equal(score_fn(x, t), fresh(t))
    t.fill_(0.25)  # same object, new values
    assert torch.equal(score_fn(x, t), fresh(t))
    assert torch.equal(score_fn(x, torch.full((5,), 0.6)), fresh(torch.full((5,), 0.6)))
    t_grad = torch.full((5,), 0.4, requires_grad=True)
    (score_fn(x, t_grad).sum()).backward()  # the label depends on t: a gradient reaches it
    assert t_grad.grad is not None and t_grad.grad.abs().sum() > 0
    with torch.no_grad():
        t_grad.fill_(0.8)
    assert torch.equal(score_fn(x, t_grad).detach(), fresh(t_grad.detach()))


@pytest.mark.parametrize("sde", SDES, ids=lambda s: s.name)
def test_oracle_minimises_dsm(sde):
    """The true score minimises the DSM objective: any perturbation raises it (same t and z)."""
    gmm = GaussianMixture.preset("aniso")
    x0 = gmm.sample(20_000, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    t = sample_times(len(x0), sde, generator=gen)
    z = torch.randn(x0.shape, generator=gen)
    oracle = gmm.score_fn(sde)
    base = dsm_loss(sde, oracle, x0, t=t, z=z).item()
    for wrong in (
        lambda x, t: 1.1 * oracle(x, t),
        lambda x, t: oracle(x, t) + 0.1,
        lambda x, t: oracle(x, t).flip(1),
    ):
        assert dsm_loss(sde, wrong, x0, t=t, z=z).item() > base * 1.0005


def test_dsm_loss_matches_a_hand_computation():
    sde = VPSDE()
    x0, t, z = torch.randn(4, 3), torch.tensor([0.2, 0.4, 0.6, 0.8]), torch.randn(4, 3)
    score_fn = lambda x, t: -x  # noqa: E731
    a, s = sde.marginal_coeffs(t)
    x_t = a[:, None] * x0 + s[:, None] * z
    per = ((-x_t) * s[:, None] + z).pow(2).mean(1)
    out = dsm_loss(sde, score_fn, x0, t=t, z=z, per_example=True)
    assert torch.allclose(out, per)
    half_sum = dsm_loss(sde, score_fn, x0, t=t, z=z, per_example=True, reduce_mean=False)
    assert torch.allclose(half_sum, 1.5 * per)  # ½ Σ over 3 dims = 1.5 × mean
    g2 = sde.sde(x0, t)[1] ** 2
    weighted = dsm_loss(sde, score_fn, x0, t=t, z=z, per_example=True, likelihood_weighting=True)
    assert torch.allclose(weighted, per * g2 / s**2)  # λ(t) = g² instead of s²


def test_ve_defaults_to_half_sum_reduction():
    sde, x0 = VESDE(), torch.randn(8, 4)
    t, z = torch.full((8,), 0.5), torch.randn(8, 4)
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    assert torch.allclose(dsm_loss(sde, zero, x0, t=t, z=z), 0.5 * z.pow(2).sum(1).mean())


def test_sampled_times_and_reproducibility():
    sde = VPSDE()
    t = sample_times(10_000, sde, generator=torch.Generator().manual_seed(0))
    assert t.min() >= sde.train_eps and t.max() <= sde.T and abs(t.mean().item() - 0.5) < 0.01
    x0 = torch.randn(16, 2)
    score = lambda x, t: -x  # noqa: E731
    a = dsm_loss(sde, score, x0, generator=torch.Generator().manual_seed(3))
    b = dsm_loss(sde, score, x0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_inputs():
    sde, score = VPSDE(), (lambda x, t: -x)
    with pytest.raises(ValueError, match="batch, \\*dims"):
        dsm_loss(sde, score, torch.zeros(5))
    with pytest.raises(ValueError, match="z must have the shape of x0"):
        dsm_loss(sde, score, torch.zeros(5, 2), z=torch.zeros(5, 3))
    with pytest.raises(ValueError, match="0 < eps < t_max"):
        dsm_loss(sde, score, torch.zeros(5, 2), eps=0.0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        dsm_loss(sde, score, torch.zeros(2, 2), t=torch.tensor([0.5, 1.5]))
