"""Out-of-kernel graders: every test cell of A1–A6, decided in the grader's own process.

``EXERCISES`` maps a test cell's grade id to its :class:`Exercise`: the solution cells that
hold the answer, what the answer may not use (the implementation the exercise asks for) and its
``grade``, which runs the same ``check_*`` the student ran in class on the sandboxed answer and
then the same answer at parameters and on inputs drawn at grading time. One module per
assignment, mirroring :mod:`~dinof_lite.coursework.checks`:

- (a) :mod:`~dinof_lite.coursework.graders.forward`,
- (b)–(c) :mod:`~dinof_lite.coursework.graders.score_steps`,
- (d) :mod:`~dinof_lite.coursework.graders.coupling`,
- (e) :mod:`~dinof_lite.coursework.graders.sampling`,
- (f)–(h) :mod:`~dinof_lite.coursework.graders.likelihood`,
- (i)–(k) :mod:`~dinof_lite.coursework.graders.tradeoff`.

:func:`grade_answer` is the whole verdict of one test cell, without nbgrader
(:mod:`~dinof_lite.coursework.verdict` runs it in nbgrader).
"""

from dinof_lite.coursework.graders import (
    coupling,
    forward,
    likelihood,
    sampling,
    score_steps,
    tradeoff,
)
from dinof_lite.coursework.graders._core import Exercise, Graded, answer_source, grade_answer

__all__ = ["EXERCISES", "Exercise", "Graded", "answer_source", "grade_answer"]

#: test cell grade id → its exercise
EXERCISES: dict[str, Exercise] = {
    e.test: e
    for module in (forward, score_steps, coupling, sampling, likelihood, tradeoff)
    for e in module.EXERCISES
}
