"""``train --score HUB_ID`` / ``--score-checkpoint PATH``: the flow trained alone on a published
score network, frozen, from the command line — and every bad input refused with ``error: ...``,
exit status 1, before anything is written.

The score_sde path loads a real score_sde_pytorch-format file (tests/score_sde_file.py, a tiny
UNet of the smoke config's architecture); the diffusers path runs with
``dinof_lite.hub.from_diffusers`` replaced by a stand-in (no network in tests), which also plays
the offline hub and a missing diffusers.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

import dinof_lite.hub
from dinof_lite.cli import main
from dinof_lite.experiment import load_run
from dinof_lite.experiment.configs import get_config
from dinof_lite.nets.unet import UNet
from dinof_lite.sde import VESDE, VPSDE
from dinof_lite.train.checkpoint import load_checkpoint
from dinof_lite.trained_on import TrainedOn
from tests.score_sde_file import write_score_sde_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = "cifar10_ve_smoke"
HUB_ID = "google/ddpm-cifar10-32"


def train(workdir: Path, *extra: str, config: str = CONFIG) -> int:
    argv = ["train", "--config", config, "--workdir", str(workdir), "--fake-data"]
    return main([*argv, "--device", "cpu", "--no-progress", *extra])


def cli_error(capsys, workdir: Path, *extra: str, config: str = CONFIG) -> str:
    """Run ``train``; assert exit status 1, one ``error:`` line, no traceback, nothing written."""
    with pytest.raises(SystemExit) as exc:
        train(workdir, *extra, config=config)
    code, err = exc.value.code, capsys.readouterr().err
    message = code if isinstance(code, str) else err.strip().splitlines()[-1]
    assert isinstance(code, str) or code == 1, (code, err)
    assert message.startswith("error: ") and "Traceback" not in message + err, message
    assert not workdir.exists(), "a refused run must not create its workdir"
    return message


def _unet(config: str = CONFIG, seed: int = 3) -> UNet:
    cfg = get_config(config)
    torch.manual_seed(seed)
    return UNet(dataclasses.replace(cfg.unet, image_size=cfg.image_size, in_channels=cfg.channels))


@pytest.fixture(scope="module")
def score_file(tmp_path_factory) -> tuple[Path, dict]:
    """A score_sde_pytorch checkpoint of a random UNet of CONFIG's architecture, and the weights
    (its EMA's) the loader must give."""
    path = tmp_path_factory.mktemp("score_sde") / "checkpoint_7.pth"
    return path, write_score_sde_checkpoint(_unet(), path)


def _score_state(ckpt: dict, part: str) -> dict:
    prefix = "module.score_net." if part == "ema" else "score_net."
    return {k[len(prefix) :]: v for k, v in ckpt[part].items() if k.startswith(prefix)}


# --------------------------------------------------------------------------- score_sde checkpoint
def test_train_on_a_score_sde_checkpoint_trains_the_flow_alone_and_resumes_bitwise(
    tmp_path, score_file, capsys
):
    path, expected = score_file
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train(straight, "--score-checkpoint", str(path), "--steps", "4") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 4 and summary["train_score"] is False

    stored = json.loads((straight / "config.json").read_text())
    assert stored["train_score"] is False
    assert stored["pretrained_score"] == {
        "kind": "score_sde",
        "source": str(path.resolve()),
        "config": None,
    }
    ckpt = load_checkpoint(straight)
    assert ckpt["frozen"] == ["score_net"] and ckpt["grad_scaler"] is None
    for part in ("model", "ema"):  # the file's EMA weights, untouched by 4 updates
        state = _score_state(ckpt, part)
        assert state.keys() == expected.keys()
        for key, value in expected.items():
            assert torch.equal(state[key], value), (part, key)

    # stop at 2, resume to 4 == 4 straight (model, EMA, Adam)
    assert train(split, "--score-checkpoint", str(path), "--steps", "2") == 0
    assert train(split, "--score-checkpoint", str(path), "--steps", "4") == 0
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["losses"].tolist() == b["losses"].tolist()
    for part in ("model", "ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    for s, t in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(s[k], t[k]) for k in s)
    assert len(a["optimizer"]["state"]) == len(list(load_run(straight, "cpu")[1].flow.parameters()))

    # sample / eval rebuild the model from config.json: the frozen network from its source
    cfg, model = load_run(straight, "cpu")
    assert not model.train_score and cfg.pretrained_score["kind"] == "score_sde"
    assert all(torch.equal(model.score_net.state_dict()[k], v) for k, v in expected.items())
    out = tmp_path / "grid.png"
    assert main(["sample", "--workdir", str(straight), "--n", "4", "--out", str(out)]) == 0
    assert out.is_file()


def test_a_flow_only_run_resumes_only_with_its_score_network(tmp_path, score_file, capsys):
    path, _ = score_file
    work = tmp_path / "run"
    assert train(work, "--score-checkpoint", str(path), "--steps", "2") == 0
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exc:
        train(work, "--steps", "4")  # without --score-checkpoint: a joint run
    message = str(exc.value.code)
    assert "different config (pretrained_score" in message and "train_score" in message
    assert f"trained with --score-checkpoint {path.resolve()}" in message
    assert "the same config and the same score network" in message
    # a different file of the same architecture: refused by the config (another source) ...
    other = tmp_path / "other.pth"
    write_score_sde_checkpoint(_unet(seed=4), other)
    with pytest.raises(SystemExit, match="pretrained_score.source"):
        train(work, "--score-checkpoint", str(other), "--steps", "4")
    # ... and, were the file at the same path replaced, by the checkpoint's frozen weights
    path_copy = tmp_path / "swap.pth"
    path_copy.write_bytes(path.read_bytes())
    swap = tmp_path / "swap_run"
    assert train(swap, "--score-checkpoint", str(path_copy), "--steps", "2") == 0
    path_copy.write_bytes(other.read_bytes())
    with pytest.raises(SystemExit, match="the frozen score_net.* differs from the one the run"):
        train(swap, "--score-checkpoint", str(path_copy), "--steps", "4")
    capsys.readouterr()
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


def test_a_run_written_before_train_score_existed_resumes(tmp_path, capsys):
    work = tmp_path / "old"
    assert train(work, "--steps", "1", config="digits_cpu_smoke") == 0
    stored = json.loads((work / "config.json").read_text())
    del stored["train_score"], stored["pretrained_score"]  # as dinof_lite 0.3 wrote it
    (work / "config.json").write_text(json.dumps(stored))
    assert train(work, "--steps", "2", config="digits_cpu_smoke") == 0
    assert load_checkpoint(work)["step"] == 2
    capsys.readouterr()


# --------------------------------------------------------------------------- a hub id
def _fake_hub(monkeypatch, sde, net=None, data_range=(0.0, 1.0), calls=None):
    """``dinof_lite.hub.from_diffusers`` replaced: returns ``(sde, net)`` (net with a record)."""
    net = net if net is not None else _unet()
    net.trained_on = TrainedOn.of(sde, data_range, "cifar10")

    def from_diffusers(model, scheduler=None):
        if calls is not None:
            calls.append(model)
        return sde, net.eval()

    monkeypatch.setattr(dinof_lite.hub, "from_diffusers", from_diffusers, raising=False)
    return net


def test_train_with_a_hub_id_trains_the_flow_on_the_loaded_network(tmp_path, monkeypatch):
    calls = []
    net = _fake_hub(monkeypatch, VESDE(0.01, 50.0, N=20), calls=calls)
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    work = tmp_path / "run"
    assert train(work, "--score", HUB_ID, "--steps", "2") == 0
    assert calls == [HUB_ID]
    stored = json.loads((work / "config.json").read_text())["pretrained_score"]
    assert stored == {"kind": "diffusers", "source": HUB_ID}
    state = _score_state(load_checkpoint(work), "model")
    assert all(torch.equal(state[k], v) for k, v in weights.items())
    cfg, model = load_run(work, "cpu")
    assert calls == [HUB_ID, HUB_ID] and not model.train_score


# --------------------------------------------------------------------------- refused inputs
def test_a_missing_or_directory_checkpoint_is_refused(tmp_path, capsys):
    missing = tmp_path / "nope.pth"
    message = cli_error(capsys, tmp_path / "w", "--score-checkpoint", str(missing))
    assert f"--score-checkpoint {missing}: no such file" in message
    message = cli_error(capsys, tmp_path / "w", "--score-checkpoint", str(tmp_path))
    assert "a directory" in message and "score_sde_pytorch checkpoint file" in message


def test_a_score_network_of_another_sde_is_refused(tmp_path, score_file, capsys):
    path, _ = score_file
    extra = ["--score-checkpoint", str(path), "--score-config", CONFIG]
    message = cli_error(capsys, tmp_path / "w", *extra, config="cifar10_vp_smoke")
    assert "was trained for the SDE ve(sigma_min=0.01, sigma_max=50, N=20" in message
    assert "but config 'cifar10_vp_smoke' uses vp(beta_min=0.1, beta_max=20" in message
    assert "cifar10_ve, cifar10_ve_deep" in message  # the configs of its SDE


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            ["--score-config", CONFIG],
            "--score-config names the architecture of a --score-checkpoint",
        ),
        (
            ["--score-checkpoint", "x.pth", "--score-config", "nope"],
            "--score-config: unknown config",
        ),
        (["--score", HUB_ID, "--score-checkpoint", "x.pth"], "not allowed with argument"),
        (["--score", " "], "--score: empty hub id"),
        (["--precision", "fp16", "--amp"], "--precision fp16 and --amp both choose"),
        (["--precision", "fp8"], "invalid choice: 'fp8'"),
    ],
)
def test_bad_score_and_precision_options(tmp_path, capsys, extra, expected):
    assert expected in cli_error(capsys, tmp_path / "w", *extra)


def test_an_offline_hub_id_fails_fast_naming_it(tmp_path, monkeypatch, capsys):
    def offline(model, scheduler=None):
        raise ConnectionError(f"{model!r} is not in the Hugging Face cache and cannot be fetched")

    monkeypatch.setattr(dinof_lite.hub, "from_diffusers", offline, raising=False)
    message = cli_error(capsys, tmp_path / "w", "--score", HUB_ID)
    assert f"'{HUB_ID}' is not in the Hugging Face cache" in message


def test_without_diffusers_a_hub_id_says_what_is_missing(tmp_path, monkeypatch, capsys):
    def missing(model, scheduler=None):
        raise ModuleNotFoundError("No module named 'diffusers'")

    monkeypatch.setattr(dinof_lite.hub, "from_diffusers", missing, raising=False)
    message = cli_error(capsys, tmp_path / "w", "--score", HUB_ID)
    assert f"--score {HUB_ID}: diffusers models cannot be loaded here" in message
    assert "No module named 'diffusers'" in message and "--score-checkpoint" in message


def test_a_network_of_another_data_range_or_image_shape_is_refused(tmp_path, monkeypatch, capsys):
    _fake_hub(monkeypatch, VESDE(0.01, 50.0), data_range=(-1.0, 1.0))
    message = cli_error(capsys, tmp_path / "w", "--score", HUB_ID)
    assert "trained on data in [-1.0, 1.0] but config 'cifar10_ve_smoke' scales" in message
    _fake_hub(monkeypatch, VESDE(0.01, 10.0), net=_unet())  # 3 channels; digits have 1
    message = cli_error(capsys, tmp_path / "w", "--score", HUB_ID, config="digits_cpu_smoke")
    assert "does not take the images of config 'digits_cpu_smoke', (1, 8, 8)" in message


def test_a_vp_hub_network_fits_the_vp_config(tmp_path, monkeypatch, capsys):
    """DDPM's betas 1e-4..0.02 over N = 1000 are VP(0.1, 20): cifar10_vp's SDE (N aside)."""
    _fake_hub(
        monkeypatch, VPSDE(0.1, 20.0, N=1000), net=_unet("cifar10_vp_smoke"), data_range=(-1.0, 1.0)
    )
    assert train(tmp_path / "vp", "--score", HUB_ID, "--steps", "1", config="cifar10_vp_smoke") == 0
    capsys.readouterr()


# --------------------------------------------------------------------------- trial, fp16
def test_trial_on_a_frozen_score_network_reports_the_flow(tmp_path, score_file, capsys):
    path, _ = score_file
    args = ["trial", "--config", CONFIG, "--steps", "3", "--fake-data", "--device", "cpu"]
    args += ["--workdir", str(tmp_path / "t"), "--no-progress", "--score-checkpoint", str(path)]
    assert main([*args, "--n-eval", "8", "--rtol", "1e-2"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["train_score"] is False and record["step"] == 3
    assert record["images_per_s"] > 0 and 0 < record["peak_memory_gib"] < 0.1
    assert record["T_m"] == 0.6 and math.isfinite(record["bpd"])
    # the flow's bits/dim of x(T_m) beside a diagonal Gaussian's on the same points
    assert math.isfinite(record["flow_bpd_T_m"]) and math.isfinite(record["flow_bpd_T_m_gaussian"])
    assert (record["fid"] is None) == record["fid_kind"].startswith("unavail")


def test_fp16_forced_on_the_cpu_trains_with_the_scaler(tmp_path, capsys):
    work = tmp_path / "fp16"
    assert train(work, "--precision", "fp16", "--steps", "2", config="digits_cpu_smoke") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["precision"].startswith("fp16 (fp16 score network")
    assert json.loads((work / "run.json").read_text())["precision"] == "fp16"
    assert load_checkpoint(work)["grad_scaler"]["scale"] > 1


# --------------------------------------------------------------------------- the real hub loader
def test_train_score_on_a_real_diffusers_folder_end_to_end(tmp_path):
    """No stand-in: a tiny random ``UNet2DModel`` + ``DDPMScheduler`` saved as a diffusers folder
    goes through ``dinof_lite.hub.from_diffusers`` into ``train --score``; the UNet's weights
    stay bitwise unchanged, the run resumes, and ``sample`` draws from it."""
    diffusers = pytest.importorskip("diffusers", reason="the hub extra (pip install -e '.[hub]')")
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(
        sample_size=8,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=8,
    )
    folder = tmp_path / "tiny-ddpm"
    unet.save_pretrained(folder / "unet")
    diffusers.DDPMScheduler(num_train_timesteps=1000).save_pretrained(folder / "scheduler")
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    work = tmp_path / "run"
    config = "cifar10_vp_smoke"
    assert train(work, "--score", str(folder), "--steps", "2", config=config) == 0
    assert train(work, "--score", str(folder), "--steps", "4", config=config) == 0  # resumes
    ckpt = load_checkpoint(work)
    assert ckpt["step"] == 4 and ckpt["frozen"] == ["score_net"]
    cfg, model = load_run(work, "cpu")
    assert not model.train_score and cfg.pretrained_score["source"] == str(folder)
    after = model.score_net.unet.state_dict()  # the diffusers UNet inside the library network
    assert all(torch.equal(after[k], v) for k, v in before.items())
    x = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 8, 8) and torch.isfinite(x).all()
