"""The bridge between the self-grading checks and a course's autograder (nbgrader).

Every autograder test cell of the assignments is one line::

    grading.require(checks.check_vp_marginal(vp_marginal))

For a student alone (Colab, JupyterLab without a course) it does nothing beyond the check itself:
the check shows its ✅ / ❌ / ⏳ report and never raises. Under nbgrader — ``nbgrader autograde``
or the student's "Validate" button, which set ``NBGRADER_EXECUTION`` in the kernel — a check that
did not pass raises :class:`CheckNotPassed` carrying the check's report, so the cell scores zero
points and the report (the message that names the mistake) is the error shown in the student's
feedback. nbgrader is not imported: a student's kernel needs only ``dinof_lite``.

In a course this kernel verdict is a self-check only: ``nbgrader autograde`` decides every test
cell of A1–A6 outside the kernel (:mod:`~dinof_lite.coursework.graders`), since code in the
kernel can undo whatever this module decides there.
"""

from __future__ import annotations

import os

from dinof_lite.coursework.checks import CheckResult

__all__ = ["CheckNotPassed", "GRADER_VARIABLE", "under_grader", "require"]

#: set by nbgrader in the kernel's environment while it autogrades (``"autograde"``) or
#: validates (``"validate"``) a notebook
GRADER_VARIABLE = "NBGRADER_EXECUTION"


class CheckNotPassed(AssertionError):
    """A check that did not pass, raised under the grader; its text is the check's report."""


def under_grader() -> bool:
    """True while nbgrader executes this kernel (autograde or validate)."""
    return bool(os.environ.get(GRADER_VARIABLE))


def require(result: CheckResult) -> None:
    """Fail the autograder test cell unless ``result`` (what a ``check_*`` returned) passed.

    Outside the grader this returns quietly whatever the result, so a student's notebook runs
    to the end and shows every report. Raises ``TypeError`` for anything but a
    :class:`~dinof_lite.coursework.checks.CheckResult` (e.g. a check's name instead of its call).
    """
    if not isinstance(result, CheckResult):
        raise TypeError(
            "require() takes what a check returns, e.g. "
            "grading.require(checks.check_vp_marginal(vp_marginal)); "
            f"got {type(result).__name__}"
        )
    if under_grader() and not result.passed:
        raise CheckNotPassed(str(result))
