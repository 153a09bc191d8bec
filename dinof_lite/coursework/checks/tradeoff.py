"""Checks for exercises (i)–(k): the ``T_m`` trade-off of DiNof — quality against cost, and the
smallest ``T_m`` that is as good as the plain diffusion sampler (DiNof §4, Table 1).

- ``measure(model, T_m, data, seed=0) -> {"mmd", "nfe"}``: ``len(data)`` DiNof samples at
  ``T_m`` (``T_m=None``: the plain baseline, the same score network from ``p_T`` with all ``N``
  steps), drawn from ``torch.Generator().manual_seed(seed)``; MMD² against ``data`` and the
  number of score-network evaluations. Reference: a row of
  :func:`~dinof_lite.evaluation.tm_study.tm_study`.
- ``sweep(model, T_m_values, gmm, n, seed=0) -> {"rows", "baseline", "floor"}``: fresh data,
  ``measure`` at every ``T_m`` (ascending) and for the baseline, and the MMD² noise floor
  at ``n`` (what two true sample sets differ by, :func:`~dinof_lite.evaluation.tm_study.noise_floor`).
- ``smallest_matching_T_m(result) -> float | None``: the smallest ``T_m`` whose MMD² is at most
  the baseline's plus the noise floor (:func:`~dinof_lite.evaluation.tm_study.first_match`);
  graded on constructed sweeps that tell the usual wrong rules apart, and on the student's own
  sweep, where the noise floor must be smaller than the effect it is to resolve.

Sampling is graded statistically: the student may draw in another order or with another seed,
so MMD² values are accepted within a few noise floors of the library's; NFE counts are exact.
The checks run the model with ``N = 200`` steps on ``[0, T]`` to stay fast.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from dinof_lite.coursework.checks._core import CheckResult, Failed, fmt, run_check
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.evaluation.tm_study import first_match, noise_floor, tm_study

__all__ = [
    "check_measure",
    "check_sweep",
    "check_smallest_matching_T_m",
    "default_anytm_model",
    "WRONG_RULES",
]

_N_SDE, _N_DATA = 200, 400
_HINT_MEASURE = (
    "DiNof: model.sample_result(n, T_m=T_m, generator=gen) gives .x and .nfe; the baseline: "
    "pc_sample_result(model.sde, model.score_fn, (n, *model.dims), n_steps=model.sde.N, "
    "predictor='euler_maruyama', corrector='none', eps=model.sample_eps, generator=gen); "
    "MMD² = mmd(data, x) from dinof_lite.evaluation."
)
_HINT_SWEEP = (
    "return {'rows': [{'T_m': …, 'mmd': …, 'nfe': …}, …], 'baseline': {'mmd': …, 'nfe': …}, "
    "'floor': noise_floor(gmm, n)['mmd']}."
)
_HINT_MATCH = "result['rows'] is a list of dicts with 'T_m' and 'mmd'; return a float or None."


def default_anytm_model() -> nn.Module:
    """The shipped ``dinof_8gaussians_vp_anytm``, or (without checkpoints) an untrained any-T_m
    DiNof with fixed weights."""
    from dinof_lite.pretrained import load_dinof

    try:
        return load_dinof("dinof_8gaussians_vp_anytm")
    except (FileNotFoundError, ValueError):
        from dinof_lite import VPSDE, DiNof, Glow, ScoreMLP

        with torch.random.fork_rng():
            torch.manual_seed(0)
            sde = VPSDE()
            net = ScoreMLP.for_sde(sde, hidden=32)
            flow = Glow((2,), 1, 4, 32, context_dim=DiNof.CONTEXT_DIM)
        return DiNof(sde, net, flow, T_m=0.6, T_m_range=(0.1, 1.0)).eval()


class CountedCalls:
    """``model`` with ``N = 200`` and a flow whose ``inverse`` calls are counted."""

    def __init__(self, model: nn.Module) -> None:
        from dinof_lite.dinof import DiNof

        sde = type(model.sde)(**{**model.sde.params(), "N": _N_SDE})
        flow = copy.deepcopy(model.flow)
        self.inverse_calls = 0
        inverse = flow.inverse

        def counted(*args, **kwargs):
            self.inverse_calls += 1
            return inverse(*args, **kwargs)

        flow.inverse = counted
        self.model = DiNof(sde, model.score_net, flow, **model.kwargs).eval()


def _number(value: object, what: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Failed(f"{what} should be a number (a float or int), got {type(value).__name__}.")
    if not math.isfinite(float(value)):
        raise Failed(f"{what} is {value}.")
    return float(value)


def table_entry(out: object, what: str) -> tuple[float, float]:
    if not isinstance(out, Mapping) or "mmd" not in out or "nfe" not in out:
        raise Failed(f"{what} should be a dict with keys 'mmd' and 'nfe', got {out!r:.80}.")
    return _number(out["mmd"], f"{what}['mmd']"), _number(out["nfe"], f"{what}['nfe']")


def _data(seed: int, n: int = _N_DATA) -> Tensor:
    return GaussianMixture.preset("8gaussians").sample(n, torch.Generator().manual_seed(seed))


def nfe_mistake(nfe: float, T_m: float | None, sde) -> None:
    """Fail with a named mistake unless ``nfe`` is the score-evaluation count at ``T_m``."""
    N = sde.N
    if T_m is None:
        if nfe != N:
            raise Failed(
                f"the baseline takes all N = {N} steps from p_T, one score evaluation each: "
                f"NFE = {N}, yours {fmt(nfe)}."
            )
        return
    want = sde.n_steps_from(T_m)
    if nfe == want:
        return
    if nfe == N:
        msg = f"NFE counted as N = {N}: DiNof runs only round(N·T_m) = {want} steps from T_m."
    elif nfe == N - want:
        msg = (
            f"you counted the saved evaluations N − round(N·T_m) = {N - want}; the cost is the "
            f"evaluations made, round(N·T_m) = {want}."
        )
    elif nfe == want + 1:
        msg = (
            f"NFE counts score-network evaluations only, round(N·T_m) = {want}; the one flow "
            "pass is not one of them."
        )
    elif abs(nfe - N * T_m) < 1e-6:
        msg = f"NFE is a whole number of steps: round(N·T_m) = {want}, not N·T_m."
    else:
        msg = f"NFE at T_m = {T_m} is round(N·T_m) = round({N}·{T_m}) = {want}, yours {fmt(nfe)}."
    raise Failed(msg)


# --------------------------------------------------------------------------- (i) measure
def check_measure(measure: Callable, model: nn.Module | None = None) -> CheckResult:
    """Grade ``measure(model, T_m, data, seed)`` at two ``T_m`` and for the baseline against
    :func:`tm_study` rows (NFE exact, MMD² within the noise floor)."""

    def grade() -> str:
        counted = CountedCalls(default_anytm_model() if model is None else model)
        m, data, gmm = counted.model, _data(7), GaussianMixture.preset("8gaussians")
        floor = noise_floor(gmm, _N_DATA)["mmd"]
        grid = (0.3, 0.7)
        rows = tm_study(m, grid, n=_N_DATA, reference=data, seed=0)
        lib = {r["T_m"] if r["method"] == "dinof" else None: r for r in rows}
        for T_m in (*grid, None):
            before = counted.inverse_calls
            with torch.no_grad():
                out = measure(m, T_m, data.clone(), seed=0)
            what = "measure(model, None, …)" if T_m is None else f"measure(model, {T_m}, …)"
            got_mmd, got_nfe = table_entry(out, what)
            if T_m is None and counted.inverse_calls > before:
                raise Failed(
                    "the baseline used the flow (DiNof at T_m = 1?): the plain sampler starts "
                    "from the SDE's prior p_T = N(0, I) and runs all N steps with the same "
                    "score network (pc_sample_result)."
                )
            if T_m is not None and counted.inverse_calls == before:
                raise Failed(
                    f"at T_m = {T_m} the flow was never used: DiNof samples x(T_m) with the flow "
                    "(model.sample_result(n, T_m=T_m, …)), not from the Gaussian prior."
                )
            if T_m is not None and got_nfe == m.sde.n_steps_from(m.T_m) != m.sde.n_steps_from(T_m):
                raise Failed(
                    f"ignores its T_m argument: NFE {fmt(got_nfe)} is that of the model's "
                    f"default T_m = {m.T_m}; pass T_m=T_m to model.sample_result."
                )
            nfe_mistake(got_nfe, T_m, m.sde)
            ref = lib[T_m]["mmd"]
            if abs(got_mmd - ref) > 3 * floor + 1e-4:
                if T_m is not None:
                    with torch.no_grad():
                        gen = torch.Generator().manual_seed(0)
                        x_Tm = m.sample_result(_N_DATA, T_m=T_m, generator=gen).x_Tm
                    at_Tm = mmd(data, x_Tm)
                    if abs(got_mmd - at_Tm) <= 3 * floor + 0.2 * at_Tm:
                        raise Failed(
                            f"MMD² {fmt(got_mmd)} at T_m = {T_m} is that of the flow's x(T_m) "
                            f"({fmt(at_Tm)}), not of the final samples x(eps) (the library's "
                            f"{fmt(ref)}): score the output of the reverse SDE, `.x`."
                        )
                raise Failed(
                    f"{what}: MMD² {fmt(got_mmd)}, the library's {fmt(ref)}; they should agree "
                    f"within a few noise floors ({fmt(floor)} at n = {_N_DATA}). Use the "
                    "squared MMD, mmd(data, x), of n = len(data) samples (not another metric "
                    "such as sliced W2)."
                )
        return (
            "NFE = round(N·T_m) for DiNof and N for the baseline, and MMD² agrees with "
            "tm_study within the noise floor."
        )

    return run_check("measure", "(i)", grade, hint=_HINT_MEASURE)


# --------------------------------------------------------------------------- (j) sweep
def check_sweep(sweep: Callable, model: nn.Module | None = None) -> CheckResult:
    """Grade ``sweep(model, T_m_values, gmm, n, seed)`` against :func:`tm_study` and
    :func:`noise_floor` on a three-value grid, ``n = 400``."""

    def grade() -> str:
        counted = CountedCalls(default_anytm_model() if model is None else model)
        m, gmm = counted.model, GaussianMixture.preset("8gaussians")
        grid = [0.8, 0.2, 0.5]  # unsorted on purpose
        with torch.no_grad():
            out = sweep(m, list(grid), gmm, _N_DATA, seed=0)
        if not isinstance(out, Mapping) or not {"rows", "baseline", "floor"} <= set(out):
            raise Failed(
                f"return a dict with keys 'rows', 'baseline' and 'floor', got {out!r:.80}."
            )
        rows = out["rows"]
        if not isinstance(rows, (list, tuple)) or len(rows) != len(grid):
            n = len(rows) if isinstance(rows, (list, tuple)) else type(rows).__name__
            raise Failed(f"'rows' should hold one dict per T_m ({len(grid)}), got {n}.")
        tms = [
            _number(r.get("T_m") if isinstance(r, Mapping) else None, "row['T_m']") for r in rows
        ]
        if sorted(tms) != sorted(grid):
            raise Failed(f"the rows' T_m are {tms}, expected each of {grid} once.")
        if tms != sorted(tms):
            raise Failed(
                f"rows in the order given ({tms}); sort them by T_m, ascending, so the table "
                "and the rule of (k) read from small to large T_m."
            )
        floor_lib = noise_floor(gmm, _N_DATA)["mmd"]
        floor = _number(out["floor"], "'floor'")
        if floor <= 0:
            raise Failed(
                f"noise floor {fmt(floor)}: it is what two *independent* true sample sets of "
                "size n differ by (|MMD²| > 0; noise_floor(gmm, n)['mmd']); did you compare "
                "a set with itself?"
            )
        for other_n in (2000, 1000):  # the library's default n, and the notebook's
            if abs(floor - noise_floor(gmm, other_n)["mmd"]) < 1e-12:
                raise Failed(
                    f"noise floor for n = {other_n} points; the sweep uses n = {_N_DATA}, "
                    "and the floor shrinks with n: noise_floor(gmm, n)."
                )
        if not floor_lib / 5 <= floor <= 5 * floor_lib:
            raise Failed(
                f"noise floor {fmt(floor)}, but two true sets of n = {_N_DATA} points differ by "
                f"about {fmt(floor_lib)} in MMD²: use noise_floor(gmm, n)['mmd']."
            )
        ref = tm_study(m, grid, n=_N_DATA, reference=_data(1), seed=0)
        for row, lib in zip(rows, ref[:-1]):
            got_mmd, got_nfe = table_entry(row, f"the row at T_m = {lib['T_m']}")
            nfe_mistake(got_nfe, lib["T_m"], m.sde)
            if abs(got_mmd - lib["mmd"]) > 3 * floor_lib + 1e-4:
                raise Failed(
                    f"MMD² at T_m = {lib['T_m']} is {fmt(got_mmd)}, the library's "
                    f"{fmt(lib['mmd'])} (noise floor {fmt(floor_lib)}): score n fresh samples "
                    "with your measure."
                )
        base_mmd, base_nfe = table_entry(out["baseline"], "'baseline'")
        nfe_mistake(base_nfe, None, m.sde)
        if abs(base_mmd - ref[-1]["mmd"]) > 3 * floor_lib + 1e-4:
            raise Failed(
                f"the baseline's MMD² is {fmt(base_mmd)}, the library's {fmt(ref[-1]['mmd'])}: "
                "measure(model, None, data) is the plain sampler from p_T."
            )
        return (
            "rows sorted by T_m with the right NFE, MMD² within the noise floor of tm_study, "
            "the baseline, and the noise floor for the same n."
        )

    return run_check("sweep", "(j)", grade, hint=_HINT_SWEEP)


# --------------------------------------------------------------------------- (k) the rule
def _u(k: float) -> float:
    """``k / 1024``: exact in binary, so ``base + floor`` ties are exact."""
    return k / 1024


def _result(base: float, floor: float, rows: dict[float, float], order: list[float]) -> dict:
    return {
        "rows": [{"T_m": t, "mmd": _u(rows[t]), "nfe": round(1000 * t)} for t in order],
        "baseline": {"mmd": _u(base), "nfe": 1000},
        "floor": _u(floor),
    }


#: Constructed sweeps (MMD² in units of 1/1024) on which every wrong rule below gives a
#: different list of answers from the right one.
_CASES = (
    # a row worse than the baseline but within the floor; better rows above it
    _result(2, 1, {0.1: 6, 0.2: 3, 0.3: 1.5, 0.6: 0.5, 0.9: 2.5}, [0.6, 0.9, 0.2, 0.1, 0.3]),
    # a row better than the baseline by more than the floor
    _result(6, 1, {0.1: 10, 0.2: 2, 0.4: 5.5, 0.7: 6.5}, [0.7, 0.4, 0.2, 0.1]),
    # nothing matches
    _result(1, 0.5, {0.2: 4, 0.5: 3, 0.8: 2}, [0.2, 0.5, 0.8]),
    # an exact tie with baseline + floor
    _result(2, 1, {0.1: 5, 0.3: 3, 0.5: 2.5}, [0.5, 0.3, 0.1]),
    # sorted descending: the first matching row in list order is the largest
    _result(4, 1, {0.9: 3, 0.5: 4, 0.3: 5, 0.1: 8}, [0.9, 0.5, 0.3, 0.1]),
)


def right_answer(res: Mapping) -> float | None:
    limit = res["baseline"]["mmd"] + res["floor"]
    ok = [r["T_m"] for r in res["rows"] if r["mmd"] <= limit]
    return min(ok) if ok else None


def _rule(keep: Callable[[float, float, float], bool], pick=min, ordered: bool = False):
    def rule(res: Mapping) -> float | None:
        b, f = res["baseline"]["mmd"], res["floor"]
        ok = [r["T_m"] for r in res["rows"] if keep(r["mmd"], b, f)]
        if not ok:
            return None
        return ok[0] if ordered else pick(ok)

    return rule


#: (message, wrong rule): the usual mistakes of (k).
WRONG_RULES: tuple[tuple[str, Callable], ...] = (
    (
        "matching criterion without the noise floor (MMD² ≤ baseline's): two true sample sets "
        "differ by the floor, so accept MMD² ≤ baseline + floor.",
        _rule(lambda r, b, f: r <= b),
    ),
    (
        "compared with the data instead of the baseline (MMD² ≤ floor): the question is "
        "whether DiNof is as good as the plain sampler, MMD² ≤ baseline + floor.",
        _rule(lambda r, b, f: r <= f),
    ),
    (
        "picked the largest matching T_m; the saving is largest at the smallest T_m that "
        "matches, so take the minimum.",
        _rule(lambda r, b, f: r <= b + f, pick=max),
    ),
    (
        "two-sided test |MMD² − baseline| ≤ floor: a row *better* than the baseline also "
        "matches; the test is one-sided, MMD² ≤ baseline + floor.",
        _rule(lambda r, b, f: abs(r - b) <= f),
    ),
    (
        "took the first matching row in list order; the rows need not be sorted, take the "
        "smallest T_m among those that match.",
        _rule(lambda r, b, f: r <= b + f, ordered=True),
    ),
    (
        "strict inequality: a row exactly at baseline + floor is within the noise, use ≤.",
        _rule(lambda r, b, f: r < b + f),
    ),
)


def _effect_message(result: Mapping) -> str | None:
    """Why the student's own sweep cannot answer the question, or None."""
    rows = result["rows"]
    worst = max(float(r["mmd"]) for r in rows)
    base, floor = float(result["baseline"]["mmd"]), float(result["floor"])
    effect = worst - base
    if floor >= effect:
        n = result.get("n", "n")
        return (
            f"too few samples: the noise floor ({fmt(floor)}) is larger than the whole effect, "
            f"the worst row's MMD² minus the baseline's ({fmt(effect)}), so every T_m "
            f"'matches' and the answer says nothing. Raise n (now {n}): the floor falls like 1/n."
        )
    return None


def check_smallest_matching_T_m(
    smallest_matching_T_m: Callable, result: Mapping | None = None
) -> CheckResult:
    """Grade the rule on constructed sweeps that tell the usual wrong rules apart; with
    ``result`` (the student's own sweep) also check the answer there against :func:`first_match`
    and that the noise floor is smaller than the effect."""

    def grade() -> str:
        want = [right_answer(c) for c in _CASES]
        got = []
        for case in _CASES:
            ans = smallest_matching_T_m(copy.deepcopy(case))
            if isinstance(ans, Mapping):
                raise Failed("return the T_m (a float), not the row.")
            if ans is not None:
                ans = _number(ans, "the answer")
            got.append(ans)
        if got != want:
            for msg, rule in WRONG_RULES:
                if got == [rule(c) for c in _CASES]:
                    raise Failed(msg)
            k = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
            if want[k] is None:
                raise Failed(
                    f"when no T_m matches (every MMD² > baseline + floor) return None; yours "
                    f"returned {got[k]}."
                )
            raise Failed(
                f"on a constructed sweep the answer is T_m = {want[k]}, yours {got[k]}: keep the "
                "rows with MMD² ≤ baseline + floor and return the smallest T_m."
            )
        if result is None:
            return "the rule is right on every constructed sweep."
        msg = _effect_message(result)
        if msg:
            raise Failed(msg)
        rows = [{"method": "dinof", **r} for r in result["rows"]]
        rows.append({"method": "baseline", "T_m": 1.0, **result["baseline"]})
        lib = first_match(rows, "mmd", floor=float(result["floor"]))
        ans = smallest_matching_T_m(copy.deepcopy(result))
        if (lib is None) != (ans is None) or (lib is not None and abs(ans - lib["T_m"]) > 1e-9):
            raise Failed(
                f"on your sweep first_match gives {None if lib is None else lib['T_m']}, "
                f"yours {ans}."
            )
        return (
            "the rule is right on every constructed sweep, and on your sweep it agrees with "
            "first_match with a noise floor below the effect."
        )

    return run_check("smallest_matching_T_m", "(k)", grade, hint=_HINT_MATCH)


def _distinct() -> bool:
    """Every wrong rule differs from the right one and from the others on :data:`_CASES`."""
    answers = [tuple(right_answer(c) for c in _CASES)]
    answers += [tuple(rule(c) for c in _CASES) for _, rule in WRONG_RULES]
    return len(set(answers)) == len(answers)
