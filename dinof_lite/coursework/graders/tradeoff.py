"""A6, exercises (i)–(k): the ``T_m`` trade-off, graded outside the kernel.

The model stays in the grader's process (its ``sample_result`` and score function are called
back; its flow counts its calls here). Secret parts: (i) at a drawn ``T_m`` and seed on drawn
data, (j) on a drawn grid, ``n`` and seed, both against
:func:`~dinof_lite.evaluation.tm_study.tm_study` and
:func:`~dinof_lite.evaluation.tm_study.noise_floor` computed here (NFE exact, MMD² within the
noise floor); (k) on drawn constructed sweeps against the rule itself. (j) runs the student's
own (i); (k) is graded on constructed sweeps only (the notebook's own sweep needs the whole
notebook run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks._core import Failed, fmt
from dinof_lite.coursework.checks.tradeoff import (
    CountedCalls,
    default_anytm_model,
    nfe_mistake,
    right_answer,
    table_entry,
)
from dinof_lite.coursework.graders._core import LIBRARY, Exercise, combined, secret, uniform
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.tm_study import noise_floor, tm_study

__all__ = ["EXERCISES"]

_NAMES = {
    "torch": "torch",
    "math": "math",
    "mmd": "dinof_lite.evaluation:mmd",
    "noise_floor": "dinof_lite.evaluation.tm_study:noise_floor",
    "pc_sample_result": "dinof_lite.sampling:pc_sample_result",
}
_FORBIDDEN = {name: LIBRARY.format(name) for name in ("tm_study", "first_match", "load_dinof")}
_FORBIDDEN["GaussianMixture"] = "use the mixture your function is given (its gmm argument)."


def _close_mmd(got: float, want: float, floor: float, what: str) -> None:
    if abs(got - want) > 3 * floor + 1e-4:
        raise Failed(f"{what}: MMD² {fmt(got)}, the library's {fmt(want)} (floor {fmt(floor)}).")


def grade_measure(answer: Callable, rng: torch.Generator):
    T_m = uniform(rng, 0.2, 0.9, 2)
    seed, n = int(torch.randint(1, 1000, (), generator=rng)), 300
    gmm = GaussianMixture.preset("8gaussians")
    data = gmm.sample(n, torch.Generator().manual_seed(seed + 7))

    def grade() -> str:
        counted = CountedCalls(default_anytm_model())
        m = counted.model
        with torch.no_grad():
            got_mmd, got_nfe = table_entry(answer(m, T_m, data.clone(), seed), f"measure at {T_m}")
        if counted.inverse_calls == 0:
            raise Failed("the flow was never used: DiNof samples x(T_m) with the flow.")
        nfe_mistake(got_nfe, T_m, m.sde)
        row = tm_study(m, [T_m], n=n, reference=data, seed=seed, baseline=False)[0]
        _close_mmd(got_mmd, row["mmd"], noise_floor(gmm, n)["mmd"], f"at T_m = {T_m}")
        return "right."

    default = checks.check_measure(answer)
    drawn = secret("measure", "(i)", grade) if default.passed else default
    return combined(default, drawn, f"at T_m = {T_m}, seed {seed}, {n} drawn data points")


def grade_sweep(answer: Callable, rng: torch.Generator):
    grid = sorted({uniform(rng, 0.15, 0.95, 2) for _ in range(2)}, reverse=True)
    seed, n = int(torch.randint(1, 1000, (), generator=rng)), 300
    gmm = GaussianMixture.preset("8gaussians")

    def grade() -> str:
        m = CountedCalls(default_anytm_model()).model
        with torch.no_grad():
            out = answer(m, list(grid), gmm, n, seed)
        if not isinstance(out, Mapping) or not {"rows", "baseline", "floor"} <= set(out):
            raise Failed("return a dict with keys 'rows', 'baseline' and 'floor'.")
        rows = out["rows"]
        if not isinstance(rows, list | tuple) or len(rows) != len(grid):
            raise Failed(f"'rows' should hold one dict per T_m ({len(grid)}).")
        floor = noise_floor(gmm, n)["mmd"]
        got_floor = float(out["floor"]) if isinstance(out["floor"], int | float) else None
        if got_floor is None or not floor / 5 <= got_floor <= 5 * floor:
            raise Failed(f"noise floor {out['floor']!r:.40}, expected about {fmt(floor)}.")
        reference = gmm.sample(n, torch.Generator().manual_seed(seed + 1))
        lib = tm_study(m, grid, n=n, reference=reference, seed=seed)
        if [r.get("T_m") if isinstance(r, Mapping) else None for r in rows] != sorted(grid):
            raise Failed(f"the rows' T_m should be {sorted(grid)}, ascending.")
        for row, ref in zip(rows, lib[:-1]):
            got_mmd, got_nfe = table_entry(row, f"the row at T_m = {ref['T_m']}")
            nfe_mistake(got_nfe, ref["T_m"], m.sde)
            _close_mmd(got_mmd, ref["mmd"], floor, f"at T_m = {ref['T_m']}")
        base_mmd, base_nfe = table_entry(out["baseline"], "'baseline'")
        nfe_mistake(base_nfe, None, m.sde)
        _close_mmd(base_mmd, lib[-1]["mmd"], floor, "the baseline")
        return "right."

    default = checks.check_sweep(answer)
    drawn = secret("sweep", "(j)", grade) if default.passed else default
    return combined(default, drawn, f"on T_m ∈ {grid}, n = {n}, seed {seed}")


def _drawn_sweep(rng: torch.Generator) -> dict:
    k = int(torch.randint(3, 7, (), generator=rng))
    tms = sorted({uniform(rng, 0.05, 0.95, 2) for _ in range(k)})
    order = [tms[int(i)] for i in torch.randperm(len(tms), generator=rng)]
    units = lambda: int(torch.randint(0, 12, (), generator=rng)) / 1024  # noqa: E731
    rows = [{"T_m": t, "mmd": units(), "nfe": round(1000 * t)} for t in order]
    return {"rows": rows, "baseline": {"mmd": units(), "nfe": 1000}, "floor": units()}


def grade_smallest(answer: Callable, rng: torch.Generator):
    cases = [_drawn_sweep(rng) for _ in range(6)]

    def grade() -> str:
        for case in cases:
            want, got = right_answer(case), answer(case)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = float(got)
            if (want is None) != (got is None) or (want is not None and abs(got - want) > 1e-9):
                raise Failed(f"on a drawn sweep the answer is {want}, yours {got!r:.40}.")
        return "right."

    default = checks.check_smallest_matching_T_m(answer)
    drawn = secret("smallest_matching_T_m", "(k)", grade) if default.passed else default
    return combined(default, drawn, f"on {len(cases)} sweeps")


EXERCISES = [
    Exercise("measure", "check_measure", "(i)", grade_measure, _FORBIDDEN, names=_NAMES,
             time_factor=3.0),
    Exercise("sweep", "check_sweep", "(j)", grade_sweep, _FORBIDDEN, cells=("measure", "sweep"),
             names=_NAMES, time_factor=3.0),
    Exercise("smallest_matching_T_m", "check_smallest_matching_T_m", "(k)", grade_smallest,
             _FORBIDDEN, names=_NAMES),
]  # fmt: skip
