"""DDP on 2 CPU ranks (Gloo): one DiNof step with the global batch split over the ranks gives the
update of one process on the whole batch, and ActNorm's data-dependent init is the same on every
rank before DDP's broadcast could make it so — for the joint step and for the flow-only step on a
frozen score network (``train_score=False``: DDP all-reduces the flow's gradients only, and the
score network stays bitwise what it was on both ranks).

Each rank r draws its half of the batch and its noise from ``Generator(seed + r)``; the
single-process reference feeds the whole batch with the concatenated noise to the same loss
(the loss's two draws — ``z`` then ``t`` — are replaced by the ranks' draws), so both compute
the same mathematical update and may differ only by float rounding.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from dinof_lite.dinof import model as dinof_model
from dinof_lite.dinof import training_loss
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.distributed import data_dependent_init, param_digest

ROOT = Path(__file__).resolve().parents[2]
CONFIG, SEED, HALF = "cifar10_ve_smoke", 3, 4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable"),
]

WORKER = textwrap.dedent(
    f"""
    import dataclasses, sys, torch
    from dinof_lite.dinof import training_loss
    from dinof_lite.experiment.configs import build_model, get_config
    from dinof_lite.experiment.data import fake_image_dataset
    from dinof_lite.experiment.distributed import (
        cleanup_distributed, data_dependent_init, init_distributed, param_digest, wrap_ddp)

    info, device = init_distributed("cpu")
    cfg = dataclasses.replace(get_config("{CONFIG}"), train_score=sys.argv[2] == "joint")
    data = fake_image_dataset(cfg.shape, 64, cfg.data_range)
    torch.manual_seed({SEED})
    model = build_model(cfg).train()
    data_dependent_init(model, data.sampler, {HALF}, {SEED}, device)
    init_digest = param_digest(model.flow)
    ddp = wrap_ddp(model, info, device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    g = torch.Generator().manual_seed({SEED} + info.rank)
    x = data.sampler({HALF}, g)
    loss = training_loss(ddp, x, g)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    grads = {{n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}}
    opt.step()
    torch.save(
        {{"init": init_digest, "loss": float(loss), "grads": grads, "params": model.state_dict()}},
        sys.argv[1] + f"/rank{{info.rank}}.pt",
    )
    cleanup_distributed(info)
    """
)


def run_two_ranks(tmp_path: Path, job: str) -> list[dict]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    proc = subprocess.run(
        [*cmd, str(script), str(tmp_path), job],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


def reference_step(monkeypatch, job: str) -> tuple[dict, dict, float, str]:
    """One process, the whole batch of both ranks, the ranks' noise."""
    from dinof_lite.experiment.data import fake_image_dataset

    cfg = dataclasses.replace(get_config(CONFIG), train_score=job == "joint")
    data = fake_image_dataset(cfg.shape, 64, cfg.data_range)
    torch.manual_seed(SEED)
    model = build_model(cfg).train()
    data_dependent_init(model, data.sampler, HALF, SEED, torch.device("cpu"))
    init = param_digest(model.flow)
    xs, zs, ts = [], [], []
    for r in (0, 1):  # each rank's draws, in the order the rank makes them
        g = torch.Generator().manual_seed(SEED + r)
        xs.append(data.sampler(HALF, g))
        zs.append(torch.randn(xs[-1].shape, generator=g))
        ts.append(torch.rand(HALF, generator=g))
    draws = iter([torch.cat(zs), torch.cat(ts)])
    monkeypatch.setattr(dinof_model, "randn", lambda *a, **k: next(draws))
    monkeypatch.setattr(dinof_model, "rand", lambda *a, **k: next(draws))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss = training_loss(model, torch.cat(xs), torch.Generator())
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    opt.step()
    return grads, model.state_dict(), float(loss.detach()), init


@pytest.mark.parametrize("job", ["joint", "flow_only"])
def test_one_ddp_step_equals_one_process_on_the_whole_batch(tmp_path, monkeypatch, job):
    r0, r1 = run_two_ranks(tmp_path, job)
    grads, params, loss, init = reference_step(monkeypatch, job)
    torch.manual_seed(SEED)
    initial = build_model(get_config(CONFIG)).score_net.state_dict()

    assert r0["init"] == r1["init"] == init  # ActNorm's init: same batch, same result, every rank
    assert r0["loss"] != r1["loss"]  # the ranks saw different halves ...
    assert abs((r0["loss"] + r1["loss"]) / 2 - loss) < 1e-5 * abs(loss)  # ... of this batch
    assert grads.keys() == r0["grads"].keys()
    trained = {n.split(".")[0] for n in grads}
    assert trained == ({"score_net", "flow"} if job == "joint" else {"flow"})
    for name, g in grads.items():  # all-reduced gradients = the whole batch's, on both ranks
        assert torch.equal(r0["grads"][name], r1["grads"][name]), name
        assert torch.allclose(r0["grads"][name], g, rtol=1e-4, atol=1e-7), name
    for name, p in params.items():  # the update (weights and buffers) of one Adam step
        assert torch.equal(r0["params"][name], r1["params"][name]), name
        assert torch.allclose(r0["params"][name].float(), p.float(), rtol=0, atol=1e-6), name
    moved = [k for k, v in initial.items() if not torch.equal(r0["params"][f"score_net.{k}"], v)]
    assert bool(moved) == (job == "joint")  # a frozen score network: bitwise untouched
