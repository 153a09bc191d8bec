"""``python -m dinof_lite bench sampling``: the samplers' own overhead, then DiNof from ``T_m``
vs plain diffusion from ``T``.

0. The overhead of every sampler over its network evaluations, ``sampler time / (NFE × one
   bare forward)``, at the notebooks' batch sizes (:mod:`dinof_lite.cli.bench.overhead`): on
   both shipped models (2D and digits) by default, on ``--model`` when one is given.

Both samplers use the *same* score network — the shipped any-T_m model
``dinof_8gaussians_vp_anytm`` (score network trained on ``[eps, T]``) — so the table isolates what
starting the reverse SDE at ``T_m`` from the flow buys:

1. head to head at ``T_m = 0.6``: wall time (best of ``repeats``, the two samplers interleaved),
   NFE, MMD², sliced W2 and the NLL of the samples under the true mixture; the wall-time ratio
   is bounded by ``N / round(N·T_m) = 1/0.6 ≈ 1.67``. Measured on one CPU thread at
   ``n = 2000``: a step takes 2.5–4 ms, ~90 % of it the score network (≈ 0.4 ms per step is the
   sampler's own arithmetic and Python, paid by both samplers alike), and the flow's single pass
   5–8 ms ≈ 2 steps, so ``1000 / (600 + 2) ≈ 1.66`` is the ratio to expect; on a shared machine
   single runs vary by 10–20 %, hence best-of-``repeats`` with alternating order;
2. the sweep ``T_m = 0.1 … 1.0`` (best of ``min(repeats, 3)``, interleaved) and the smallest
   ``T_m`` whose MMD² is within the noise floor of the baseline's
   (:func:`~dinof_lite.evaluation.tm_study.first_match`).

A note column carries the noise floor (two true sample sets of the same size) and the match.

With an image model (``--model dinof_digits``) the same head-to-head and a short sweep run on
sklearn's digits, scored by the FID-style distance of classifier features to the test split
(:func:`~dinof_lite.evaluation.digits_fid.digits_fid`); its floor is the train split's score.
"""

from __future__ import annotations

import torch

from dinof_lite.cli.bench.overhead import sampler_overhead
from dinof_lite.data import toy
from dinof_lite.evaluation.tm_study import TM_GRID, first_match, noise_floor, tm_study
from dinof_lite.pretrained import checkpoint_meta, load_dinof

__all__ = ["bench_sampling", "SAMPLING_MODEL", "SAMPLING_SIZES"]

SAMPLING_MODEL = "dinof_8gaussians_vp_anytm"
DIGITS_MODEL = "dinof_digits"
#: size -> (samples per row, steps of the full path [eps, T] or None for sde.N, T_m grid)
SAMPLING_SIZES: dict[str, tuple[int, int | None, tuple[float, ...]]] = {
    "full": (2000, None, TM_GRID),
    "smoke": (200, 40, (0.2, 0.6, 1.0)),
}
HEAD_TO_HEAD_TM = 0.6


def _load(model: str | None, device: torch.device):
    """The benchmark's model (``model``: a name or ``.pt`` path; default :data:`SAMPLING_MODEL`)."""
    name = model or SAMPLING_MODEL
    try:
        return load_dinof(name, device=device), checkpoint_meta(name)
    except FileNotFoundError as err:
        hint = (
            f"; create it with `python scripts/make_checkpoints.py --only {SAMPLING_MODEL}`"
            if model is None
            else ""
        )
        raise ValueError(f"{err}{hint}") from err


def _row(case: str, r: dict, note: str = "", metrics=("mmd", "sw", "gmm_nll")) -> dict:
    return {
        "case": case,
        "method": r["method"],
        "T_m": r["T_m"],
        "nfe": r["nfe"],
        "wall_s": r["wall_s"],
        "speedup": r["speedup"],
        "flow_ms": 1e3 * r["flow_time_s"],
        "ms/step": 1e3 * r["sde_time_s"] / r["n_steps"],
        **{m: r[m] for m in metrics},
        "note": note,
    }


#: size -> (samples per row, steps of the full path [eps, T], T_m sweep) for image models
IMAGE_SIZES = {"full": (128, 200, (0.2, 0.6, 1.0)), "smoke": (8, 10, (0.6,))}


def _bench_digits(net, device: torch.device, repeats: int, size: str) -> list[dict]:
    """Head to head at T_m = 0.6 and a sweep on digits, scored by :func:`digits_fid`."""
    from dinof_lite.data import load_image_dataset
    from dinof_lite.evaluation.digits_fid import digits_fid

    n, n_full, grid = IMAGE_SIZES[size]
    kw = {"data_range": (0.0, 1.0), "pad_to": net.dims[-1]}
    test = torch.stack(list(load_image_dataset("digits", split="test", **kw)))
    train = torch.stack(list(load_image_dataset("digits", split="train", **kw)))
    floor = digits_fid(train[:n], test)  # the score's bias at this sample size
    common = {
        "n": n,
        "reference": test,
        "n_steps_full": n_full,
        "quality": lambda x: {"fid": digits_fid(x, test)},
    }
    head = tm_study(net, [HEAD_TO_HEAD_TM], repeats=min(repeats, 2), **common)
    sweep = tm_study(net, grid, repeats=1, **common)
    note = f"floor: {n} train images vs test {floor:.3g}"
    rows = [
        _row(
            f"digits T_m={HEAD_TO_HEAD_TM} vs T (best of {min(repeats, 2)})",
            r,
            note if r["method"] == "baseline" else f"NFE ratio {head[-1]['nfe'] / r['nfe']:.3g}",
            metrics=("fid",),
        )
        for r in head
    ]
    rows += [_row("digits sweep", r, metrics=("fid",)) for r in sweep]
    return rows


def bench_sampling(
    device: torch.device, repeats: int = 5, size: str = "full", model: str | None = None
) -> list[dict]:
    """The overhead rows (see :func:`~dinof_lite.cli.bench.overhead.sampler_overhead`), then the
    rows of the head-to-head at ``T_m = 0.6`` and of the ``T_m`` sweep (see module docstring);
    every row has every column (None where it does not apply).

    Columns: ``case, method, T_m, nfe, wall_s, speedup, flow_ms, ms/step``, the quality columns
    (``mmd, sw, gmm_nll`` of :func:`~dinof_lite.evaluation.sample_quality`; ``fid`` for digits)
    and ``note``; ``speedup`` = baseline wall time / row wall time, ``flow_ms`` the flow's pass,
    ``ms/step`` the reverse SDE's time per step (``wall_s`` ≈ flow + steps · ms/step); the
    overhead rows' ``bare ms``, ``sampler ms`` and ``ratio``.
    """
    net, meta = _load(model, device)
    _check_model(net, meta, model)  # before any timing
    others = {} if model else {DIGITS_MODEL: _load(DIGITS_MODEL, device)[0]}
    rows = sampler_overhead({model or SAMPLING_MODEL: net, **others}, device, repeats, size)
    rows += _head_to_head(net, meta, device, repeats, size)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k) for k in keys} for r in rows]


def _check_model(net, meta: dict, model: str | None) -> None:
    """A ValueError unless ``net`` is an any-``T_m`` model of digits or of an exact mixture."""
    dataset = (meta.get("dataset") or {}).get("name", "8gaussians")
    if len(net.dims) == 3:
        if dataset != "digits" or not net.any_T_m:
            raise ValueError(
                "bench sampling on images needs an any-T_m digits model (the shipped dinof_digits)"
            )
        return
    if not net.any_T_m:
        raise ValueError(
            f"bench sampling needs an any-T_m model (T_m_range=(lo, T)); "
            f"{model or SAMPLING_MODEL} was trained at T_m={net.T_m} only"
        )
    if dataset not in toy.PRESETS:
        raise ValueError(
            f"bench sampling scores samples with an exact mixture; {dataset!r} is none"
        )


def _head_to_head(net, meta, device, repeats, size) -> list[dict]:
    """The rows of the head-to-head at ``T_m = 0.6`` and of the sweep."""
    n, n_full, grid = SAMPLING_SIZES[size]
    if len(net.dims) == 3:
        return _bench_digits(net, device, repeats, size)
    gmm = toy.GaussianMixture.preset((meta.get("dataset") or {}).get("name", "8gaussians"))
    reference = gmm.sample(n, torch.Generator().manual_seed(1))
    floor = noise_floor(gmm, n)
    common = {"n": n, "reference": reference, "gmm": gmm, "n_steps_full": n_full}
    head = tm_study(net, [HEAD_TO_HEAD_TM], repeats=repeats, **common)
    sweep_repeats = min(repeats, 3)
    sweep = tm_study(net, grid, repeats=sweep_repeats, **common)
    match = first_match(sweep, "mmd", floor)
    floor_note = f"noise floor (2 true sets, n={n}): MMD² {floor['mmd']:.2g}, SW {floor['sw']:.2g}"
    rows = [
        _row(
            f"T_m={HEAD_TO_HEAD_TM} vs T (best of {repeats})",
            r,
            floor_note
            if r["method"] == "baseline"
            else f"NFE ratio {head[-1]['nfe'] / r['nfe']:.3g}",
        )
        for r in head
    ]
    for r in sweep:
        note = ""
        if r is match:
            note = f"first T_m with MMD² <= baseline + floor: {r['speedup']:.2f}x faster"
        rows.append(_row(f"sweep (best of {sweep_repeats})", r, note))
    if match is None:
        rows[-1]["note"] = "no T_m matches the baseline's MMD² within the noise floor"
    return rows
