"""The reverse-step rule ``SDE.n_steps_from(t_start, N) = max(1, round(N·t_start/T))`` and every
place that counts DiNof's steps: all of them must give its number, also when ``T ≠ 1`` (three
of them once wrote ``round(N·T_m)``, which is twice too many steps at ``T = 2``)."""

from __future__ import annotations

import pytest
import torch

from dinof_lite import DiNof
from dinof_lite.coursework.checks._core import Failed
from dinof_lite.coursework.checks.tradeoff import nfe_mistake
from dinof_lite.evaluation.frontier import FrontierConfig, _points
from dinof_lite.evaluation.tm_study import tm_study
from dinof_lite.sampling import pc_sample_result
from dinof_lite.sde import VESDE, VPSDE, subVPSDE
from dinof_lite.viz.widgets import _TmSlider
from tests.factories import tiny_dinof


def _with_T(cls: type, T: float) -> type:
    """A subclass of an SDE class whose time runs over ``[0, T]`` (the library's SDEs fix T = 1)."""
    return type(f"{cls.__name__}T{T:g}", (cls,), {"T": property(lambda self: T)})


CLASSES = [VESDE, VPSDE, subVPSDE]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_rule_divides_by_T(cls):
    sde = _with_T(cls, 2.0)(N=100)
    assert sde.T == 2.0
    assert sde.n_steps_from(2.0) == 100  # the whole path: N steps
    assert sde.n_steps_from(1.0) == 50 and sde.n_steps_from(0.6) == 30
    assert sde.n_steps_from(1.0, 40) == 20 and sde.n_steps_from(1.0, N=7) == 4  # 3.5 → 4
    assert sde.n_steps_from(0.013) == 1 and sde.n_steps_from(1e-9) == 1  # at least one step
    assert cls(N=100).n_steps_from(0.6) == 60  # T = 1
    assert cls(N=1000).n_steps_from(0.37) == 370
    assert isinstance(sde.n_steps_from(1.0), int)


@pytest.mark.parametrize(
    "t_start",
    [0.0, -0.1, 2.0001, float("nan"), float("inf"), "0.5", True, None, torch.tensor(0.5)],
)
def test_rule_refuses_a_start_time_outside_0_T(t_start):
    sde = _with_T(VPSDE, 2.0)(N=100)
    with pytest.raises(ValueError, match=r"t_start must be a number in \(0, T\] = \(0, 2\]"):
        sde.n_steps_from(t_start)


@pytest.mark.parametrize("N", [0, -3, 1.5, 10.0, True, "10"])
def test_rule_refuses_a_bad_N(N):
    with pytest.raises(ValueError, match="N .* must be a positive int"):
        VPSDE().n_steps_from(0.5, N)


# --------------------------------------------------------------------------- the call sites
@pytest.fixture(scope="module")
def long_model() -> DiNof:
    """An untrained any-T_m DiNof on a VP SDE over [0, 2] with N = 20 (fixed weights)."""
    with torch.random.fork_rng():
        sde = _with_T(VPSDE, 2.0)(N=20)
        return tiny_dinof(sde, any_tm=True, T_m=1.2, T_m_range=(0.2, 2.0)).eval()


def test_pc_sampler_default_steps(long_model):
    sde = long_model.sde
    x = torch.zeros(4, 2)
    res = pc_sample_result(sde, long_model.score_fn, x, t_start=1.2, corrector="none")
    assert res.nfe == sde.n_steps_from(1.2) == 12


@pytest.mark.parametrize("T_m", [0.3, 1.2, 2.0])
def test_dinof_default_steps(long_model, T_m):
    s = long_model.sample_result(4, T_m=T_m, corrector="none", generator=torch.Generator())
    assert s.n_steps == s.nfe == long_model.sde.n_steps_from(T_m) == round(20 * T_m / 2)


def test_tm_study_steps(long_model):
    rows = tm_study(
        long_model, [0.5, 1.5], n=6, reference=torch.randn(6, 2), baseline=False, n_steps_full=30
    )
    assert [r["n_steps"] for r in rows] == [long_model.sde.n_steps_from(t, 30) for t in (0.5, 1.5)]
    assert [r["n_steps"] for r in rows] == [8, 22]  # round(7.5) = 8, round(22.5) = 22


def test_frontier_steps(long_model):
    sde = long_model.sde
    cfg = FrontierConfig((10, 40), (0.5, 1.6), ("ddim",), (4,), (), n=4)
    dinof = [(p["T_m"], p["steps"]) for p in _points(cfg, sde) if p["method"].startswith("dinof")]
    assert dinof == [(t, sde.n_steps_from(t, k)) for t in (0.5, 1.6) for k in (10, 40)]
    assert dinof == [(0.5, 2), (0.5, 10), (1.6, 8), (1.6, 32)]


def test_slider_steps(long_model):
    slider = _TmSlider(long_model, [0.4, 1.6], seed=0, n_steps_full=30, solver=None)
    assert slider.sample_kwargs_at(1.6) == {"n_steps": long_model.sde.n_steps_from(1.6, 30)}
    assert slider.sample_kwargs_at(1.6) == {"n_steps": 24}
    paper = _TmSlider(long_model, [0.4], seed=0, solver=None)
    assert paper.sample_kwargs_at(0.4) == {}  # the model's own


def test_coursework_nfe_check(long_model):
    sde = type(long_model.sde)(N=200)
    nfe_mistake(sde.n_steps_from(1.0), 1.0, sde)  # 100: right
    nfe_mistake(200, None, sde)  # the baseline: all N steps
    with pytest.raises(Failed, match="round"):
        nfe_mistake(200, 1.0, sde)  # N·T_m without / T


def test_the_module_rule_is_the_method_rule():
    from dinof_lite.sde import n_steps_from

    sde = VESDE(N=100)
    assert all(n_steps_from(t, 100, 1.0) == sde.n_steps_from(t) for t in (1e-4, 0.3, 0.61, 1.0))
    assert n_steps_from(0.6, 100, T=2.0) == 30 and n_steps_from(1e-6, 10) == 1
    with pytest.raises(ValueError, match="t_start"):
        n_steps_from(2.5, 100, T=2.0)
