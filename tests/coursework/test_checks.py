"""dinof_lite.coursework.checks: right answers pass; typical wrong answers fail with a message naming the
mistake; unfinished exercises are "not attempted"; crashes are "error" (never raised)."""

from __future__ import annotations

import html
import math

import pytest
import torch

from dinof_lite.coursework import checks
from dinof_lite.sampling import EulerMaruyamaPredictor
from dinof_lite.sampling.correctors import langevin_step_size


# --------------------------------------------------------------------------- right answers
def vp_marginal(x0, t, beta_min=0.1, beta_max=20.0, *, exp_sign=-1.0, scale=1.0, sqrt=True):
    log_a = exp_sign * scale * (0.25 * t**2 * (beta_max - beta_min) + 0.5 * t * beta_min)
    var = 1 - torch.exp(2 * log_a)
    return torch.exp(log_a)[:, None] * x0, var.sqrt() if sqrt else var


def ve_marginal(x0, t, sigma_min=0.01, sigma_max=50.0):
    sigma = sigma_min * (sigma_max / sigma_min) ** t
    return x0, torch.sqrt(sigma**2 - sigma_min**2)


def forward_sample(x0, t, z, sde):
    mean, std = sde.marginal_prob(x0, t)
    return mean + std[:, None] * z


def dsm_loss(score_fn, x0, t, z, sde, *, target_sign=1.0):
    a, s = sde.marginal_coeffs(t)
    x_t = a[:, None] * x0 + s[:, None] * z
    return ((s[:, None] * score_fn(x_t, t) + target_sign * z) ** 2).mean()


def em_step(x, t, dt, z, sde, score_fn):
    f, g = sde.sde(x, t)
    x_mean = x + (f - g[:, None] ** 2 * score_fn(x, t)) * dt
    return x_mean + g[:, None] * math.sqrt(-dt) * z


def langevin_step(x, t, z, snr, alpha, score_fn):
    score = score_fn(x, t)
    eps = langevin_step_size(score, z, snr, alpha)[:, None]
    return x + eps * score + torch.sqrt(2 * eps) * z


def coupling_forward(x, net):
    k = x.shape[1] - x.shape[1] // 2
    shift, log_s = net(x[:, :k])
    return torch.cat([x[:, :k], (x[:, k:] + shift) * log_s.exp()], 1), log_s.sum(1)


def coupling_inverse(y, net):
    k = y.shape[1] - y.shape[1] // 2
    shift, log_s = net(y[:, :k])
    return torch.cat([y[:, :k], y[:, k:] * (-log_s).exp() - shift], 1), -log_s.sum(1)


def dinof_sample(
    flow,
    score_fn,
    sde,
    n,
    T_m,
    generator,
    eps=1e-3,
    *,
    start=None,
    t0=None,
    steps=None,
    backwards=True,
    denoise=True,
    use_flow=True,
):
    z = torch.randn((n, *flow.in_shape), generator=generator)
    x = flow.inverse(z) if use_flow else z
    t0 = T_m if t0 is None else t0
    n_steps = round(sde.N * t0) if steps is None else steps
    times = torch.linspace(t0, eps, n_steps + 1, dtype=torch.float64)
    if not backwards:
        times = times.flip(0)
    dt = (eps - t0) / n_steps
    pred = EulerMaruyamaPredictor(sde, score_fn)
    for i in range(n_steps):
        x, x_mean = pred.update(x, torch.full((n,), float(times[i])), dt, generator)
    return x_mean if denoise else x


RIGHT = {
    checks.check_vp_marginal: vp_marginal,
    checks.check_ve_marginal: ve_marginal,
    checks.check_forward_sample: forward_sample,
    checks.check_dsm_loss: dsm_loss,
    checks.check_em_step: em_step,
    checks.check_langevin_step: langevin_step,
    checks.check_coupling_forward: coupling_forward,
    checks.check_coupling_inverse: coupling_inverse,
    checks.check_dinof_sample: dinof_sample,
}
CHECKS = list(RIGHT)


def _ids(fns):
    return [f.__name__.removeprefix("check_") for f in fns]


@pytest.fixture(autouse=True)
def _fresh():
    checks.reset()
    yield
    checks.reset()


@pytest.mark.parametrize("check", CHECKS, ids=_ids(CHECKS))
def test_right_answer_passes(check, capsys):
    res = check(RIGHT[check])
    assert res.status == "passed", str(res)
    assert "passed" in capsys.readouterr().out  # displayed (printed outside IPython)


@pytest.mark.parametrize("check", CHECKS, ids=_ids(CHECKS))
def test_not_implemented_is_not_attempted(check):
    def todo(*args, **kwargs):
        raise NotImplementedError("fill me in")

    res = check(todo)
    assert res.status == "not attempted"
    assert "raise NotImplementedError" in res.message and "not done yet" in res.message


@pytest.mark.parametrize("check", CHECKS, ids=_ids(CHECKS))
def test_crash_is_error_with_exception_and_hint(check):
    def broken(*args, **kwargs):
        return torch.ones(3) * torch.ones(4)  # a broadcasting mistake

    res = check(broken)
    assert res.status == "error"
    assert "RuntimeError" in res.message and "Hint:" in res.message


def _w(fn, **kw):
    return lambda *a: fn(*a, **kw)


def _sde_wrong(fn):
    """em_step variants: ``fn(x, t, dt, z, f, g, score)``."""

    def step(x, t, dt, z, sde, score_fn):
        f, g = sde.sde(x, t)
        return fn(x, dt, z, f, g[:, None], score_fn(x, t))

    return step


def _langevin_wrong(eps_fn, noise_fn=lambda e: torch.sqrt(2 * e)):
    def step(x, t, z, snr, alpha, score_fn):
        score = score_fn(x, t)
        eps = eps_fn(score, z, snr, alpha)[:, None]
        return x + eps * score + noise_fn(eps) * z

    return step


def _ratio(score, z):
    return z.norm(dim=1).mean() / score.norm(dim=1).mean()


def _coupling(y_fn, ld_fn):
    def fwd(x, net):
        k = x.shape[1] - x.shape[1] // 2
        shift, log_s = net(x[:, :k])
        return torch.cat([x[:, :k], y_fn(x[:, k:], shift, log_s)], 1), ld_fn(log_s)

    return fwd


WRONG = [
    (checks.check_vp_marginal, _w(vp_marginal, sqrt=False), "missing sqrt"),
    (checks.check_vp_marginal, _w(vp_marginal, exp_sign=1.0), "sign in the exponent"),
    (checks.check_vp_marginal, _w(vp_marginal, scale=2.0), "missing the ½"),
    (checks.check_vp_marginal, lambda *a: vp_marginal(*a)[::-1], "mean and std swapped"),
    (
        checks.check_vp_marginal,
        lambda *a: (vp_marginal(*a)[0], vp_marginal(*a)[1][:, None]),
        "wrong shape",
    ),
    (
        checks.check_ve_marginal,
        lambda x0, t, lo, hi: (x0 * lo * (hi / lo) ** t[:, None], ve_marginal(x0, t, lo, hi)[1]),
        "VE mean scaled",
    ),
    (
        checks.check_ve_marginal,
        lambda x0, t, lo, hi: (x0, ve_marginal(x0, t, lo, hi)[1] ** 2),
        "missing sqrt",
    ),
    (checks.check_ve_marginal, lambda x0, t, lo, hi: (x0, lo * (hi / lo) ** t), "exact marginal"),
    (
        checks.check_forward_sample,
        lambda x0, t, z, sde: (
            sde.marginal_prob(x0, t)[0] + sde.marginal_prob(x0, t)[1][:, None] ** 2 * z
        ),
        "missing sqrt",
    ),
    (
        checks.check_forward_sample,
        lambda x0, t, z, sde: sde.marginal_prob(x0, t)[1][:, None] * z,
        "x0 is ignored",
    ),
    (
        checks.check_forward_sample,
        lambda x0, t, z, sde: sde.marginal_prob(x0, t)[0] + z,
        "not scaled",
    ),
    (checks.check_dsm_loss, _w(dsm_loss, target_sign=-1.0), "sign of the target"),
    (
        checks.check_dsm_loss,
        lambda sf, x0, t, z, sde: dsm_loss(sf, x0, t, z, sde) * 2,
        "summed over dimensions",
    ),
    (
        checks.check_dsm_loss,
        lambda sf, x0, t, z, sde: (
            (sf(sde.perturb(x0, t, z), t) + z / sde.marginal_coeffs(t)[1][:, None]) ** 2
        ).mean(),
        "missing the λ(t) = s(t)² weighting",
    ),
    (
        checks.check_dsm_loss,
        lambda sf, x0, t, z, sde: dsm_loss(sf, x0, t, z, sde).item(),
        "torch scalar",
    ),
    (
        checks.check_dsm_loss,
        lambda sf, x0, t, z, sde: (
            (sde.marginal_coeffs(t)[1][:, None] * sf(sde.perturb(x0, t, z), t) + z) ** 2
        ).mean(1),
        "one loss per example",
    ),
    (
        checks.check_em_step,
        _sde_wrong(lambda x, dt, z, f, g, s: x - (f - g**2 * s) * dt + g * math.sqrt(-dt) * z),
        "sign of dt",
    ),
    (
        checks.check_em_step,
        _sde_wrong(lambda x, dt, z, f, g, s: x + (f - g * s) * dt + g * math.sqrt(-dt) * z),
        "g instead of g²",
    ),
    (
        checks.check_em_step,
        _sde_wrong(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g * z),
        "noise not scaled by √|dt|",
    ),
    (
        checks.check_em_step,
        _sde_wrong(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt),
        "missing noise",
    ),
    (
        checks.check_langevin_step,
        _langevin_wrong(lambda s, z, r, a: a * (r * _ratio(s, z)) ** 2),
        "missing the 2",
    ),
    (
        checks.check_langevin_step,
        _langevin_wrong(lambda s, z, r, a: 2 * (r * _ratio(s, z)) ** 2 * torch.ones_like(a)),
        "missing α",
    ),
    (
        checks.check_langevin_step,
        _langevin_wrong(lambda s, z, r, a: 2 * a * r * _ratio(s, z) ** 2),
        "snr not squared",
    ),
    (checks.check_langevin_step, _langevin_wrong(langevin_step_size, torch.sqrt), "sqrt(ε)·z"),
    (
        checks.check_coupling_forward,
        _coupling(lambda xb, sh, ls: (xb + sh) * ls.exp(), lambda ls: -ls.sum(1)),
        "log-det sign",
    ),
    (
        checks.check_coupling_forward,
        _coupling(lambda xb, sh, ls: (xb + sh) * ls.exp(), lambda ls: ls),
        "log-det not summed",
    ),
    (
        checks.check_coupling_forward,
        _coupling(lambda xb, sh, ls: (xb + sh) * ls.exp(), lambda ls: ls.sum()),
        "summed over the batch",
    ),
    (
        checks.check_coupling_forward,
        _coupling(lambda xb, sh, ls: (xb + sh) * ls, lambda ls: ls.sum(1)),
        "using log_s as the scale",
    ),
    (
        checks.check_coupling_forward,
        _coupling(lambda xb, sh, ls: (xb + sh) * ls.exp(), lambda ls: ls.exp().sum(1)),
        "not s = exp(log_s)",
    ),
    (
        checks.check_coupling_inverse,
        lambda y, net: (coupling_inverse(y, net)[0], -coupling_inverse(y, net)[1]),
        "log-det sign",
    ),
    (
        checks.check_coupling_inverse,
        lambda y, net: (y, coupling_inverse(y, net)[1]),
        "inverse not inverting",
    ),
    (
        checks.check_coupling_inverse,
        lambda y, net: coupling_forward(y, net),
        "inverse not inverting",
    ),
    (
        checks.check_ve_marginal,
        lambda x0, t, lo, hi: ve_marginal(x0, 1 - t, lo, hi),
        "must grow with t",
    ),
    (
        checks.check_dsm_loss,
        lambda sf, x0, t, z, sde: (
            sde.marginal_coeffs(t)[1][:, None]
            * (sf(sde.perturb(x0, t, z), t) + z / sde.marginal_coeffs(t)[1][:, None]) ** 2
        ).mean(),
        "weighted by λ(t) = s(t) instead of s(t)²",
    ),
    (
        checks.check_em_step,
        _sde_wrong(lambda x, dt, z, f, g, s: x + (f + g**2 * s) * dt + g * math.sqrt(-dt) * z),
        "sign of the score term",
    ),
    (
        checks.check_langevin_step,
        _langevin_wrong(lambda s, z, r, a: 2 * a * (r * z.norm(dim=1) / s.norm(dim=1)) ** 2),
        "per-example norms",
    ),
    (
        checks.check_coupling_forward,
        _coupling(lambda xb, sh, ls: xb * ls.exp() + sh, lambda ls: ls.sum(1)),
        "order of shift and scale",
    ),
    (checks.check_dinof_sample, _w(dinof_sample, use_flow=False), "starts from N(0, I)"),
    (checks.check_dinof_sample, _w(dinof_sample, t0=1.0), "integrates from T = 1, not T_m"),
    (checks.check_dinof_sample, _w(dinof_sample, steps=100), "wrong number of steps"),
    (checks.check_dinof_sample, _w(dinof_sample, backwards=False), "time running the wrong way"),
    (checks.check_dinof_sample, _w(dinof_sample, denoise=False), "missing final denoise"),
]


@pytest.mark.parametrize(
    ("check", "wrong", "mistake"),
    WRONG,
    ids=[f"{c.__name__.removeprefix('check_')}-{m}" for c, _, m in WRONG],
)
def test_wrong_answer_fails_naming_the_mistake(check, wrong, mistake):
    res = check(wrong)
    assert res.status == "failed", str(res)
    assert mistake in res.message, str(res)


def test_every_check_has_three_wrong_answers():
    counts = {c: sum(c is w[0] for w in WRONG) for c in CHECKS}
    assert min(counts.values()) >= 3, counts


def test_summary_lists_each_check_once(capsys):
    checks.check_vp_marginal(vp_marginal)
    checks.check_vp_marginal(_w(vp_marginal, sqrt=False))  # re-run: the latest result counts
    checks.check_em_step(em_step)
    capsys.readouterr()
    assert checks.summary() is None
    text = capsys.readouterr().out
    assert text.count("vp_marginal") == 1 and "em_step" in text
    assert "1/2 checks passed." in text and "failed" in text


def test_result_rendering_is_deterministic():
    a = checks.check_langevin_step(_langevin_wrong(langevin_step_size, torch.sqrt))
    b = checks.check_langevin_step(_langevin_wrong(langevin_step_size, torch.sqrt))
    assert str(a) == str(b) and html.escape(a.message) in a._repr_html_()
    with pytest.raises(ValueError, match="valid: passed, failed"):
        checks.CheckResult("x", "ok", "")
