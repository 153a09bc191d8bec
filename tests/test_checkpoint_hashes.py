"""Bit-for-bit hashes of samples and log-likelihoods from every shipped checkpoint.

The expected values in ``tests/data/checkpoint_sample_hashes.json`` were recorded before the 0.2
re-layout (new module homes, one return type per function, DiNof's sampling and likelihood as
methods), with the 0.1 API and the same calls, seeds and arguments as below. A re-layout must
not change a single bit; a mismatch names the checkpoint and the quantity that moved.

Each value is the first 16 hex digits of the SHA-256 of the output tensor's bytes, computed on
the CPU with one thread (multi-threaded reductions may sum in another order). The values belong
to the project's environment (its pinned PyTorch on an x86-64 CPU): another PyTorch build or
CPU may round differently. ``REGENERATE`` says how to record new values when a change of
numbers is intended. The test also checks that every ``*_result`` companion returns the same
samples as its plain function, with a trajectory recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor

from dinof_lite import GaussianMixture, get_score_fn, ode_log_likelihood, ode_sample, pc_sample
from dinof_lite.baselines import load_diffenc, load_diffflow
from dinof_lite.evaluation.digits_fid import load_classifier
from dinof_lite.pretrained import available_models, load_dinof, load_flow, load_score_model
from dinof_lite.sampling import ode_sample_result, pc_sample_result

EXPECTED = Path(__file__).parent / "data" / "checkpoint_sample_hashes.json"
REGENERATE = (
    "Only if the change of numbers is intended, regenerate them with "
    "`python -c 'import json, tests.test_checkpoint_hashes as t; "
    'json.dump(t.compute_hashes(), open(t.EXPECTED, "w"), indent=1)\'` '
    "from the repository root (and say why in the commit message)"
)
NEEDED = (
    "score_mlp_8gaussians_vp",
    "score_mlp_8gaussians_ve",
    "glow_8gaussians",
    "glow_moons",
    "glow_digits",
    "dinof_8gaussians_vp",
    "dinof_8gaussians_vp_tm03",
    "dinof_8gaussians_vp_anytm",
    "dinof_digits",
    "diffflow_8gaussians",
    "diffenc_8gaussians",
    "diffenc_digits",
    "digits_classifier",
)


def _h(t: Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()[:16]


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def compute_hashes(check: Callable[[str, Tensor, Tensor], None] | None = None) -> dict[str, str]:
    """``{quantity: hash}`` of every shipped checkpoint (one CPU thread while it runs).

    ``check(key, plain, rich)``, if given, is called where a ``*_result`` companion must give
    the same tensor as its plain function (also with a trajectory recorded)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _hashes(check or (lambda key, a, b: None))
    finally:
        torch.set_num_threads(threads)


def _hashes(check: Callable[[str, Tensor, Tensor], None]) -> dict[str, str]:
    out = {}
    x8 = GaussianMixture.preset("8gaussians").sample(64, _g(123))
    for name in ("score_mlp_8gaussians_vp", "score_mlp_8gaussians_ve"):
        sde, net = load_score_model(name)
        sf = get_score_fn(sde, net)
        x = pc_sample(sde, sf, (64, 2), n_steps=200, generator=_g(0))
        out[name + ".pc"] = _h(x)
        rich = pc_sample_result(sde, sf, (64, 2), n_steps=200, generator=_g(0), trajectory_every=50)
        check(name + ".pc", x, rich.x)
        x = ode_sample(sde, sf, (64, 2), generator=_g(1))
        out[name + ".ode"] = _h(x)
        check(name + ".ode", x, ode_sample_result(sde, sf, (64, 2), generator=_g(1)).x)
        out[name + ".logp"] = _h(ode_log_likelihood(sde, sf, x8[:16], generator=_g(2)))
    for name in ("glow_8gaussians", "glow_moons", "glow_digits"):
        f = load_flow(name)
        out[name + ".sample"] = _h(f.sample(32, generator=_g(0)))
        xs = f.sample(16, generator=_g(5))
        out[name + ".logp"] = _h(f.log_prob(xs))
    for name in ("dinof_8gaussians_vp", "dinof_8gaussians_vp_tm03", "dinof_8gaussians_vp_anytm"):
        m = load_dinof(name)
        x = m.sample(64, generator=_g(0))
        out[name + ".sample"] = _h(x)
        check(name + ".sample", x, m.sample_result(64, generator=_g(0), trajectory_every=7).x)
        out[name + ".logp"] = _h(m.log_likelihood(x8[:16]))
    m = load_dinof("dinof_8gaussians_vp_anytm")
    out["anytm.T_m=0.3.sample"] = _h(m.sample(64, T_m=0.3, generator=_g(0)))
    m = load_dinof("dinof_digits")
    out["dinof_digits.sample"] = _h(m.sample(4, n_steps=20, generator=_g(0)))
    xd = m.sample(2, n_steps=10, generator=_g(3)).clamp(0, 1)
    out["dinof_digits.logp"] = _h(m.log_likelihood(xd, generator=_g(4), rtol=1e-3, atol=1e-3))
    d = load_diffflow("diffflow_8gaussians")
    x = d.sample(64, generator=_g(0))
    out["diffflow.sample"] = _h(x)
    check("diffflow.sample", x, d.sample_result(64, generator=_g(0), trajectory_every=5).x)
    out["diffflow.logp"] = _h(d.log_likelihood(x8[:16]))
    e = load_diffenc("diffenc_8gaussians")
    x = e.sample(64, n_steps=100, generator=_g(0))
    out["diffenc.sample"] = _h(x)
    rich = e.sample_result(64, n_steps=100, generator=_g(0), trajectory_every=10)
    check("diffenc.sample", x, rich.x)
    out["diffenc.bound"] = _h(e.nll_bound(x8[:16], _g(1)))
    e = load_diffenc("diffenc_digits")
    out["diffenc_digits.sample"] = _h(e.sample(4, n_steps=20, generator=_g(0)))
    c = load_classifier()
    out["digits_classifier.features"] = _h(c.features(xd.reshape(2, 1, 16, 16)))
    return out


def test_shipped_checkpoints_give_the_recorded_numbers(monkeypatch):
    monkeypatch.delenv("DINOF_CHECKPOINT_DIR", raising=False)
    missing = sorted(set(NEEDED) - set(available_models()))
    if missing:
        pytest.skip(
            f"checkpoints not built: {', '.join(missing)} (python scripts/make_checkpoints.py)"
        )
    differ: list[str] = []

    def check(key: str, plain: Tensor, rich: Tensor) -> None:
        if not torch.equal(plain, rich):
            differ.append(key)

    got = compute_hashes(check)
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert not differ, f"the *_result companion differs from its plain function for {differ}"
    assert set(got) == set(expected), f"quantities differ from {EXPECTED.name}: " + ", ".join(
        sorted(set(got) ^ set(expected))
    )
    changed = [key for key in expected if got[key] != expected[key]]
    assert not changed, (
        "the numbers of "
        + ", ".join(f"{key.split('.')[0]} ({key})" for key in changed)
        + f" changed since they were recorded in tests/data/{EXPECTED.name}; a re-layout must "
        + f"not change a single bit. {REGENERATE}."
    )
