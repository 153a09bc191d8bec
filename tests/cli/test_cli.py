"""Tests for the command-line interface (`python -m dinof_lite ...`) and the demo."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dinof_lite.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def all_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from all_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


DEMO_FILES = (
    "journey.png",
    "journey.html",
    "tm_study.png",
    "metrics.md",
    "metrics.json",
    "checkpoint.pt",
    "metrics.jsonl",
)


@pytest.mark.slow  # the whole demo pipeline
def test_demo_smoke_subprocess(tmp_path):
    """The real entry point, in smoke mode, writes every artefact with finite metrics."""
    out = tmp_path / "demo"
    env = dict(
        os.environ,
        DINOF_SMOKE="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dinof_lite",
            "demo",
            "--out",
            str(out),
            "--threads",
            "1",
            "--no-progress",
            "--steps",
            "60",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for name in DEMO_FILES:
        assert (out / name).is_file(), name
    record = json.loads((out / "metrics.json").read_text())
    assert record["smoke"] is True and record["train"]["steps"] == 60
    assert record["train"]["source"] == "trained"
    rows = record["rows"]
    # one row per T_m of the grid 0.1 … 1.0, then the baseline (same network, all 40 steps from T)
    assert [r["method"] for r in rows] == ["dinof"] * 10 + ["baseline"]
    assert [r["T_m"] for r in rows] == pytest.approx([0.1 * k for k in range(1, 11)] + [1.0])
    # VP default (paper's DDPM++ config): Euler–Maruyama, no corrector -> 1 evaluation per step
    assert (
        record["config"]["predictor"] == "euler_maruyama"
        and record["config"]["corrector"] == "none"
    )
    assert rows[-1]["nfe"] == 40 and [r["nfe"] for r in rows[:-1]] == [4 * k for k in range(1, 11)]
    for row in rows:
        assert row["n"] == 300 and row["n_nonfinite"] == 0
        for key in ("mmd", "sw", "gmm_nll", "wall_s", "speedup"):
            assert math.isfinite(row[key]), (key, row)
    assert rows[-1]["speedup"] == 1.0
    assert set(record["noise_floor"]) == {"n", "n_pairs", "mmd", "sw"}
    assert set(record["first_match"]) == {"mmd", "sw"}
    numbers = list(all_numbers(record))
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert record["data_entropy_nats"] == pytest.approx(
        2.82, abs=0.1
    )  # 8gaussians: log(8)+log(2πe/8)
    md = (out / "metrics.md").read_text()
    assert (
        md.count("| DiNof (flow → SDE from T_m) |") == 10 and "| **baseline** (SDE from T) |" in md
    )
    assert "noise floor" in md and "first T_m matching the baseline" in md
    assert "| **baseline** (SDE from T) | 1 | 40 | 40 |" in proc.stdout
    assert str(out / "metrics.json") in proc.stdout
    for png in ("journey.png", "tm_study.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "journey.html").read_text()
    assert "cdn.plot.ly" in html and html.count('"name":"0.') >= 9  # frames for T_m = 0.1 … 0.9
    assert (out / "journey.html").stat().st_size < 1_000_000


@pytest.mark.slow  # the whole demo pipeline
def test_demo_non_mixture_dataset_figure_copy_and_resume(tmp_path, monkeypatch, capsys):
    """No exact density: gmm_nll absent; --figure copies journey.png; --resume continues training."""
    monkeypatch.setenv("DINOF_SMOKE", "1")
    figure = tmp_path / "docs" / "figures" / "demo.png"
    out = tmp_path / "moons"
    argv = [
        "demo",
        "--out",
        str(out),
        "--dataset",
        "moons",
        "--steps",
        "20",
        "--n-samples",
        "100",
        "--sample-steps",
        "20",
        "--no-progress",
        "--figure",
        str(figure),
        "--device",
        "cpu",
        "--tm-min",
        "0.5",
        "--tm",
        "0.55",
    ]
    assert main(argv) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert [r["T_m"] for r in record["rows"]] == [0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0]
    assert record["data_entropy_nats"] is None and all(r["gmm_nll"] is None for r in record["rows"])
    assert record["rows"][1]["nfe"] == 11 and record["rows"][-1]["nfe"] == 20
    assert figure.read_bytes() == (out / "journey.png").read_bytes()
    assert "—" in (out / "metrics.md").read_text()
    assert "moons" in capsys.readouterr().out
    assert (
        main(
            [
                *argv[:5],
                "--steps",
                "30",
                "--n-samples",
                "100",
                "--sample-steps",
                "20",
                "--no-progress",
                "--tm-min",
                "0.5",
                "--tm",
                "0.55",
                "--resume",
            ]
        )
        == 0
    )
    train = json.loads((out / "metrics.json").read_text())["train"]
    assert (train["steps"], train["resumed_from"]) == (30, 20)


def test_demo_pretrained_options_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("DINOF_SMOKE", "1")
    with pytest.raises(SystemExit, match="--pretrained exists for 8gaussians/vp only"):
        main(["demo", "--out", str(tmp_path), "--pretrained", "--dataset", "moons"])
    with pytest.raises(SystemExit, match="--resume"):
        main(["demo", "--out", str(tmp_path), "--pretrained", "--resume"])
    monkeypatch.setenv("DINOF_CHECKPOINT_DIR", str(tmp_path / "none"))
    with pytest.raises(SystemExit, match="make_checkpoints.py"):
        main(["demo", "--out", str(tmp_path / "out"), "--pretrained", "--no-progress"])


def test_demo_pretrained_loads_instead_of_training(tmp_path, ckpt_dir, monkeypatch):
    monkeypatch.setenv("DINOF_SMOKE", "1")
    _tiny_anytm(ckpt_dir / "dinof_8gaussians_vp_anytm.pt")
    out = tmp_path / "out"
    assert (
        main(
            [
                "demo",
                "--out",
                str(out),
                "--pretrained",
                "--no-progress",
                "--n-samples",
                "100",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    record = json.loads((out / "metrics.json").read_text())
    assert record["train"]["source"] == "pretrained dinof_8gaussians_vp_anytm"
    assert len(record["rows"]) == 11 and "checkpoint" not in record["files"]
    assert not (out / "checkpoint.pt").exists() and (out / "journey.html").is_file()


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
    assert (args.command, args.steps, args.seed, args.dataset, args.sde) == (
        "demo",
        5,
        3,
        "8gaussians",
        "vp",
    )


GLOW_COLUMNS = [
    "flow",
    "params",
    "batch",
    "log_prob ms",
    "sample ms",
    "sample+trace ms",
    "train step ms",
    "sample / log_prob",
    "trace / sample",
    "train / log_prob",
    "log_prob / normflows",
    "sample / normflows",
]


def _table(text: str, first_column: str) -> list[list[str]]:
    """The cells of the table :func:`format_table` printed (header first; 2+ spaces apart)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_column))
    table = [lines[start]] + [line for line in lines[start + 2 :] if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in table]


def test_bench_glow_smoke_prints_ratios(tmp_path, capsys, monkeypatch):
    """Structure and arithmetic of the table, on a fake clock: no wall-clock figure is compared.

    (Comparing a printed ratio with the ratio of two printed, rounded times failed now and then:
    a 0.35 ms time rounded to 2 decimals is off by up to 1.4 %, the ratio by twice that.)
    """
    import dinof_lite.cli.bench as bench
    import dinof_lite.cli.bench.glow as bench_glow

    # per flow: log_prob, sample, sample+trace, train step; exact at 2 decimals (and in binary)
    fake = iter([1.25, 2.5, 3.75, 6.0, 0.5, 0.75, 1.5, 2.25])
    seen_repeats = []

    def fake_time_call(fn, device, repeats=5):
        fn()  # every operation still runs (once)
        seen_repeats.append(repeats)
        return next(fake)

    monkeypatch.setattr(bench_glow, "time_call", fake_time_call)
    out = tmp_path / "bench.json"
    argv = ["bench", "glow", "--size", "smoke", "--repeats", "1", "--device", "cpu"]
    assert main([*argv, "--json", str(out)]) == 0
    assert seen_repeats == [1] * 8
    rows = json.loads(out.read_text())
    assert [r["flow"] for r in rows] == list(bench.GLOW_CASES["smoke"])
    for r in rows:
        assert list(r) == GLOW_COLUMNS and r["params"] > 0 and r["batch"] > 0
    ms = [
        [r[f"{op} ms"] for op in ("log_prob", "sample", "sample+trace", "train step")] for r in rows
    ]
    assert ms == [[1.25, 2.5, 3.75, 6.0], [0.5, 0.75, 1.5, 2.25]]
    for r, (lp, s, trace, train) in zip(rows, ms):
        assert r["sample / log_prob"] == round(s / lp, 2)
        assert r["trace / sample"] == round(trace / s, 2)
        assert r["train / log_prob"] == round(train / lp, 2)
    # normflows' twin: a measured ratio for the image flow, a reason for the vector flow
    assert rows[0]["log_prob / normflows"] == "n/a (vector flow)"
    assert all(0 < rows[1][c] < 100 for c in GLOW_COLUMNS[-2:])
    # the printed table: every column, one line per flow, and the numbers of the rows
    header, *body = _table(capsys.readouterr().out, "flow")
    assert header == GLOW_COLUMNS and len(body) == len(rows)
    for cells, r in zip(body, rows):
        assert cells[0] == r["flow"]
        want = [r[c] if isinstance(r[c], str) else float(f"{r[c]:.4g}") for c in GLOW_COLUMNS[1:]]
        assert [c if c.startswith("n/a") else float(c) for c in cells[1:]] == want


def test_normflows_twin_has_the_architecture_of_glow():
    """The comparison is fair: normflows' Glow built for a Glow's kwargs has as many parameters
    up to the top prior's parametrisation, and maps (B, C, H, W) to one log-density each."""
    import torch

    from dinof_lite.cli.bench.glow import normflows_glow
    from dinof_lite.flows import Glow

    kwargs = {"in_shape": (1, 8, 8), "levels": 2, "steps": 8, "hidden": 64}
    twin, ours = normflows_glow(kwargs), Glow(**kwargs)
    n_twin = sum(p.numel() for p in twin.parameters())
    assert abs(n_twin - ours.num_parameters()) <= 0.001 * ours.num_parameters()
    with torch.no_grad():
        assert twin.log_prob(torch.rand(4, 1, 8, 8), None).shape == (4,)
        assert twin.sample(3)[0].shape == (3, 1, 8, 8)


def test_time_call_warms_up_then_takes_the_median_of_repeats():
    import torch

    from dinof_lite.cli.bench import time_call

    calls = []
    ms = time_call(lambda: calls.append(1), torch.device("cpu"), repeats=3)
    assert len(calls) == 4 and ms >= 0 and math.isfinite(ms)  # 1 warm-up + 3 timed


def test_bench_unknown_name_lists_valid(capsys):
    with pytest.raises(SystemExit, match="unknown benchmark 'nope'; valid: ") as err:
        main(["bench", "nope", "--size", "smoke"])
    valid = str(err.value).split("valid: ")[1].split(", ")
    assert {"frontier", "glow", "precision", "sampling", "train", "widget"} <= set(valid)
    with pytest.raises(SystemExit, match="bench glow takes no option model"):
        main(["bench", "glow", "--size", "smoke", "--model", "x.pt"])


def _tiny_anytm(path):
    """Save an untrained any-T_m DiNof (8gaussians meta) to ``path``."""
    from dinof_lite.pretrained import save_dinof
    from tests.factories import tiny_dinof

    model = tiny_dinof(any_tm=True, T_m=0.6)
    return save_dinof(path, model, meta={"dataset": {"name": "8gaussians"}})


def test_bench_sampling_smoke(tmp_path, capsys):
    """Head to head at T_m = 0.6 and the sweep, from one checkpoint, in one run."""
    ckpt = _tiny_anytm(tmp_path / "tiny.pt")
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "sampling",
                "--size",
                "smoke",
                "--repeats",
                "1",
                "--device",
                "cpu",
                "--model",
                str(ckpt),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "T_m=0.6 vs T" in text and "noise floor" in text and "NFE ratio 1.67" in text
    rows = json.loads(out.read_text())
    overhead = [r for r in rows if r["case"].startswith("overhead")]  # the given model only
    assert {r["case"] for r in overhead} == {f"overhead {ckpt} n=100"} and len(overhead) == 7
    for r in overhead:  # every sampler, its NFE and ratio = sampler / (NFE × one forward)
        assert r["nfe"] == 8 and r["ratio"] == pytest.approx(
            r["sampler ms"] / (r["nfe"] * r["bare ms"]), rel=0.02
        )
    rows = [r for r in rows if not r["case"].startswith("overhead")]
    assert [(r["method"], r["T_m"], r["nfe"]) for r in rows] == [
        ("dinof", 0.6, 24),
        ("baseline", 1.0, 40),
        ("dinof", 0.2, 8),
        ("dinof", 0.6, 24),
        ("dinof", 1.0, 40),
        ("baseline", 1.0, 40),
    ]
    for r in rows:
        assert r["wall_s"] > 0 and math.isfinite(r["mmd"]) and math.isfinite(r["gmm_nll"])
        assert r["speedup"] == pytest.approx(
            rows[1 if r["case"].startswith("T_m") else -1]["wall_s"] / r["wall_s"]
        )


def test_bench_sampling_missing_checkpoint_says_how_to_make_it(ckpt_dir):
    with pytest.raises(
        SystemExit, match="scripts/make_checkpoints.py --only dinof_8gaussians_vp_anytm"
    ):
        main(["bench", "sampling", "--size", "smoke", "--device", "cpu"])


def _argparse_imports(path: Path) -> list[int]:
    """Line numbers of ``import argparse`` / ``from argparse import ...`` in ``path``."""
    import ast

    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(name == "argparse" or name.startswith("argparse.") for name in names):
            lines.append(node.lineno)
    return lines


def test_argparse_lives_only_in_the_cli_package():
    """The command line is in one place: no module outside ``dinof_lite/cli`` parses options."""
    package = ROOT / "dinof_lite"
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(package.rglob("*.py"))
        if (lines := _argparse_imports(path))
    }
    assert found, "the scan finds nothing: it would not catch a stray import"
    outside = {p: lines for p, lines in found.items() if not p.startswith("dinof_lite/cli/")}
    assert outside == {}, f"argparse imported outside dinof_lite/cli: {outside}"


def test_every_command_is_a_module_of_the_cli_package():
    """``dinof_lite.cli.<name>`` holds each command's ``arguments`` and ``run``."""
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(f"dinof_lite.cli.{name}")
        assert callable(module.arguments) and callable(module.run), name
