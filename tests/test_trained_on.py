"""Models know what they were trained on (``dinof_lite.trained_on``): a network used with another
SDE, or fed data far outside its training range, is an error that names both — unless the user
opts out."""

from __future__ import annotations

import pytest
import torch

from dinof_lite.data.toy import TOY_RANGE
from dinof_lite.dinof import DiNof
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.nets import ScoreMLP
from dinof_lite.pretrained import (
    load_dinof,
    load_flow,
    load_score_model,
    save_dinof,
    save_score_model,
    trained_on,
)
from dinof_lite.sampling import ode_log_likelihood, pc_sample
from dinof_lite.sde import VESDE, VPSDE
from dinof_lite.trained_on import (
    DataRangeError,
    SDEMismatchError,
    TrainedOn,
    check_data_range,
    unchecked,
)

VP = {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "N": 1000, "T": 1.0}


def test_shipped_files_without_the_record_get_it_derived():
    """The shipped .pt files predate the record: it comes from their "sde" and meta["dataset"]."""
    assert trained_on("score_mlp_8gaussians_vp") == TrainedOn(VP, TOY_RANGE, "8gaussians")
    digits = trained_on("dinof_digits")
    assert digits.sde["kind"] == "ve" and digits.sde["sigma_max"] == 10.0
    assert digits.data_range == (0.0, 1.0) and digits.dataset == "digits"
    assert trained_on("glow_digits").data_range == (0.0, 1.0)
    assert trained_on("glow_digits").sde is None
    sde, net = load_score_model("score_mlp_8gaussians_vp")
    assert net.trained_on == trained_on("score_mlp_8gaussians_vp")
    model = load_dinof("dinof_digits")
    assert model.trained_on == model.score_net.trained_on == digits


def test_a_saved_file_records_it_and_loads_it_back(tmp_path):
    sde = VPSDE(beta_max=12.0)
    net = ScoreMLP.for_sde(sde, dim=2, hidden=16, n_layers=1)
    meta = {"dataset": {"kind": "load_image_dataset", "name": "x", "data_range": [-1.0, 1.0]}}
    path = save_score_model(tmp_path / "m.pt", sde, net, meta)
    raw = torch.load(path, weights_only=True)
    assert raw["trained_on"]["sde"] == {**VP, "beta_max": 12.0}
    assert raw["trained_on"]["data_range"] == [-1.0, 1.0]
    _, loaded = load_score_model(path)
    assert loaded.trained_on == TrainedOn({**VP, "beta_max": 12.0}, (-1.0, 1.0), "x")
    model = load_dinof("dinof_8gaussians_vp")
    again = load_dinof(save_dinof(tmp_path / "d.pt", model, {}))  # meta without a dataset
    assert again.trained_on == model.trained_on  # the module's own record fills the gap


def test_an_sde_mismatch_names_both_sdes():
    sde, net = load_score_model("score_mlp_8gaussians_vp")
    with pytest.raises(SDEMismatchError) as err:
        get_score_fn(VESDE(), net)
    message = str(err.value)
    assert "vp(beta_min=0.1, beta_max=20.0, N=1000, T=1.0)" in message
    assert "ve(sigma_min=0.01, sigma_max=50.0, N=1000, exact_marginal=True, T=1.0)" in message
    assert "allow_sde_mismatch=True" in message
    with pytest.raises(SDEMismatchError, match="beta_max=20.0.*beta_max=10.0"):
        get_score_fn(VPSDE(beta_max=10.0), net)  # same kind, another schedule
    get_score_fn(VPSDE(N=200), net)  # N is the sampler's grid, not something it learned
    model = load_dinof("dinof_digits")
    with pytest.raises(SDEMismatchError, match="^DiNof: this UNet was trained on digits"):
        DiNof(VPSDE(), model.score_net, model.flow, T_m_range=(0.1, 1.0))


def test_opting_out_of_the_sde_check():
    """What the check prevents: a VP ε-network read as a VE score samples at scale ~1e8."""
    _, net = load_score_model("score_mlp_8gaussians_vp")
    score_fn = get_score_fn(VESDE(), net, allow_sde_mismatch=True)
    g = torch.Generator().manual_seed(0)
    x = pc_sample(VESDE(N=50), score_fn, (256, 2), corrector="none", generator=g)
    assert x.std() > 1e3  # garbage, as the error says
    with unchecked():
        get_score_fn(VESDE(), net)
    with pytest.raises(SDEMismatchError):  # the block is over
        get_score_fn(VESDE(), net)


def test_data_far_outside_the_range_is_refused():
    model = load_dinof("dinof_digits")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 16, 16, generator=g)
    kwargs = {"exact_divergence": False, "rtol": 1e-3, "atol": 1e-3}
    with pytest.raises(DataRangeError) as err:
        model.log_likelihood(x * 255, **kwargs)
    message = str(err.value)
    assert "far outside the range [0, 1]" in message and "(digits)" in message
    assert "allowed: [-1, 2]" in message and "x / 255" in message
    with pytest.raises(DataRangeError, match="^dsm_loss: x0 spans"):
        model.loss(x * 255, generator=g)
    with unchecked():  # the opt-out: the number it refuses to give silently
        assert model.log_likelihood(x * 255, **kwargs).mean() < -1e4
    logp = model.log_likelihood(x, **kwargs)  # in range: fine (dequantisation-like noise too)
    assert torch.isfinite(logp).all()
    model.loss(x * 1.5 - 0.25, generator=g)  # a little outside: tolerated
    flow = load_flow("glow_digits")
    with pytest.raises(DataRangeError, match="^Glow.log_prob: .* this Glow was trained on"):
        flow.log_prob(torch.rand(2, 1, 8, 8) * 255)


def test_2d_toys_have_a_soft_range():
    sde, net = load_score_model("score_mlp_8gaussians_vp")
    score_fn = get_score_fn(sde, net)
    x = torch.tensor([[4.3, -4.3], [11.0, 0.0]])  # a Gaussian tail, a far outlier
    dsm_loss(sde, score_fn, x, generator=torch.Generator().manual_seed(0))
    with pytest.raises(DataRangeError, match=r"allowed: \[-12, 12\]"):
        ode_log_likelihood(sde, score_fn, x * 10)
    check_data_range(ScoreMLP(dim=2), x * 100)  # a fresh network records nothing
