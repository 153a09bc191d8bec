"""Check for exercise (e): DiNof sampling — the flow prior, then the reverse SDE from ``T_m``
(DiNof §3.2).

The student writes ``dinof_sample(flow, score_fn, sde, n, T_m, generator, eps) -> x (n, D)``::

    z = N(0, I) from generator;  x = flow.inverse(z)                 # x(T_m)
    n_steps = round(N·T_m);  t_i = linspace(T_m, eps, n_steps + 1);  dt = (eps − T_m)/n_steps
    for i < n_steps:  x, x_mean = EulerMaruyamaPredictor(sde, score_fn).update(x, t_i, dt, generator)
    return x_mean                                                    # denoise: no final noise

The flow and score are wrapped in spies that record what was called at which ``t``; the output is
compared with :meth:`DiNof.sample` drawing from the same seed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from dinof_lite.coursework.checks._core import (
    CheckResult,
    Failed,
    call_student,
    close,
    expect_tensor,
    fmt,
    run_check,
)
from dinof_lite.utils import randn

__all__ = ["check_dinof_sample", "SpyFlow", "SpyScore", "default_model", "reference_sampler"]

_N_SAMPLES, _N_SDE, _N_DIST = 256, 100, 2000
#: score-term scale of mutated reference samplers, by diagnosis (the right one is 1)
_DRIFT_MISTAKES = {
    "the ½ belongs to the probability-flow ODE: the reverse SDE's drift is f − g²·score "
    "(you used f − ½g²·score, with noise).": 0.5,
    "sign of the score term: the reverse drift is f − g²·score, you added it.": -1.0,
    "missing the score term: the reverse drift is f − g²·score, you used f alone.": 0.0,
}
_HINT = (
    "draw z with torch.randn((n, *flow.in_shape), generator=generator), map it with "
    "flow.inverse(z), and step with EulerMaruyamaPredictor(sde, score_fn).update(x, t, dt, "
    "generator), where t is a (n,) tensor."
)


class SpyFlow:
    """Wraps a flow; counts ``inverse`` (latent → data) and forward (data → latent) calls."""

    def __init__(self, flow: nn.Module) -> None:
        self.flow, self.in_shape = flow, flow.in_shape
        self.inverse_calls = self.forward_calls = 0

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        self.inverse_calls += 1
        return self.flow.inverse(z, context)

    def __call__(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.forward_calls += 1
        return self.flow(x, context)

    def sample(self, n: int, temperature: float = 1.0, generator=None, context=None) -> Tensor:
        ref = next(self.flow.parameters())
        z = randn((int(n), *self.in_shape), generator, ref.device, ref.dtype)
        return self.inverse(temperature * z, context)

    def __getattr__(self, name: str):
        return getattr(self.flow, name)


class SpyScore:
    """Wraps ``score_fn(x, t)``; records each call's time (first entry), input and output."""

    def __init__(self, score_fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.score_fn, self.calls = score_fn, []

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        out = self.score_fn(x, t)
        t0 = float(torch.as_tensor(t).flatten()[0])
        self.calls.append((t0, x.detach().clone(), torch.as_tensor(t).detach().clone()))
        return out

    @property
    def times(self) -> list[float]:
        return [c[0] for c in self.calls]


def default_model() -> nn.Module:
    """The shipped ``dinof_8gaussians_vp`` DiNof, or (without checkpoints) an untrained one with
    fixed weights (the check only compares with the library, so training does not matter)."""
    from dinof_lite.pretrained import load_dinof

    try:
        return load_dinof("dinof_8gaussians_vp")
    except (FileNotFoundError, ValueError):
        from dinof_lite import VPSDE, DiNof, Glow, ScoreMLP

        with torch.random.fork_rng():  # leave the caller's global RNG alone
            torch.manual_seed(0)
            sde = VPSDE()
            net, flow = ScoreMLP.for_sde(sde, hidden=32), Glow((2,), 1, 4, 32)
        return DiNof(sde, net, flow, T_m=0.6).eval()


def check_structure(
    spy_flow: SpyFlow, spy: SpyScore, T_m: float, eps: float, n_steps: int, N: int
) -> None:
    """Diagnose the sampler's structure from what the spies saw."""
    if spy_flow.inverse_calls == 0:
        what = (
            "you called flow(z), the data → latent direction; sampling needs flow.inverse(z)"
            if spy_flow.forward_calls
            else "flow.inverse was never called"
        )
        raise Failed(
            f"starts from N(0, I), not the flow: {what}. DiNof's reverse SDE starts "
            "from x(T_m) = flow⁻¹(z)."
        )
    times = spy.times
    if not times:
        raise Failed("score_fn was never called: run the reverse SDE from T_m down to eps.")
    if len(times) > 1 and times[1] > times[0]:
        raise Failed(
            f"time running the wrong way: the score was evaluated at t = {fmt(times[0])}, "
            f"then {fmt(times[1])}; the reverse SDE goes from T_m = {T_m} down to eps."
        )
    if abs(times[0] - T_m) > 1e-4:
        where = "T = 1, not T_m" if abs(times[0] - 1.0) < 1e-4 else f"t = {fmt(times[0])}"
        raise Failed(
            f"integrates from {where}: the flow gives x(T_m), so the first step must be "
            f"at t = T_m = {T_m}."
        )
    if len(times) != n_steps:
        extra = " (the full sampler's N steps)" if len(times) == N else ""
        raise Failed(
            f"wrong number of steps: {len(times)} score evaluations{extra}, expected "
            f"round(N·T_m) = round({N}·{T_m}) = {n_steps}."
        )
    dt = (eps - T_m) / n_steps
    if abs(times[-1] - (eps - dt)) > 1e-4:
        raise Failed(
            f"wrong time grid: the last step should start at t = eps + |dt| = "
            f"{fmt(eps - dt)} and land on eps = {eps}; yours starts at {fmt(times[-1])}."
        )


#: noise scale of each mutated reference sampler (``g`` the diffusion (n,), ``h = |dt|``), by
#: diagnosis; the right one is ``g·√h``
_NOISE_MISTAKES: dict[str, Callable[[Tensor, float], Tensor]] = {
    "missing noise: each step must add g(t)·√|dt|·z (EulerMaruyamaPredictor.update does); "
    "without it the reverse SDE is a deterministic map that collapses each mode.": lambda g, h: (
        0 * g
    ),
    "noise not scaled by √|dt|: one step's noise has std g(t)·√|dt|; you used g(t)·|dt|, "
    "√|dt|× too small, so the modes collapse.": lambda g, h: g * h,
    "noise not scaled by √|dt|: one step's noise has std g(t)·√|dt|; you used g(t) alone, so the "
    "samples explode.": lambda g, h: g,
    "noise scaled by g² instead of g: one step's noise has std g(t)·√|dt|.": lambda g, h: (
        g**2 * h**0.5
    ),
    "noise scaled by √(2|dt|) (the Langevin corrector's √(2ε)): Euler–Maruyama adds g·√|dt|·z.": (
        lambda g, h: g * (2 * h) ** 0.5
    ),
    "noise not scaled by g: one step's noise has std g(t)·√|dt|, you used √|dt|.": lambda g, h: (
        torch.ones_like(g) * h**0.5
    ),
}


def reference_sampler(
    flow,
    score_fn,
    sde,
    n: int,
    T_m: float,
    generator: torch.Generator,
    eps: float,
    noise: Callable[[Tensor, float], Tensor] = lambda g, h: g * h**0.5,
    drift_scale: float = 1.0,
) -> Tensor:
    """DiNof's sampler (flow, then Euler–Maruyama from ``T_m``, final denoise) drawing its noise
    in the library's order, with the noise scale ``noise(g, |dt|)`` and the score term of the
    drift scaled by ``drift_scale``: the right sampler by default, a mutated one otherwise."""
    x = flow.inverse(randn((n, *flow.in_shape), generator))
    n_steps = sde.n_steps_from(T_m)
    times = torch.linspace(T_m, eps, n_steps + 1, dtype=torch.float64)
    dt = (eps - T_m) / n_steps
    x_mean = x
    for i in range(n_steps):
        t = torch.full((n,), float(times[i]))
        f, g = sde.sde(x, t)
        g2 = (g**2).reshape(-1, *[1] * (x.dim() - 1))
        x_mean = x + (f - drift_scale * g2 * score_fn(x, t)) * dt
        scale = noise(g, abs(dt)).reshape(-1, *[1] * (x.dim() - 1))
        x = x_mean + scale * randn(x.shape, generator, x.device, x.dtype)
    return x_mean


def _spread(x: Tensor, gmm) -> tuple[Tensor, float]:
    """Per-mode spread and NLL of samples ``x`` under the mixture ``gmm``: each sample goes to its
    nearest mode; the spread of mode k is the per-dimension RMS distance to its mean (the std of
    an isotropic mode). Returns ``(spread (K,), NLL in nats)``; empty modes get NaN."""
    x = x.detach().double()
    k = torch.cdist(x, gmm.means).argmin(1)
    spread = torch.full((gmm.n_components,), float("nan"), dtype=torch.float64)
    for j in range(gmm.n_components):
        if (k == j).sum() >= 5:
            spread[j] = ((x[k == j] - gmm.means[j]) ** 2).mean().sqrt()
    finite = torch.isfinite(x).all(1)
    nll = float(-gmm.log_prob(x[finite]).mean()) if finite.all() else float("inf")
    return spread, nll


def _distribution_ok(spread: Tensor, nll: float, target: Tensor, h: float) -> bool:
    """Every mode populated, each spread within 35 % and their mean within 15 % of ``target``'s,
    NLL within 0.4 nats of ``h``."""
    ratio = spread / target
    return (
        bool(torch.isfinite(ratio).all())
        and bool(((ratio > 0.65) & (ratio < 1.35)).all())
        and 0.85 < float(ratio.mean()) < 1.15
        and abs(nll - h) < 0.4
    )


def check_dinof_sample(dinof_sample: Callable, model: nn.Module | None = None) -> CheckResult:
    """Grade ``dinof_sample`` against :meth:`DiNof.sample` (VP: Euler–Maruyama, no corrector) on
    a copy of ``model`` (default :func:`default_model`) with ``N = 100`` steps on ``[0, T]``.

    Draw for draw with the same seed first; else its structure (spies on the flow and the score),
    then against mutated samplers drawing the same noise (no noise, ``g·|dt|``, …), and last by
    the distribution it produces on 8 Gaussians: each mode's spread (samples assigned to the
    nearest mode) against the exact mode std, and the NLL under the exact density against its
    entropy (the library's own samples set the target when the model is untrained).
    """
    from dinof_lite.data.toy import GaussianMixture
    from dinof_lite.dinof import DiNof

    model = default_model() if model is None else model
    sde = type(model.sde)(**{**model.sde.params(), "N": _N_SDE})
    eps_kw = {"train_eps": model.train_eps, "sample_eps": model.sample_eps}
    ref_model = DiNof(sde, model.score_net, model.flow, T_m=model.T_m, **eps_kw).eval()
    T_m, eps = ref_model.T_m, ref_model.sample_eps
    n_steps = sde.n_steps_from(T_m)
    dt = (eps - T_m) / n_steps

    def grade() -> str:
        spy_flow, spy = SpyFlow(model.flow), SpyScore(ref_model.score_fn)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            got = call_student(dinof_sample, spy_flow, spy, sde, _N_SAMPLES, T_m, gen, eps, dt=dt)
        got = expect_tensor(
            got, (_N_SAMPLES, *model.dims), "the samples", "Return x of shape (n, *flow.in_shape)."
        )
        ref = ref_model.sample(
            _N_SAMPLES,
            generator=torch.Generator().manual_seed(0),
            predictor="euler_maruyama",
            corrector="none",
        )
        if close(got, ref, 1e-3):
            return (
                f"matches DiNof.sample with the same seed: flow at T_m = {T_m}, then {n_steps} "
                f"Euler–Maruyama steps to eps and a final denoise."
            )
        check_structure(spy_flow, spy, T_m, eps, n_steps, _N_SDE)
        _, x_last, t_last = spy.calls[-1]
        with torch.no_grad():
            drift, g = sde.reverse(ref_model.score_fn).sde(x_last, t_last)
        x_mean = x_last + drift * dt
        noise_std = float(g.mean()) * abs(dt) ** 0.5
        if not close(got, x_mean, 1e-3) and 0.5 < float((got - x_mean).std()) / noise_std < 2:
            raise Failed(
                "missing final denoise: the last step added noise; return that step's "
                "x_mean (predictor.update returns (x, x_mean))."
            )

        def mutated(n: int, seed: int, noise=None, drift_scale: float = 1.0) -> Tensor:
            kw = {} if noise is None else {"noise": noise}
            with torch.no_grad():
                return reference_sampler(
                    model.flow, ref_model.score_fn, sde, n, T_m,
                    torch.Generator().manual_seed(seed), eps, drift_scale=drift_scale, **kw,
                )  # fmt: skip

        # mutated samplers with the same noise, draw for draw
        for message, noise in _NOISE_MISTAKES.items():
            if close(got, mutated(_N_SAMPLES, 0, noise), 1e-3):
                raise Failed(message)
        for message, scale in _DRIFT_MISTAKES.items():
            if close(got, mutated(_N_SAMPLES, 0, drift_scale=scale), 1e-3):
                raise Failed(message)

        # the distribution: per-mode spread and NLL under the exact density
        gmm = GaussianMixture.preset("8gaussians")
        if gmm.dim != int(torch.tensor(model.dims).prod()):
            raise Failed(
                f"the structure is right (flow, {n_steps} steps from T_m) but the samples "
                "differ from DiNof.sample: check the predictor step and the noise."
            )
        exact = gmm.covs.diagonal(dim1=1, dim2=2).mean(1).sqrt()  # (K,) std of each mode
        h_exact = gmm.entropy(20_000, torch.Generator().manual_seed(0))
        lib_spread, lib_nll = _spread(mutated(_N_DIST, 1), gmm)
        if _distribution_ok(lib_spread, lib_nll, exact, h_exact):
            target, h, against = exact, h_exact, "the exact mode std"
        else:  # an untrained model: its own right samples set the target
            target, h, against = lib_spread, lib_nll, "DiNof.sample's"
        with torch.no_grad():
            x = call_student(
                dinof_sample, model.flow, ref_model.score_fn, sde, _N_DIST, T_m,
                torch.Generator().manual_seed(1), eps, dt=dt,
            )  # fmt: skip
        x = expect_tensor(x, (_N_DIST, *model.dims), "the samples", finite=False)
        spread, nll = _spread(x.reshape(_N_DIST, -1), gmm)
        if _distribution_ok(spread, nll, target, h):
            return (
                "right structure (flow, then round(N·T_m) steps from T_m) and the samples "
                "match in distribution (per-mode spread "
                f"{fmt(spread.nanmean())} vs {against} {fmt(target.nanmean())}, NLL "
                f"{fmt(nll)} vs {fmt(h)} nats); not draw for draw, so your noise draws differ "
                "in order or kind from the library's."
            )
        ratio = float(spread.nanmean() / target.mean())
        numbers = (
            f"mean per-mode spread {fmt(spread.nanmean())} vs {against} {fmt(target.mean())} "
            f"(ratio {fmt(ratio)}; samples assigned to the nearest of the 8 modes), NLL under "
            f"the exact density {fmt(nll)} nats vs {fmt(h)}"
        )
        # name the mutated sampler whose distribution is nearest
        best, best_d = None, float("inf")
        for message, noise in _NOISE_MISTAKES.items():
            s_k, nll_k = _spread(mutated(_N_DIST, 1, noise), gmm)
            if not torch.isfinite(s_k).all():
                continue
            d = abs(float(s_k.mean() / target.mean()) - ratio)
            if d < best_d:
                best, best_d = message, d
        if ratio < 0.7:
            below = (
                " (below the entropy: the samples sit too close to the modes)" if nll < h else ""
            )
            raise Failed(
                f"the modes have collapsed: {numbers}{below}. Too little noise: missing noise, "
                "or noise not scaled by √|dt| (g·|dt| is √|dt| times too small); closest "
                f"mutated sampler: {best.split(':')[0] if best else 'missing noise'}. Each "
                "Euler–Maruyama step must add g(t)·√|dt|·z."
            )
        if ratio > 1.35:
            raise Failed(
                f"the samples are too spread out: {numbers}. Too much noise or a wrong drift — "
                f"closest: {best.split(':')[0] if best else 'a wrong noise scale'}. Each step is "
                "x + (f − g²·score)·dt + g·√|dt|·z."
            )
        raise Failed(
            f"the structure is right (flow, {n_steps} steps from T_m) but the samples do not "
            f"have the right distribution: {numbers}. Check the predictor step and the noise."
        )

    return run_check("dinof_sample", "(e)", grade, hint=_HINT)
