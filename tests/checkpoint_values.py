"""Recorded outputs of every shipped checkpoint: a refactor guard that holds on any CPU.

:func:`compute_outputs` runs the same calls, seeds and arguments on every checkpoint in
``data/checkpoints`` (samples, log-likelihoods, the DiffEnc bound, classifier features).
``tests/fixtures/checkpoint_values.json`` holds every value of each output; :func:`compare` checks
a fresh run against it, value by value, at ``|got - recorded| <= ATOL + RTOL * |recorded|``.

Why a tolerance and not bits: another CPU (or ``ATEN_CPU_CAPABILITY``, or another thread count)
runs other vector kernels whose sums round in another order, and a sampling chain of hundreds
of steps carries those last-bit differences along. Measured against this file's recording
(AVX512, one thread, torch 2.13.0) with ``ATEN_CPU_CAPABILITY=default/avx2/avx512`` and
``OMP_NUM_THREADS=1/2``, no value moved by more than 0.011 of the tolerance (1.5e-5 on a
sample of scale 1; the table is above :data:`RTOL`): the tolerance is about 90 times the drift
seen. A real change moves the values far more: weights scaled by ``1 + RTOL`` (0.1 %) move every
checkpoint's outputs by 2.8 to 555 times the tolerance, one PC step fewer by 900 times, and
``tests/test_checkpoint_values.py`` proves that the guard then fails.

Only quantities that follow a fixed path are recorded: fixed-step samplers (PC, DiffFlow,
DiffEnc, the fast ODE solvers), fixed-step ODEs (RK4) and exact densities. An adaptive solver
(dopri5) chooses its steps by comparing an error estimate with its tolerance, and a last-bit
difference can accept or reject a step, which moves the result by up to the solver's own
tolerance (up to 2e-2 measured on a probability-flow ODE sample): those quantities are only in
the bit-exact mode.

Bit-exact hashes of all outputs, the adaptive ones included, stay available for a refactor on
one machine (``DINOF_BITWISE=1``, see ``tests/test_checkpoint_values.py``). Record anew, only
when a change of numbers is intended (and say why in the commit message), from the repository
root::

    python -m tests.checkpoint_values values   # tests/fixtures/checkpoint_values.json
    python -m tests.checkpoint_values hashes   # tests/fixtures/checkpoint_hashes.json (this machine)
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from dinof_lite import GaussianMixture, get_score_fn, ode_log_likelihood, ode_sample, pc_sample
from dinof_lite.baselines import load_diffenc, load_diffflow
from dinof_lite.evaluation.digits_fid import load_classifier
from dinof_lite.pretrained import load_dinof, load_flow, load_score_model
from dinof_lite.sampling import ode_sample_result, pc_sample_result

DATA = Path(__file__).parent / "fixtures"
VALUES = DATA / "checkpoint_values.json"
HASHES = DATA / "checkpoint_hashes.json"
RECORD = "python -m tests.checkpoint_values"

# |got - recorded| <= ATOL + RTOL * |recorded| for every value (the outputs are samples of scale
# 1 and log-densities of 1 to 300 nats). Measured with torch 2.13.0 against the recording (AVX512,
# one thread): the largest |got - recorded| / (ATOL + RTOL * |recorded|) over every value, per
# ATEN_CPU_CAPABILITY / OMP_NUM_THREADS:
#                     avx512/1  avx512/2  avx2/1  avx2/2  default/1  default/2
#   recorded values   0         0.0012    0.0006  0.0021  0.011      0.011
#   dopri5 values     0         4.3       3.7     1.3     12         12     (hence not recorded)
# The worst recorded value, a 200-step PC sample, moved by 1.5e-5. Weights scaled by 1 + 1e-3
# move every checkpoint's outputs by 2.8 to 555 times the tolerance, and a PC sampler with 199
# steps instead of 200 by 909 times.
RTOL, ATOL = 1e-3, 1e-3

RK4 = {"step_size": 0.01}  # fixed-step twins of the adaptive (dopri5) ODE quantities

# checkpoint name, check, adaptive -> {"<checkpoint>.<quantity>": tensor}
CheckFn = Callable[[str, Tensor, Tensor], None]
Quantities = Callable[[str, CheckFn, bool], dict[str, Tensor]]


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x8() -> Tensor:
    return GaussianMixture.preset("8gaussians").sample(16, _g(123))


def _score_model(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    sde, net = load_score_model(name)
    sf = get_score_fn(sde, net)
    x = pc_sample(sde, sf, (64, 2), n_steps=200, generator=_g(0))
    rich = pc_sample_result(sde, sf, (64, 2), n_steps=200, generator=_g(0), trajectory_every=50)
    check(name + ".pc", x, rich.x)
    y = ode_sample(sde, sf, (64, 2), method="rk4", options=RK4, generator=_g(1))
    rich = ode_sample_result(sde, sf, (64, 2), method="rk4", options=RK4, generator=_g(1))
    check(name + ".rk4_sample", y, rich.x)
    out = {
        name + ".pc": x,
        name + ".rk4_sample": y,
        name + ".rk4_logp": ode_log_likelihood(
            sde, sf, _x8(), method="rk4", options=RK4, generator=_g(2)
        ),
    }
    if adaptive:
        out[name + ".ode"] = ode_sample(sde, sf, (64, 2), generator=_g(1))
        out[name + ".logp"] = ode_log_likelihood(sde, sf, _x8(), generator=_g(2))
    return out


def _flow(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    f = load_flow(name)
    return {
        name + ".sample": f.sample(8, generator=_g(0)),
        name + ".logp": f.log_prob(f.sample(16, generator=_g(5))),
    }


def _dinof(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    m = load_dinof(name)
    x = m.sample(64, generator=_g(0))
    check(name + ".sample", x, m.sample_result(64, generator=_g(0), trajectory_every=7).x)
    out = {
        name + ".sample": x,
        name + ".dpm_solver_2": m.sample(64, solver="dpm_solver_2", n_steps=20, generator=_g(0)),
        name + ".rk4_logp": m.log_likelihood(_x8(), method="rk4"),  # one RK4 step eps -> T_m
    }
    if name.endswith("_anytm"):
        out[name + ".T_m=0.3"] = m.sample(64, T_m=0.3, generator=_g(0))
    if adaptive:
        out[name + ".logp"] = m.log_likelihood(_x8())
    return out


def _digits_sample() -> Tensor:
    return load_dinof("dinof_digits").sample(2, n_steps=10, generator=_g(3)).clamp(0, 1)


def _dinof_digits(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    m = load_dinof(name)
    x = _digits_sample()
    out = {
        name + ".sample": m.sample(2, n_steps=20, generator=_g(0)),
        name + ".rk4_logp": m.log_likelihood(x, generator=_g(4), method="rk4"),
    }
    if adaptive:
        out[name + ".logp"] = m.log_likelihood(x, generator=_g(4), rtol=1e-3, atol=1e-3)
    return out


def _diffflow(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    d = load_diffflow(name)
    x = d.sample(64, generator=_g(0))
    check(name + ".sample", x, d.sample_result(64, generator=_g(0), trajectory_every=5).x)
    out = {name + ".sample": x, name + ".rk4_logp": d.log_likelihood(_x8(), method="rk4")}
    if adaptive:
        out[name + ".logp"] = d.log_likelihood(_x8())
    return out


def _diffenc(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    e = load_diffenc(name)
    x = e.sample(64, n_steps=100, generator=_g(0))
    rich = e.sample_result(64, n_steps=100, generator=_g(0), trajectory_every=10)
    check(name + ".sample", x, rich.x)
    return {name + ".sample": x, name + ".bound": e.nll_bound(_x8(), _g(1))}


def _diffenc_digits(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    # the samples are decoded to the data's 1/8 levels, where a last-bit difference could
    # cross a level: the recorded quantity is the continuous latent z_0 before decoding
    rich = load_diffenc(name).sample_result(2, n_steps=20, generator=_g(0), trajectory_every=20)
    return {name + ".z0": rich.trajectory[-1]}


def _classifier(name: str, check: CheckFn, adaptive: bool) -> dict[str, Tensor]:
    return {name + ".features": load_classifier().features(_digits_sample().reshape(2, 1, 16, 16))}


QUANTITIES: dict[str, Quantities] = {
    "score_mlp_8gaussians_vp": _score_model,
    "score_mlp_8gaussians_ve": _score_model,
    "glow_8gaussians": _flow,
    "glow_moons": _flow,
    "glow_digits": _flow,
    "dinof_8gaussians_vp": _dinof,
    "dinof_8gaussians_vp_tm03": _dinof,
    "dinof_8gaussians_vp_anytm": _dinof,
    "dinof_digits": _dinof_digits,
    "diffflow_8gaussians": _diffflow,
    "diffenc_8gaussians": _diffenc,
    "diffenc_digits": _diffenc_digits,
    "digits_classifier": _classifier,
}


def compute_outputs(
    names: list[str] | None = None,
    *,
    check: CheckFn | None = None,
    adaptive: bool = False,
    threads: int | None = None,
) -> dict[str, Tensor]:
    """``{"<checkpoint>.<quantity>": tensor}`` for the checkpoints ``names`` (default all).

    ``adaptive``: also the dopri5 quantities (bit-exact mode only). ``threads``: intra-op
    threads while it runs (default: as they are). ``check(key, plain, rich)``, if given, is
    called where a ``*_result`` companion must give the same tensor as its plain function
    (with a trajectory recorded)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        out: dict[str, Tensor] = {}
        for name in names or list(QUANTITIES):
            out.update(QUANTITIES[name](name, check or (lambda key, a, b: None), adaptive))
        return {key: t.detach().cpu() for key, t in out.items()}
    finally:
        torch.set_num_threads(before)


def record(t: Tensor) -> dict[str, list]:
    """A tensor as JSON: its shape and its values (9 significant digits: float32 exactly)."""
    values = [float(f"{v:.9g}") for v in t.detach().double().reshape(-1).tolist()]
    return {"shape": list(t.shape), "values": values}


def digest(t: Tensor) -> str:
    """First 16 hex digits of the SHA-256 of the tensor's bytes (bit-exact identity)."""
    return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()[:16]


def excess(got: Tensor, recorded: dict[str, list]) -> Tensor:
    """``|got - recorded| / (ATOL + RTOL * |recorded|)`` value by value (> 1: out of tolerance)."""
    want = torch.tensor(recorded["values"], dtype=torch.float64)
    err = (got.detach().double().reshape(-1) - want).abs()
    return err / (ATOL + RTOL * want.abs())


def compare(got: dict[str, Tensor], recorded: dict[str, dict]) -> list[str]:
    """One line per quantity out of tolerance, missing, or of another shape, naming its
    checkpoint, how many values moved and the worst one."""
    lines = []
    for key in sorted(set(got) | set(recorded)):
        name = key.split(".")[0]
        if key not in recorded:
            lines.append(f"{name}: {key} is computed but not recorded")
        elif key not in got:
            lines.append(f"{name}: {key} is recorded but not computed")
        elif list(got[key].shape) != recorded[key]["shape"]:
            lines.append(
                f"{name}: {key} has shape {list(got[key].shape)}, recorded {recorded[key]['shape']}"
            )
        else:
            ratio = excess(got[key], recorded[key])
            if (ratio > 1).any():
                i = int(ratio.argmax())
                lines.append(
                    f"{name}: {int((ratio > 1).sum())} of {ratio.numel()} values of {key} moved "
                    f"beyond rtol {RTOL:g} / atol {ATOL:g}, the worst to "
                    f"{got[key].reshape(-1)[i].item():.7g} from {recorded[key]['values'][i]:.7g} "
                    f"({ratio[i].item():.3g} x the tolerance)"
                )
    return lines


def environment() -> dict[str, str]:
    """Where bit-exact hashes were recorded: the PyTorch build, CPU kernels and machine."""
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
    }


def _write(path: Path, obj: dict) -> None:
    """``obj`` as JSON, one line per top-level key (written to a temporary file, then renamed)."""
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in obj.items()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str]) -> int:
    what = set(argv) or {"values"}
    if not what <= {"values", "hashes"}:
        print(f"usage: {RECORD} [values] [hashes]; got {' '.join(argv)}", file=sys.stderr)
        return 2
    if "values" in what:
        outputs = compute_outputs(threads=1)
        _write(VALUES, {key: record(t) for key, t in outputs.items()})
        print(f"wrote {VALUES}")
    if "hashes" in what:
        outputs = compute_outputs(adaptive=True, threads=1)
        hashes = {key: digest(t) for key, t in outputs.items()}
        _write(HASHES, {"environment": environment(), **hashes})
        print(f"wrote {HASHES}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
