"""``python -m dinof_lite bench train``: the cost of DiNof's joint step over the score network's.

DiNof trains the score network and the flow with one loss (DiNof §3.2), so each update runs the
UNet's denoising score matching *and* the Glow's NLL of ``x(T_m)``. This benchmark measures, in one
run, on the same batch and device, one optimizer update (forward, backward, Adam) of

- the score network alone: DSM on ``t ~ U(eps, T)`` (the plain diffusion model), and
- the joint DiNof step: :func:`~dinof_lite.dinof.training_loss`,

and reports images per second and the joint overhead ratio (target ≤ 1.3×: the flow should cost
little next to the UNet). Sizes: ``full`` runs the ``digits_cpu`` config and the paper's CIFAR-10
VE config (NCSN++ 62M + Glow 7.9M; batch 128 on a GPU, 8 on a CPU); ``smoke`` a tiny config.
"""

from __future__ import annotations

import time

import torch

from dinof_lite.dinof import training_loss
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.losses import dsm_loss

__all__ = ["bench_train", "TRAIN_CASES"]

#: size -> [(config name, batch on CPU or None for the config's)]; GPUs use the config's batch
TRAIN_CASES: dict[str, list[tuple[str, int | None]]] = {
    "full": [("digits_cpu", None), ("cifar10_ve", 8)],
    "smoke": [("digits_cpu_smoke", None)],
}


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


def _case(name: str, cpu_batch: int | None, device: torch.device, repeats: int) -> dict:
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
            model.sde, model.score_fn, x0, eps=model.eps, reduce_mean=cfg.reduce_mean, generator=gen
        )
    )
    joint = update(lambda: training_loss(model, x0, gen))
    # interleave the two so drifts of a shared machine hit both alike
    ms_score, ms_joint = float("inf"), float("inf")
    for _ in range(repeats):
        ms_score = min(ms_score, _best_ms(score_only, device, 1))
        ms_joint = min(ms_joint, _best_ms(joint, device, 1))
    unet = sum(p.numel() for p in model.score_net.parameters())
    return {
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


def bench_train(device: torch.device, repeats: int = 5, size: str = "full") -> list[dict]:
    """One row per config: images/s of the score network's update and of DiNof's joint update."""
    return [_case(name, batch, device, repeats) for name, batch in TRAIN_CASES[size]]
