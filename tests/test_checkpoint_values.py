"""Every shipped checkpoint still gives its recorded numbers: the refactor guard.

The default test compares each output with ``tests/fixtures/checkpoint_values.json`` at the
tolerance of :mod:`tests.checkpoint_values` (``RTOL``, ``ATOL``), which holds on any CPU: the
drift measured across CPU kernels and thread counts is ``DRIFT`` times the tolerance, and the
perturbation tests below show that a checkpoint whose numbers move by more than the tolerance
fails, naming it. ``DINOF_BITWISE=1`` adds the bit-exact mode for a refactor on one machine:
SHA-256 hashes of every output, the adaptive-solver ones included, against
``tests/fixtures/checkpoint_hashes.json``, which is only valid on the machine it was recorded on
(record it there before the refactor with ``python -m tests.checkpoint_values hashes``).
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from torch import Tensor

from dinof_lite.pretrained import available_models
from tests import checkpoint_values as cv

BITWISE = os.environ.get("DINOF_BITWISE", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def shipped(monkeypatch):
    """The shipped checkpoints (``data/checkpoints``), all of them present."""
    monkeypatch.delenv("DINOF_CHECKPOINT_DIR", raising=False)
    missing = sorted(set(cv.QUANTITIES) - set(available_models()))
    if missing:
        pytest.fail(
            f"checkpoints missing: {', '.join(missing)}; rebuild them with "
            "`python scripts/make_checkpoints.py`"
        )


def _recorded(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_shipped_checkpoints_give_the_recorded_values(shipped):
    differ: list[str] = []

    def check(key: str, plain: Tensor, rich: Tensor) -> None:
        if not torch.equal(plain, rich):
            differ.append(key)

    got = cv.compute_outputs(check=check)
    assert not differ, f"the *_result companion differs from its plain function for {differ}"
    problems = cv.compare(got, _recorded(cv.VALUES))
    assert not problems, (
        "the numbers of shipped checkpoints moved beyond the tolerance since they were recorded "
        f"in {cv.VALUES.name}:\n  " + "\n  ".join(problems) + "\nOnly if the change is "
        f"intended, record them anew with `{cv.RECORD} values` and say why in the commit message."
    )


@pytest.mark.skipif(not BITWISE, reason="bit-exact mode is opt-in: DINOF_BITWISE=1")
def test_shipped_checkpoints_give_the_recorded_bits(shipped):
    recorded = _recorded(cv.HASHES)
    where = recorded.pop("environment")
    got = {k: cv.digest(t) for k, t in cv.compute_outputs(adaptive=True, threads=1).items()}
    assert set(got) == set(recorded), "quantities differ from the recorded ones: " + (
        ", ".join(sorted(set(got) ^ set(recorded)))
    )
    changed = [key for key in got if got[key] != recorded[key]]
    here = cv.environment()
    assert not changed, (
        f"{len(changed)} of {len(got)} outputs changed bits: {', '.join(changed)}. The hashes "
        f"were recorded on {where}, this is {here}"
        + ("" if here == where else " (another machine: no bit holds here)")
        + f". Record them on this machine before a refactor with `{cv.RECORD} hashes`."
    )


def _copy_with(tmp_path, monkeypatch, name: str, scale: float):
    """The shipped checkpoints in ``tmp_path`` (read from there), ``name``'s weights times
    ``scale``."""
    from dinof_lite.pretrained import checkpoint_dir

    for path in checkpoint_dir().glob("*.pt"):
        (tmp_path / path.name).symlink_to(path)
    ckpt = torch.load(checkpoint_dir() / f"{name}.pt", weights_only=True)
    ckpt["state_dict"] = {
        k: v * scale if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()
    }
    (tmp_path / f"{name}.pt").unlink()
    torch.save(ckpt, tmp_path / f"{name}.pt")
    monkeypatch.setenv("DINOF_CHECKPOINT_DIR", str(tmp_path))


@pytest.mark.parametrize(
    "name", ["score_mlp_8gaussians_vp", "glow_digits", "dinof_8gaussians_vp", "diffenc_digits"]
)
def test_the_guard_fails_on_a_perturbed_checkpoint(shipped, tmp_path, monkeypatch, name):
    recorded = {k: v for k, v in _recorded(cv.VALUES).items() if k.startswith(name + ".")}
    # weights scaled by 1 + RTOL (0.1 %) move the outputs 3 to 60 times beyond the tolerance
    # (about 90 times the drift across CPUs): the guard fails and names the checkpoint
    _copy_with(tmp_path, monkeypatch, name, 1 + cv.RTOL)
    problems = cv.compare(cv.compute_outputs([name]), recorded)
    assert problems and all(line.startswith(name + ": ") for line in problems), problems
    assert "moved beyond rtol" in problems[0]


def test_the_guard_passes_within_the_tolerance_and_fails_beyond_it():
    rec = {"k.x": {"shape": [4], "values": [-2.0, 0.0, 1e-3, 300.0]}}
    want = torch.tensor(rec["k.x"]["values"], dtype=torch.float64)
    allowed = cv.ATOL + cv.RTOL * want.abs()
    assert cv.compare({"k.x": want + 0.9 * allowed}, rec) == []
    assert cv.compare({"k.x": want - 0.9 * allowed}, rec) == []
    for i in range(4):
        moved = want.clone()
        moved[i] += 1.1 * allowed[i]
        (line,) = cv.compare({"k.x": moved}, rec)
        assert line.startswith("k: 1 of 4 values of k.x moved"), line
    assert cv.compare({"k.x": want[:3]}, rec) == ["k: k.x has shape [3], recorded [4]"]
    assert cv.compare({}, rec) == ["k: k.x is recorded but not computed"]
    assert cv.compare({"k.x": want, "k.y": want}, rec) == ["k: k.y is computed but not recorded"]


def test_the_recorded_values_cover_every_checkpoint_and_only_fixed_path_quantities():
    recorded = _recorded(cv.VALUES)
    assert {key.split(".")[0] for key in recorded} == set(cv.QUANTITIES)
    hashes = _recorded(cv.HASHES)
    del hashes["environment"]
    adaptive = set(hashes) - set(recorded)
    assert set(recorded) < set(hashes) and adaptive, "bitwise mode must cover more"
    assert all(key.endswith((".ode", ".logp")) for key in adaptive), adaptive
