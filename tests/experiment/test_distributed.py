"""Data-parallel training: ``torchrun --nproc_per_node=2 -m dinof_lite train`` with Gloo on CPU.

Each rank draws different minibatches (seed + rank), so the ranks' losses differ; their weights
stay equal only because DDP all-reduces the gradients. ``--rank-report`` makes each rank write a
digest of its weights (and EMA) to ``DIR/rank{r}.json``. A flow-only run (``--score-checkpoint``:
a frozen published score network) does the same for the flow, every rank loading the network.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.distributed import DistInfo, param_digest
from dinof_lite.nets.unet import UNet
from dinof_lite.train.checkpoint import load_checkpoint
from dinof_lite.train.lock import LOCK_NAME
from tests.score_sde_file import write_score_sde_checkpoint

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")


def launch(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "dinof_lite",
        "train",
        "--config",
        "digits_cpu_smoke",
        "--workdir",
        str(workdir),
        "--device",
        "cpu",
        "--no-progress",
        "--rank-report",
        *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def torchrun(workdir: Path, *extra: str) -> list[dict]:
    proc = launch(workdir, *extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((workdir / f"rank{r}.json").read_text()) for r in (0, 1)]


def checkpoint_digest(workdir: Path) -> str:
    model = build_model(get_config("digits_cpu_smoke"))
    model.load_state_dict(load_checkpoint(workdir)["model"])
    return param_digest(model)


@pytest.mark.slow
def test_two_ranks_stay_identical_and_resume(tmp_path):
    r0, r1 = torchrun(tmp_path)
    assert r0["world_size"] == r1["world_size"] == 2 and r0["step"] == r1["step"] == 4
    assert r0["losses"][0] != r1["losses"][0]  # different minibatches on the two ranks ...
    assert r0["params"] == r1["params"]  # ... yet the same weights: gradients were all-reduced
    assert r0["ema"] == r1["ema"]
    assert checkpoint_digest(tmp_path) == r0["params"]  # rank 0 wrote what every rank holds
    ckpt = load_checkpoint(tmp_path)
    assert len(ckpt["rank_rng"]) == 2  # each rank's RNG state, for resuming
    assert (tmp_path / "samples" / "step_0000004.png").is_file()
    assert not list(tmp_path.glob("rank*.tmp"))

    r0, r1 = torchrun(tmp_path, "--steps", "6")  # resume: rank 0 wrote, both ranks read
    assert r0["step"] == r1["step"] == 6 and r0["params"] == r1["params"]
    assert r0["losses"][4] != r1["losses"][4]  # each rank continued its own random stream
    assert checkpoint_digest(tmp_path) == r0["params"]


def test_flow_only_two_ranks_stay_identical_and_resume(tmp_path):
    cfg = get_config("digits_cpu_smoke")
    torch.manual_seed(1)
    net = UNet(dataclasses.replace(cfg.unet, image_size=cfg.image_size, in_channels=cfg.channels))
    score = tmp_path / "checkpoint_1.pth"
    expected = write_score_sde_checkpoint(net, score)
    work = tmp_path / "run"
    r0, r1 = torchrun(work, "--score-checkpoint", str(score))
    assert r0["step"] == r1["step"] == 4 and r0["losses"][0] != r1["losses"][0]
    assert r0["params"] == r1["params"] and r0["ema"] == r1["ema"]
    assert checkpoint_digest(work) == r0["params"]
    ckpt = load_checkpoint(work)
    assert ckpt["frozen"] == ["score_net"] and len(ckpt["rank_rng"]) == 2
    for key, value in expected.items():  # the published weights, untouched by DDP's updates
        assert torch.equal(ckpt["model"][f"score_net.{key}"], value), key

    r0, r1 = torchrun(work, "--score-checkpoint", str(score), "--steps", "6")
    assert r0["step"] == r1["step"] == 6 and r0["params"] == r1["params"]
    assert checkpoint_digest(work) == r0["params"]


def test_global_batch_is_split_across_ranks():
    assert DistInfo(rank=1, world_size=4).split_batch(128) == 32
    with pytest.raises(ValueError, match="not divisible"):
        DistInfo(world_size=3).split_batch(128)
    assert DistInfo().is_main and not DistInfo().enabled


@pytest.mark.slow
def test_a_locked_workdir_stops_every_rank(tmp_path):
    """Only rank 0 takes the lock; when it refuses, rank 1 must stop too (not hang in DDP)."""
    lock = tmp_path / LOCK_NAME
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "time": 0.0, "token": "t"}
    lock.write_text(json.dumps(owner))  # this live process holds the workdir
    proc = launch(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    refusals = re.findall(rf"error: workdir {re.escape(str(tmp_path))} is locked by pid", out)
    assert len(refusals) == 2, out[-3000:]  # each rank says why it stopped
    assert "dinof_lite/experiment" not in out  # no traceback of ours (torchrun prints its own)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]  # nothing written
    assert json.loads(lock.read_text()) == owner  # the other run's lock is untouched
