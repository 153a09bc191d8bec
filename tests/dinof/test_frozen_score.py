"""DiNof on a frozen score network: only the flow trains (``DiNof(train_score=False)``).

What must hold (docs/design.md §DiNof loss): the score network gets no gradient, no Adam state
and no EMA copy, and its weights stay bitwise unchanged; the flow's gradients are the joint
loss's (the two terms share no parameter) — only the one gradient-norm clip, global in the joint
job, couples them; a flow-only run resumes bitwise, and a resume with another frozen part or
another score network is refused.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from dinof_lite import VPSDE, GaussianMixture, Glow, ScoreMLP, TrainConfig, Trainer
from dinof_lite.dinof import CONTEXT_DIM, DiNof, training_loss
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.train.checkpoint import CheckpointError
from dinof_lite.train.frozen import frozen_names, frozen_state_keys
from dinof_lite.utils import make_generator as _gen

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = "cifar10_vp_smoke"  # a UNet (dropout-free) + Glow on 8×8 images


def _toy(train_score: bool, any_tm: bool = False, seed: int = 0) -> DiNof:
    torch.manual_seed(seed)
    sde = VPSDE(N=50)
    rng = (0.2, 0.8) if any_tm else None
    return DiNof(
        sde,
        ScoreMLP.for_sde(sde, hidden=16, n_layers=1),
        Glow((2,), 1, 2, 16, context_dim=CONTEXT_DIM if any_tm else 0),
        T_m=0.5,
        T_m_range=rng,
        train_score=train_score,
    )


def _images(n: int = 64) -> torch.Tensor:
    return 2 * torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(5)) - 1


def _image_model(train_score: bool = False, config: str = CONFIG) -> DiNof:
    torch.manual_seed(0)
    cfg = dataclasses.replace(get_config(config), train_score=train_score)
    return build_model(cfg)


def _trainer(model, workdir=None, steps: int = 6, **kwargs) -> Trainer:
    cfg = TrainConfig(
        n_steps=steps, batch_size=8, warmup=2, progress=False, ckpt_every=None, device="cpu"
    )
    return Trainer(model, training_loss, _images(), cfg, workdir, **kwargs)


# --------------------------------------------------------------------------- frozen, untouched
def test_the_score_network_is_bitwise_unchanged_without_optimizer_state_or_ema_copy():
    model = _image_model()
    score0 = {k: v.clone() for k, v in model.score_net.state_dict().items()}
    flow0 = {k: v.clone() for k, v in model.flow.state_dict().items()}
    trainer = _trainer(model)
    trainer.fit()

    assert trainer.frozen == ["score_net"] == frozen_names(model)
    for key, value in model.score_net.state_dict().items():  # k = 6 updates later
        assert torch.equal(value, score0[key]), key
    moved = [k for k, v in model.flow.state_dict().items() if not torch.equal(v, flow0[k])]
    assert len(moved) > 10  # the flow did train
    assert all(p.grad is None and not p.requires_grad for p in model.score_net.parameters())
    # Adam holds the flow's parameters only, and state for each of them
    optimized = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert optimized == {id(p) for p in model.flow.parameters()}
    assert {id(p) for p in trainer.optimizer.state} == optimized
    # the EMA's score network *is* the model's (shared storage), its flow an average
    ema = trainer.ema_model.module
    for (k, a), b in zip(ema.score_net.state_dict().items(), model.score_net.state_dict().values()):
        assert a.data_ptr() == b.data_ptr(), k
    for a, b in zip(ema.flow.parameters(), model.flow.parameters()):
        assert a.data_ptr() != b.data_ptr()
    assert any(
        not torch.equal(a, b) for a, b in zip(ema.flow.parameters(), model.flow.parameters())
    )
    # a frozen score network stays in eval mode when the container trains
    model.train()
    assert model.training and model.flow.training and not model.score_net.training


def test_the_checkpoint_holds_the_frozen_network_once(tmp_path):
    model = _image_model()
    _trainer(model, tmp_path, steps=2).fit()
    score_bytes = sum(v.numel() * v.element_size() for v in model.score_net.state_dict().values())
    flow_bytes = sum(v.numel() * v.element_size() for v in model.flow.state_dict().values())
    size = (tmp_path / "checkpoint.pt").stat().st_size
    # model + EMA + Adam of the flow (4 copies), the score network once (twice: > 1.9×)
    assert score_bytes < size < score_bytes + 4 * flow_bytes + 200_000
    assert score_bytes > 20 * flow_bytes  # so a second copy could not hide in the slack


# --------------------------------------------------------------------------- the gradients
@pytest.mark.parametrize("any_tm", [False, True], ids=["single_T_m", "any_T_m"])
def test_the_flow_gradients_are_the_joint_loss_flow_gradients(any_tm):
    """Same weights, same batch, same generator: the frozen loss is the joint loss's flow term
    and its flow gradients are the joint loss's, while the joint loss also moves the score."""
    joint, frozen = _toy(True, any_tm), _toy(False, any_tm)
    frozen.load_state_dict(joint.state_dict())
    x0 = GaussianMixture.preset("2gaussians").sample(64, _gen(1)).float()
    joint.flow(x0, joint.context(0.5, 64) if any_tm else None)  # ActNorm's data init, both
    frozen.load_state_dict(joint.state_dict())

    total, parts = joint.loss_parts(x0, _gen(3))
    flow_only, frozen_parts = frozen.loss_parts(x0, _gen(3))
    assert math.isnan(frozen_parts["dsm"]) and parts["dsm"] > 0
    assert frozen_parts["flow_nll"] == pytest.approx(parts["flow_nll"], rel=1e-6)
    torch.testing.assert_close(flow_only, total - parts["dsm"], rtol=1e-6, atol=1e-6)

    total.backward()
    flow_only.backward()
    assert all(p.grad is None for p in frozen.score_net.parameters())
    assert max(p.grad.abs().max() for p in joint.score_net.parameters()) > 0
    for (name, a), b in zip(joint.flow.named_parameters(), frozen.flow.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-6, atol=1e-9, msg=name)


def test_the_gradient_clip_is_the_one_coupling():
    """The joint job clips the norm over both networks, the flow-only job over the flow:
    with a clip that binds, the flow's step differs by exactly the ratio of the two norms."""
    joint, frozen = _toy(True), _toy(False)
    x0 = GaussianMixture.preset("2gaussians").sample(64, _gen(1)).float()
    joint.flow(x0)
    frozen.load_state_dict(joint.state_dict())
    joint.loss(x0, _gen(3)).backward()
    frozen.loss(x0, _gen(3)).backward()
    c = 1e-3  # binds for both
    n_joint = float(torch.nn.utils.clip_grad_norm_(joint.parameters(), c))
    n_flow = float(torch.nn.utils.clip_grad_norm_(frozen.parameters(), c))
    assert n_joint > n_flow > c
    for a, b in zip(joint.flow.parameters(), frozen.flow.parameters()):
        # clipped joint = g·c/n_joint, clipped flow-only = g·c/n_flow
        torch.testing.assert_close(a.grad * n_joint, b.grad * n_flow, rtol=1e-4, atol=1e-10)


# --------------------------------------------------------------------------- resume
def _states(trainer: Trainer) -> list[torch.Tensor]:
    opt = trainer.optimizer.state_dict()["state"]
    return [
        *trainer.module.state_dict().values(),
        *trainer.ema_model.state_dict().values(),
        *(t for s in opt.values() for t in s.values()),
    ]


def test_a_flow_only_run_resumes_bitwise(tmp_path):
    straight = _trainer(_image_model(), tmp_path / "a")
    straight.fit()
    _trainer(_image_model(), tmp_path / "b").fit(max_steps=3)
    resumed = _trainer(_image_model(), tmp_path / "b")
    resumed.fit()
    assert resumed.step == straight.step == 6 and resumed.losses == straight.losses
    for a, b in zip(_states(straight), _states(resumed), strict=True):
        assert torch.equal(a, b)


def test_resume_refuses_another_frozen_part_or_another_score_network(tmp_path):
    _trainer(_image_model(), tmp_path, steps=2).fit()
    with pytest.raises(CheckpointError, match="froze score_net but this DiNof trained every"):
        _trainer(_image_model(train_score=True), tmp_path, steps=4).fit()
    other = _image_model()
    with torch.no_grad():
        other.score_net.conv_in.weight.add_(1e-3)
    with pytest.raises(CheckpointError, match="the frozen score_net.conv_in.weight differs"):
        _trainer(other, tmp_path, steps=4).fit()
    joint_dir = tmp_path / "joint"
    _trainer(_image_model(train_score=True), joint_dir, steps=2).fit()
    with pytest.raises(CheckpointError, match="trained every parameter but this DiNof froze"):
        _trainer(_image_model(), joint_dir, steps=4).fit()


def test_frozen_state_keys_cover_the_buffers_of_a_frozen_module():
    model = _image_model(config="cifar10_ve_smoke")
    keys = frozen_state_keys(model)
    assert set(keys) == {f"score_net.{k}" for k in model.score_net.state_dict()}
    assert "score_net.embed.W" in keys  # a buffer: the fixed Gaussian Fourier features
    assert frozen_names(_image_model(train_score=True)) == []
    with pytest.raises(TypeError, match="train_score must be True or False"):
        DiNof(model.sde, model.score_net, model.flow, T_m=0.6, train_score="no")
