"""A4, exercise (e): DiNof sampling, graded outside the kernel.

The flow and the score network stay in the grader's process behind the check's spies, so what
the spies record (flow calls, the times of the score evaluations) is the grader's own count.
Secret part: a drawn ``T_m``, number of steps ``N`` and last time ``eps``; the samples must
match :meth:`DiNof.sample` with the same seed draw for draw, or (an answer that draws its noise
in another order) the spies must show the right structure. The second test cell grades the
same answer on the notebook's ``T_m = 0.29`` model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dinof_lite.coursework import checks
from dinof_lite.coursework.checks._core import close, expect_tensor
from dinof_lite.coursework.checks.dinof_sampling import (
    SpyFlow,
    SpyScore,
    check_structure,
    default_model,
)
from dinof_lite.coursework.graders._core import LIBRARY, Exercise, combined, secret, uniform

__all__ = ["EXERCISES", "early_model"]

_NAMES = {
    "torch": "torch",
    "math": "math",
    "EulerMaruyamaPredictor": "dinof_lite.sampling:EulerMaruyamaPredictor",
}
_FORBIDDEN = {
    name: LIBRARY.format(name)
    for name in ("DiNof", "GaussianMixture", "load_dinof", "mmd", "reference_sampler",
                 "pc_sample", "pc_sample_result", "default_model")
}  # fmt: skip
_ATTRIBUTES = {
    name: f"(e) asks you to write the sampler; `.{name}` runs the library's."
    for name in ("sample_result", "dinof_sample", "pc_sample")
}


def early_model():
    """The notebook's second model: the shipped networks handing over at ``T_m = 0.29``."""
    from dinof_lite.dinof import DiNof

    shipped = default_model()
    return DiNof(shipped.sde, shipped.score_net, shipped.flow, T_m=0.29,
                 train_eps=shipped.train_eps, sample_eps=shipped.sample_eps)  # fmt: skip


def _drawn(answer: Callable, rng: torch.Generator, model):
    from dinof_lite.dinof import DiNof

    while True:  # N·T_m's fraction in [0.1, 0.4]: `int` and `round` agree (the second cell
        T_m = uniform(rng, 0.3, 0.75, 2)  # grades that), a step more or less does not
        N = int(torch.randint(60, 141, (), generator=rng))
        if 0.1 <= N * T_m % 1 <= 0.4:
            break
    eps = uniform(rng, 1e-3, 1e-2, 4)
    seed = int(torch.randint(1, 10_000, (), generator=rng))
    sde = type(model.sde)(**{**model.sde.params(), "N": N})
    ref_model = DiNof(sde, model.score_net, model.flow, T_m=T_m,
                      train_eps=model.train_eps, sample_eps=eps).eval()  # fmt: skip
    n_steps = sde.n_steps_from(T_m)

    def grade() -> str:
        spy_flow, spy = SpyFlow(model.flow), SpyScore(ref_model.score_fn)
        with torch.no_grad():
            got = answer(spy_flow, spy, sde, 128, T_m, torch.Generator().manual_seed(seed), eps)
            got = expect_tensor(got, (128, *model.dims), "the samples")
            ref = ref_model.sample(128, generator=torch.Generator().manual_seed(seed),
                                   predictor="euler_maruyama", corrector="none")  # fmt: skip
        if close(got, ref, 1e-3):
            return "right, draw for draw."
        check_structure(spy_flow, spy, T_m, eps, n_steps, N)
        return "right structure (not draw for draw)."

    where = f"at T_m = {T_m} with N = {N} steps on [0, 1] and eps = {eps}"
    return secret("dinof_sample", "(e)", grade), where


def grade_dinof_sample(answer: Callable, rng: torch.Generator):
    default = checks.check_dinof_sample(answer)
    if not default.passed:
        return default
    return combined(default, *_drawn(answer, rng, default_model()))


def grade_any_T_m(answer: Callable, rng: torch.Generator):
    model = early_model()
    default = checks.check_dinof_sample(answer, model)
    if not default.passed:
        return default
    return combined(default, *_drawn(answer, rng, model))


EXERCISES = [
    Exercise(
        "dinof_sample", test, "(e)", grade, _FORBIDDEN, _ATTRIBUTES, names=_NAMES,
        time_factor=2.0,
    )
    for test, grade in (
        ("check_dinof_sample", grade_dinof_sample),
        ("check_dinof_sample_any_T_m", grade_any_T_m),
    )
]  # fmt: skip
