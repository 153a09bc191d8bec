"""dinof_lite.coursework.checks against lists of typical student mistakes, written as a student
would write them (not as mutations of the library), and against right answers written
differently from the solutions (``torch.exp(log_a)`` vs ``a``, ``x.mul``, einsum, a loop, …).

Every mistake must fail with a message that names it; every alternative right answer must
pass. The tables are per exercise, (a)–(e); the mistake → message table in the coursework report
is this file's ``MISTAKES``.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from dinof_lite.coursework import checks
from dinof_lite.sampling import EulerMaruyamaPredictor


@pytest.fixture(autouse=True)
def _fresh():
    checks.reset()
    yield
    checks.reset()


# =========================================================================== (a) forward
def _log_a(t, b0, b1):
    return -0.25 * t**2 * (b1 - b0) - 0.5 * t * b0


def vp_from_log_a(log_a_fn, std_fn=lambda a: torch.sqrt(1 - a**2)):
    def vp_marginal(x0, t, beta_min=0.1, beta_max=20.0):
        a = torch.exp(log_a_fn(t, beta_min, beta_max))
        return a[:, None] * x0, std_fn(a)

    return vp_marginal


VP_MISTAKES = [
    (vp_from_log_a(_log_a, lambda a: 1 - a**2), "1 − a(t)²"),
    (vp_from_log_a(lambda t, b0, b1: -_log_a(t, b0, b1)), "wrong sign in the exponent"),
    (vp_from_log_a(lambda t, b0, b1: 2 * _log_a(t, b0, b1)), "missing the ½"),
    (vp_from_log_a(lambda t, b0, b1: -0.5 * (b0 + t * (b1 - b0)) * t), "β(t)·t instead of ∫β"),
    (vp_from_log_a(lambda t, b0, b1: -0.5 * t * b0), "missing the t² term"),
    (
        vp_from_log_a(lambda t, b0, b1: -0.5 * (b1 * t + 0.5 * t**2 * (b0 - b1))),
        "reversed schedule",
    ),
    (vp_from_log_a(lambda t, b0, b1: _log_a(t, b1, b0)), "β_min and β_max swapped"),
    (vp_from_log_a(lambda t, b0, b1: -0.25 * t**2 * (b1 - b0)), "missing the β0·t term"),
    (vp_from_log_a(lambda t, b0, b1: -0.5 * (b0 + t * (b1 - b0))), "−½β(t) instead of"),
    (vp_from_log_a(_log_a, lambda a: 1 - a), "you used 1 − a(t)"),
    (vp_from_log_a(_log_a, lambda a: (1 - a).sqrt()), "sqrt(1 − a(t))"),
    (
        lambda x0, t, b0=0.1, b1=20.0: vp_from_log_a(_log_a)(x0, t, b0, b1)[::-1],
        "mean and std swapped",
    ),
    (
        lambda x0, t, b0=0.1, b1=20.0: (x0, vp_from_log_a(_log_a)(x0, t, b0, b1)[1]),
        "x0 unchanged",
    ),
    (
        lambda x0, t, b0=0.1, b1=20.0: (
            vp_from_log_a(_log_a)(x0, t, b0, b1)[0],
            vp_from_log_a(_log_a)(x0, t, b0, b1)[1][:, None],
        ),
        "wrong shape",
    ),
]


def _ve(std_fn, mean_fn=lambda x0, sigma: x0):
    def ve_marginal(x0, t, sigma_min=0.01, sigma_max=50.0):
        sigma = sigma_min * (sigma_max / sigma_min) ** t
        return mean_fn(x0, sigma[:, None]), std_fn(sigma, sigma_min, sigma_max, t)

    return ve_marginal


VE_MISTAKES = [
    (_ve(lambda s, lo, hi, t: s), "score_sde's approximation"),
    (_ve(lambda s, lo, hi, t: s**2 - lo**2), "missing sqrt"),
    (_ve(lambda s, lo, hi, t: s**2), "missing sqrt"),
    (_ve(lambda s, lo, hi, t: torch.sqrt(s**2 - lo), lambda x0, s: x0), "σ_min not squared"),
    (_ve(lambda s, lo, hi, t: torch.sqrt(s**2 + lo**2)), "sign inside the sqrt"),
    (_ve(lambda s, lo, hi, t: s - lo), "stds do not subtract"),
    (
        _ve(lambda s, lo, hi, t: torch.sqrt((lo + t * (hi - lo)) ** 2 - lo**2)),
        "not the linear",
    ),
    (
        _ve(lambda s, lo, hi, t: torch.sqrt((hi * (lo / hi) ** t) ** 2 - lo**2).nan_to_num()),
        "yours shrinks",
    ),
    (_ve(lambda s, lo, hi, t: torch.sqrt(s**2 - lo**2), lambda x0, s: x0 / s), "VE mean scaled"),
]


def forward_vp_hardcoded(x0, t, z, sde):
    """The VP formula, whatever the sde."""
    log_a = -0.25 * t**2 * (20.0 - 0.1) - 0.5 * t * 0.1
    a = torch.exp(log_a)
    return a[:, None] * x0 + torch.sqrt(1 - a**2)[:, None] * z


def forward_vp_hardcoded_attrs(x0, t, z, sde):
    """The VP formula with the VP SDE's attributes (fails on VE: no beta_0)."""
    log_a = -0.25 * t**2 * (sde.beta_1 - sde.beta_0) - 0.5 * t * sde.beta_0
    a = torch.exp(log_a)
    return a[:, None] * x0 + torch.sqrt(1 - a**2)[:, None] * z


def _fwd(fn):
    def forward_sample(x0, t, z, sde):
        mean, std = sde.marginal_prob(x0, t)
        return fn(x0, z, mean, std[:, None])

    return forward_sample


FORWARD_MISTAKES = [
    (forward_vp_hardcoded, "VP formula hard-coded"),
    (_fwd(lambda x0, z, m, s: m + s**2 * z), "missing sqrt"),
    (_fwd(lambda x0, z, m, s: s * z), "x0 is ignored"),
    (_fwd(lambda x0, z, m, s: x0 + s * z), "missing the mean coefficient"),
    (_fwd(lambda x0, z, m, s: m + z), "not scaled"),
    (_fwd(lambda x0, z, m, s: m - s * z), "sign of the noise"),
    (_fwd(lambda x0, z, m, s: m), "missing noise"),
    (_fwd(lambda x0, z, m, s: m + torch.sqrt(s) * z), "sqrt(s(t))"),
    (
        lambda x0, t, z, sde: (
            sde.marginal_prob(x0, t)[0]
            + torch.sqrt(1 - sde.marginal_coeffs(t)[0] ** 2)[:, None] * z
        ),
        "VP std hard-coded",
    ),
    (
        lambda x0, t, z, sde: (
            sde.marginal_prob(x0, 1 - t)[0] + sde.marginal_prob(x0, 1 - t)[1][:, None] * z
        ),
        "time is reversed",
    ),
]


# ----- right answers written differently
def vp_alt_loop(x0, t, beta_min=0.1, beta_max=20.0):
    """A loop over the batch, the integral by the trapezoid rule on a fine grid."""
    means, stds = [], []
    for x_i, t_i in zip(x0, t):
        u = torch.linspace(0, float(t_i), 20001, dtype=torch.float64)
        integral = torch.trapezoid(beta_min + u * (beta_max - beta_min), u)
        a = math.exp(-0.5 * float(integral))
        means.append(x_i.mul(a))
        stds.append(math.sqrt(-math.expm1(-float(integral))))
    return torch.stack(means), torch.tensor(stds)


def vp_alt_einsum(x0, t, beta_min=0.1, beta_max=20.0):
    a = (-0.5 * (beta_min * t + 0.5 * (beta_max - beta_min) * t**2)).exp()
    return torch.einsum("b,bd->bd", a, x0), (-torch.expm1(2 * a.log())).sqrt()


def ve_alt(x0, t, sigma_min=0.01, sigma_max=50.0):
    log_sigma = math.log(sigma_min) + t * (math.log(sigma_max) - math.log(sigma_min))
    return x0.clone(), sigma_min * torch.expm1(2 * (log_sigma - math.log(sigma_min))).sqrt()


def forward_alt_coeffs(x0, t, z, sde):
    a, s = sde.marginal_coeffs(t)
    return x0.mul(a[:, None]).add(z.mul(s[:, None]))


def forward_alt_einsum(x0, t, z, sde):
    a, s = sde.marginal_coeffs(t)
    return torch.einsum("b,bd->bd", a, x0) + torch.einsum("b,bd->bd", s, z)


def forward_alt_loop(x0, t, z, sde):
    rows = []
    for i in range(x0.shape[0]):
        mean, std = sde.marginal_prob(x0[i : i + 1], t[i : i + 1])
        rows.append(mean[0] + std[0] * z[i])
    return torch.stack(rows)


# =========================================================================== (b) DSM loss
def _dsm(residual, reduce=lambda r: r.mean(), x_t_fn=None):
    def dsm_loss(score_fn, x0, t, z, sde):
        a, s = sde.marginal_coeffs(t)
        a, s = a[:, None], s[:, None]
        x_t = a * x0 + s * z if x_t_fn is None else x_t_fn(x0, z, a, s)
        return reduce(residual(score_fn(x_t, t), z, s))

    return dsm_loss


def _dsm_at_x0(score_fn, x0, t, z, sde):
    s = sde.marginal_coeffs(t)[1][:, None]
    return ((s * score_fn(x0, t) + z) ** 2).mean()


def _dsm_no_grad(score_fn, x0, t, z, sde):
    with torch.no_grad():
        return _dsm(lambda sc, z, s: (s * sc + z) ** 2)(score_fn, x0, t, z, sde)


DSM_MISTAKES = [
    (_dsm(lambda sc, z, s: (s * sc - z) ** 2), "sign of the target"),
    (_dsm(lambda sc, z, s: (sc + z / s) ** 2), "missing the λ(t) = s(t)² weighting"),
    (_dsm(lambda sc, z, s: s * (sc + z / s) ** 2), "λ(t) = s(t) instead of s(t)²"),
    (_dsm(lambda sc, z, s: (s * sc + z) ** 2, lambda r: r.sum(1).mean()), "summed over dimensions"),
    (_dsm(lambda sc, z, s: (s * sc + z) ** 2, lambda r: r.mean(1)), "one loss per example"),
    (_dsm(lambda sc, z, s: (s * sc + z) ** 2, lambda r: r.mean().item()), "torch scalar"),
    (
        _dsm(lambda sc, z, s: (s * sc + z) ** 2, x_t_fn=lambda x0, z, a, s: a * x0 + s**2 * z),
        "variance s(t)² as the noise scale",
    ),
    (
        _dsm(lambda sc, z, s: (s * sc + z) ** 2, x_t_fn=lambda x0, z, a, s: x0 + s * z),
        "forgets the mean coefficient",
    ),
    (_dsm_at_x0, "evaluated at x0"),
    (_dsm_no_grad, "detached"),
]


def dsm_alt_mse(score_fn, x0, t, z, sde):
    mean, std = sde.marginal_prob(x0, t)
    x_t = torch.addcmul(mean, std[:, None], z)
    return F.mse_loss(std[:, None] * score_fn(x_t, t), -z)


def dsm_alt_weighted(score_fn, x0, t, z, sde):
    a, s = sde.marginal_coeffs(t)
    x_t = x0.mul(a[:, None]) + z.mul(s[:, None])
    per = torch.einsum("b,bd->bd", s**2, (score_fn(x_t, t) + z / s[:, None]) ** 2)
    return per.sum() / per.numel()


def dsm_alt_loop(score_fn, x0, t, z, sde):
    total = 0.0
    for i in range(x0.shape[0]):
        x_t = sde.perturb(x0[i : i + 1], t[i : i + 1], z[i : i + 1])
        s = sde.marginal_coeffs(t[i : i + 1])[1]
        total = total + ((s * score_fn(x_t, t[i : i + 1]) + z[i : i + 1]) ** 2).mean()
    return total / x0.shape[0]


# =========================================================================== (c) PC step
def _em(step):
    def em_step(x, t, dt, z, sde, score_fn):
        f, g = sde.sde(x, t)
        return step(x, dt, z, f, g[:, None], score_fn(x, t))

    return em_step


EM_MISTAKES = [
    (_em(lambda x, dt, z, f, g, s: x - (f - g**2 * s) * dt + g * math.sqrt(-dt) * z), "sign of dt"),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g * s) * dt + g * math.sqrt(-dt) * z),
        "g instead of g²",
    ),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g * abs(dt) * z),
        "noise not scaled by √|dt|",
    ),
    (_em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g * z), "noise not scaled by √|dt|"),
    (_em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt), "missing noise"),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g**2 * math.sqrt(-dt) * z),
        "g² instead of g on the noise",
    ),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g * math.sqrt(dt) * z),
        "dt is negative in reverse time",
    ),
    (
        _em(
            lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g * torch.sqrt(torch.tensor(dt)) * z
        ),
        "dt is negative in reverse time",
    ),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + g * dt**0.5 * z),
        "dt is negative in reverse time",
    ),
    (
        _em(lambda x, dt, z, f, g, s: x + (f + g**2 * s) * dt + g * math.sqrt(-dt) * z),
        "sign of the score term",
    ),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - 0.5 * g**2 * s) * dt + g * math.sqrt(-dt) * z),
        "probability-flow ODE",
    ),
    (_em(lambda x, dt, z, f, g, s: x - g**2 * s * dt + g * math.sqrt(-dt) * z), "forward drift f"),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) + g * math.sqrt(-dt) * z),
        "not multiplied by dt",
    ),
    (
        _em(lambda x, dt, z, f, g, s: x + (f - g**2 * s) * dt + math.sqrt(-dt) * z),
        "noise not scaled by g",
    ),
]


def test_em_unlisted_mistake_gets_the_fitted_coefficients():
    """A mistake not in the check's list (a drift 3× too large, noise 0.7×) is described by the
    coefficients of the student's step."""
    res = checks.check_em_step(
        _em(lambda x, dt, z, f, g, s: x + 3 * (f - g**2 * s) * dt + 0.7 * g * math.sqrt(-dt) * z)
    )
    assert res.status == "failed"
    assert "x + 3·f·dt − 3·g²·score·dt + 0.7·g·√|dt|·z" in res.message, res.message


def em_alt_reverse(x, t, dt, z, sde, score_fn):
    drift, g = sde.reverse(score_fn).sde(x, t)
    return x.add(drift.mul(dt)).add(z.mul(g[:, None] * abs(dt) ** 0.5))


def em_alt_loop(x, t, dt, z, sde, score_fn):
    rows = []
    for i in range(x.shape[0]):
        xi, ti = x[i : i + 1], t[i : i + 1]
        f, g = sde.sde(xi, ti)
        mean = xi + (f - g**2 * score_fn(xi, ti)) * dt
        rows.append((mean + g * torch.sqrt(torch.tensor(-dt)) * z[i : i + 1])[0])
    return torch.stack(rows)


def _langevin(eps_fn, noise_fn=lambda e: torch.sqrt(2 * e), sign=1.0):
    def langevin_step(x, t, z, snr, alpha, score_fn):
        score = score_fn(x, t)
        zn, sn = z.norm(dim=1).mean(), score.norm(dim=1).mean()
        eps = eps_fn(zn, sn, snr, alpha, z, score)[:, None]
        return x + sign * eps * score + noise_fn(eps) * z

    return langevin_step


def _right_eps(zn, sn, snr, alpha, z, score):
    return 2 * alpha * (snr * zn / sn) ** 2


LANGEVIN_MISTAKES = [
    (_langevin(lambda zn, sn, r, a, z, s: a * (r * zn / sn) ** 2), "missing the 2"),
    (
        _langevin(lambda zn, sn, r, a, z, s: 2 * (r * zn / sn) ** 2 * torch.ones_like(a)),
        "missing α",
    ),
    (_langevin(lambda zn, sn, r, a, z, s: 2 * a * r * (zn / sn) ** 2), "snr not squared"),
    (_langevin(lambda zn, sn, r, a, z, s: 2 * a * r * zn / sn), "ratio not squared"),
    (_langevin(lambda zn, sn, r, a, z, s: 2 * a * (r * sn / zn) ** 2), "ratio upside down"),
    (
        _langevin(lambda zn, sn, r, a, z, s: 2 * a * (r * z.norm(dim=1) / s.norm(dim=1)) ** 2),
        "per-example norms",
    ),
    (_langevin(_right_eps, torch.sqrt), "sqrt(ε)·z"),
    (_langevin(_right_eps, lambda e: 2 * e), "2ε·z"),
    (_langevin(_right_eps, lambda e: 0 * e), "missing noise"),
    (_langevin(_right_eps, sign=-1.0), "sign of the score step"),
]


def langevin_alt(x, t, z, snr, alpha, score_fn):
    score = score_fn(x, t)
    ratio = (
        torch.linalg.vector_norm(z, dim=-1).mean() / torch.linalg.vector_norm(score, dim=-1).mean()
    )
    eps = alpha.mul(2 * (snr * ratio) ** 2)
    return torch.addcmul(x, eps[:, None], score) + torch.einsum("b,bd->bd", (2 * eps).sqrt(), z)


# =========================================================================== (d) coupling
def _coupling(y_fn, ld_fn, split=lambda x: x.shape[1] - x.shape[1] // 2):
    def coupling_forward(x, net):
        k = split(x)
        shift, log_s = net(x[:, :k])
        return torch.cat([x[:, :k], y_fn(x[:, k:], shift, log_s)], 1), ld_fn(log_s)

    return coupling_forward


def _right_y(xb, sh, ls):
    return (xb + sh) * ls.exp()


def _right_ld(ls):
    return ls.sum(1)


def coupling_halves_swapped(x, net):
    k = x.shape[1] - x.shape[1] // 2
    shift, log_s = net(x[:, :k])
    return torch.cat([(x[:, k:] + shift) * log_s.exp(), x[:, :k]], 1), log_s.sum(1)


def coupling_net_on_moved_half(x, net):
    k = x.shape[1] // 2  # x_b first: the wrong half conditions
    shift, log_s = net(x[:, k:])
    return torch.cat([(x[:, :k] + shift) * log_s.exp(), x[:, k:]], 1), log_s.sum(1)


COUPLING_FORWARD_MISTAKES = [
    (_coupling(_right_y, lambda ls: -ls.sum(1)), "log-det sign"),
    (_coupling(_right_y, lambda ls: ls), "log-det not summed"),
    (_coupling(_right_y, lambda ls: ls.sum()), "summed over the batch"),
    (_coupling(_right_y, lambda ls: ls.exp().sum(1)), "not s = exp(log_s)"),
    (_coupling(_right_y, lambda ls: ls.mean(1)), "not the mean"),
    (_coupling(lambda xb, sh, ls: (xb + sh) * ls, _right_ld), "using log_s as the scale"),
    (_coupling(lambda xb, sh, ls: xb * ls.exp() + sh, _right_ld), "order of shift and scale"),
    (_coupling(lambda xb, sh, ls: (xb + sh) / ls.exp(), _right_ld), "dividing instead"),
    (coupling_halves_swapped, "halves swapped"),
    (_coupling(_right_y, _right_ld, split=lambda x: x.shape[1] // 2), "wrong split"),
    (coupling_net_on_moved_half, "wrong split"),
]


def _inverse(x_fn, ld_fn=lambda ls: -ls.sum(1)):
    def coupling_inverse(y, net):
        k = y.shape[1] - y.shape[1] // 2
        shift, log_s = net(y[:, :k])
        return torch.cat([y[:, :k], x_fn(y[:, k:], shift, log_s)], 1), ld_fn(log_s)

    return coupling_inverse


def _right_inv(yb, sh, ls):
    return yb * (-ls).exp() - sh


COUPLING_INVERSE_MISTAKES = [
    (_inverse(_right_inv, lambda ls: ls.sum(1)), "log-det sign"),
    (_inverse(_right_inv, lambda ls: -ls.exp().sum(1)), "not a sum of s"),
    (_inverse(lambda yb, sh, ls: (yb - sh) * (-ls).exp()), "first divide by s then subtract"),
    (_inverse(lambda yb, sh, ls: yb * ls.exp() - sh), "multiply by exp(−log_s)"),
    (_inverse(lambda yb, sh, ls: yb * (-ls).exp() + sh), "minus sign"),
    (_inverse(lambda yb, sh, ls: (yb + sh) * ls.exp()), "forward map again"),
    (_inverse(lambda yb, sh, ls: yb), "inverse not inverting"),
    (_inverse(_right_inv, lambda ls: -ls), "log-det not summed"),
]


def coupling_alt_chunk(x, net):
    x_a, x_b = x.chunk(2, dim=1)  # C = 5: sizes 3 and 2, the same split
    shift, log_s = net(x_a)
    y = x.clone()
    y[:, x_a.shape[1] :] = torch.exp(log_s).mul(x_b.add(shift))
    return y, torch.einsum("bc->b", log_s)


def coupling_alt_split(x, net):
    k = x.shape[1] - x.shape[1] // 2
    x_a, x_b = torch.split(x, [k, x.shape[1] - k], dim=1)
    shift, log_s = net(x_a)
    return torch.cat(
        (x_a, torch.exp(log_s + torch.log(torch.abs(x_b + shift))) * torch.sign(x_b + shift)), 1
    ), log_s.sum(-1)


def coupling_inverse_alt(y, net):
    y_a, y_b = y.chunk(2, dim=1)
    shift, log_s = net(y_a)
    return torch.cat([y_a, y_b.div(log_s.exp()).sub(shift)], 1), -torch.einsum("bc->b", log_s)


# =========================================================================== (e) DiNof sampling
def _dinof(noise=lambda g, h: g * math.sqrt(h), drift_scale=1.0, sqrt_dt=None, draws="library"):
    """A student's own Euler–Maruyama loop. ``draws``: "library" (z, then one draw per step from
    the generator), "upfront" (all step noise in one draw after z), "global" (z and the noise
    from the global RNG, not the generator)."""

    def dinof_sample(flow, score_fn, sde, n, T_m, generator, eps=1e-3):
        gen = generator if draws != "global" else None
        z = torch.randn((n, *flow.in_shape), generator=gen)
        x = flow.inverse(z)
        n_steps = round(sde.N * T_m)
        dt = (eps - T_m) / n_steps
        all_noise = torch.randn((n_steps, *x.shape), generator=gen) if draws == "upfront" else None
        x_mean = x
        for i in range(n_steps):
            t = torch.full((n,), T_m + i * dt)
            f, g = sde.sde(x, t)
            x_mean = x + (f - drift_scale * g[:, None] ** 2 * score_fn(x, t)) * dt
            w = all_noise[i] if draws == "upfront" else torch.randn(x.shape, generator=gen)
            scale = noise(g, -dt) if sqrt_dt is None else g * sqrt_dt(dt)
            x = x_mean + scale[:, None] * w
        return x_mean

    return dinof_sample


def dinof_flow_forward(flow, score_fn, sde, n, T_m, generator, eps=1e-3):
    z = torch.randn((n, *flow.in_shape), generator=generator)
    x = flow(z)[0]  # the data → latent direction
    n_steps = round(sde.N * T_m)
    dt = (eps - T_m) / n_steps
    pred = EulerMaruyamaPredictor(sde, score_fn)
    for i in range(n_steps):
        x, x_mean = pred.update(x, torch.full((n,), T_m + i * dt), dt, generator)
    return x_mean


def _dinof_pred(t0=None, steps=None, denoise=True):
    def dinof_sample(flow, score_fn, sde, n, T_m, generator, eps=1e-3):
        x = flow.inverse(torch.randn((n, *flow.in_shape), generator=generator))
        start = T_m if t0 is None else t0
        n_steps = round(sde.N * start) if steps is None else steps
        dt = (eps - start) / n_steps
        pred = EulerMaruyamaPredictor(sde, score_fn)
        for i in range(n_steps):
            x, x_mean = pred.update(x, torch.full((n,), start + i * dt), dt, generator)
        return x_mean if denoise else x

    return dinof_sample


DINOF_MISTAKES = [
    (_dinof(noise=lambda g, h: 0 * g), "missing noise"),
    (_dinof(noise=lambda g, h: g * h), "noise not scaled by √|dt|"),
    (_dinof(noise=lambda g, h: g), "noise not scaled by √|dt|"),
    (_dinof(noise=lambda g, h: g**2 * math.sqrt(h)), "g² instead of g"),
    (_dinof(drift_scale=0.5), "probability-flow ODE"),
    (_dinof(drift_scale=-1.0), "sign of the score term"),
    (_dinof(sqrt_dt=lambda dt: math.sqrt(dt)), "dt is negative in reverse time"),
    (_dinof(noise=lambda g, h: 0 * g, draws="global"), "collapsed"),
    (_dinof(noise=lambda g, h: g * h, draws="upfront"), "noise not scaled by √|dt|"),
    (dinof_flow_forward, "flow(z), the data → latent direction"),
    (_dinof_pred(t0=1.0), "integrates from T = 1, not T_m"),
    (_dinof_pred(steps=100), "wrong number of steps"),
    (_dinof_pred(denoise=False), "missing final denoise"),
]


def dinof_alt_while(flow, score_fn, sde, n, T_m, generator, eps=1e-3):
    """A while loop on a float time and sde.reverse; same noise order as the library."""
    x = flow.inverse(torch.randn((n, *flow.in_shape), generator=generator))
    n_steps = round(sde.N * T_m)
    h = (T_m - eps) / n_steps
    rsde = sde.reverse(score_fn)
    t, i = T_m, 0
    while i < n_steps:
        drift, g = rsde.sde(x, torch.full((n,), t))
        x_mean = x - drift * h
        x = x_mean + torch.einsum("b,bd->bd", g * h**0.5, torch.randn(x.shape, generator=generator))
        t, i = t - h, i + 1
    return x_mean


MISTAKES = {
    checks.check_vp_marginal: VP_MISTAKES,
    checks.check_ve_marginal: VE_MISTAKES,
    checks.check_forward_sample: FORWARD_MISTAKES,
    checks.check_dsm_loss: DSM_MISTAKES,
    checks.check_em_step: EM_MISTAKES,
    checks.check_langevin_step: LANGEVIN_MISTAKES,
    checks.check_coupling_forward: COUPLING_FORWARD_MISTAKES,
    checks.check_coupling_inverse: COUPLING_INVERSE_MISTAKES,
    checks.check_dinof_sample: DINOF_MISTAKES,
}
ALTERNATIVES = {
    checks.check_vp_marginal: [vp_alt_loop, vp_alt_einsum],
    checks.check_ve_marginal: [ve_alt],
    checks.check_forward_sample: [forward_alt_coeffs, forward_alt_einsum, forward_alt_loop],
    checks.check_dsm_loss: [dsm_alt_mse, dsm_alt_weighted, dsm_alt_loop],
    checks.check_em_step: [em_alt_reverse, em_alt_loop],
    checks.check_langevin_step: [langevin_alt],
    checks.check_coupling_forward: [coupling_alt_chunk, coupling_alt_split],
    checks.check_coupling_inverse: [coupling_inverse_alt],
    checks.check_dinof_sample: [
        dinof_alt_while,
        _dinof(),  # the student's own loop, library draw order: draw for draw
        _dinof(draws="upfront"),  # noise drawn in another order: graded by the distribution
    ],
}
#: the exercises of the issue: (a) A1 marginals + forward sampler, (b) DSM, (c) EM + Langevin,
#: (d) coupling forward / inverse, (e) DiNof sampler
EXERCISES = {
    "(a)": [checks.check_vp_marginal, checks.check_ve_marginal, checks.check_forward_sample],
    "(b)": [checks.check_dsm_loss],
    "(c-em)": [checks.check_em_step],
    "(c-langevin)": [checks.check_langevin_step],
    "(d)": [checks.check_coupling_forward, checks.check_coupling_inverse],
    "(e)": [checks.check_dinof_sample],
}


def _name(check):
    return check.__name__.removeprefix("check_")


WRONG = [(c, fn, m) for c, table in MISTAKES.items() for fn, m in table]
RIGHT = [(c, fn) for c, fns in ALTERNATIVES.items() for fn in fns]


@pytest.mark.parametrize(
    ("check", "wrong", "mistake"), WRONG, ids=[f"{_name(c)}-{m}" for c, _, m in WRONG]
)
def test_mistake_fails_naming_it(check, wrong, mistake):
    res = check(wrong)
    assert res.status == "failed", str(res)
    assert mistake in res.message, str(res)


@pytest.mark.parametrize(
    ("check", "right"), RIGHT, ids=[f"{_name(c)}-{getattr(f, '__name__', 'fn')}" for c, f in RIGHT]
)
def test_right_answer_written_differently_passes(check, right):
    res = check(right)
    assert res.status == "passed", str(res)


def test_every_check_has_five_mistakes_and_every_exercise_too():
    assert all(len(table) >= 5 for table in MISTAKES.values())
    for fns in EXERCISES.values():
        assert sum(len(MISTAKES[f]) for f in fns) >= 5


def test_schedule_mistakes_show_the_students_value_beside_the_expected():
    res = checks.check_vp_marginal(VP_MISTAKES[3][0])  # β(t)·t
    assert "your a = " in res.message and "expected" in res.message, res.message
    # t = 0.2: a = exp(−½(0.1·0.2 + ½·0.04·19.9)) = 0.811; β(t)·t gives exp(−½·4.08·0.2) = 0.665
    assert "your a = 0.665, expected 0.811" in res.message, res.message


def test_em_noise_message_names_g_squared_with_values():
    res = checks.check_em_step(EM_MISTAKES[5][0])
    assert "g² instead of g on the noise" in res.message and "g instead of g on" not in res.message
    assert "g = " in res.message and "g² = " in res.message, res.message


def test_negative_dt_sqrt_has_no_broadcasting_hint():
    res = checks.check_em_step(EM_MISTAKES[6][0])
    assert "math domain error" in res.message and "√|dt|" in res.message
    assert "Hint" not in res.message and "broadcast" not in res.message, res.message


def test_dinof_missing_noise_is_graded_by_the_distribution():
    """A noise-free sampler with its own noise order cannot be compared draw for draw: the check
    must see the collapsed modes (per-mode spread, NLL below the entropy)."""
    res = checks.check_dinof_sample(_dinof(noise=lambda g, h: 0 * g, draws="global"))
    assert res.status == "failed" and "collapsed" in res.message, str(res)
    assert "missing noise" in res.message and "√|dt|" in res.message, res.message
    assert "per-mode spread" in res.message and "NLL" in res.message, res.message


def test_checks_leak_no_warnings():
    """No UserWarning (e.g. float() of a tensor that requires grad) from any check, right or
    wrong, including the fallback messages that format the student's tensors."""

    def dsm_unlisted(score_fn, x0, t, z, sde):
        return _dsm(lambda sc, z, s: (s * sc + z) ** 2)(score_fn, x0, t, z, sde) * 1.37

    def coupling_unlisted(x, net):
        y, ld = _coupling(_right_y, _right_ld)(x, net)
        return y * 1.1, ld

    def coupling_ld_unlisted(x, net):
        y, ld = _coupling(_right_y, _right_ld)(x, net)
        return y, ld * 1.3

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for check, fn in [
            (checks.check_dsm_loss, dsm_unlisted),
            (checks.check_coupling_forward, coupling_unlisted),
            (checks.check_coupling_forward, coupling_ld_unlisted),
            (checks.check_coupling_inverse, lambda y, net: (y * 1.2, -_right_ld(net(y[:, :3])[1]))),
            *[(c, fns[0]) for c, fns in ALTERNATIVES.items()],
            *[(c, table[0][0]) for c, table in MISTAKES.items()],
        ]:
            res = check(fn)
            assert res.status in ("passed", "failed"), str(res)
