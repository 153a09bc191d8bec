"""The GPU check of a paper configuration, in one call (``python -m dinof_lite trial``,
:mod:`dinof_lite.cli.trial`)::

    python -m dinof_lite trial --config cifar10_ve --steps 2000 --workdir runs/trial_ve
    python -m dinof_lite trial --config cifar10_ve_smoke --steps 4 --fake-data --device cpu
    python -m dinof_lite trial --config cifar10_vp --score google/ddpm-cifar10-32 \
        --steps 2000 --workdir runs/trial_ddpm       # flow only, on the published DDPM

trains ``--steps`` updates with exactly the code of ``train``
(:func:`~dinof_lite.experiment.run.train_run`: the precision policy, channels-last on CUDA,
``--compile``, the checkpoint and the lock), then evaluates the EMA model on a small sample and
prints one JSON record:

- ``images_per_s``: training throughput over the steps after the first (the first carries
  ActNorm's initialisation and, with ``--compile``, the compilation);
- ``peak_memory_gib``: ``torch.cuda.max_memory_allocated`` over the training on CUDA; on the CPU
  the peak of one training step counted by :class:`~dinof_lite.experiment.memory.TensorMemory`
  plus the parameters, EMA and Adam state;
- ``precision``: the policy the run used (:mod:`dinof_lite.precision`);
- ``train_score``: False for a flow-only run (``--score`` / ``--score-checkpoint``: the score
  network frozen; only the flow's gradients, Adam state and EMA exist);
- ``flow_bpd_T_m``: the flow's bits/dim of ``x(T_m)`` for ``--n-eval`` test images carried to
  ``T_m`` in closed form — what a flow-only run trains — beside ``flow_bpd_T_m_gaussian``, the
  same for a diagonal Gaussian fitted to those points
  (:func:`~dinof_lite.experiment.evaluate.evaluate_flow_bpd`);
- ``bpd``: bits/dim of ``--n-eval`` test images (ODE + flow, float32 by the policy);
- ``fid``: on digits the shipped classifier's FID-style score of ``--n-eval`` samples against the
  test split; on CIFAR-10 / CelebA-HQ torch-fidelity's FID when the ``fid`` extra is installed
  (``null`` with the reason otherwise). A small-sample FID is biased upwards: compare runs at the
  same ``--n-eval``, not with the paper's 50 000-sample numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from dinof_lite.experiment.run import TrainOptions, load_run, train_run
from dinof_lite.precision import Precision
from dinof_lite.train.validation import resolve_device

__all__ = ["trial"]


class _StepClock:
    """A ``Trainer`` callback: the wall time after every update (CUDA synchronised)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, trainer, step: int, loss: float) -> None:
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)
        self.times.append(time.perf_counter())


def _cpu_peak(model, cfg, batch: int, precision: Precision) -> int:
    """Bytes of one training step on the CPU: the step's tracked peak + parameters, and the EMA
    and Adam of the trainable ones (a frozen score network has neither)."""
    from dinof_lite.experiment.memory import measure_step

    model = model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    t_bytes = sum(p.numel() * p.element_size() for p in trainable)
    optimizer = torch.optim.Adam(trainable)
    lo, hi = cfg.data_range
    x0 = lo + (hi - lo) * torch.rand(batch, *cfg.shape, generator=torch.Generator().manual_seed(0))
    measure_step(model, optimizer, x0, precision)  # Adam's state exists from here on
    step = measure_step(model, optimizer, x0, precision)
    return params + 3 * t_bytes + max(step["peak_backward"], step["peak_optimizer"])


def _fid(model, cfg, test, n: int, precision: Precision, workdir: Path) -> dict:
    from dinof_lite.experiment.evaluate import FidUnavailable, evaluate_fid
    from dinof_lite.experiment.sample import sample_chunks, sample_run

    device = next(model.parameters()).device
    if cfg.dataset == "digits" and cfg.shape != (1, 16, 16):
        return {
            "fid": None,
            "fid_kind": f"unavailable: the digits classifier takes 1×16×16, not {cfg.shape}",
        }
    if cfg.dataset == "digits":
        from dinof_lite.evaluation.digits_fid import digits_fid

        g = torch.Generator(device=device).manual_seed(0)
        imgs = torch.cat(
            list(
                sample_chunks(model, cfg, n, T_m=None, chunk=256, generator=g, precision=precision)
            )
        )
        ref = test.batch(range(len(test)))
        return {"fid": digits_fid(imgs.float() / 255, ref), "fid_kind": "digits classifier"}
    npz = workdir / f"trial_samples_n{n}.npz"
    sample_run(model, cfg, n, npz=npz, precision=precision)
    try:
        return {**evaluate_fid(npz, test, device=device), "fid_kind": "inception"}
    except FidUnavailable as err:
        return {"fid": None, "fid_kind": f"unavailable: {err}"}


def trial(opts: TrainOptions, *, n_eval: int = 64, rtol: float = 1e-5, fid: bool = True) -> dict:
    """Train ``opts`` (``sample_every`` 0 unless set), then measure; returns the printed record."""
    from dinof_lite.experiment.data import experiment_dataset
    from dinof_lite.experiment.evaluate import evaluate_bpd, evaluate_flow_bpd

    clock = _StepClock()
    if opts.sample_every is None:
        opts.sample_every = 0
    opts.callbacks = (*opts.callbacks, clock)
    device = resolve_device(opts.device, "--device")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    summary = train_run(opts)
    record = {k: summary[k] for k in ("config", "workdir", "step", "device", "world_size")}
    record["precision"] = summary["precision"]
    record["train_score"] = summary["train_score"]
    cfg, model = load_run(opts.workdir, summary["device"])
    batch = cfg.train.batch_size
    if len(clock.times) >= 2:
        span = clock.times[-1] - clock.times[0]
        record["images_per_s"] = round(batch * (len(clock.times) - 1) / span, 2)
    else:
        record["images_per_s"] = None
    device = torch.device(summary["device"])
    precision = Precision(summary["precision_mode"], device.type)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
        record["peak_memory_source"] = "torch.cuda.max_memory_allocated"
    else:
        _, raw = load_run(opts.workdir, summary["device"], ema=False)
        peak = _cpu_peak(raw, cfg, batch // summary["world_size"], precision)
        record["peak_memory_source"] = "one step counted by TensorMemory (CPU)"
    record["peak_memory_gib"] = round(peak / 2**30, 4)
    test = experiment_dataset(cfg, "test", fake=opts.fake_data, root=opts.data_root)
    flow = evaluate_flow_bpd(model, cfg, test, n=n_eval, batch_size=n_eval)
    record.update(
        T_m=flow["T_m"], flow_bpd_T_m=flow["flow_bpd"], flow_bpd_T_m_gaussian=flow["gaussian"]
    )
    bpd = evaluate_bpd(model, cfg, test, n=n_eval, batch_size=n_eval, rtol=rtol, atol=rtol)
    record.update(bpd=bpd["bpd"], bpd_std=bpd["bpd_std"], n_eval=bpd["n"])
    if fid:
        record.update(_fid(model, cfg, test, n_eval, precision, Path(opts.workdir)))
    return record
