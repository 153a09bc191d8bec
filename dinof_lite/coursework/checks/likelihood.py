"""Checks for exercises (f)–(h): DiNof's exact likelihood through the probability-flow ODE
(Song et al. 2021, Eqs. 13 and 39; DiNof §3.2).

- ``pf_drift(sde, score_fn, x, t) -> (B, D)``: the probability-flow drift
  ``f̃ = f − ½ g² score`` (Song et al. 2021, Eq. 13); graded on VP and VE with the oracle score.
- ``divergence(fn, x, t) -> (B,)``: the exact divergence ``Σ_i ∂fn_i/∂x_i`` of
  ``fn(x, t) (B, D)`` by autograd, one backward pass per dimension; graded on a drift with a
  non-symmetric Jacobian (known in closed form) and on the oracle's probability-flow drift.
- ``dinof_log_likelihood(model, x, T_m, n_steps) -> (B,)``: integrate ``[x, Δ]`` with
  ``dx/dt = f̃``, ``dΔ/dt = div f̃`` from ``model.train_eps`` up to ``T_m`` and return
  ``model.flow.log_prob(x(T_m), model.context(T_m, B)) + Δ``.

The ground truth of (h) is exact: with the oracle score and a "flow" whose log-density is the
mixture's exact marginal ``p_{T_m}``, ``log p_eps(x)`` must equal ``gmm.marginal(sde,
eps).log_prob(x)``. Spies record the times at which the score is evaluated and the calls of the
flow's ``log_prob``, so the structure (from ``train_eps``, up to ``T_m``, the flow term with its
context) is diagnosed before the values. Then the answer is compared with
:meth:`DiNof.log_likelihood` on the shipped ``dinof_8gaussians_vp`` model, which starts the same
ODE at the same ``model.train_eps`` (1e-5): the two agree to :data:`LIBRARY_TOL` nats. The
oracle's ``sample_eps`` differs from its ``train_eps``, so an ODE started at the sampler's last
time is caught.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from dinof_lite.coursework.checks._core import (
    CheckResult,
    Failed,
    close,
    diagnose,
    expect_tensor,
    fmt,
    run_check,
)
from dinof_lite.data.toy import GaussianMixture
from dinof_lite.sampling.likelihood import divergence_exact
from dinof_lite.sde import VESDE, VPSDE

__all__ = [
    "check_pf_drift",
    "check_divergence",
    "check_dinof_log_likelihood",
    "OracleDiNof",
    "ExactMarginalFlow",
    "reference_log_likelihood",
    "LIBRARY_TOL",
]

_B, _D = 6, 2
#: the oracle model's times: not the library defaults, so hard-coded values are caught
_EPS, _SAMPLE_EPS, _T_M = 0.02, 0.06, 0.5
#: nats: a fixed-step RK4 with 50 steps is within 1e-4 of the truth, Euler with 1000 within 3e-3
LIKELIHOOD_TOL = 0.01
#: nats between the answer and :meth:`DiNof.log_likelihood` (dopri5, rtol = atol = 1e-5) on the
#: shipped model, both from ``train_eps`` = 1e-5. Measured: 100 uniform RK4 steps are 0.015 off
#: (8e-3 with 200, 4e-3 with 1000: the steps are coarse next to t = 1e-5, where the learned
#: score changes fastest), and the library's own solver tolerance is worth 3e-3
LIBRARY_TOL = 0.03
_DRIFT_HINT = "g(t) is (B,): use `g[:, None] ** 2` to broadcast it against x (B, D)."
_DIV_HINT = (
    "work on a copy that requires grad: `x = x.detach().requires_grad_(True)` inside "
    "`with torch.enable_grad():`, then `torch.autograd.grad(f[:, i].sum(), x, "
    "retain_graph=True)[0][:, i]` for each dimension i."
)
_LL_HINT = (
    "step [x, Δ] from model.train_eps to T_m with your pf_drift and divergence (both need (B,) "
    "times), then add model.flow.log_prob(x, model.context(T_m, x.shape[0]))."
)


def _inputs(seed: int, dtype=torch.float64) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(_B, _D, generator=g) * 2).to(dtype)
    t = torch.tensor([0.05, 0.2, 0.4, 0.6, 0.8, 0.95], dtype=dtype)
    return x, t


# --------------------------------------------------------------------------- (f) the drift
def check_pf_drift(pf_drift: Callable) -> CheckResult:
    """Grade ``pf_drift(sde, score_fn, x, t)`` against ``sde.reverse(score_fn, True)`` on VP and
    VE with the oracle score of the 8-Gaussians mixture."""

    def grade() -> str:
        x, t = _inputs(0)
        gmm = GaussianMixture.preset("8gaussians")
        for sde in (VPSDE(), VESDE(sigma_max=10.0)):
            score_fn = gmm.score_fn(sde)
            with torch.no_grad():
                got = pf_drift(sde, score_fn, x.clone(), t.clone())
            got = expect_tensor(
                got, (_B, _D), "the drift", "f̃(x, t) has the shape of x; g(t) is (B,)."
            )
            f, g = sde.sde(x, t)
            g = g[:, None]
            s = score_fn(x, t)
            ref = f - 0.5 * g**2 * s
            if close(got, ref, 1e-5):
                continue
            name = type(sde).__name__
            diagnose(
                got,
                {
                    "missing ½: you returned the reverse SDE's drift f − g² score; the "
                    "probability-flow ODE (Song et al. 2021, Eq. 13) has f − ½ g² score.": f
                    - g**2 * s,
                    "sign of the score term: f̃ = f − ½ g² score, you added it.": f + 0.5 * g**2 * s,
                    "g instead of g²: the score term is ½ g(t)² · score.": f - 0.5 * g * s,
                    "missing the forward drift f(x, t): f̃ = f − ½ g² score "
                    "(`f, g = sde.sde(x, t)`).": -0.5 * g**2 * s,
                    "the score is missing: f̃ = f − ½ g² score, you returned f.": f,
                    "the score term was scaled by the marginal std s(t) instead of g(t)²: "
                    "use `f, g = sde.sde(x, t)`.": f
                    - 0.5 * sde.marginal_coeffs(t)[1][:, None] ** 2 * s,
                },
            )
            raise Failed(
                f"on the {name} SDE your drift differs from f − ½ g² score by up to "
                f"{fmt((got - ref).abs().max())}; take f and g from `sde.sde(x, t)`."
            )
        return "matches f − ½ g² score (Song et al. 2021, Eq. 13) on VP and VE."

    return run_check("pf_drift", "(f)", grade, hint=_DRIFT_HINT)


# --------------------------------------------------------------------------- (g) divergence
def _test_fn(x: Tensor, t: Tensor) -> Tensor:
    """A drift with a non-symmetric Jacobian: f = (x0² + sin x1, x0·x1 + t); div f = 3 x0."""
    return torch.stack([x[:, 0] ** 2 + torch.sin(x[:, 1]), x[:, 0] * x[:, 1] + t], 1)


def check_divergence(divergence: Callable) -> CheckResult:
    """Grade ``divergence(fn, x, t)`` on a drift whose divergence is known in closed form and on
    the oracle's probability-flow drift (reference :func:`divergence_exact`)."""

    def grade() -> str:
        x, t = _inputs(1)
        x0, x1 = x[:, 0], x[:, 1]
        got = divergence(_test_fn, x.clone(), t.clone())
        if isinstance(got, Tensor) and got.shape == (_B, _D, _D):
            raise Failed(
                "you returned the whole Jacobian (B, D, D); the divergence is its trace, "
                "Σ_i ∂f_i/∂x_i, one number per example: shape (B,)."
            )
        if isinstance(got, Tensor) and got.dim() == 0:
            raise Failed(
                "you returned one number for the whole batch (a mean or sum over examples); "
                "the divergence is per example: shape (B,)."
            )
        got = expect_tensor(got, (_B,), "the divergence", "One value per example.")
        ref = 3 * x0
        if not close(got, ref, 1e-5):
            # first: a random estimate can equal a diagnosed mistake by chance (a Hutchinson
            # probe with v_0 = v_1 in every row gives the whole Jacobian's sum)
            got2 = divergence(_test_fn, x.clone(), t.clone())
            if isinstance(got2, Tensor) and not close(got2, got, 1e-6):
                raise Failed(
                    "your divergence changes from call to call (a Hutchinson estimate "
                    "vᵀ(∂f/∂x)v with random v?); this exercise wants the exact one, one "
                    "backward pass per dimension."
                )
            diagnose(
                got,
                {
                    "sign: the divergence is +Σ_i ∂f_i/∂x_i, you returned its negative.": -ref,
                    "you summed the whole Jacobian Σ_ij ∂f_i/∂x_j (the gradient of f.sum()); "
                    "the divergence is its trace Σ_i ∂f_i/∂x_i: take component i of the "
                    "gradient of f[:, i].sum().": 2 * x0 + torch.cos(x1) + x1 + x0,
                    "only the first dimension: ∂f_0/∂x_0; the divergence sums ∂f_i/∂x_i "
                    "over every dimension i.": 2 * x0,
                    "the mean over dimensions: the divergence is the sum Σ_i ∂f_i/∂x_i, "
                    "not the mean.": 1.5 * x0,
                    "you took the gradient of f[:, i].sum() but kept its component j ≠ i (the "
                    "Jacobian's anti-diagonal); keep component i of the i-th "
                    "gradient.": torch.cos(x1) + x1,
                },
            )
            raise Failed(
                "for f = (x0² + sin x1, x0·x1 + t) the divergence is 3·x0; yours differs by "
                f"up to {fmt((got - ref).abs().max())}."
            )
        gmm = GaussianMixture.preset("8gaussians")
        sde = VPSDE()
        score_fn = gmm.score_fn(sde)
        rsde = sde.reverse(score_fn, probability_flow=True)

        def drift(y: Tensor, s: Tensor) -> Tensor:
            return rsde.sde(y, s)[0]

        got = expect_tensor(divergence(drift, x.clone(), t.clone()), (_B,), "the divergence")
        with torch.enable_grad():
            xr = x.clone().requires_grad_(True)
            ref = divergence_exact(drift(xr, t), xr).detach()
        if not close(got, ref, 1e-5):
            raise Failed(
                "right on a simple drift, but on the probability-flow drift of VP yours "
                f"differs by up to {fmt((got - ref).abs().max())}: call fn(x, t) once on "
                "an x that requires grad and differentiate that output."
            )
        return "exact: the trace of the Jacobian, on a test drift and on VP's probability flow."

    return run_check("divergence", "(g)", grade, hint=_DIV_HINT)


# --------------------------------------------------------------------------- (h) likelihood
class _SpyScore:
    """Wraps ``score_fn(x, t)``; records the smallest and largest time it was called at."""

    def __init__(self, score_fn: Callable) -> None:
        self.score_fn, self.t_min, self.t_max, self.calls = score_fn, math.inf, -math.inf, 0

    def __call__(self, x: Tensor, t) -> Tensor:
        tt = torch.as_tensor(t, dtype=torch.float64).detach()
        self.t_min = min(self.t_min, float(tt.min()))
        self.t_max = max(self.t_max, float(tt.max()))
        self.calls += 1
        return self.score_fn(x, t)


class ExactMarginalFlow(nn.Module):
    """A "flow" whose ``log_prob(h, context)`` is the mixture's exact ``log p_t(h)``, the time
    ``t`` read from the context that :meth:`OracleDiNof.context` makes; counts its calls."""

    def __init__(self, gmm: GaussianMixture, sde) -> None:
        super().__init__()
        self.gmm, self.sde, self.in_shape = gmm, sde, (gmm.dim,)
        self.calls = self.calls_without_context = 0

    def log_prob(self, h: Tensor, context: Tensor | None = None) -> Tensor:
        self.calls += 1
        if context is None:
            self.calls_without_context += 1
            raise Failed(
                "model.flow.log_prob was called without its context: an any-T_m flow needs "
                "to know T_m, pass model.context(T_m, x.shape[0])."
            )
        return self.gmm.marginal_log_prob(h, context[:, 0].to(h.dtype), self.sde)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        raise Failed("the likelihood maps data to T_m; it needs flow.log_prob, not flow.inverse.")


class OracleDiNof:
    """What :func:`check_dinof_log_likelihood` hands the student's function in place of a
    :class:`~dinof_lite.dinof.DiNof`: the oracle score, the exact marginal as the flow, an
    any-T_m style ``context``; ``train_eps``, ``sample_eps`` and ``T_m`` differ from the library
    defaults and from each other."""

    def __init__(
        self,
        gmm: GaussianMixture,
        sde,
        train_eps: float = _EPS,
        T_m: float = _T_M,
        sample_eps: float = _SAMPLE_EPS,
    ) -> None:
        self.gmm, self.sde, self.T_m = gmm, sde, float(T_m)
        self.train_eps, self.sample_eps = float(train_eps), float(sample_eps)
        self.score_fn = _SpyScore(gmm.score_fn(sde))
        self.flow = ExactMarginalFlow(gmm, sde)
        self.dims, self.any_T_m, self.T_m_range = (gmm.dim,), True, (0.1, 1.0)

    @property
    def eps(self) -> float:
        raise Failed(
            "model.eps is the deprecated spelling of model.sample_eps, the sampler's last time; "
            "the likelihood's ODE starts at model.train_eps."
        )

    def context(self, T_m: float | Tensor, batch: int) -> Tensor:
        return torch.as_tensor(T_m, dtype=torch.float64).reshape(-1, 1).expand(batch, 1).clone()


def reference_log_likelihood(
    sde,
    score_fn: Callable,
    prior_logp: Callable[[Tensor], Tensor] | None,
    x: Tensor,
    t_start: float,
    t_end: float,
    *,
    drift_scale: float = 0.5,
    div_of: str = "drift",
    div_sign: float = 1.0,
    n_steps: int = 100,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(prior_logp(x(t_end)) + div_sign·Δ, Δ, x(t_end))`` by fixed-step RK4 on
    ``dx/dt = f − drift_scale·g² score``, ``dΔ/dt = div`` of the drift (``div_of="drift"``) or
    of the score (``"score"``); the exact answer and the typical mistakes of (h)."""

    def rhs(t: float, h: Tensor) -> tuple[Tensor, Tensor]:
        tt = torch.full((h.shape[0],), t, dtype=h.dtype)
        with torch.enable_grad():
            hh = h.detach().requires_grad_(True)
            f, g = sde.sde(hh, tt)
            s = score_fn(hh, tt)
            drift = f - drift_scale * g[:, None] ** 2 * s
            div = divergence_exact(drift if div_of == "drift" else s, hh)
        return drift.detach(), div.detach()

    h, delta = x.detach().clone(), torch.zeros(x.shape[0], dtype=x.dtype)
    dt = (t_end - t_start) / n_steps
    for i in range(n_steps):
        t = t_start + i * dt
        k1 = rhs(t, h)
        k2 = rhs(t + dt / 2, h + dt / 2 * k1[0])
        k3 = rhs(t + dt / 2, h + dt / 2 * k2[0])
        k4 = rhs(t + dt, h + dt * k3[0])
        h = h + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        delta = delta + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    prior = torch.zeros_like(delta) if prior_logp is None else prior_logp(h).detach()
    return prior + div_sign * delta, delta, h


def _shipped_model() -> nn.Module | None:
    """The shipped ``dinof_8gaussians_vp`` DiNof, or None without the checkpoints."""
    from dinof_lite.pretrained import load_dinof

    try:
        return load_dinof("dinof_8gaussians_vp")
    except (FileNotFoundError, ValueError):
        return None


def probe_points(gmm: GaussianMixture, n: int, seed: int) -> Tensor:
    """Half the points from the mixture, half spread around it (tails and gaps)."""
    g = torch.Generator().manual_seed(seed)
    x = gmm.sample(n - n // 2, g).to(torch.float64)
    return torch.cat([x, 2.5 * torch.randn(n // 2, gmm.dim, generator=g, dtype=torch.float64)])


def check_structure(model: OracleDiNof, T_m: float) -> None:
    spy, eps = model.score_fn, model.train_eps
    if spy.calls == 0:
        raise Failed(
            "model.score_fn was never called: the drift f̃ = f − ½ g² score needs the score "
            "along the ODE from eps to T_m."
        )
    if spy.t_min < eps / 2:
        where = "t = 0" if spy.t_min < 1e-9 else f"t = {fmt(spy.t_min)}"
        raise Failed(
            f"integrates from {where}, not from model.train_eps = {eps}: the likelihood is of "
            "p_eps, the density at the small time eps, so the ODE starts at t = "
            "model.train_eps."
        )
    if abs(spy.t_min - model.sample_eps) < 1e-9:
        raise Failed(
            f"the ODE starts at model.sample_eps = {model.sample_eps}, where the sampler stops; "
            f"the likelihood starts at the smallest training time, model.train_eps = {eps}."
        )
    if spy.t_min > eps + 0.02:
        raise Failed(
            f"the ODE starts at t = {fmt(spy.t_min)}, not at model.train_eps = {eps} "
            "(hard-coded eps?): start at model.train_eps."
        )
    if spy.t_max > T_m + 0.02:
        what = "T = 1" if abs(spy.t_max - 1.0) < 1e-6 else f"t = {fmt(spy.t_max)}"
        raise Failed(
            f"integrates up to {what} instead of T_m = {T_m}: above T_m DiNof replaces the "
            "diffusion by the flow, so stop the ODE at T_m and add the flow's log-density there."
        )
    if spy.t_max < T_m - 0.02:
        raise Failed(
            f"the ODE stops at t = {fmt(spy.t_max)}, not at the T_m = {T_m} you were given "
            "(hard-coded or model.T_m?): integrate up to the T_m argument."
        )


def check_dinof_log_likelihood(
    dinof_log_likelihood: Callable, model: nn.Module | None = None
) -> CheckResult:
    """Grade ``dinof_log_likelihood(model, x, T_m)`` against the mixture's exact ``log p_eps``
    (oracle score, exact marginal as the flow) and against :meth:`DiNof.log_likelihood` of
    ``model`` (default: the shipped ``dinof_8gaussians_vp``)."""

    def grade() -> str:
        gmm = GaussianMixture.preset("8gaussians")
        sde = VPSDE()
        oracle = OracleDiNof(gmm, sde)
        x = probe_points(gmm, 8, 0)
        truth = gmm.marginal(sde, oracle.train_eps).log_prob(x)
        got = dinof_log_likelihood(oracle, x.clone(), _T_M)
        if isinstance(got, tuple):
            raise Failed("return only log p_eps(x), a (B,) tensor, not a tuple.")
        got = expect_tensor(got, (x.shape[0],), "log p_eps(x)", "One log-density per point.")
        got = got.detach().double()
        check_structure(oracle, _T_M)
        err = float((got - truth).abs().max())
        if err > LIKELIHOOD_TOL:
            exact_prior = gmm.marginal(sde, _T_M).log_prob
            score = gmm.score_fn(sde)

            def ref(**kw) -> Tensor:
                return reference_log_likelihood(sde, score, exact_prior, x, _EPS, _T_M, **kw)[0]

            right, delta, x_Tm = reference_log_likelihood(sde, score, exact_prior, x, _EPS, _T_M)
            candidates = {
                "sign of the divergence integral: log p_eps(x) = log p_flow(x(T_m)) "
                "+ ∫_eps^T_m div f̃ dt, you subtracted it.": ref(div_sign=-1.0),
                "missing ½: you integrated the reverse SDE's drift f − g² score; the "
                "probability-flow ODE is f̃ = f − ½ g² score.": ref(drift_scale=1.0),
                "the divergence of the score instead of the drift: Δ integrates "
                "div f̃ = div f − ½ g² div score, not div score.": ref(div_of="score"),
                "forgot the flow term: add model.flow.log_prob(x(T_m), context) to the "
                "divergence integral.": delta,
                "the Gaussian prior N(0, I) at T_m instead of the flow: p_{T_m} is not "
                "Gaussian, use model.flow.log_prob(x(T_m), model.context(T_m, B)).": delta
                + sde.prior_logp(x_Tm),
                "only the flow term: add the divergence integral ∫_eps^T_m div f̃ dt.": (
                    exact_prior(x_Tm)
                ),
                "the flow's log-density of x itself: evaluate the flow at x(T_m), the end "
                "of the ODE, not at the data point x.": exact_prior(x) + delta,
            }
            diagnose(got, candidates, tol=0.003)
            if oracle.flow.calls == 0:
                raise Failed(
                    "model.flow.log_prob was never called: DiNof's log-density is the flow's "
                    "log-density at x(T_m) plus the divergence integral."
                )
            raise Failed(
                f"with the exact score and flow, your log p_eps(x) is off the exact mixture "
                f"density by up to {fmt(err)} nats (allowed {LIKELIHOOD_TOL}); with Euler steps take "
                "more of them, or use RK4."
            )
        if oracle.flow.calls == 0:
            raise Failed("model.flow.log_prob was never called: add the flow's log-density.")
        lib_model = _shipped_model() if model is None else model
        if lib_model is None:
            return (
                f"matches the exact mixture log-density to {LIKELIHOOD_TOL} nats with the oracle score "
                "and exact p_T_m (no shipped model to compare with DiNof.log_likelihood)."
            )
        xf = x[:4].to(next(lib_model.parameters()).dtype)
        T_m = float(lib_model.T_m)
        got_lib = dinof_log_likelihood(lib_model, xf.clone(), T_m)
        got_lib = expect_tensor(got_lib, (xf.shape[0],), "log p_eps(x) of the trained model")
        ref_lib = lib_model.log_likelihood(xf, T_m=T_m).detach()
        lib_err = float((got_lib.detach().double() - ref_lib.double()).abs().max())
        if lib_err > LIBRARY_TOL:
            raise Failed(
                "exact with the oracle, but on the trained DiNof yours differs from "
                f"model.log_likelihood by up to {fmt(lib_err)} nats (allowed {LIBRARY_TOL}): "
                "use model.score_fn, model.train_eps and "
                "model.flow.log_prob(h, model.context(T_m, B))."
            )
        return (
            f"matches the mixture's exact log p_eps to {LIKELIHOOD_TOL} nats (oracle score, exact "
            "p_T_m as the flow) and DiNof.log_likelihood on the trained model."
        )

    return run_check("dinof_log_likelihood", "(h)", grade, hint=_LL_HINT)
