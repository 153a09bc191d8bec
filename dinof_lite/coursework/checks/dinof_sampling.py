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
    close,
    expect_tensor,
    fmt,
    run_check,
)
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.utils import randn

__all__ = ["check_dinof_sample", "SpyFlow", "SpyScore", "default_model"]

_N_SAMPLES, _N_SDE = 256, 100
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


def _structure(
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


def check_dinof_sample(dinof_sample: Callable, model: nn.Module | None = None) -> CheckResult:
    """Grade ``dinof_sample`` against :meth:`DiNof.sample` (VP: Euler–Maruyama, no corrector) on
    a copy of ``model`` (default :func:`default_model`) with ``N = 100`` steps on ``[0, T]``."""
    from dinof_lite.dinof import DiNof

    model = default_model() if model is None else model
    sde = type(model.sde)(**{**model.sde.params(), "N": _N_SDE})
    ref_model = DiNof(sde, model.score_net, model.flow, T_m=model.T_m, eps=model.eps).eval()
    T_m, eps = ref_model.T_m, ref_model.eps
    n_steps = round(_N_SDE * T_m)

    def grade() -> str:
        spy_flow, spy = SpyFlow(model.flow), SpyScore(ref_model.score_fn)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            got = dinof_sample(spy_flow, spy, sde, _N_SAMPLES, T_m, gen, eps)
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
        _structure(spy_flow, spy, T_m, eps, n_steps, _N_SDE)
        _, x_last, t_last = spy.calls[-1]
        with torch.no_grad():
            drift, g = sde.reverse(ref_model.score_fn).sde(x_last, t_last)
        dt = (eps - T_m) / n_steps
        x_mean = x_last + drift * dt
        noise_std = float(g.mean()) * abs(dt) ** 0.5
        if not close(got, x_mean, 1e-3) and 0.5 < float((got - x_mean).std()) / noise_std < 2:
            raise Failed(
                "missing final denoise: the last step added noise; return that step's "
                "x_mean (predictor.update returns (x, x_mean))."
            )
        with torch.no_grad():
            lib = ref_model.sample(1000, generator=torch.Generator().manual_seed(1))
        if mmd(lib, got) < 0.01:
            return (
                "right structure (flow, then round(N·T_m) steps from T_m) and the samples "
                "match DiNof.sample in distribution; not draw for draw, so your noise draws "
                "differ in order or kind from the library's."
            )
        raise Failed(
            f"the structure is right (flow, {n_steps} steps from T_m) but the samples "
            "differ from DiNof.sample: check the predictor step and the noise."
        )

    return run_check("dinof_sample", "(e)", grade, hint=_HINT)
