"""The GPU check (``python -m dinof_lite trial``) on the CPU with a smoke config: it trains with
the precision policy it names, then prints images/s, peak memory, bits/dim and a FID field."""

from __future__ import annotations

import json
import math

from dinof_lite.cli.main import main


def test_trial_trains_then_reports_speed_memory_precision_and_quality(tmp_path, capsys):
    workdir = tmp_path / "trial"
    args = ["trial", "--config", "cifar10_ve_smoke", "--steps", "3", "--fake-data"]
    args += ["--device", "cpu", "--workdir", str(workdir), "--no-progress", "--amp"]
    assert main([*args, "--n-eval", "4", "--rtol", "1e-2"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["step"] == 3 and record["config"] == "cifar10_ve_smoke"
    assert record["precision"].startswith("bf16 (bf16 score network")
    assert record["images_per_s"] > 0  # steps 2 and 3 of batch 4
    assert 0 < record["peak_memory_gib"] < 0.1 and "TensorMemory" in record["peak_memory_source"]
    assert math.isfinite(record["bpd"]) and record["bpd"] > 0 and record["n_eval"] == 4
    assert "fid" in record and (record["fid"] is None) == record["fid_kind"].startswith("unavail")
    assert (workdir / "checkpoint.pt").is_file()
    assert json.loads((workdir / "run.json").read_text())["precision"] == "bf16"


def test_trial_refuses_a_bad_option_before_training(tmp_path, capsys):
    args = ["trial", "--config", "nope", "--workdir", str(tmp_path / "w"), "--device", "cpu"]
    try:
        main(args)
    except SystemExit as exit_:
        assert "unknown config 'nope'" in str(exit_)
    else:
        raise AssertionError("an unknown config must be refused")
    assert not (tmp_path / "w").exists()
