"""Every bad input to ``python -m dinof_lite`` is ``error: ...``, exit status 1, no traceback, and
changes nothing on disk (issue 20).

Classes: numbers out of range, values of the wrong type or non-finite, malformed and unavailable
devices, unknown names, path options (a file where a directory is expected, a missing path, a
directory where a file is expected, a read-only workdir), a workdir locked by a live run, a stale
lock (and ``--break-lock``), damaged or foreign checkpoints in a workdir, and ``--debug``. Most
run ``main(argv)`` in-process: rejected inputs fail before any training, so each test takes
well under a second; two run the real command line in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dinof_lite.cli import main
from dinof_lite.experiment.configs import get_config
from dinof_lite.train.checkpoint import load_checkpoint
from dinof_lite.train.lock import LOCK_NAME, WorkdirLock, WorkdirLockedError
from tests._mounts import read_only_mount

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
TRAIN = ["train", "--config", "digits_cpu_smoke", "--no-progress", "--device", "cpu"]


def cli_error(argv, capsys) -> str:
    """Run ``main(argv)``; assert it failed with exit status 1; return the ``error:`` line."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    code, err = exc.value.code, capsys.readouterr().err
    if isinstance(code, str):  # SystemExit("error: ..."): Python prints it and exits with 1
        message = code
    else:
        assert code == 1, (code, err)
        message = err.strip().splitlines()[-1]
    assert message.startswith("error: "), message
    assert "Traceback" not in message + err
    return message


def snapshot(path: Path) -> dict:
    """Every file under ``path`` with its bytes (``{}`` for a missing path)."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture
def fake_run(tmp_path) -> Path:
    """A workdir that looks like a digits_cpu_smoke run (config.json, run.json, metrics.jsonl)
    but holds no checkpoint yet — enough for every check that runs before the weights load."""
    work = tmp_path / "run"
    work.mkdir()
    cfg = get_config("digits_cpu_smoke")
    cfg.train.device = "cpu"
    (work / "config.json").write_text(json.dumps(cfg.to_dict()))
    (work / "run.json").write_text(json.dumps({"fake_data": False}))
    (work / "metrics.jsonl").write_text("")
    return work


# ----------------------------------------------------------------------------- numbers, types
@pytest.mark.parametrize(
    "argv, option, expected",
    [
        (["--steps", "-5"], "--steps", "must be an integer >= 1; got -5"),
        (["--steps", "0"], "--steps", ">= 1"),
        (["--steps", "2.5"], "--steps", "expected an integer, got '2.5'"),
        (["--steps", "ten"], "--steps", "expected an integer"),
        (["--seed", "-1"], "--seed", ">= 0"),
    ],
)
def test_train_numbers_are_checked_before_anything_is_written(
    tmp_path, capsys, argv, option, expected
):
    work = tmp_path / "w"
    message = cli_error([*TRAIN, "--workdir", str(work), *argv], capsys)
    assert option in message and expected in message
    assert not work.exists()  # no config.json / run.json left behind


@pytest.mark.parametrize(
    "argv, option, expected",
    [
        (["--batch-size", "0"], "--batch-size", ">= 1; got 0"),
        (["--batch-size", "-2"], "--batch-size", ">= 1; got -2"),
        (["--n-bpd", "-3"], "--n-bpd", ">= 0; got -3"),
        (["--n-bpd", "0"], "--n-bpd 0", "nothing to evaluate"),
        (["--rtol", "-1"], "--rtol", "> 0"),
        (["--rtol", "nan"], "--rtol", "finite"),
        (["--T_m", "nan"], "--T_m", "finite"),
        (["--T_m", "1.5"], "--T_m", "<= 1"),
        (["--n-fid", "1", "--fid"], "--n-fid", ">= 2"),
        (["--seed", "x"], "--seed", "expected an integer"),
    ],
)
def test_eval_numbers(fake_run, capsys, argv, option, expected):
    before = snapshot(fake_run)
    message = cli_error(["eval", "--workdir", str(fake_run), "--device", "cpu", *argv], capsys)
    assert option in message and expected in message
    assert snapshot(fake_run) == before


@pytest.mark.parametrize(
    "argv, option",
    [
        (["--n", "0"], "--n"),
        (["--n", "-4"], "--n"),
        (["--chunk", "0"], "--chunk"),
        (["--T_m", "inf"], "--T_m"),
        (["--T_m", "0"], "--T_m"),
    ],
)
def test_sample_numbers(fake_run, capsys, argv, option):
    before = snapshot(fake_run)
    message = cli_error(["sample", "--workdir", str(fake_run), "--device", "cpu", *argv], capsys)
    assert f"argument {option}" in message
    assert snapshot(fake_run) == before


@pytest.mark.parametrize(
    "argv, option",
    [
        (["demo", "--lr", "0"], "--lr"),
        (["demo", "--tm", "1.5"], "--tm"),
        (["demo", "--snr", "-1"], "--snr"),
        (["demo", "--batch-size", "2.5"], "--batch-size"),
        (["demo", "--sample-steps", "0"], "--sample-steps"),
        (["demo", "--hidden", "-1"], "--hidden"),
        (["demo", "--threads", "-1"], "--threads"),
        (["bench", "glow", "--repeats", "0"], "--repeats"),
    ],
)
def test_demo_and_bench_numbers(tmp_path, capsys, argv, option):
    out = tmp_path / "out"
    extra = ["--out", str(out)] if argv[0] == "demo" else []
    message = cli_error([*argv, *extra], capsys)
    assert option in message
    assert not out.exists()


# ----------------------------------------------------------------------------- devices, names
@pytest.mark.parametrize("device", ["gpu0", "cuda:x", "tpu", "cuda:99"])
@pytest.mark.parametrize("command", ["train", "sample", "eval", "demo", "bench"])
def test_bad_device_lists_the_forms_and_what_is_available(tmp_path, capsys, command, device):
    work = tmp_path / "w"
    head = {
        "train": TRAIN[:3] + ["--workdir", str(work)],
        "sample": ["sample", "--workdir", str(work)],
        "eval": ["eval", "--workdir", str(work)],
        "demo": ["demo", "--out", str(work)],
        "bench": ["bench", "glow"],
    }[command]
    message = cli_error([*head, "--device", device], capsys)
    assert "argument --device" in message and repr(device) in message
    assert "available here: cpu" in message
    assert not work.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_cpu_only_machine(tmp_path, capsys):
    message = cli_error([*TRAIN[:3], "--workdir", str(tmp_path / "w"), "--device", "cuda"], capsys)
    assert "'cuda' is not available" in message and "use --device cpu" in message


@pytest.mark.parametrize(
    "argv, valid",
    [
        (["train", "--config", "nope", "--workdir", "{w}"], "digits_cpu_smoke"),
        (["demo", "--dataset", "nope", "--out", "{w}"], "8gaussians"),
        (["demo", "--sde", "nope", "--out", "{w}"], "vp"),
        (["demo", "--predictor", "nope", "--out", "{w}"], "euler_maruyama"),
        (["bench", "nope", "--size", "smoke"], "glow"),
        (["bench", "glow", "--size", "tiny"], "smoke"),
    ],
)
def test_unknown_names_list_the_valid_ones(tmp_path, capsys, argv, valid):
    work = tmp_path / "w"
    message = cli_error([a.format(w=work) for a in argv], capsys)
    assert "nope" in message or "tiny" in message
    assert valid in message
    assert not work.exists()


# ----------------------------------------------------------------------------- paths
@pytest.mark.parametrize("command", ["train", "sample", "eval", "demo"])
def test_workdir_that_is_a_file(tmp_path, capsys, command):
    path = tmp_path / "afile"
    path.write_text("mine")
    head = {
        "train": TRAIN + ["--workdir"],
        "sample": ["sample", "--device", "cpu", "--workdir"],
        "eval": ["eval", "--device", "cpu", "--workdir"],
        "demo": ["demo", "--out"],
    }[command]
    message = cli_error([*head, str(path)], capsys)
    assert str(path) in message and "is a file, not a directory" in message
    assert path.read_text() == "mine" and sorted(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_workdir_that_does_not_exist(tmp_path, capsys, command):
    message = cli_error([command, "--device", "cpu", "--workdir", str(tmp_path / "nope")], capsys)
    assert "does not exist" in message and "dinof_lite train" in message
    assert not (tmp_path / "nope").exists()


def test_missing_data_root_and_directory_as_output_file(tmp_path, fake_run, capsys):
    message = cli_error(
        [*TRAIN, "--workdir", str(tmp_path / "w"), "--data-root", str(tmp_path / "none")], capsys
    )
    assert "--data-root" in message and "does not exist" in message
    assert not (tmp_path / "w").exists()
    message = cli_error(
        ["sample", "--workdir", str(fake_run), "--device", "cpu", "--out", str(tmp_path)], capsys
    )
    assert "--out" in message and "is a directory; give a file name" in message


@pytest.fixture
def read_only(fake_run):
    """``fake_run`` made read-only: a read-only bind mount when root (root ignores permission
    bits), else chmod."""
    with read_only_mount(fake_run) as path:
        yield path


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--device", "cpu", "--n-bpd", "2"],  # checked before any bits/dim is computed
        ["sample", "--device", "cpu"],
        TRAIN,
    ],
)
def test_read_only_workdir(read_only, capsys, argv):
    before = snapshot(read_only)
    message = cli_error([*argv, "--workdir", str(read_only)], capsys)
    assert str(read_only) in message and "is not writable" in message
    assert snapshot(read_only) == before


# ----------------------------------------------------------------------------- locks
def test_second_run_on_a_locked_workdir_refuses(tmp_path, capsys):
    """Two runs on one workdir: the test holds the lock as the first run; the CLI refuses."""
    work = tmp_path / "w"
    with WorkdirLock(work) as lock:
        held = snapshot(work)
        message = cli_error([*TRAIN, "--workdir", str(work)], capsys)
        assert f"workdir {work} is locked by pid {os.getpid()} on host" in message
        assert "another run is using it" in message
        assert snapshot(work) == held  # no config.json, no metrics.jsonl
        message = cli_error([*TRAIN, "--workdir", str(work), "--break-lock"], capsys)
        assert "another run is using it" in message  # a live owner's lock is never broken
        with pytest.raises(WorkdirLockedError):
            WorkdirLock(work).acquire()
        assert lock.held
    assert not (work / LOCK_NAME).exists()  # released on exit


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("os_lock", [True, False])
def test_a_killed_runs_lock_does_not_stop_the_next_run(fake_run, capsys, os_lock):
    """A run killed with SIGKILL leaves its ``.lock`` file, but not its OS lock (nor, for a 0.2
    record, a live pid): the next run takes the workdir and goes on to its own checks (here the
    config check: cifar10 != digits); the lock it took is released on that exception too."""
    lock = fake_run / LOCK_NAME
    owner = {"pid": _dead_pid(), "host": socket.gethostname(), "time": 0.0}
    lock.write_text(json.dumps({**owner, "os_lock": "flock"} if os_lock else owner))
    before = snapshot(fake_run)
    message = cli_error(
        ["train", "--config", "cifar10_ve_smoke", "--no-progress", "--device", "cpu"]
        + ["--workdir", str(fake_run), "--fake-data"],
        capsys,
    )
    assert "different config" in message
    assert not lock.exists()
    before.pop(LOCK_NAME)
    assert snapshot(fake_run) == before


def test_a_lock_record_from_another_host_needs_break_lock(fake_run, capsys):
    """A 0.2 record (no OS lock) from another host cannot be checked from here."""
    lock = fake_run / LOCK_NAME
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid", "time": 0.0}))
    before = snapshot(fake_run)
    message = cli_error([*TRAIN, "--workdir", str(fake_run)], capsys)
    assert "locked by pid 1 on host elsewhere.invalid" in message and "--break-lock" in message
    assert snapshot(fake_run) == before
    message = cli_error(
        ["train", "--config", "cifar10_ve_smoke", "--no-progress", "--device", "cpu"]
        + ["--workdir", str(fake_run), "--break-lock", "--fake-data"],
        capsys,
    )
    assert "different config" in message and not lock.exists()


def test_demo_takes_the_lock_too(tmp_path, capsys):
    out = tmp_path / "out"
    with WorkdirLock(out):
        message = cli_error(["demo", "--out", str(out), "--no-progress"], capsys)
    assert "is locked by pid" in message
    assert sorted(p.name for p in out.iterdir()) == []


def test_sigterm_stops_a_run_cleanly(tmp_path):
    """``kill`` (or a scheduler, or torchrun stopping the other ranks) mid-training: the run
    saves its checkpoint, releases the lock and exits 130, so the next run neither refuses
    with a stale lock nor loses the steps since the last checkpoint."""
    work = tmp_path / "w"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "dinof_lite", *TRAIN, "--workdir", str(work), "--steps", "99999"]
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # generous: a loaded machine starts slowly
        while not (work / "metrics.jsonl").exists():  # training has started
            assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=300)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: the workdir's lock is released" in stderr and "Traceback" not in stderr
    assert not (work / LOCK_NAME).exists()
    step = load_checkpoint(work)["step"]
    logged = [
        json.loads(line)["step"] for line in (work / "metrics.jsonl").read_text().splitlines()
    ]
    assert step >= max(logged) >= 1  # the checkpoint holds every logged step


def test_an_output_directory_that_cannot_be_created(capsys):
    message = cli_error(["demo", "--out", "/proc/dinof_lite_out", "--no-progress"], capsys)
    assert message == (
        "error: cannot create the workdir /proc/dinof_lite_out (No such file or directory); "
        "choose a directory you can write"
    )


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty (0 bytes)"),
        (b"PK\x03\x04" + b"\0" * 200, "truncated or damaged"),
        (b"not a checkpoint\n" * 20, "not a PyTorch checkpoint file"),
    ],
)
def test_damaged_checkpoint_in_a_workdir(fake_run, capsys, content, expected):
    ckpt = fake_run / "checkpoint.pt"
    ckpt.write_bytes(content)
    for argv in (["sample", "--device", "cpu"], ["eval", "--device", "cpu", "--n-bpd", "1"]):
        before = snapshot(fake_run)
        message = cli_error([*argv, "--workdir", str(fake_run)], capsys)
        assert str(ckpt) in message and expected in message and "weights_only" not in message
        assert snapshot(fake_run) == before


def test_shipped_model_as_a_run_checkpoint(fake_run, capsys):
    from dinof_lite.pretrained import checkpoint_path

    shipped = checkpoint_path("dinof_digits")
    if not shipped.is_file():
        pytest.skip("shipped dinof_digits.pt not present")
    (fake_run / "checkpoint.pt").write_bytes(shipped.read_bytes())
    message = cli_error(["sample", "--device", "cpu", "--workdir", str(fake_run)], capsys)
    assert (
        "a dinof_lite.dinof/1 shipped model" in message and "not a training checkpoint" in message
    )


def test_damaged_run_files(fake_run, capsys):
    cfg_path = fake_run / "config.json"
    good = json.loads(cfg_path.read_text())
    cfg_path.write_text("{ torn")
    for argv in (["sample", "--device", "cpu"], TRAIN):
        message = cli_error([*argv, "--workdir", str(fake_run)], capsys)
        assert str(cfg_path) in message and "is not valid JSON" in message
    good["train"]["batch_size"] = 2.5
    cfg_path.write_text(json.dumps(good))
    message = cli_error(["sample", "--device", "cpu", "--workdir", str(fake_run)], capsys)
    assert "is not a valid run config" in message and "TrainConfig.batch_size" in message


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d.update(Tm=d.pop("T_m")), "unknown key 'Tm' (did you mean 'T_m'?)"),
        (
            lambda d: d.update(corector=d.pop("corrector")),
            "unknown key 'corector' (did you mean 'corrector'?)",
        ),
        (
            lambda d: d["train"].update(lrr=1e-3),
            "unknown key 'train.lrr' (did you mean 'train.lr'?)",
        ),
        (lambda d: d["unet"].update(zzz=1), "unknown key 'unet.zzz';"),
    ],
    ids=["Tm", "corector", "train.lrr", "unet.zzz"],
)
@pytest.mark.parametrize("command", ["sample", "eval", "train"])
def test_config_json_typo_is_refused(fake_run, capsys, edit, expected, command):
    """A key no config field has would be ignored and its default used: sample, eval and a
    resumed train refuse it, naming the file and the key, before anything is written."""
    cfg_path = fake_run / "config.json"
    stored = json.loads(cfg_path.read_text())
    edit(stored)
    cfg_path.write_text(json.dumps(stored))
    before = snapshot(fake_run)
    argv = {
        "sample": ["sample", "--device", "cpu", "--workdir", str(fake_run)],
        "eval": ["eval", "--device", "cpu", "--workdir", str(fake_run), "--n-bpd", "2"],
        "train": [*TRAIN, "--workdir", str(fake_run)],
    }[command]
    message = cli_error(argv, capsys)
    assert message.startswith(f"error: {cfg_path}: {expected}"), message
    assert snapshot(fake_run) == before


def test_config_json_typos_are_all_named(fake_run, capsys):
    cfg_path = fake_run / "config.json"
    stored = json.loads(cfg_path.read_text())
    stored["Tm"], stored["predicter"] = stored.pop("T_m"), stored.pop("predictor")
    cfg_path.write_text(json.dumps(stored))
    message = cli_error(["sample", "--device", "cpu", "--workdir", str(fake_run)], capsys)
    assert "unknown keys 'Tm' (did you mean 'T_m'?), 'predicter' (did you mean" in message


# ----------------------------------------------------------------------------- --debug, exit
def test_debug_shows_the_traceback(tmp_path, capsys):
    path = tmp_path / "afile"
    path.write_text("x")
    with pytest.raises(SystemExit):
        main(["--debug", *TRAIN, "--workdir", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" in err and "NotADirectoryError" in err


@pytest.mark.parametrize("case", ["workdir-is-a-file", "batch-size-0"])
def test_real_command_line_exits_1_without_a_traceback(tmp_path, case):
    path = tmp_path / "afile"
    path.write_text("x")
    argv = {
        "workdir-is-a-file": [*TRAIN, "--workdir", str(path)],
        "batch-size-0": ["eval", "--workdir", str(tmp_path), "--batch-size", "0"],
    }[case]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "dinof_lite", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and ("--batch-size" in last or "is a file" in last)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"batch_size": 0}, "batch_size"), ({"n": -3}, "n"), ({"rtol": -1.0}, "rtol")],
)
def test_evaluate_bpd_checks_its_numbers_first(kwargs, name):
    from dinof_lite.experiment.evaluate import evaluate_bpd

    with pytest.raises(ValueError, match=f"^{name} must be"):
        evaluate_bpd(None, None, [], **kwargs)  # before the model or the data is touched
