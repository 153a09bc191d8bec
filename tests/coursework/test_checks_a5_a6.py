"""Checks of assignments A5 (DiNof's exact likelihood, exercises f–h) and A6 (the T_m trade-off,
exercises i–k): right answers written differently from the solutions pass, typical mistakes fail
with a message that names them, unfinished exercises are "not attempted" and crashes "error"."""

from __future__ import annotations

import functools
import random

import pytest
import torch
from torchdiffeq import odeint

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks import tradeoff
from dinof_lite.evaluation import mmd, sliced_wasserstein
from dinof_lite.evaluation.tm_study import noise_floor
from dinof_lite.sampling import pc_sample_result

P = functools.partial


@pytest.fixture(autouse=True)
def _fresh_results():
    checks.reset()
    yield
    checks.reset()


# --------------------------------------------------------------------------- (f) pf_drift
def pf_drift(sde, score_fn, x, t, *, scale=0.5, sign=-1.0, power=2, use_f=True, use_score=True):
    f, g = sde.sde(x, t)
    out = f if use_f else torch.zeros_like(x)
    if use_score:
        out = out + sign * scale * g.pow(power).unsqueeze(-1) * score_fn(x, t)
    return out


def pf_drift_library(sde, score_fn, x, t):  # right, through the reverse process
    return sde.reverse(score_fn, probability_flow=True).sde(x, t)[0]


def pf_drift_std(sde, score_fn, x, t):
    f = sde.sde(x, t)[0]
    return f - 0.5 * sde.marginal_coeffs(t)[1][:, None] ** 2 * score_fn(x, t)


# --------------------------------------------------------------------------- (g) divergence
def _jacobian(fn, x, t):
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x, t)
        rows = [torch.autograd.grad(f[:, i].sum(), x, retain_graph=True)[0] for i in range(2)]
    return torch.stack(rows, 1).detach()  # (B, i, j) = ∂f_i/∂x_j


def divergence(fn, x, t):  # right: one-hot cotangents
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x, t)
        total = 0
        for i in range(x.shape[1]):
            e = torch.zeros_like(f)
            e[:, i] = 1
            (grad,) = torch.autograd.grad(f, x, grad_outputs=e, retain_graph=True)
            total = total + grad[:, i]
    return total.detach()


def divergence_functional(fn, x, t):  # right: the batch Jacobian of the summed function
    jac = torch.autograd.functional.jacobian(lambda y: fn(y, t).sum(0), x.detach())  # (D, B, D)
    return torch.einsum("ibi->b", jac)


def divergence_hutchinson(fn, x, t):
    v = torch.randint(0, 2, x.shape).to(x.dtype) * 2 - 1
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        f = fn(x, t)
        return (torch.autograd.grad((f * v).sum(), x)[0] * v).sum(1).detach()


# --------------------------------------------------------------------------- (h) log p_eps
def dinof_log_likelihood(
    model,
    x,
    T_m,
    n_steps=100,
    *,
    sign=1.0,
    scale=0.5,
    t0=None,
    t1=None,
    prior="flow",
    div_of="drift",
    euler=False,
):
    """RK4 (or Euler) on [x, Δ]; keyword arguments make the typical mistakes."""
    sde, score_fn = model.sde, model.score_fn
    start = model.train_eps if t0 is None else t0
    end = T_m if t1 is None else t1

    def drift(y, s):
        return pf_drift(sde, score_fn, y, s, scale=scale)

    def rhs(t, h):
        tt = torch.full((h.shape[0],), t, dtype=h.dtype)
        with torch.enable_grad():
            d = drift(h, tt).detach()
        return d, divergence(drift if div_of == "drift" else score_fn, h, tt)

    h, delta = x.detach().clone(), torch.zeros(x.shape[0], dtype=x.dtype)
    dt = (end - start) / n_steps
    for i in range(n_steps):
        t = start + i * dt
        k1 = rhs(t, h)
        if euler:
            h, delta = h + dt * k1[0], delta + dt * k1[1]
            continue
        k2 = rhs(t + dt / 2, h + dt / 2 * k1[0])
        k3 = rhs(t + dt / 2, h + dt / 2 * k2[0])
        k4 = rhs(t + dt, h + dt * k3[0])
        h = h + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        delta = delta + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    ctx = model.context(T_m, x.shape[0])
    logp = {
        "flow": lambda: model.flow.log_prob(h, ctx),
        "gauss": lambda: sde.prior_logp(h),
        "none": lambda: torch.zeros_like(delta),
        "flow_at_x": lambda: model.flow.log_prob(x, ctx),
        "no_context": lambda: model.flow.log_prob(h),
    }[prior]()
    return logp.detach() + sign * delta


def dinof_log_likelihood_torchdiffeq(model, x, T_m):  # right: an adaptive solver
    def func(t, state):
        h = state[0]
        tt = t.expand(h.shape[0]).to(h.dtype)
        fn = functools.partial(pf_drift_library, model.sde, model.score_fn)
        with torch.enable_grad():
            d = fn(h, tt).detach()
        return d, divergence_functional(fn, h, tt)

    times = torch.tensor([model.train_eps, T_m], dtype=x.dtype)
    zero = torch.zeros(x.shape[0], dtype=x.dtype)
    opts = {"step_t": times}
    xs, deltas = odeint(func, (x, zero), times, rtol=1e-6, atol=1e-6, options=opts)
    with torch.no_grad():
        return model.flow.log_prob(xs[-1], model.context(T_m, x.shape[0])) + deltas[-1]


# --------------------------------------------------------------------------- (i)–(k) A6
def measure(
    model, T_m, data, seed=0, *, nfe="right", base_flow=False, ignore=False, x_Tm=False, sw=False
):
    n, N = data.shape[0], model.sde.N
    gen = torch.Generator().manual_seed(seed)
    if T_m is None:
        if base_flow:
            res = model.sample_result(n, T_m=1.0, generator=gen)
        else:
            res = pc_sample_result(
                model.sde,
                model.score_fn,
                (n, *model.dims),
                n_steps=N,
                predictor="euler_maruyama",
                corrector="none",
                eps=model.sample_eps,
                generator=gen,
            )
        x, count = res.x, res.nfe
    else:
        res = model.sample_result(n, T_m=None if ignore else T_m, generator=gen)
        x = res.x_Tm if x_Tm else res.x
        count = {"right": res.nfe, "N": N, "saved": N - res.nfe, "plus1": res.nfe + 1}[nfe]
    return {"mmd": sliced_wasserstein(data, x) if sw else mmd(data, x), "nfe": count}


def measure_own_seed(model, T_m, data, seed=0):  # right: other draws, kernel from the samples
    g = torch.Generator().manual_seed(seed + 11)
    N = model.sde.N
    if T_m is None:
        x = pc_sample_result(
            model.sde,
            model.score_fn,
            (len(data), 2),
            n_steps=N,
            predictor="euler_maruyama",
            corrector="none",
            eps=model.sample_eps,
            generator=g,
        ).x
        return {"mmd": float(mmd(x, data)), "nfe": N}
    return {
        "mmd": float(mmd(model.sample(len(data), T_m=T_m, generator=g), data)),
        "nfe": round(N * T_m),
    }


def _own_floor(gmm, n):
    pairs = [
        (
            gmm.sample(n, torch.Generator().manual_seed(50 + 2 * k)),
            gmm.sample(n, torch.Generator().manual_seed(51 + 2 * k)),
        )
        for k in range(3)
    ]
    return max(abs(mmd(a, b)) for a, b in pairs)


def sweep(model, T_m_values, gmm, n, seed=0, *, order=True, floor="right", m=measure):
    data = gmm.sample(n, torch.Generator().manual_seed(seed + 1))
    values = sorted(T_m_values) if order else list(T_m_values)
    rows = [{"T_m": t, **m(model, t, data, seed)} for t in values]
    out = {"rows": rows, "baseline": m(model, None, data, seed), "n": n}
    out["floor"] = {
        "right": lambda: noise_floor(gmm, n)["mmd"],
        "own": lambda: _own_floor(gmm, n),
        "self": lambda: mmd(data, data),
        "n2000": lambda: noise_floor(gmm, 2000)["mmd"],
        "zero": lambda: 0.0,
    }[floor]()
    return out


def sweep_no_baseline(model, T_m_values, gmm, n, seed=0):
    out = sweep(model, T_m_values, gmm, n, seed)
    del out["baseline"]
    return out


def smallest(result):  # right: walk the rows sorted by T_m
    for row in sorted(result["rows"], key=lambda r: r["T_m"]):
        if row["mmd"] - result["baseline"]["mmd"] <= result["floor"]:
            return row["T_m"]
    return None


def _shuffled_result(n_rows=6, seed=0):
    rng = random.Random(seed)
    base, floor = 1e-3, 4e-4
    rows = [
        {"T_m": 0.1 * k, "mmd": base + rng.uniform(-1, 3) * floor, "nfe": 100 * k}
        for k in range(1, n_rows + 1)
    ]
    rows[0]["mmd"] = base + 10 * floor  # a clear effect at the smallest T_m
    rng.shuffle(rows)
    return {"rows": rows, "baseline": {"mmd": base, "nfe": 1000}, "floor": floor, "n": 1000}


# --------------------------------------------------------------------------- the tables
RIGHT = [
    (checks.check_pf_drift, pf_drift),
    (checks.check_pf_drift, pf_drift_library),
    (checks.check_divergence, divergence),
    (checks.check_divergence, divergence_functional),
    (checks.check_dinof_log_likelihood, dinof_log_likelihood_torchdiffeq),
    (checks.check_dinof_log_likelihood, P(dinof_log_likelihood, n_steps=1000, euler=True)),
    (checks.check_measure, measure_own_seed),
    (checks.check_sweep, P(sweep, m=measure_own_seed, floor="own")),
    (checks.check_smallest_matching_T_m, smallest),
]

WRONG = [
    # (f)
    (checks.check_pf_drift, P(pf_drift, scale=1.0), "missing ½"),
    (checks.check_pf_drift, P(pf_drift, sign=1.0), "sign of the score term"),
    (checks.check_pf_drift, P(pf_drift, power=1), "g instead of g²"),
    (checks.check_pf_drift, P(pf_drift, use_f=False), "missing the forward drift"),
    (checks.check_pf_drift, P(pf_drift, use_score=False), "the score is missing"),
    (checks.check_pf_drift, pf_drift_std, "marginal std s(t) instead of g(t)²"),
    # (g)
    (checks.check_divergence, lambda fn, x, t: -divergence(fn, x, t), "sign"),
    (
        checks.check_divergence,
        lambda fn, x, t: _jacobian(fn, x, t).sum((1, 2)),
        "summed the whole Jacobian",
    ),
    (
        checks.check_divergence,
        lambda fn, x, t: _jacobian(fn, x, t)[:, 0, 0],
        "only the first dimension",
    ),
    (
        checks.check_divergence,
        lambda fn, x, t: _jacobian(fn, x, t).diagonal(dim1=1, dim2=2).mean(1),
        "the mean over dimensions",
    ),
    (checks.check_divergence, _jacobian, "the whole Jacobian (B, D, D)"),
    (
        checks.check_divergence,
        lambda fn, x, t: divergence(fn, x, t).mean(),
        "one number for the whole batch",
    ),
    (
        checks.check_divergence,
        lambda fn, x, t: _jacobian(fn, x, t)[:, [0, 1], [1, 0]].sum(1),
        "anti-diagonal",
    ),
    (checks.check_divergence, divergence_hutchinson, "Hutchinson"),
    # (h)
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, sign=-1.0),
        "sign of the divergence integral",
    ),
    (checks.check_dinof_log_likelihood, P(dinof_log_likelihood, scale=1.0), "missing ½"),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, div_of="score"),
        "divergence of the score instead of the drift",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, prior="none"),
        "forgot the flow term",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, prior="gauss"),
        "Gaussian prior N(0, I) at T_m instead of the flow",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, prior="flow_at_x"),
        "not at the data point x",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, prior="no_context"),
        "without its context",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, t0=0.0),
        "integrates from t = 0, not from model.train_eps",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, t0=1e-3),
        "not from model.train_eps",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, t0=0.06),
        "starts at model.sample_eps = 0.06, where the sampler stops",
    ),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, t1=1.0),
        "integrates up to T = 1 instead of T_m",
    ),
    (checks.check_dinof_log_likelihood, P(dinof_log_likelihood, t1=0.6), "instead of T_m"),
    (
        checks.check_dinof_log_likelihood,
        P(dinof_log_likelihood, euler=True),
        "take more of them, or use RK4",
    ),
    # (i)
    (checks.check_measure, P(measure, nfe="N"), "NFE counted as N"),
    (checks.check_measure, P(measure, nfe="saved"), "counted the saved evaluations"),
    (checks.check_measure, P(measure, nfe="plus1"), "the one flow pass is not one of them"),
    (checks.check_measure, P(measure, base_flow=True), "the baseline used the flow"),
    (checks.check_measure, P(measure, ignore=True), "ignores its T_m argument"),
    (checks.check_measure, P(measure, x_Tm=True), "that of the flow's x(T_m)"),
    (checks.check_measure, P(measure, sw=True), "not another metric such as sliced W2"),
    # (j)
    (checks.check_sweep, P(sweep, order=False), "sort them by T_m"),
    (checks.check_sweep, P(sweep, floor="self"), "did you compare a set with itself"),
    (checks.check_sweep, P(sweep, floor="zero"), "noise floor 0"),
    (checks.check_sweep, P(sweep, floor="n2000"), "noise floor for n = 2000 points"),
    (checks.check_sweep, P(sweep, m=P(measure, nfe="N")), "NFE counted as N"),
    (checks.check_sweep, sweep_no_baseline, "keys 'rows', 'baseline' and 'floor'"),
    # (k)
    *[
        (checks.check_smallest_matching_T_m, rule, msg.split(":")[0])
        for msg, rule in tradeoff.WRONG_RULES
    ],
    (
        checks.check_smallest_matching_T_m,
        lambda r: min(r["rows"], key=lambda q: q["T_m"]),
        "not the row",
    ),
    (
        checks.check_smallest_matching_T_m,
        lambda r: min(
            [q["T_m"] for q in r["rows"] if q["mmd"] <= r["baseline"]["mmd"] + r["floor"]] or [1.0]
        ),
        "return None",
    ),
]


RIGHT_IDS = [
    "pf_drift",
    "pf_drift_library",
    "divergence_one_hot",
    "divergence_functional",
    "loglik_torchdiffeq",
    "loglik_euler_1000",
    "measure_own_seed",
    "sweep_own_floor",
    "smallest_sorted_loop",
]


# each a 1000-step likelihood or a whole T_m sweep (5 to 9 s): in the slow tier
SLOW_RIGHT = {"loglik_euler_1000", "sweep_own_floor"}
SLOW_WRONG = {"noise floor for n = 2000 points", "NFE counted as N"}  # of check_sweep


def _slow_if(heavy: bool) -> list:
    return [pytest.mark.slow] if heavy else []


@pytest.mark.parametrize(
    ("check", "answer"),
    [pytest.param(*r, id=i, marks=_slow_if(i in SLOW_RIGHT)) for r, i in zip(RIGHT, RIGHT_IDS)],
)
def test_right_answers_written_differently_pass(check, answer):
    result = check(answer)
    assert result.status == "passed", result.message


@pytest.mark.parametrize(
    ("check", "wrong", "mistake"),
    [
        pytest.param(
            *w, id=w[2][:40], marks=_slow_if(w[0] is checks.check_sweep and w[2] in SLOW_WRONG)
        )
        for w in WRONG
    ],
)
def test_typical_mistakes_fail_naming_the_mistake(check, wrong, mistake):
    result = check(wrong)
    assert result.status == "failed", result
    assert mistake in result.message, result.message


def test_a_hutchinson_estimate_is_named_even_when_its_probe_mimics_another_mistake():
    torch.manual_seed(53)  # the first probe has v_0 = v_1 in every row: the whole Jacobian's sum
    result = checks.check_divergence(divergence_hutchinson)
    assert result.status == "failed" and "Hutchinson" in result.message, result.message


def test_at_least_five_named_mistakes_per_check():
    counts: dict = {}
    for check, _, _ in WRONG:
        counts[check] = counts.get(check, 0) + 1
    for check in {c for c, _ in RIGHT}:
        assert counts.get(check, 0) >= 5, check.__name__


def test_wrong_rules_tell_each_other_apart():
    assert tradeoff._distinct()


def test_rule_on_an_own_sweep_agrees_with_first_match_and_refuses_too_few_samples():
    result = _shuffled_result()
    assert checks.check_smallest_matching_T_m(smallest, result).passed
    noisy = {**result, "floor": 1.0, "n": 20}
    res = checks.check_smallest_matching_T_m(smallest, noisy)
    assert res.status == "failed" and "too few samples" in res.message, res.message


@pytest.mark.parametrize(
    "check",
    [
        checks.check_pf_drift,
        checks.check_divergence,
        checks.check_dinof_log_likelihood,
        checks.check_measure,
        checks.check_sweep,
        checks.check_smallest_matching_T_m,
    ],
)
def test_unfinished_is_not_attempted_and_crash_is_error(check):
    def todo(*args, **kwargs):
        raise NotImplementedError("write the body, then run its check")

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    assert check(todo).status == "not attempted"
    res = check(crash)
    assert res.status == "error" and "RuntimeError: boom" in res.message and "Hint:" in res.message
