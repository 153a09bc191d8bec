"""Bad inputs to the models are refused before any state changes, with a message that names them.

Classes covered here: empty batches, non-finite values, wrong dtype, out-of-range constructor
arguments and temperatures, and first batches too small to initialise ActNorm from.
"""

import copy
import math

import pytest
import torch

from dinof_lite import VPSDE, DiNof, GaussianMixture, Glow, ScoreMLP, ode_log_likelihood
from dinof_lite.flows import ActNorm
from dinof_lite.losses import dsm_loss
from dinof_lite.pretrained import load_flow
from dinof_lite.sampling import ode_sample
from dinof_lite.utils import make_generator
from tests.factories import tiny_dinof


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _dinof(T_m_range=None) -> DiNof:
    any_tm = {"any_tm": True, "T_m_range": T_m_range} if T_m_range else {}
    return tiny_dinof(flow_hidden=8, **any_tm)


@pytest.mark.parametrize(
    "batch, match",
    [
        (torch.empty(0, 3), "empty batch"),
        (torch.tensor([[0.0, 1.0, float("nan")], [1.0, 2.0, 3.0]]), "NaN or inf in 1 of 2"),
        (torch.tensor([[0.0, 1.0, float("inf")], [1.0, 2.0, 3.0]]), "NaN or inf"),
        (torch.ones(1, 3), "at least 2 values per channel"),
    ],
)
def test_actnorm_refuses_a_bad_first_batch_and_stays_uninitialised(batch, match):
    layer = ActNorm(3)
    before = _params(layer)
    with pytest.raises(ValueError, match=match):
        layer(batch)
    assert _same(before, _params(layer)) and not bool(layer.initialized)
    x = torch.randn(64, 3, generator=make_generator(0)) * 2 + 1  # a clean batch still works
    y, _ = layer(x)
    assert bool(layer.initialized)
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


def test_actnorm_on_images_initialises_from_one_image():
    layer = ActNorm(2)
    layer(torch.randn(1, 2, 4, 4, generator=make_generator(1)))  # 16 values per channel
    assert bool(layer.initialized) and torch.isfinite(layer.log_scale).all()


def test_glow_empty_and_nonfinite_inputs_leave_it_untouched():
    flow = Glow((2,), 1, 2, 8)
    before = _params(flow)
    with pytest.raises(ValueError, match="Glow got an empty batch"):
        flow(torch.empty(0, 2))
    with pytest.raises(ValueError, match="NaN or inf"):
        flow.log_prob(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="z with NaN or inf"):
        flow.inverse(torch.tensor([[0.0, float("inf")]]))
    assert _same(before, _params(flow))  # ActNorm did not initialise from any of them
    flow(torch.randn(32, 2, generator=make_generator(2)))
    assert all(bool(m.initialized) for m in flow.modules() if isinstance(m, ActNorm))


def test_glow_wrong_dtype_names_the_fix():
    flow = Glow((2,), 1, 2, 8)
    with pytest.raises(
        TypeError, match=r"torch.float64 but the flow's parameters are torch.float32"
    ):
        flow.log_prob(torch.randn(4, 2, dtype=torch.float64))


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), -1.0])
def test_glow_sample_refuses_a_bad_temperature(temperature):
    flow = Glow((2,), 1, 2, 8)
    flow(torch.randn(32, 2, generator=make_generator(3)))
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        flow.sample(4, temperature=temperature)


def test_glow_sample_overflow_is_an_error_not_nan():
    flow = load_flow("glow_8gaussians")  # a trained flow: exp of its scales overflows at 1e38
    with pytest.raises(FloatingPointError, match="temperature=1e\\+38"):
        flow.sample(4, temperature=1e38)
    assert torch.isfinite(flow.sample(4, temperature=1.0)).all()


def test_dinof_loss_refuses_nan_before_the_flow_initialises():
    model = _dinof()
    before = _params(model)
    x = GaussianMixture.preset("8gaussians").sample(64, make_generator(5))
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="DiNof got x0 with NaN or inf in 1 of 64"):
        model.loss(bad, make_generator(6))
    assert _same(before, _params(model))  # no ActNorm was initialised from the NaN batch
    loss = model.loss(x, make_generator(6))  # and clean data still trains
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("call", ["loss", "log_likelihood"])
def test_dinof_empty_batches(call):
    model = _dinof()
    with pytest.raises(ValueError, match="DiNof got an empty batch for x0"):
        getattr(model, call)(torch.empty(0, 2))


def test_dinof_float64_input_names_the_dtype():
    model = _dinof()
    with pytest.raises(TypeError, match=r"x0 is torch.float64 but the model's parameters"):
        model.loss(torch.randn(8, 2, dtype=torch.float64))


@pytest.mark.parametrize("eps", [-0.1, 0.0, 1.0, math.nan])
@pytest.mark.parametrize("name", ["eps", "train_eps", "sample_eps"])
def test_dinof_eps_out_of_range(name, eps):
    sde = VPSDE()
    with pytest.raises(ValueError, match=rf"^{name} must be a number in \(0, T = 1.0\); got"):
        DiNof(sde, ScoreMLP.for_sde(sde, hidden=8), Glow((2,), 1, 2, 8), T_m=0.5, **{name: eps})


def test_dinof_eps_above_T_m_is_refused():
    sde = VPSDE()
    with pytest.raises(ValueError, match="T_m must lie in"):
        DiNof(sde, ScoreMLP.for_sde(sde, hidden=8), Glow((2,), 1, 2, 8), T_m=0.3, sample_eps=0.4)


def test_ode_log_likelihood_empty_and_nonfinite():
    sde, gmm = VPSDE(), GaussianMixture.preset("8gaussians")
    with pytest.raises(ValueError, match="ode_log_likelihood got an empty batch"):
        ode_log_likelihood(sde, gmm.score_fn(sde), torch.empty(0, 2))
    with pytest.raises(ValueError, match="NaN or inf"):
        ode_log_likelihood(sde, gmm.score_fn(sde), torch.full((2, 2), float("nan")))


def test_a_rejected_batch_in_training_leaves_the_model_as_it_was():
    """A data sampler that yields one NaN batch: the step raises before any update."""
    model = _dinof()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = GaussianMixture.preset("8gaussians").sample(64, make_generator(7))
    for _ in range(2):  # two clean steps
        opt.zero_grad()
        model.loss(x, make_generator(8)).backward()
        opt.step()
    before, opt_before = _params(model), copy.deepcopy(opt.state_dict())
    bad = x.clone()
    bad[0, 0] = float("inf")
    opt.zero_grad()
    with pytest.raises(ValueError, match="NaN or inf"):
        model.loss(bad, make_generator(9)).backward()
    assert _same(before, _params(model))
    assert opt.state_dict()["state"].keys() == opt_before["state"].keys()


@pytest.mark.parametrize("generator", [3, "seed", 0.5])
def test_a_generator_that_is_not_one_names_the_fix(generator):
    """Every draw goes through one helper, so samplers, flows and losses all refuse alike."""
    flow = Glow((2,), 1, 2, 8)
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None; got "):
        flow.sample(4, generator=generator)
    model = tiny_dinof(hidden=8, seed=None)
    with pytest.raises(TypeError, match=r"pass torch.Generator\(\).manual_seed"):
        model.sample(4, generator=generator)


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "8"])
def test_mixture_sample_counts_are_checked(n):
    with pytest.raises(ValueError, match=r"n must be an integer >= 1 \(the number of samples\)"):
        GaussianMixture.preset("8gaussians").sample(n)


@pytest.mark.parametrize(
    "T_m, error, match",
    [
        ("0.5", TypeError, "T_m must be a number in"),
        ([0.5], TypeError, "T_m must be a number in"),
        (True, TypeError, "T_m must be a number in"),
        (torch.full((4,), 0.5), ValueError, r"T_m must be one number .* shape \(4,\)"),
    ],
)
def test_dinof_T_m_of_the_wrong_type(T_m, error, match):
    sde = VPSDE()
    model = tiny_dinof(sde, any_tm=True, T_m=0.6, T_m_range=(0.2, 1.0), hidden=8, seed=None)
    with pytest.raises(error, match=match):
        model.sample(4, T_m=T_m)
    with pytest.raises(error, match=match):
        DiNof(sde, ScoreMLP.for_sde(sde, hidden=8), Glow((2,), 1, 2, 8), T_m=T_m)
    assert model.sample(4, T_m=torch.tensor(0.5)).shape == (4, 2)  # a 0-dim tensor is a number


@pytest.mark.parametrize(
    "part, value, match",
    [
        ("sde", "vp", "sde must be a SDE; got str"),
        ("score_net", None, "score_net must be a Module; got NoneType"),
        ("flow", torch.nn.Linear(2, 2), r"flow must be a flow module following .*FlowPrior"),
    ],
)
def test_dinof_parts_of_the_wrong_type(part, value, match):
    sde = VPSDE()
    parts = {"sde": sde, "score_net": ScoreMLP.for_sde(sde, hidden=8), "flow": Glow((2,), 1, 2, 8)}
    with pytest.raises(TypeError, match=match):
        DiNof(**{**parts, part: value}, T_m=0.5)


def test_integer_images_to_dinof_name_the_scaling():
    with pytest.raises(TypeError, match=r"x0 must be a floating-point tensor .* / 255"):
        _dinof().loss(torch.ones(8, 2, dtype=torch.long))


def test_dsm_loss_refuses_empty_nonfinite_and_integer_batches():
    sde = VPSDE()
    net = ScoreMLP.for_sde(sde, hidden=8)
    with pytest.raises(ValueError, match="dsm_loss got an empty batch for x0"):
        dsm_loss(sde, net, torch.empty(0, 2))
    with pytest.raises(ValueError, match="dsm_loss got x0 with NaN or inf in 1 of 4"):
        dsm_loss(sde, net, torch.tensor([[0.0, 1.0]] * 3 + [[math.nan, 0.0]]))
    with pytest.raises(ValueError, match="x0 must be a floating-point tensor"):
        dsm_loss(sde, net, torch.ones(4, 2, dtype=torch.long))


@pytest.mark.parametrize("name, value", [("rtol", -1.0), ("atol", 0.0), ("rtol", math.nan)])
def test_ode_tolerances_are_checked(name, value):
    sde, gmm = VPSDE(), GaussianMixture.preset("8gaussians")
    match = rf"{name} must be a finite number > 0 \(the ODE solver's"
    with pytest.raises(ValueError, match=match):
        ode_sample(sde, gmm.score_fn(sde), (4, 2), **{name: value})
    with pytest.raises(ValueError, match=match):
        ode_log_likelihood(sde, gmm.score_fn(sde), torch.randn(4, 2), **{name: value})
