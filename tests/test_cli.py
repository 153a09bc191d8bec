"""Tests for the command-line interface (`python -m dinof_lite ...`) and the demo."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dinof_lite.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def all_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from all_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def test_demo_smoke_subprocess(tmp_path):
    """The real entry point, in smoke mode, writes every artefact with finite metrics."""
    out = tmp_path / "demo"
    env = dict(os.environ, DINOF_SMOKE="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "dinof_lite", "demo", "--out", str(out), "--threads", "1",
         "--no-progress", "--steps", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("samples.png", "metrics.md", "metrics.json", "checkpoint.pt", "metrics.jsonl"):
        assert (out / name).is_file(), name
    record = json.loads((out / "metrics.json").read_text())
    assert record["smoke"] is True and record["train"]["steps"] == 60
    assert set(record["rows"]) == {"data", "oracle", "model"}
    for row in record["rows"].values():
        for key in ("mmd", "sw2", "energy", "w2", "nll_true"):
            assert math.isfinite(row[key]), (key, row)
        assert row["n_nonfinite"] == 0
    # VP default (paper's DDPM++ config): Euler–Maruyama, no corrector -> 1 evaluation per step
    assert record["config"]["predictor"] == "euler_maruyama" and record["config"]["corrector"] == "none"
    assert record["rows"]["oracle"]["nfe"] == 40
    numbers = list(all_numbers(record))
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert record["data_entropy_nats"] == pytest.approx(2.82, abs=0.1)  # 8gaussians: log(8)+log(2πe/8)
    assert "| trained net (EMA) + PC |" in proc.stdout and str(out / "metrics.json") in proc.stdout
    assert (out / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_non_mixture_dataset_and_figure_copy(tmp_path, monkeypatch, capsys):
    """A dataset without an exact density: no oracle row, NLL reported as absent; --figure copies."""
    monkeypatch.setenv("DINOF_SMOKE", "1")
    figure = tmp_path / "docs" / "figures" / "demo.png"
    argv = ["demo", "--out", str(tmp_path / "moons"), "--dataset", "moons", "--steps", "20",
            "--n-samples", "200", "--sample-steps", "25", "--no-progress", "--figure", str(figure),
            "--device", "cpu"]
    assert main(argv) == 0
    record = json.loads((tmp_path / "moons" / "metrics.json").read_text())
    assert set(record["rows"]) == {"data", "model"}
    assert record["data_entropy_nats"] is None and record["rows"]["model"]["nll_true"] is None
    assert record["rows"]["model"]["nfe"] == 25 and record["rows"]["model"]["n_nonfinite"] == 0
    assert figure.read_bytes() == (tmp_path / "moons" / "samples.png").read_bytes()
    assert "—" in (tmp_path / "moons" / "metrics.md").read_text()
    assert "moons" in capsys.readouterr().out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert name in text
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    assert "--dataset" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["demo", "--dataset", "nope"], ["demo", "--sde", "nope"]])
def test_bad_names_error_clearly(argv, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path)])
    message = str(exc.value.code) + capsys.readouterr().err
    assert "nope" in message
    assert ("8gaussians" in message and "checkerboard" in message) or "vp" in message
    assert not any(tmp_path.iterdir())  # nothing was written


def test_bad_sample_steps_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="sample_steps must be >= 1"):
        main(["demo", "--out", str(tmp_path), "--sample-steps", "0"])
    assert not any(tmp_path.iterdir())


def test_parser_is_extensible():
    parser = build_parser()
    args = parser.parse_args(["demo", "--steps", "5", "--seed", "3"])
    assert (args.command, args.steps, args.seed, args.dataset, args.sde) == ("demo", 5, 3, "8gaussians", "vp")


def test_bench_glow_smoke_prints_ratios(tmp_path, capsys):

    out = tmp_path / "bench.json"
    assert main(["bench", "glow", "--size", "smoke", "--repeats", "1", "--device", "cpu",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sample / log_prob" in text and "trace / sample" in text
    rows = json.loads(out.read_text())
    assert [r["params"] > 0 for r in rows] == [True, True]
    for r in rows:
        assert r["sample / log_prob"] == pytest.approx(r["sample ms"] / r["log_prob ms"], rel=0.02)


def test_bench_unknown_name_lists_valid(capsys):
    with pytest.raises(SystemExit, match="unknown benchmark 'nope'; valid: glow"):
        main(["bench", "nope", "--size", "smoke"])
