"""Train the small score models the notebooks load, and write ``data/checkpoints/*.pt``.

Usage (from the repository root; about 3 minutes per model on 2 CPU cores)::

    python scripts/make_checkpoints.py                          # every model
    python scripts/make_checkpoints.py --only score_mlp_8gaussians_vp
    python scripts/make_checkpoints.py --steps 200 --out-dir /tmp/ckpt   # a quick try

Each model is a :class:`~dinof_lite.nets.ScoreMLP` trained with the library's
:class:`~dinof_lite.train.Trainer` on :func:`~dinof_lite.losses.dsm_loss` (unweighted DSM,
λ(t) = s(t)²), on fresh samples of the exact 8-Gaussians mixture every step. The file keeps the
EMA weights, the network's constructor arguments, the SDE, the training config, a down-sampled
loss curve, the measured score error against the exact oracle, and the provenance (this script,
its command line, library and torch versions) — see :mod:`dinof_lite.pretrained`.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a clone without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import dinof_lite  # noqa: E402
from dinof_lite.data.toy import GaussianMixture  # noqa: E402
from dinof_lite.losses import dsm_loss, get_score_fn  # noqa: E402
from dinof_lite.nets import ScoreMLP  # noqa: E402
from dinof_lite.pretrained import KNOWN_MODELS, checkpoint_dir, save_score_model  # noqa: E402
from dinof_lite.sde import get_sde  # noqa: E402
from dinof_lite.train import TrainConfig, Trainer  # noqa: E402
from dinof_lite.viz.diagnostics import score_error  # noqa: E402

#: name -> (SDE name, SDE kwargs). VE uses σ_max = 10 ≈ the largest pairwise distance of the data.
MODELS: dict[str, tuple[str, dict]] = {
    "score_mlp_8gaussians_vp": ("vp", {}),
    "score_mlp_8gaussians_ve": ("ve", {"sigma_max": 10.0}),
}
DATASET = "8gaussians"
LOSS_BIN = 20  # the stored loss curve averages the per-step losses over bins of this many steps


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=sorted(MODELS), help="models to (re)build")
    p.add_argument("--out-dir", type=Path, default=None, help="default: data/checkpoints")
    p.add_argument("--steps", type=int, default=8000, help="training updates")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--n-layers", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def binned(losses: list[float], width: int) -> tuple[list[int], list[float]]:
    """Mean loss over consecutive bins of ``width`` steps: (last step of each bin, mean)."""
    steps, means = [], []
    for start in range(0, len(losses), width):
        chunk = losses[start:start + width]
        steps.append(start + len(chunk))
        means.append(sum(chunk) / len(chunk))
    return steps, means


def build(name: str, args: argparse.Namespace, out_dir: Path) -> dict:
    """Train model ``name`` and write ``out_dir/name.pt``; returns a short summary."""
    sde_name, sde_kwargs = MODELS[name]
    sde = get_sde(sde_name, **sde_kwargs)
    gmm = GaussianMixture.preset(DATASET)
    torch.manual_seed(args.seed)
    net_kwargs = {"dim": 2, "hidden": args.hidden, "n_layers": args.n_layers}
    net = ScoreMLP.for_sde(sde, **net_kwargs)
    net_kwargs["embedding"] = "fourier" if sde.name == "ve" else "sinusoidal"
    net_kwargs["emb_dim"] = net.temb[0].in_features

    def loss_fn(model, x0, generator):
        return dsm_loss(sde, get_score_fn(sde, model), x0, generator=generator)

    def data(batch_size, generator):  # fresh samples of the exact mixture: no over-fitting
        return gmm.sample(batch_size, generator)

    config = TrainConfig(n_steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                         warmup=args.warmup, grad_clip=1.0, ema_decay=args.ema, seed=args.seed,
                         device="cpu", log_every=100, ckpt_every=None, progress=not args.no_progress)
    trainer = Trainer(net, loss_fn, data, config, workdir=None)
    result = trainer.fit()
    ema = trainer.ema_model.module.eval()

    gen = torch.Generator().manual_seed(12345)
    err = score_error(sde, get_score_fn(sde, ema), gmm.score_fn(sde), gmm.sample(20_000, gen),
                      t_range=(0.05, 1.0), generator=gen)
    loss_steps, loss_means = binned(result.losses, LOSS_BIN)
    meta = {
        "name": name,
        "description": KNOWN_MODELS.get(name, ""),
        "dataset": {"kind": "GaussianMixture.preset", "name": DATASET},
        "train_config": config.to_dict(),
        "train_steps": result.step,
        "train_time_s": round(result.wall_time, 1),
        "final_loss": result.final_loss,
        "loss_curve": {"bin": LOSS_BIN, "steps": loss_steps, "loss": loss_means},
        "score_error": {"t_range": [0.05, 1.0], "n": 20_000, "value": err,
                        "definition": "E_{t~U(0.05,1), x_t}[s(t)^2 ||score - oracle||^2]"},
        "provenance": {
            "script": "scripts/make_checkpoints.py",
            "command": "python " + shlex.join(["scripts/make_checkpoints.py", *args.argv]),
            "dinof_lite_version": dinof_lite.__version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "threads": torch.get_num_threads(),
        },
    }
    path = save_score_model(out_dir / f"{name}.pt", sde, ema, meta, net_kwargs=net_kwargs)
    return {"name": name, "path": path, "size_kb": path.stat().st_size / 1024,
            "train_time_s": result.wall_time, "final_loss": result.final_loss, "score_error": err}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir = args.out_dir or checkpoint_dir()
    for name in args.only or sorted(MODELS):
        t0 = time.perf_counter()
        s = build(name, args, out_dir)
        print(f"{s['name']}: {s['path']} ({s['size_kb']:.0f} KiB), trained in "
              f"{s['train_time_s']:.0f} s, final loss {s['final_loss']:.4f}, "
              f"score error E[s^2|score-oracle|^2] = {s['score_error']:.4f} "
              f"(total {time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
