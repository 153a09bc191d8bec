"""score_sde_pytorch checkpoints load into dinof_lite's UNet and give the reference's numbers.

Ground truth: ``tests/fixtures/score_sde/``, written by score_sde_pytorch's own code (commit
``cb1f359``) with

    python scripts/make_score_sde_fixture.py /tmp/score_sde_ref --out tests/fixtures/score_sde

(``/tmp/score_sde_ref``: the reference's source tree). Each ``<name>.pth`` is a checkpoint in the
reference's training format whose EMA weights differ from the model's; ``<name>_reference.pt``
holds inputs and the reference's outputs with the EMA weights, the raw network output and the
score of ``get_score_fn(sde, model, continuous=True)``, and the reference's model / data config.
``reference_param_counts.json``: trainable-parameter counts of the full-size reference networks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dinof_lite.experiment.configs import get_config
from dinof_lite.hub import load_score_sde_checkpoint
from dinof_lite.hub.score_sde import _resolve, score_sde_name_map
from dinof_lite.losses import get_score_fn
from dinof_lite.nets import UNet, UNetConfig
from dinof_lite.sde import VESDE, VPSDE
from dinof_lite.train.checkpoint import CheckpointError
from dinof_lite.trained_on import TrainedOn

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "score_sde"
VARIANTS = [
    "ncsnpp_ve",
    "ncsnpp_skip_cat",
    "ncsnpp_naive_vp",
    "ncsnpp_fir_ddpm_unconditional_vp",
    "ddpmpp_vp",
]
# Relative to the output's largest magnitude. Measured: 1.1e-5 for the VE variant, <= 2.6e-7
# for the others: float32 rounding of the Fourier features' argument, which the reference forms
# as (log σ · W) · 2π and dinof_lite as 2π · log σ · W (|argument| ~ 10³ rad; with the
# reference's order the VE error is 5.7e-7). A wrong layer, padding or weight gives >= 1e-3.
RTOL = 3e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def _reference(name: str) -> dict:
    return torch.load(DATA / f"{name}_reference.pt", weights_only=True)


def unet_config(model: dict, data: dict) -> UNetConfig:
    """The UNetConfig of a score_sde ``config.model`` / ``config.data`` (NCSN++ family)."""
    assert model["name"] == "ncsnpp" and model["nonlinearity"] == "swish"
    assert model["normalization"] == "GroupNorm" and model["attention_type"] == "ddpm"
    same = (
        "nf",
        "ch_mult",
        "num_res_blocks",
        "attn_resolutions",
        "dropout",
        "fourier_scale",
        "resamp_with_conv",
        "skip_rescale",
        "init_scale",
        "fir",
        "fir_kernel",
        "progressive",
        "progressive_input",
        "progressive_combine",
        "conditional",
    )
    return UNetConfig(
        **{k: model[k] for k in same},
        embedding={"fourier": "fourier", "positional": "sinusoidal"}[model["embedding_type"]],
        resblock=model["resblock_type"],
        image_size=data["image_size"],
        in_channels=data["num_channels"],
        centered=data["centered"],
    )


def _sde(ref: dict):
    m = ref["model_config"]
    if ref["sde"] == "vesde":
        return VESDE(m["sigma_min"], m["sigma_max"], m["num_scales"], exact_marginal=False)
    return VPSDE(m["beta_min"], m["beta_max"], m["num_scales"])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("name", VARIANTS)
def test_loaded_unet_reproduces_the_reference(name):
    ref = _reference(name)
    cfg = unet_config(ref["model_config"], ref["data_config"])
    sde, net = load_score_sde_checkpoint(DATA / f"{name}.pth", cfg, _sde(ref))
    assert not net.training
    data_range = (-1.0, 1.0) if ref["data_config"]["centered"] else (0.0, 1.0)
    assert net.trained_on == TrainedOn.of(sde, data_range)  # the SDE and data range travel
    with torch.no_grad():
        out = net(ref["x"], ref["labels"])
        score = get_score_fn(sde, net)(ref["x"], ref["t"])
    # score_sde's VE net divides by σ (scale_by_sigma); ours leaves that to get_score_fn
    scale = ref["labels"][:, None, None, None] if ref["model_config"]["scale_by_sigma"] else 1
    assert _rel(out / scale, ref["net_out"]) < RTOL
    assert _rel(score, ref["score"]) < RTOL
    torch.testing.assert_close(sde.noise_label(ref["t"]), ref["labels"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["ncsnpp_ve", "ddpmpp_vp"])
def test_the_ema_weights_are_the_ones_loaded(name):
    ref = _reference(name)
    cfg = unet_config(ref["model_config"], ref["data_config"])
    ckpt = torch.load(DATA / f"{name}.pth", weights_only=True)
    _, ema = load_score_sde_checkpoint(DATA / f"{name}.pth", cfg, _sde(ref))
    _, raw = load_score_sde_checkpoint(DATA / f"{name}.pth", cfg, _sde(ref), use_ema=False)
    mapping = score_sde_name_map(ema)
    first = next(k for k in mapping if mapping[k][0] != "embed.W")  # a trainable tensor
    ours = mapping[first][0]
    assert torch.equal(ema.state_dict()[ours], ckpt["ema"]["shadow_params"][0])
    assert torch.equal(raw.state_dict()[ours], ckpt["model"]["module." + first])
    with torch.no_grad():
        a, b = ema(ref["x"], ref["labels"]), raw(ref["x"], ref["labels"])
    scale = ref["labels"][:, None, None, None] if ref["model_config"]["scale_by_sigma"] else 1
    assert _rel(a / scale, ref["net_out"]) < RTOL
    assert _rel(b / scale, ref["net_out"]) > 1e-2  # the last iterate gives other numbers


def test_experiment_configs_build_the_published_networks():
    """cifar10_ve(_deep), cifar10_vp and celebahq256_ve: the reference's exact parameter counts
    (and every tensor of a reference-shaped state dict maps, with its shape)."""
    counts = json.loads((DATA / "reference_param_counts.json").read_text(encoding="utf-8"))
    pairs = {
        "cifar10_ve": "cifar10_ncsnpp_continuous",
        "cifar10_ve_deep": "cifar10_ncsnpp_deep_continuous",
        "cifar10_vp": "cifar10_ddpmpp_continuous",
        "celebahq256_ve": "celebahq_256_ncsnpp_continuous",
    }
    for ours, theirs in pairs.items():
        exp = get_config(ours)
        cfg = exp.unet.replace(image_size=exp.image_size, in_channels=exp.channels)
        assert cfg.num_parameters() == counts[theirs], ours


def test_experiment_config_name_builds_the_sde_and_checks_shapes(tmp_path):
    """A config name picks the network and score_sde's SDE; a file of another network is refused
    with the offending key named."""
    sde_ve = _resolve("cifar10_ve", None)[1]
    assert isinstance(sde_ve, VESDE) and not sde_ve.exact_marginal
    assert (sde_ve.sigma_min, sde_ve.sigma_max, sde_ve.N) == (0.01, 50.0, 1000)
    sde_hq = _resolve("celebahq256_ve", None)[1]
    assert sde_hq.sigma_max == 348.0
    sde_vp = _resolve("cifar10_vp", None)[1]
    assert isinstance(sde_vp, VPSDE) and (sde_vp.beta_0, sde_vp.beta_1) == (0.1, 20.0)
    with pytest.raises(CheckpointError, match="does not hold the network of this config"):
        load_score_sde_checkpoint(DATA / "ncsnpp_ve.pth", "cifar10_ve")


def test_shape_mismatch_is_named(tmp_path):
    ref = _reference("ddpmpp_vp")
    cfg = unet_config(ref["model_config"], ref["data_config"])
    ckpt = torch.load(DATA / "ddpmpp_vp.pth", weights_only=True)
    key = "module.all_modules.2.weight"  # the input conv (after the two time-embedding layers)
    ckpt["model"][key] = torch.zeros(4, 1, 3, 3)
    i = list(k for k in ckpt["model"] if k != "module.sigmas").index(key)
    ckpt["ema"]["shadow_params"][i] = torch.zeros(4, 1, 3, 3)
    torch.save(ckpt, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"all_modules\.2\.weight has shape \(4, 1, 3, 3\)"):
        load_score_sde_checkpoint(tmp_path / "bad.pth", cfg, _sde(ref))
    del ckpt["model"]["module.all_modules.2.weight"]
    torch.save(ckpt, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"missing module\.all_modules\.2\.weight"):
        load_score_sde_checkpoint(tmp_path / "bad.pth", cfg, _sde(ref), use_ema=False)
    ckpt["ema"]["shadow_params"] = ckpt["ema"]["shadow_params"][:-1]
    ckpt["model"]["module.all_modules.2.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(ckpt, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="the EMA holds"):
        load_score_sde_checkpoint(tmp_path / "bad.pth", cfg, _sde(ref))


def test_clear_errors_for_bad_files_and_arguments(tmp_path):
    cfg = UNetConfig.tiny(8)
    with pytest.raises(FileNotFoundError, match="nope.pth: no such file"):
        load_score_sde_checkpoint(tmp_path / "nope.pth", cfg, VESDE())
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth holds a list"):
        load_score_sde_checkpoint(tmp_path / "list.pth", cfg, VESDE())
    torch.save({"model": {}, "step": 1}, tmp_path / "noema.pth")
    with pytest.raises(CheckpointError, match="noema.pth has no 'ema' entry"):
        load_score_sde_checkpoint(tmp_path / "noema.pth", cfg, VESDE())
    torch.save({"ema": {}}, tmp_path / "nomodel.pth")
    with pytest.raises(CheckpointError, match="nomodel.pth has no 'model' entry"):
        load_score_sde_checkpoint(tmp_path / "nomodel.pth", cfg, VESDE(), use_ema=False)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_score_sde_checkpoint(tmp_path / "junk.pth", cfg, VESDE())
    with pytest.raises(ValueError, match="sde is needed with a UNetConfig"):
        load_score_sde_checkpoint(DATA / "ncsnpp_ve.pth", cfg)
    with pytest.raises(ValueError, match="unknown config 'cifar100'"):
        load_score_sde_checkpoint(DATA / "ncsnpp_ve.pth", "cifar100")


def test_name_map_is_one_to_one_for_every_layout():
    """Every parameter and persistent buffer of ours is filled by exactly one score_sde key."""
    for kw in (
        {},
        {"resblock": "ddpm", "fir": True},
        {"progressive": "residual", "progressive_input": "residual", "fir": True},
        {"progressive": "output_skip", "progressive_input": "input_skip", "conditional": False},
        {
            "embedding": "sinusoidal",
            "progressive_combine": "cat",
            "progressive_input": "input_skip",
        },
    ):
        net = UNet(UNetConfig.tiny(16, in_channels=3, **kw))
        targets = [name for name, _ in score_sde_name_map(net).values()]
        assert sorted(targets) == sorted(net.state_dict()), kw
