"""Auto-graders for the coursework in ``notebooks/assignments/`` (one module per exercise group).

Each ``check_*`` function calls the student's function on fixed inputs, compares it with the
library and the Gaussian-mixture oracle, displays a :class:`CheckResult` and returns it; it never
raises for a student mistake. Wrong answers are matched against typical mistakes (a missing sqrt,
a sign, a wrong log-det, …) so the message names the mistake::

    from dinof_lite.coursework import checks
    checks.check_vp_marginal(vp_marginal);     # ✅ / ❌ with a diagnosis / ⏳ not attempted
    checks.summary()                           # table of every check run in this kernel

Exercises: (a) :mod:`~dinof_lite.coursework.checks.forward`,
(b) :mod:`~dinof_lite.coursework.checks.score_matching`, (c) :mod:`~dinof_lite.coursework.checks.pc_step`,
(d) :mod:`~dinof_lite.coursework.checks.coupling`,
(e) :mod:`~dinof_lite.coursework.checks.dinof_sampling`,
(f)–(h) :mod:`~dinof_lite.coursework.checks.likelihood`,
(i)–(k) :mod:`~dinof_lite.coursework.checks.tradeoff`.
"""

from dinof_lite.coursework.checks._core import (
    CheckResult,
    passed,
    reset,
    results,
    run_check,
    summary,
    yours_or_library,
)
from dinof_lite.coursework.checks.coupling import check_coupling_forward, check_coupling_inverse
from dinof_lite.coursework.checks.dinof_sampling import check_dinof_sample
from dinof_lite.coursework.checks.forward import (
    check_forward_sample,
    check_ve_marginal,
    check_vp_marginal,
)
from dinof_lite.coursework.checks.likelihood import (
    check_dinof_log_likelihood,
    check_divergence,
    check_pf_drift,
)
from dinof_lite.coursework.checks.pc_step import check_em_step, check_langevin_step
from dinof_lite.coursework.checks.score_matching import check_dsm_loss
from dinof_lite.coursework.checks.tradeoff import (
    check_measure,
    check_smallest_matching_T_m,
    check_sweep,
)

__all__ = [
    "CheckResult",
    "run_check",
    "summary",
    "results",
    "reset",
    "yours_or_library",
    "passed",
    "check_vp_marginal",
    "check_ve_marginal",
    "check_forward_sample",
    "check_dsm_loss",
    "check_em_step",
    "check_langevin_step",
    "check_coupling_forward",
    "check_coupling_inverse",
    "check_dinof_sample",
    "check_pf_drift",
    "check_divergence",
    "check_dinof_log_likelihood",
    "check_measure",
    "check_sweep",
    "check_smallest_matching_T_m",
]
