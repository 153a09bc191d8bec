"""Bad checkpoints, bad training arguments and faulty disks: each a clear error naming the file or
the argument, raised before any state changes (issue 20).

Classes: damaged files (empty, truncated, garbage, a pickle of objects), the wrong kind of
checkpoint (a shipped model file given to ``load_weights`` / a Trainer), the wrong model (another
architecture), wrong argument types and ranges (every ``TrainConfig`` field), devices, stale
temporary files of killed writes, no space left, no permission. All fast, CPU, no network;
tiny ``nn.Linear`` models stand in for real ones.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from dinof_lite.pretrained import checkpoint_path
from dinof_lite.train import TrainConfig, Trainer
from dinof_lite.train.checkpoint import (
    TRAIN_FORMAT,
    CheckpointError,
    atomic_save,
    load_checkpoint,
    load_weights,
    read_checkpoint,
    remove_stale_tmp,
)
from dinof_lite.train.lock import WorkdirLock, WorkdirLockedError
from dinof_lite.train.validation import check_float, check_int, resolve_device
from tests._mounts import read_only_mount

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def loss_fn(model, x, generator):
    return model(x).pow(2).mean()


def tiny_trainer(workdir, dim=2, **config) -> Trainer:
    torch.manual_seed(0)
    cfg = TrainConfig(
        **{"n_steps": 2, "batch_size": 4, "device": "cpu", "progress": False, **config}
    )
    return Trainer(nn.Linear(dim, dim), loss_fn, torch.randn(16, dim), cfg, workdir)


@pytest.fixture(scope="module")
def train_ckpt(tmp_path_factory) -> Path:
    """A real training checkpoint of a 2→2 linear model (2 steps)."""
    work = tmp_path_factory.mktemp("ckpt")
    trainer = tiny_trainer(work)
    trainer.meta = {"config_name": "tiny_linear"}
    trainer.fit()
    return work / "checkpoint.pt"


def no_torch_advice(message: str) -> None:
    assert "weights_only" not in message and "Traceback" not in message


# ----------------------------------------------------------------------------- damaged files
@pytest.mark.parametrize(
    "kind, content, expected",
    [
        ("empty", lambda good: b"", "empty (0 bytes)"),
        ("truncated", lambda good: good[: len(good) // 2], "truncated or damaged"),
        ("garbage", lambda good: os.urandom(3000), "not a PyTorch checkpoint"),
        ("text", lambda good: b"hello, not a checkpoint\n" * 50, "not a PyTorch checkpoint"),
    ],
)
def test_damaged_checkpoint_names_the_file_and_what_it_is(
    tmp_path, train_ckpt, kind, content, expected
):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(content(train_ckpt.read_bytes()))
    for load in (load_checkpoint, lambda p: read_checkpoint(p, "dinof_lite.flow/1")):
        with pytest.raises(CheckpointError, match=re.escape(expected)) as err:
            load(bad)
        assert str(bad) in str(err.value) and "expected" in str(err.value)
        no_torch_advice(str(err.value))


def test_a_pickle_of_objects_is_never_unpickled(tmp_path):
    bad = tmp_path / "evil.pt"
    torch.save({"obj": Path("x")}, bad)  # a class instance: refused by weights_only loading
    with pytest.raises(CheckpointError, match="not loaded, because unpickling") as err:
        load_checkpoint(bad)
    assert str(bad) in str(err.value)
    no_torch_advice(str(err.value))


def test_a_damaged_checkpoint_stops_a_resume_with_its_name(tmp_path, train_ckpt):
    (tmp_path / "checkpoint.pt").write_bytes(train_ckpt.read_bytes()[:100])
    trainer = tiny_trainer(tmp_path)
    with pytest.raises(CheckpointError, match="cannot resume .*checkpoint.pt is a truncated"):
        trainer.fit()
    assert trainer.step == 0


# ----------------------------------------------------------------------------- wrong kind
SHIPPED = checkpoint_path("dinof_8gaussians_vp")


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped dinof_8gaussians_vp.pt not present")
def test_shipped_model_file_is_not_a_training_checkpoint(tmp_path):
    msg = "a dinof_lite.dinof/1 shipped model .*load_dinof.*not a training checkpoint"
    with pytest.raises(CheckpointError, match=msg):
        load_checkpoint(SHIPPED)
    with pytest.raises(CheckpointError, match=msg):  # was KeyError: 'ema'
        load_weights(nn.Linear(2, 2), SHIPPED)
    shutil.copy(SHIPPED, tmp_path / "checkpoint.pt")
    trainer = tiny_trainer(tmp_path)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(CheckpointError, match="cannot resume .*shipped model"):  # was KeyError
        trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    with pytest.raises(CheckpointError, match="cannot resume from a dinof_lite.dinof/1"):
        trainer.load_state_dict(torch.load(SHIPPED, weights_only=True))


def test_read_checkpoint_says_what_a_foreign_format_is(train_ckpt):
    with pytest.raises(CheckpointError, match="it is a dinof_lite training checkpoint"):
        read_checkpoint(train_ckpt, "dinof_lite.flow/1")


def test_training_checkpoints_carry_kind_config_and_meta(train_ckpt):
    ckpt = load_checkpoint(train_ckpt)
    assert ckpt["format"] == TRAIN_FORMAT
    assert ckpt["config"]["batch_size"] == 4 and ckpt["meta"] == {"config_name": "tiny_linear"}


@pytest.mark.parametrize("old_format", [1, None])
def test_old_training_checkpoints_still_load(tmp_path, train_ckpt, old_format):
    ckpt = load_checkpoint(train_ckpt)
    if old_format is None:
        del ckpt["format"]
    else:
        ckpt["format"] = old_format
    del ckpt["meta"]
    torch.save(ckpt, tmp_path / "checkpoint.pt")
    model = load_weights(nn.Linear(2, 2), tmp_path)
    assert torch.equal(model.weight, ckpt["ema"]["module.weight"])
    trainer = tiny_trainer(tmp_path, n_steps=3)
    assert trainer.fit().resumed_from == 2


# ----------------------------------------------------------------------------- wrong model
def test_checkpoint_of_another_architecture_says_so(train_ckpt, tmp_path):
    model = nn.Linear(3, 3)
    before = model.weight.clone()
    with pytest.raises(CheckpointError, match="does not fit this Linear") as err:
        load_weights(model, train_ckpt)
    msg = str(err.value)
    assert "size mismatch for weight" in msg and str(train_ckpt) in msg
    assert "config 'tiny_linear'" in msg and "load_run" in msg
    assert torch.equal(model.weight, before)
    shutil.copy(train_ckpt, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="cannot resume .*does not fit this Linear"):
        tiny_trainer(tmp_path, dim=3).fit()


# ----------------------------------------------------------------------------- arguments
BAD_FIELDS = [
    ("batch_size", 2.5, TypeError),
    ("batch_size", 0, ValueError),
    ("batch_size", True, TypeError),
    ("n_steps", "5", TypeError),
    ("n_steps", -1, ValueError),
    ("lr", float("nan"), ValueError),
    ("lr", float("inf"), ValueError),
    ("lr", -1e-3, ValueError),
    ("lr", "1e-3", TypeError),
    ("betas", (0.9,), ValueError),
    ("betas", (0.9, 1.0), ValueError),
    ("betas", "ab", ValueError),
    ("weight_decay", -0.1, ValueError),
    ("warmup", 1.5, TypeError),
    ("grad_clip", 0.0, ValueError),
    ("grad_clip", float("nan"), ValueError),
    ("ema_decay", 1.5, ValueError),
    ("ema_decay", True, TypeError),
    ("seed", -1, ValueError),
    ("seed", 1.0, TypeError),
    ("device", "gpu0", ValueError),
    ("device", 3, ValueError),
    ("log_every", 0, ValueError),
    ("ckpt_every", -1, ValueError),
    ("progress", "no", TypeError),
]


@pytest.mark.parametrize("field, value, exc", BAD_FIELDS)
def test_train_config_rejects_every_bad_field_at_construction(field, value, exc):
    with pytest.raises(exc, match=f"TrainConfig.{field}"):
        TrainConfig(**{field: value})


def test_train_config_accepts_numpy_and_int_values():
    np = pytest.importorskip("numpy")
    cfg = TrainConfig(batch_size=np.int64(8), lr=1, ema_decay=np.float32(0.5), device="CPU")
    assert type(cfg.batch_size) is int and type(cfg.lr) is float and cfg.device == "cpu"


def test_check_helpers_name_the_argument():
    with pytest.raises(ValueError, match=r"--steps must be an integer >= 1; got -5"):
        check_int("--steps", -5, min=1)
    with pytest.raises(ValueError, match="rtol must be a number > 0"):
        check_float("rtol", 0.0, min=0, min_open=True)


@pytest.mark.parametrize("device", ["gpu0", "cuda:x", "cpu:1", "", "tpu"])
def test_malformed_devices_list_the_valid_forms(device):
    with pytest.raises(ValueError, match=r"not a device; expected one of auto, cpu, cuda") as err:
        resolve_device(device, "--device")
    assert "available here: cpu" in str(err.value)


def test_unavailable_devices_say_what_is_available():
    with pytest.raises(ValueError, match=r"'cuda:99' is not available.*available here: cpu"):
        resolve_device("cuda:99", "--device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"'cuda' is not available.*use --device cpu"):
            resolve_device("cuda", "--device")
        with pytest.raises(ValueError, match="TrainConfig.device 'cuda' is not available"):
            tiny_trainer(None, device="cuda")
        with pytest.raises(ValueError, match=r"device device\(type='cuda'\) is not available"):
            resolve_device(torch.device("cuda"), "device")  # a torch.device is checked too


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped dinof_8gaussians_vp.pt not present")
@pytest.mark.parametrize("device", ["gpu0", "cuda:99", 3, None])
def test_pretrained_loaders_check_the_device_first(device, monkeypatch):
    """A bad device is refused before the file is read (was a deep torch error, or accepted)."""
    from dinof_lite import pretrained

    def never(*args, **kwargs):
        raise AssertionError("the checkpoint was read before the device was checked")

    monkeypatch.setattr(pretrained, "read_checkpoint", never)
    for load in (pretrained.load_dinof, pretrained.load_flow, pretrained.load_score_model):
        with pytest.raises(ValueError, match=r"device .* (is not a device|is not available)") as e:
            load("dinof_8gaussians_vp", device=device)
        assert "pass device='cpu' (or 'auto')" in str(e.value) or "expected one of" in str(e.value)


# ----------------------------------------------------------------------------- stale tmp files
def test_stale_tmp_files_of_killed_writes_are_removed_on_start(tmp_path):
    old = tmp_path / ".checkpoint.pt.k1ll3d.tmp"
    old.write_bytes(b"x" * 100)
    os.utime(old, (time.time() - 3600,) * 2)
    other = tmp_path / ".metrics.tmp"  # another pattern: kept
    other.write_bytes(b"y")
    os.utime(other, (time.time() - 3600,) * 2)
    trainer = tiny_trainer(tmp_path)
    young = tmp_path / ".checkpoint.pt.writing.tmp"  # younger than this trainer: a live write
    young.write_bytes(b"z")
    os.utime(young, (time.time() + 60,) * 2)
    trainer.fit()
    assert not old.exists() and other.exists() and young.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".checkpoint.pt.writing.tmp",
        ".metrics.tmp",
        "checkpoint.pt",
        "metrics.jsonl",
    ]


def test_stale_tmp_cutoff_is_the_lock(tmp_path):
    with WorkdirLock(tmp_path):
        lock_time = (tmp_path / ".lock").stat().st_mtime
        a, b = tmp_path / ".checkpoint.pt.a.tmp", tmp_path / ".checkpoint.pt.b.tmp"
        a.write_bytes(b"")
        b.write_bytes(b"")
        os.utime(a, (lock_time - 10,) * 2)
        os.utime(b, (lock_time + 10,) * 2)
        trainer = tiny_trainer(tmp_path)
        assert trainer.remove_stale_tmp() == [a]
        assert remove_stale_tmp(tmp_path, older_than=lock_time + 20) == [b]


def test_trainer_api_takes_the_workdir_lock(tmp_path):
    """Two trainers (or a trainer and a ``train`` run) on one workdir: the second refuses
    before writing anything; the lock is released after ``fit``, also after an error."""
    with WorkdirLock(tmp_path):  # another run holds it
        trainer = tiny_trainer(tmp_path)
        with pytest.raises(WorkdirLockedError, match=f"workdir {tmp_path} is locked by pid"):
            trainer.fit()
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # nothing written
        assert trainer.step == 0
        joined = tiny_trainer(tmp_path, n_steps=1)
        joined.lock = False  # a caller that holds the lock itself (the CLI) opts out
        assert joined.fit().step == 1
    first = tiny_trainer(tmp_path, n_steps=3)
    assert first.fit().step == 3 and not (tmp_path / ".lock").exists()

    def fail(trainer, step, loss):
        raise ValueError("callback failed")

    failing = tiny_trainer(tmp_path, n_steps=5)
    failing.callbacks = [fail]
    with pytest.raises(ValueError, match="callback failed"):
        failing.fit()
    assert not (tmp_path / ".lock").exists()  # released on the exception too
    assert tiny_trainer(tmp_path / "other").fit().step == 2  # a workdir of its own: no clash


def test_an_interrupt_during_a_write_waits_for_the_file(tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM inside ``torch.save`` used to break the zip writer, which read as
    "no space left"; now the signal waits until the checkpoint is in place, then interrupts."""
    import signal

    from dinof_lite.train import checkpoint

    real_save = torch.save

    def save_with_a_signal(obj, fh):
        fh.write(b"PK")  # part of the file is written ...
        os.kill(os.getpid(), signal.SIGINT)  # ... when Ctrl-C arrives
        fh.seek(0)
        real_save(obj, fh)

    monkeypatch.setattr(checkpoint.torch, "save", save_with_a_signal)
    path = tmp_path / "checkpoint.pt"
    # Python's own Ctrl-C handler (an earlier test in the session may have replaced it)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            atomic_save({"w": torch.arange(3.0)}, path)
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.setattr(checkpoint.torch, "save", real_save)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3.0))  # complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no tmp left


# ----------------------------------------------------------------------------- disks
@pytest.fixture
def small_tmpfs(tmp_path):
    """A 200 KiB tmpfs (needs root and mount)."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_is_no_space_left_and_keeps_the_old_file(small_tmpfs):
    path = small_tmpfs / "checkpoint.pt"
    atomic_save({"w": torch.zeros(10)}, path)
    before = path.read_bytes()
    with pytest.raises(OSError, match="no space left on the device") as err:
        atomic_save({"w": torch.zeros(200_000)}, path)  # 800 KB into 200 KiB
    assert err.value.errno == errno.ENOSPC
    assert str(path) in str(err.value) and "previous file is intact" in str(err.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["checkpoint.pt"]  # no tmp left


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory that cannot be written: a read-only bind mount when root (root ignores
    permission bits), else chmod 0o555."""
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "old.txt").write_text("kept")
    with read_only_mount(ro) as path:
        yield path


def test_read_only_directory_is_a_clear_permission_error(read_only_dir):
    path = read_only_dir / "checkpoint.pt"
    with pytest.raises(PermissionError, match="is not writable") as err:
        atomic_save({"w": torch.zeros(2)}, path)
    assert str(path) in str(err.value)
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["old.txt"]


def test_shipped_model_readers_name_a_damaged_file(tmp_path):
    from dinof_lite.pretrained import checkpoint_meta, load_flow

    bad = tmp_path / "glow.pt"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    for load in (checkpoint_meta, load_flow):
        with pytest.raises(CheckpointError, match="truncated or damaged") as err:
            load(bad)
        assert str(bad) in str(err.value)
        no_torch_advice(str(err.value))
