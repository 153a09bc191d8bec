"""Write a dinof_lite ``UNet`` as a score_sde_pytorch training checkpoint, for tests of the runs
that train a flow on a published score network (``train --score-checkpoint``).

The file has the reference's layout (``{"optimizer", "model" with DataParallel "module." keys in
the order of ``NCSNpp.all_modules``, "ema": {"decay", "num_updates", "shadow_params"}, "step"}``;
NIN weights stored ``(in, out)``), made by inverting
:func:`dinof_lite.hub.score_sde.score_sde_name_map`. The EMA's shadow parameters are the model's
plus ``shift``, so a loader that used the raw weights would give other numbers.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dinof_lite.hub.score_sde import score_sde_name_map
from dinof_lite.nets.unet import UNet


def write_score_sde_checkpoint(net: UNet, path: Path, shift: float = 0.01) -> dict:
    """Write ``net`` to ``path``; return the state dict (ours) the loader must produce."""
    ours = net.state_dict()
    model, shadow, expected = {}, [], dict(ours)
    for theirs, (name, transpose) in score_sde_name_map(net).items():
        value = ours[name][:, :, 0, 0].t() if transpose else ours[name]
        model[f"module.{theirs}"] = value.clone()
        if name == "embed.W":  # fixed Fourier features: not trained, not in the EMA
            continue
        shadow.append(value + shift)
        expected[name] = ours[name] + shift
    ema = {"decay": 0.999, "num_updates": 7, "shadow_params": shadow}
    torch.save({"optimizer": {}, "model": model, "ema": ema, "step": 7}, path)
    return expected
