"""Ground truth for ``dinof_lite.hub.load_score_sde_checkpoint``, made with score_sde_pytorch itself.

Builds tiny NCSN++ / DDPM++ networks with the reference implementation's own code
(``models/ncsnpp.py`` and the layers it uses, ``models/ema.py``, ``sde_lib.py``,
``models/utils.py``), from its own config files shrunk to 16×16 images, and writes for each:

- ``<name>.pth``: a checkpoint in the reference's training format, ``{"optimizer", "model"
  (the ``DataParallel`` state dict, ``module.`` keys), "ema" ({"decay", "num_updates",
  "shadow_params"}), "step"}``. The model's weights are random (every parameter, so no layer is
  trivially zero) and the EMA's shadow parameters differ from them, so a loader that used the
  model's weights instead of the EMA's would give other numbers.
- ``<name>_reference.pt``: the inputs ``x``, ``t``, the noise labels, and the outputs computed by
  the reference with the EMA weights loaded (``ema.copy_to``, eval mode): the raw network output
  ``net_out = model(x, labels)`` and the score ``score = get_score_fn(sde, model,
  continuous=True)(x, t)``; with the reference's ``config.model`` / ``config.data`` as plain
  dicts.

It also writes ``reference_param_counts.json``: the trainable-parameter counts of the
*full-size* reference networks for the published configs (CIFAR-10 NCSN++ cont. and deep, VE;
DDPM++ cont., VP; CelebA-HQ-256 NCSN++, VE).

Command (from the repository root; the reference source tree at commit ``cb1f359`` of
github.com/yang-song/score_sde_pytorch unpacked in ``/tmp/score_sde_ref``)::

    python scripts/make_score_sde_fixture.py /tmp/score_sde_ref --out tests/fixtures/score_sde

No CUDA is needed: the reference's ``op`` package compiles its CUDA kernels when imported, so the
compiler call is replaced by a no-op; on the CPU the reference runs its own pure-PyTorch
``upfirdn2d_native``. Its configs import ``ml_collections`` only for ``ConfigDict``; when that
package is not installed a plain attribute namespace stands in for it.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
import types
from pathlib import Path

import torch

# name: (reference config module, changes to config.model, seed); all at 16×16, two levels.
# The reference's ``layerspp.Upsample`` runs only with ``fir=True, with_conv=False``: its fused
# FIR upsampling conv slices with a negative step, and its nearest-neighbour path passes
# ``"nearest"`` as ``F.interpolate``'s ``scale_factor``; both raise in PyTorch. So no variant uses
# ``progressive="residual"``, nor DDPM blocks with ``resamp_with_conv`` or without ``fir``
# (tests/test_fir.py checks the fused upsampling against its definition).
SMALL = {"nf": 4, "ch_mult": (1, 2), "num_res_blocks": 1, "attn_resolutions": (8,)}
VARIANTS = {
    # the CIFAR-10 NCSN++ cont. architecture: FIR, residual input pyramid, Fourier features
    "ncsnpp_ve": ("configs.ve.cifar10_ncsnpp_continuous", {}, 1),
    # CelebA-HQ's pyramids (output_skip / input_skip), with concatenation instead of a sum
    "ncsnpp_skip_cat": (
        "configs.ve.celebahq_256_ncsnpp_continuous",
        {"progressive_combine": "cat", "ch_mult": (1, 1)},
        2,
    ),
    # naive resampling (the strided-conv pyramid input), no skip rescaling, VP
    "ncsnpp_naive_vp": (
        "configs.vp.cifar10_ncsnpp_continuous",
        {"fir": False, "skip_rescale": False, "ch_mult": (1, 1)},
        3,
    ),
    # DDPM-style blocks with FIR resampling layers (no conv), unconditional
    "ncsnpp_fir_ddpm_unconditional_vp": (
        "configs.vp.cifar10_ncsnpp_continuous",
        {
            "resblock_type": "ddpm",
            "resamp_with_conv": False,
            "progressive_input": "none",
            "conditional": False,
            "ch_mult": (1, 1),
        },
        5,
    ),
    # DDPM++ cont. (VP): naive resampling, no pyramids, sinusoidal embedding, centred data
    "ddpmpp_vp": ("configs.vp.cifar10_ddpmpp_continuous", {}, 4),
}
FULL = {
    "cifar10_ncsnpp_continuous": "configs.ve.cifar10_ncsnpp_continuous",
    "cifar10_ncsnpp_deep_continuous": "configs.ve.cifar10_ncsnpp_deep_continuous",
    "cifar10_ddpmpp_continuous": "configs.vp.cifar10_ddpmpp_continuous",
    "celebahq_256_ncsnpp_continuous": "configs.ve.celebahq_256_ncsnpp_continuous",
}


def import_reference(root: Path) -> types.SimpleNamespace:
    """Import the reference modules from the source tree ``root`` (CPU only)."""
    import torch.utils.cpp_extension

    torch.utils.cpp_extension.load = lambda *args, **kwargs: None  # no CUDA kernels to build
    try:
        import ml_collections  # noqa: F401
    except ImportError:
        shim = types.ModuleType("ml_collections")
        shim.ConfigDict = types.SimpleNamespace
        sys.modules["ml_collections"] = shim
    sys.path.insert(0, str(root))
    ref = types.SimpleNamespace(
        ncsnpp=importlib.import_module("models.ncsnpp"),
        utils=importlib.import_module("models.utils"),
        ema=importlib.import_module("models.ema"),
        sde_lib=importlib.import_module("sde_lib"),
    )
    return ref


def get_config(module: str, model: dict, image_size: int | None = None):
    config = importlib.import_module(module).get_config()
    config.device = torch.device("cpu")
    for key, value in model.items():
        setattr(config.model, key, value)
    config.data.image_size = image_size or config.data.image_size
    return config


def plain_config(section) -> dict:
    """A config section as a dict of plain Python values (tuples → lists)."""
    return {
        k: list(v) if isinstance(v, tuple | list) else v
        for k, v in vars(section).items()
        if isinstance(v, bool | int | float | str | tuple | list)
    }


def build_sde(ref, config):
    m = config.model
    if config.training.sde == "vesde":
        return ref.sde_lib.VESDE(m.sigma_min, m.sigma_max, m.num_scales)
    return ref.sde_lib.VPSDE(m.beta_min, m.beta_max, m.num_scales)


def make_variant(ref, name: str, out: Path) -> None:
    module, model_changes, seed = VARIANTS[name]
    config = get_config(module, {**SMALL, **model_changes}, image_size=16)
    torch.manual_seed(seed)
    model = ref.utils.create_model(config)  # DataParallel, as in training
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:  # the Fourier features stay as initialised
                p.copy_(0.3 * torch.randn_like(p) + 0.5 * p)
    ema = ref.ema.ExponentialMovingAverage(model.parameters(), decay=config.model.ema_rate)
    for s in ema.shadow_params:
        s.add_(0.05 * torch.randn_like(s))
    ema.num_updates = 1234
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr)
    state = {
        "optimizer": optimizer.state_dict(),
        "model": model.state_dict(),
        "ema": ema.state_dict(),
        "step": 1234,
    }
    # the legacy (non-zip) format: the same dict, without the zip archive's per-tensor records
    torch.save(state, out / f"{name}.pth", _use_new_zipfile_serialization=False)

    ema.copy_to(model.parameters())
    model.eval()
    sde = build_sde(ref, config)
    g = torch.Generator().manual_seed(100 + seed)
    shape = (2, config.data.num_channels, config.data.image_size, config.data.image_size)
    x = (
        torch.rand(shape, generator=g)
        if not config.data.centered
        else torch.randn(shape, generator=g)
    )
    t = torch.tensor([0.02, 0.9])
    if isinstance(sde, ref.sde_lib.VESDE):
        labels = sde.marginal_prob(torch.zeros_like(x), t)[1]
    else:
        labels = t * 999
    with torch.no_grad():
        net_out = model(x, labels)
        score_fn = ref.utils.get_score_fn(sde, model, train=False, continuous=True)
        score = score_fn(x, t)
    torch.save(
        {
            "x": x,
            "t": t,
            "labels": labels,
            "net_out": net_out,
            "score": score,
            "model_config": plain_config(config.model),
            "data_config": plain_config(config.data),
            "sde": config.training.sde,
        },
        out / f"{name}_reference.pt",
    )
    n = sum(s.numel() for s in ema.shadow_params)
    print(f"{name}: {n} trainable parameters, |net_out| max {net_out.abs().max():.3g}")


def full_counts(ref) -> dict:
    counts = {}
    for name, module in FULL.items():
        config = get_config(module, {})
        model = ref.ncsnpp.NCSNpp(copy.deepcopy(config))
        counts[name] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"{name}: {counts[name]:,} trainable parameters")
        del model
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", type=Path, help="score_sde_pytorch source tree")
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/score_sde"))
    parser.add_argument("--skip-full", action="store_true", help="no full-size parameter counts")
    args = parser.parse_args()
    if not (args.reference / "models" / "ncsnpp.py").is_file():
        sys.exit(f"error: {args.reference} is not a score_sde_pytorch source tree")
    ref = import_reference(args.reference.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for name in VARIANTS:
        make_variant(ref, name, args.out)
    if not args.skip_full:
        counts = full_counts(ref)
        path = args.out / "reference_param_counts.json"
        path.write_text(json.dumps(counts, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
