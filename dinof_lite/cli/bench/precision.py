"""``python -m dinof_lite bench precision``: bf16 against float32, part by part, before and after
the precision policy (:mod:`dinof_lite.precision`).

Each model is first trained briefly in float32 (Adam, lr 1e-3, gradient clip 1) on fake
CIFAR-shaped images, so its parameters are off their initialisation — a freshly initialised
Glow is close to a fixed affine map and hides the problem. Then every part is compared with
float32 on the same inputs and noise under ``bf16_unguarded`` (the whole computation autocast,
as the GPU runs did before the policy) and under ``bf16`` (the policy):

- ``full``: the paper's Glow (3×32×32, L = 3, K = 16, 256 channels; 300 steps, batch 8), the
  paper's DiNof ``cifar10_ve`` (NCSN++ + that Glow; 200 joint steps, batch 2) and the shipped
  digits DiNof; about 15 minutes on 2 CPU threads;
- ``smoke``: the same on the ``*_smoke`` sizes (seconds).

Bounds the policy must meet (issue: 0.001 bits/dim, 1e-3 on inverses); the ODE bits/dim of the
paper-size DiNof is left out (hundreds of NCSN++ evaluations), the digits model's is measured.
"""

from __future__ import annotations

import torch

from dinof_lite.data.digits import load_digits
from dinof_lite.data.quantize import dequantize
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.data import fake_image_dataset
from dinof_lite.experiment.precision_check import (
    flow_errors,
    joint_step_agreement,
    likelihood_error,
    score_net_error,
)
from dinof_lite.flows import Glow
from dinof_lite.precision import Precision
from dinof_lite.pretrained import load_dinof

__all__ = ["bench_precision", "PRECISION_CASES"]

#: size -> (glow kwargs, glow steps, glow batch, dinof config, dinof steps, dinof batch)
PRECISION_CASES = {
    "full": ({"levels": 3, "steps": 16, "hidden": 256}, 300, 8, "cifar10_ve", 200, 2),
    "smoke": ({"levels": 2, "steps": 2, "hidden": 16}, 20, 8, "cifar10_ve_smoke", 10, 4),
}
MODES = ("bf16_unguarded", "bf16")


def _fit(model, loss_fn, data, steps: int, batch: int, seed: int = 0) -> float:
    """``steps`` Adam updates in float32; returns the last loss."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        x0 = data.sampler(batch, g)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, x0, g)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return float(loss.detach())


def _rows(model: str, component: str, metric: str, values: dict, bound: str = "") -> dict:
    row = {"model": model, "component": component, "metric": metric}
    row.update({f"{m}": v for m, v in values.items()})
    row["bound"] = bound
    return row


def _flow_rows(label: str, flow, x, context, device) -> list[dict]:
    errs = {m: flow_errors(flow, x, Precision(m, device.type), context) for m in MODES}
    return [
        _rows(
            label,
            "flow",
            "|Δ log p| bits/dim",
            {m: f"{e['logp_bpd']:.2e}" for m, e in errs.items()},
            "≤ 1e-3",
        ),
        _rows(
            label,
            "flow",
            "|Δ inverse| max",
            {m: f"{e['inverse']:.2e}" for m, e in errs.items()},
            "≤ 1e-3",
        ),
    ]


def _dinof_rows(label: str, model, x0: torch.Tensor, device, likelihood: bool) -> list[dict]:
    a, s = model.sde.marginal_coeffs(torch.full((x0.shape[0],), model.T_m, device=device))
    g = torch.Generator(device=device).manual_seed(1)
    x_Tm = a.view(-1, 1, 1, 1) * x0 + s.view(-1, 1, 1, 1) * torch.randn(x0.shape, generator=g)
    rows = _flow_rows(
        f"{label}: flow at x(T_m)", model.flow, x_Tm, model.context(model.T_m, x0.shape[0]), device
    )
    unet = {m: score_net_error(model, x0, Precision(m, device.type)) for m in MODES}
    rows.append(
        _rows(
            label,
            "score network",
            "rel. RMS error of output",
            {m: f"{e['rel_rms']:.2e}" for m, e in unet.items()},
            "measured",
        )
    )
    rows.append(
        _rows(
            label,
            "score network",
            "rel. max error of output",
            {m: f"{e['rel_max']:.2e}" for m, e in unet.items()},
            "measured",
        )
    )
    step = {m: joint_step_agreement(model, x0, Precision(m, device.type)) for m in MODES}
    rows.append(
        _rows(
            label,
            "joint loss",
            "|Δ loss| / loss",
            {m: f"{e['loss_rel']:.2e}" for m, e in step.items()},
            "finite",
        )
    )
    for part in ("score_net", "flow", "all"):
        rows.append(
            _rows(
                label,
                "joint gradient",
                f"cosine to float32 ({part})",
                {m: f"{e[f'cos_{part}']:.6f}" for m, e in step.items()},
                "close to 1",
            )
        )
    if likelihood:
        lik = {m: likelihood_error(model, x0, Precision(m, device.type)) for m in MODES}
        rows.append(
            _rows(
                label,
                "ODE likelihood",
                "|Δ bits/dim| max",
                {m: f"{e['max_abs']:.2e}" for m, e in lik.items()},
                "≤ 1e-3",
            )
        )
    return rows


def bench_precision(device: torch.device, repeats: int = 1, size: str = "full") -> list[dict]:
    """Rows ``model, component, metric, bf16_unguarded, bf16, bound`` (errors against float32)."""
    glow_kw, glow_steps, glow_batch, cfg_name, dinof_steps, dinof_batch = PRECISION_CASES[size]
    cfg = get_config(cfg_name)
    data = fake_image_dataset(cfg.shape, 256, (0.0, 1.0))
    test = fake_image_dataset(cfg.shape, 8, (0.0, 1.0), seed=1)
    x_test = (
        test.batch(range(8))
        + torch.rand(8, *cfg.shape, generator=torch.Generator().manual_seed(2)) / 256
    ).to(device)

    torch.manual_seed(0)
    flow = Glow(cfg.shape, **glow_kw).to(device)
    flow(data.sampler(glow_batch, torch.Generator().manual_seed(0)).to(device))
    _fit(
        flow,
        lambda m, x, g: (
            -m.log_prob(x.to(device) + torch.rand(x.shape, generator=g).to(device) / 256).mean()
            / m.dim
        ),
        data,
        glow_steps,
        glow_batch,
    )
    shape = "×".join(map(str, cfg.shape))
    label = f"Glow {shape} L={glow_kw['levels']} K={glow_kw['steps']} ({glow_steps} steps)"
    rows = _flow_rows(label, flow.eval(), x_test, None, device)

    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    with torch.no_grad():
        model(
            data.sampler(dinof_batch, torch.Generator().manual_seed(0)).to(device),
            torch.Generator().manual_seed(0),
        )
    _fit(model, lambda m, x, g: m(x.to(device), g), data, dinof_steps, dinof_batch)
    rows += _dinof_rows(
        f"DiNof {cfg_name} ({dinof_steps} steps)",
        model.eval(),
        x_test[:2],
        device,
        likelihood=size == "smoke",
    )

    digits = load_dinof("dinof_digits", device=device)
    x_d = dequantize(
        load_digits(split="test", pad_to=16)[:8],
        n_bins=17,
        generator=torch.Generator().manual_seed(3),
    ).to(device)
    rows += _dinof_rows("DiNof digits (shipped)", digits.eval(), x_d, device, likelihood=True)
    return rows
