"""Tests for the image-experiment commands: ``python -m dinof_lite train | sample | eval``.

All runs use *_smoke configs (8×8 images, tiny nets, 4 steps) in-process through ``main(argv)``;
``--fake-data`` stands in for CIFAR-10, the digits are bundled with scikit-learn.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dinof_lite.cli import COMMANDS, main
from dinof_lite.dinof import DiNof
from dinof_lite.experiment import (
    FidUnavailable,
    config_from_dict,
    evaluate_fid,
    fake_image_dataset,
    load_run,
    make_grid,
)
from dinof_lite.experiment.configs import get_config
from dinof_lite.experiment.run import config_mismatch
from dinof_lite.train.checkpoint import load_checkpoint


def train(workdir, config="digits_cpu_smoke", *extra):
    argv = [
        "train",
        "--config",
        config,
        "--workdir",
        str(workdir),
        "--no-progress",
        "--device",
        "cpu",
        *extra,
    ]
    assert main(argv) == 0


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """cifar10_vp_smoke (single T_m = 0.6, data on [−1, 1]) on fake data, 4 steps."""
    workdir = tmp_path_factory.mktemp("fake_run")
    train(workdir, "cifar10_vp_smoke", "--fake-data")
    return workdir


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """digits_cpu_smoke (any-T_m in [0.1, 1], data on [0, 1]), 4 steps."""
    workdir = tmp_path_factory.mktemp("digits_run")
    train(workdir)
    return workdir


def test_commands_registered():
    assert {"demo", "bench", "train", "sample", "eval"} <= set(COMMANDS)


def test_fake_image_dataset_is_seeded_and_scaled():
    a = fake_image_dataset((3, 8, 8), 10, (-1.0, 1.0), seed=3)
    b = fake_image_dataset((3, 8, 8), 10, (-1.0, 1.0), seed=3)
    assert a.shape == (10, 3, 8, 8) and a.n_bins == 256
    assert torch.equal(a.raw(range(10)), b.raw(range(10)))
    x = a.sampler(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 3, 8, 8) and x.min() >= -1 and x.max() <= 1


def test_train_writes_the_run(fake_run):
    for name in ("checkpoint.pt", "config.json", "run.json", "metrics.jsonl"):
        assert (fake_run / name).is_file(), name
    cfg = config_from_dict(json.loads((fake_run / "config.json").read_text()))
    ref = get_config("cifar10_vp_smoke")
    ref.train.device = "cpu"
    assert cfg == ref
    assert json.loads((fake_run / "run.json").read_text())["fake_data"] is True
    lines = [json.loads(ln) for ln in (fake_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [1, 2, 3, 4]
    assert all(math.isfinite(r["loss"]) for r in lines if "loss" in r)
    grids = sorted((fake_run / "samples").glob("step_*.png"))
    assert [g.name for g in grids] == ["step_0000002.png", "step_0000004.png"]
    assert Image.open(grids[-1]).size[0] >= 8 * 8
    assert load_checkpoint(fake_run)["step"] == 4
    cfg, model = load_run(fake_run, "cpu")
    assert isinstance(model, DiNof) and not model.training and model.T_m == 0.6


def test_resume_is_bitwise_identical(tmp_path):
    train(tmp_path / "full")
    train(tmp_path / "split", "digits_cpu_smoke", "--steps", "2")
    assert load_checkpoint(tmp_path / "split")["step"] == 2
    train(tmp_path / "split", "digits_cpu_smoke", "--steps", "4")
    a, b = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "split")
    assert a["step"] == b["step"] == 4
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)


def test_resume_refuses_a_changed_config(digits_run):
    with pytest.raises(SystemExit, match=r"different config \(train.seed\)"):
        train(digits_run, "digits_cpu_smoke", "--seed", "7")
    with pytest.raises(SystemExit, match="fake_data"):
        train(digits_run, "digits_cpu_smoke", "--fake-data")
    with pytest.raises(SystemExit, match="different config"):
        train(digits_run, "cifar10_ve_smoke", "--fake-data")


def test_config_mismatch_ignores_length_and_logging():
    a, b = get_config("digits_cpu").to_dict(), get_config("digits_cpu")
    b.train.n_steps, b.train.log_every, b.sample_every = 5, 3, 7
    assert config_mismatch(a, b.to_dict()) == []
    b.train.lr = 1.0
    assert config_mismatch(a, b.to_dict()) == ["train.lr"]


def test_bad_config_name_lists_valid_ones(tmp_path):
    with pytest.raises(SystemExit, match="valid: .*digits_cpu_smoke"):
        train(tmp_path, "nope")


def test_sample_writes_grid_and_npz_in_chunks(digits_run, tmp_path, monkeypatch, capsys):
    sizes = []
    original = DiNof.sample

    def spy(self, n, **kw):
        sizes.append(n)
        return original(self, n, **kw)

    monkeypatch.setattr(DiNof, "sample", spy)
    grid, npz = tmp_path / "grid.png", tmp_path / "s.npz"
    argv = [
        "sample",
        "--workdir",
        str(digits_run),
        "--T_m",
        "0.3",
        "--n",
        "10",
        "--chunk",
        "4",
        "--out",
        str(grid),
        "--npz",
        str(npz),
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sizes == [4, 4, 2] and info["chunks"] == 3 and info["n"] == 10
    arr = np.load(npz)["arr_0"]
    assert arr.shape == (10, 8, 8, 1) and arr.dtype == np.uint8
    assert Image.open(grid).size[0] >= 4 * 8  # a 4×3 grid of the 10 samples
    # without --npz only the grid's first <= 64 samples are drawn, still chunk by chunk
    sizes.clear()
    assert (
        main(
            [
                "sample",
                "--workdir",
                str(digits_run),
                "--n",
                "100",
                "--chunk",
                "48",
                "--out",
                str(grid),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert sizes == [48, 48]


def sample_argv(workdir, *extra):
    return ["sample", "--workdir", str(workdir), "--n", "4", "--device", "cpu", *extra]


@pytest.mark.parametrize(
    "npz, written",
    [("out", "out.npz"), ("out.npz", "out.npz"), ("out.v1", "out.v1.npz"), ("a/b", "a/b.npz")],
)
def test_sample_reports_the_paths_it_writes(digits_run, tmp_path, capsys, npz, written):
    """``--npz PATH`` without ``.npz``: numpy appends it, and the record names that file."""
    grid = tmp_path / "g" / "grid.png"
    argv = sample_argv(digits_run, "--out", str(grid), "--npz", str(tmp_path / npz))
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["npz"] == str(tmp_path / written) and info["grid"] == str(grid)
    assert np.load(info["npz"])["arr_0"].shape == (4, 8, 8, 1)
    assert Image.open(info["grid"]).size[0] >= 8
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [grid.name, (tmp_path / written).name]
    )


def test_sample_default_paths_are_the_written_ones(digits_run, capsys):
    assert main(sample_argv(digits_run, "--T_m", "0.5", "--npz")) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["grid"] == str(digits_run / "samples" / "T_m0.5.png")
    assert info["npz"] == str(digits_run / "samples_T_m0.5_n4.npz")
    assert Path(info["grid"]).is_file() and Path(info["npz"]).is_file()


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--out", "grid"], "--out {tmp}/grid: no extension is not an image format"),
        (["--out", "grid.txt"], "--out {tmp}/grid.txt: .txt is not an image format"),
        (["--npz", "d"], "--npz {tmp}/d.npz is a directory"),
    ],
)
def test_sample_refuses_output_paths_before_sampling(digits_run, tmp_path, extra, expected):
    (tmp_path / "d.npz").mkdir()
    extra = [extra[0], str(tmp_path / extra[1])]
    before = sorted(digits_run.rglob("*"))
    with pytest.raises(SystemExit) as exc:
        main(sample_argv(digits_run, *extra))
    assert str(exc.value.code).startswith("error: " + expected.format(tmp=tmp_path))
    assert sorted(digits_run.rglob("*")) == before and [*tmp_path.iterdir()] == [tmp_path / "d.npz"]


def test_sample_T_m_out_of_range_errors(digits_run, fake_run):
    with pytest.raises(SystemExit, match=r"outside the range .*T_m_range=\[0.1, 1.0\]"):
        main(["sample", "--workdir", str(digits_run), "--T_m", "0.05", "--device", "cpu"])
    with pytest.raises(SystemExit, match="trained at T_m=0.6 only"):
        main(["sample", "--workdir", str(fake_run), "--T_m", "0.5", "--device", "cpu"])


def test_sample_needs_a_run(tmp_path):
    with pytest.raises(SystemExit, match="not a training run"):
        main(["sample", "--workdir", str(tmp_path)])


def test_eval_prints_finite_bits_per_dim(fake_run, capsys):
    argv = [
        "eval",
        "--workdir",
        str(fake_run),
        "--n-bpd",
        "4",
        "--batch-size",
        "4",
        "--rtol",
        "1e-3",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert math.isfinite(record["bpd"]) and record["bpd"] > 0 and record["n"] == 4
    last = json.loads((fake_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["eval"] and last["bpd"] == record["bpd"] and last["step"] == 4


def test_eval_fid_without_torch_fidelity(fake_run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # makes the import fail
    assert main(["eval", "--workdir", str(fake_run), "--fid", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[fid]"' in err and "first use" in err and "Traceback" not in err


def test_trainer_autocast_hook():
    """``Trainer(autocast=dtype)`` runs the loss under autocast and returns a float32 loss."""
    from dinof_lite.train import TrainConfig, Trainer

    seen = []

    def loss_fn(model, x0, generator):
        y = model(x0)
        seen.append(y.dtype)
        return (y**2).mean()

    cfg = TrainConfig(n_steps=2, batch_size=4, device="cpu", progress=False, ckpt_every=0)
    trainer = Trainer(
        torch.nn.Linear(3, 3), loss_fn, torch.randn(16, 3), cfg, autocast=torch.bfloat16
    )
    result = trainer.fit()
    assert seen == [torch.bfloat16] * 2 and all(math.isfinite(v) for v in result.losses)
    assert trainer.module is trainer.model  # not wrapped: the module is the model itself


def test_make_grid_tiles_with_padding():
    imgs = torch.arange(5 * 3 * 2 * 2, dtype=torch.uint8).reshape(5, 3, 2, 2)
    grid = make_grid(imgs, pad=1)  # 3 columns, 2 rows
    assert grid.shape == (3, 2 * 3 + 1, 3 * 3 + 1) and grid.dtype == torch.uint8
    assert torch.equal(grid[:, 1:3, 4:6], imgs[1]) and int(grid[0, 0, 0]) == 255


def test_evaluate_fid_raises_fid_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    np.savez(tmp_path / "s.npz", arr_0=np.zeros((2, 8, 8, 3), np.uint8))
    test = fake_image_dataset((3, 8, 8), 4, (0.0, 1.0))
    with pytest.raises(FidUnavailable, match="first use"):
        evaluate_fid(tmp_path / "s.npz", test, device=torch.device("cpu"))
