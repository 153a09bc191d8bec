"""``python -m dinof_lite bench train``: the cost of DiNof's joint step over the score network's.

DiNof trains the score network and the flow with one loss (DiNof §3.2), so each update runs the
UNet's denoising score matching *and* the Glow's NLL of ``x(T_m)``. This benchmark measures, in one
run, on the same batch and device, one optimizer update (forward, backward, Adam) of

- the score network alone: DSM on ``t ~ U(eps, T)`` (the plain diffusion model), and
- the joint DiNof step: :func:`~dinof_lite.dinof.training_loss`,

and reports images per second and the joint overhead ratio (target ≤ 1.3×: the flow should cost
little next to the UNet). Sizes: ``full`` runs the ``digits_cpu`` config and the paper's CIFAR-10
VE config (NCSN++ 62M + Glow 7.9M; batch 128 on a GPU, 8 on a CPU); ``smoke`` a tiny config.

Beside the eager float32 update, two columns (images/s and speed-up) per execution path of the
GPU runs (``paths``):
``bf16`` (the precision policy, :mod:`dinof_lite.precision`), ``channels_last`` (model and batch
in NHWC, as ``train`` on CUDA) and ``compiled`` (``torch.compile`` of the score network, as
``train --compile``; the first call's compilation is not timed).

``memory=True`` (``bench train --memory``) prints instead, per paper configuration, the
parameter, gradient, Adam, EMA and activation memory at the paper's batch under the policy and
the smallest GPU it fits (:func:`dinof_lite.experiment.memory.estimate_memory`): the joint job
under bf16, and the flow-only job (a frozen published score network, ``train --score``) under
fp16, the policy of a T4 / V100.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import torch

from dinof_lite.dinof import training_loss
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.experiment.memory import estimate_memory
from dinof_lite.losses import dsm_loss
from dinof_lite.precision import Precision

__all__ = ["bench_train", "TRAIN_CASES", "MEMORY_CASES", "PATHS"]

#: size -> [(config name, batch on CPU or None for the config's)]; GPUs use the config's batch
TRAIN_CASES: dict[str, list[tuple[str, int | None]]] = {
    "full": [("digits_cpu", None), ("cifar10_ve", 8)],
    "smoke": [("digits_cpu_smoke", None)],
}

#: size -> [(config, job)] whose memory ``--memory`` estimates (at each config's own batch);
#: job "joint" (both networks train, bf16) or "flow only" (score network frozen, fp16: a T4)
MEMORY_CASES: dict[str, list[tuple[str, str]]] = {
    "full": [
        ("cifar10_ve", "joint"),
        ("cifar10_vp", "joint"),
        ("cifar10_ve_deep", "joint"),
        ("celebahq256_ve", "joint"),
        ("cifar10_vp", "flow only"),
        ("cifar10_ve", "flow only"),
        ("celebahq256_ve", "flow only"),
    ],
    "smoke": [("cifar10_ve_smoke", "joint"), ("cifar10_ve_smoke", "flow only")],
}
#: the execution paths timed beside the eager float32 joint update
PATHS = ("bf16", "channels_last", "compiled")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_ms(step, device: torch.device, repeats: int) -> float:
    step()  # warm-up (and ActNorm's data-dependent init)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 1e3 * best


def _case(name: str, cpu_batch: int | None, device: torch.device, repeats: int, paths) -> dict:
    cfg = get_config(name)
    batch = cfg.train.batch_size if device.type == "cuda" or cpu_batch is None else cpu_batch
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    lo, hi = cfg.data_range
    x0 = lo + (hi - lo) * torch.rand(batch, *cfg.shape, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)

    def update(loss_fn):
        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn().backward()
            opt.step()

        return step

    score_only = update(
        lambda: dsm_loss(
            model.sde,
            model.score_fn,
            x0,
            eps=model.train_eps,
            reduce_mean=cfg.reduce_mean,
            generator=gen,
        )
    )
    joint = update(lambda: training_loss(model, x0, gen))
    base = copy.deepcopy(model.state_dict())
    # interleave the two so drifts of a shared machine hit both alike
    ms_score, ms_joint = float("inf"), float("inf")
    for _ in range(repeats):
        ms_score = min(ms_score, _best_ms(score_only, device, 1))
        ms_joint = min(ms_joint, _best_ms(joint, device, 1))
    unet = sum(p.numel() for p in model.score_net.parameters())
    row = {
        "config": name,
        "batch": batch,
        "unet params": unet,
        "flow params": model.flow.num_parameters(),
        "score-only img/s": round(1e3 * batch / ms_score, 1),
        "joint img/s": round(1e3 * batch / ms_joint, 1),
        "score-only ms": round(ms_score, 1),
        "joint ms": round(ms_joint, 1),
        "joint / score-only": round(ms_joint / ms_score, 3),
    }
    model.load_state_dict(base)
    for path in paths:
        ms = _path_ms(model, x0, path, repeats)
        row[f"{path} img/s"] = round(1e3 * batch / ms, 1)
        row[f"{path} / eager"] = round(ms_joint / ms, 3)
    return row


def _path_ms(model, x0: torch.Tensor, path: str, repeats: int) -> float:
    """ms of the joint update on ``path`` (a copy of the model, the same batch and noise)."""
    device = x0.device
    model = copy.deepcopy(model)
    precision = Precision("bf16" if path == "bf16" else "float32", device.type)
    if path == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x0 = x0.contiguous(memory_format=torch.channels_last)
    elif path == "compiled":
        model.score_net.compile()
    elif path != "bf16":
        raise ValueError(f"unknown path {path!r}; valid: {', '.join(PATHS)}")
    gen = torch.Generator(device=device).manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        with precision.autocast():
            loss = training_loss(model, x0, gen)
        loss.float().backward()
        opt.step()

    step()  # compilation (compiled), not timed
    return _best_ms(step, device, repeats)


def bench_train(
    device: torch.device,
    repeats: int = 5,
    size: str = "full",
    memory: bool = False,
    paths: tuple[str, ...] = PATHS,
) -> list[dict]:
    """One row per config: images/s of the score network's update and of DiNof's joint update,
    and of the joint update on each path of ``paths``; or, with ``memory``, the memory table."""
    if memory:
        rows = []
        for name, job in MEMORY_CASES[size]:
            cfg = dataclasses.replace(get_config(name), train_score=job == "joint")
            precision = "bf16" if job == "joint" else "fp16"
            rows.append(estimate_memory(cfg, precision=precision, device=device).row())
        return rows
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        raise ValueError(f"unknown path {', '.join(unknown)}; valid: {', '.join(PATHS)}")
    return [_case(name, batch, device, repeats, paths) for name, batch in TRAIN_CASES[size]]
