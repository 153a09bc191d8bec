"""Digits on a CPU: a score model trained alone, frozen, plus a flow trained alone on it, against
the jointly trained shipped ``dinof_digits`` — the summit's recipe (a published score network, a
flow at ``T_m``) measured where everything can be trained.

Per seed ``s``:

1. the ``digits_cpu`` UNet trained **alone** by denoising score matching on ``[train_eps, T]``
   (:func:`~dinof_lite.losses.dsm_loss`) with ``digits_cpu``'s ``TrainConfig`` (the steps, batch,
   learning rate, warm-up, clip and EMA ``dinof_digits`` was trained with), seed ``s``;
2. its EMA **frozen** and the ``digits_cpu`` any-T_m Glow trained alone on it
   (``DiNof(train_score=False)``, the flow-only job of ``train --score``), same ``TrainConfig``;
3. the FID-style score (:func:`~dinof_lite.evaluation.digits_fid.digits_fid`: the shipped digits
   classifier's features, against the 297 test images) of ``--n-samples`` samples at each
   ``T_m`` of ``dinof_digits``' quality record, with its sampler: reverse diffusion, no
   corrector, ``round(100 T_m)`` steps — so both models spend the same NFE per ``T_m``.

The shipped ``dinof_digits`` (one training run, seed 0) is sampled with the same sampler under
the same sampling seeds ``EVAL_SEED + s``; its spread is sampling noise only, the frozen
pipeline's is training and sampling noise. Each model is trained in ``--workdir`` (resumable: a
rerun continues or reuses it). Prints one JSON line per measurement, then a Markdown table of
mean ± standard error over the seeds::

    python scripts/digits_frozen_vs_joint.py --seeds 0 1 2 --workdir runs/digits_frozen
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from dinof_lite.data import load_image_dataset
from dinof_lite.dinof import training_loss
from dinof_lite.evaluation.digits_fid import digits_fid, load_classifier
from dinof_lite.experiment.configs import build_model, get_config
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.pretrained import load_dinof
from dinof_lite.train import Trainer

EVAL_T_MS = (0.3, 0.6, 1.0)  # dinof_digits' quality record
EVAL_SEED = 12345
DATA = {"data_range": (0.0, 1.0), "pad_to": 16}


def sample_steps(T_m: float) -> int:
    """dinof_digits' evaluation sampler: ``round(100 T_m)`` reverse-diffusion steps."""
    return max(1, round(100 * T_m))


def _fit(model, loss_fn, data, seed: int, steps: int, workdir: Path) -> tuple[Trainer, float]:
    cfg = get_config("digits_cpu")
    tcfg = dataclasses.replace(
        cfg.train, n_steps=steps, seed=seed, device="cpu", progress=False, ckpt_every=250
    )
    trainer = Trainer(model, loss_fn, data, tcfg, workdir)
    t0 = time.perf_counter()
    trainer.fit()
    return trainer, time.perf_counter() - t0


def frozen_pipeline(seed: int, steps: int, workdir: Path, train_data):
    """The score network trained alone, frozen, then the any-T_m flow trained alone on it."""
    cfg = get_config("digits_cpu")
    torch.manual_seed(seed)
    joint_shaped = build_model(cfg)  # the UNet exactly as dinof_digits' was initialised
    sde, net = joint_shaped.sde, joint_shaped.score_net

    def dsm(net_, x0, g):
        return dsm_loss(sde, get_score_fn(sde, net_), x0, reduce_mean=cfg.reduce_mean, generator=g)

    score, score_s = _fit(net, dsm, train_data, seed, steps, workdir / f"score_seed{seed}")
    frozen_net = score.ema_model.module.eval()
    torch.manual_seed(seed)
    model = build_model(dataclasses.replace(cfg, train_score=False), score=(sde, frozen_net))
    flow, flow_s = _fit(model, training_loss, train_data, seed, steps, workdir / f"flow_seed{seed}")
    return flow.ema_model.module.eval(), {"score_train_s": score_s, "flow_train_s": flow_s}


@torch.no_grad()
def measure(model, seed: int, n: int, ref: torch.Tensor, classifier) -> list[dict]:
    gen = torch.Generator().manual_seed(EVAL_SEED + seed)
    rows = []
    for T_m in EVAL_T_MS:
        t0 = time.perf_counter()
        out = model.sample_result(
            n, T_m=T_m, n_steps=sample_steps(T_m), corrector="none", generator=gen
        )
        fid = digits_fid(out.x, ref, classifier)
        rows.append({"T_m": T_m, "nfe": out.nfe, "fid": fid, "time_s": time.perf_counter() - t0})
    return rows


def _mean_se(values: list[float]) -> str:
    m = sum(values) / len(values)
    if len(values) < 2:
        return f"{m:.1f}"
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return f"{m:.1f} ± {sd / math.sqrt(len(values)):.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=get_config("digits_cpu").train.n_steps)
    p.add_argument("--n-samples", type=int, default=500)
    p.add_argument("--workdir", type=Path, default=Path("runs/digits_frozen"))
    args = p.parse_args()
    torch.set_num_threads(1)
    tr = load_image_dataset("digits", split="train", **DATA)
    te = load_image_dataset("digits", split="test", **DATA)
    ref = te.batch(torch.arange(len(te)))
    classifier = load_classifier()
    joint = load_dinof("dinof_digits").eval()
    results: dict[str, dict[float, list[float]]] = {"joint": {}, "frozen": {}}
    for seed in args.seeds:
        frozen, times = frozen_pipeline(seed, args.steps, args.workdir, tr.sampler)
        for name, model in (("frozen", frozen), ("joint", joint)):
            for row in measure(model, seed, args.n_samples, ref, classifier):
                results[name].setdefault(row["T_m"], []).append(row["fid"])
                record = {"model": name, "seed": seed, **row}
                print(json.dumps({**record, **(times if name == "frozen" else {})}), flush=True)
    n = len(args.seeds)
    print(f"\nFID-style score (lower is better), {args.n_samples} samples, mean ± s.e. over {n}")
    print("| T_m | NFE | joint `dinof_digits` | score alone, frozen + flow alone |")
    print("| --- | --- | --- | --- |")
    for T_m in EVAL_T_MS:
        joint_fid, frozen_fid = results["joint"][T_m], results["frozen"][T_m]
        print(
            f"| {T_m} | {sample_steps(T_m)} | {_mean_se(joint_fid)} | {_mean_se(frozen_fid)} |"
        )


if __name__ == "__main__":
    main()
