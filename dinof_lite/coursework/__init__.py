"""Coursework: self-grading checks, their bridge to nbgrader, and the course's hand-outs.

- :mod:`~dinof_lite.coursework.checks` — ``check_*`` functions that grade an exercise and name
  the mistake in a wrong answer (``from dinof_lite.coursework import checks``).
- :mod:`~dinof_lite.coursework.grading` — ``grading.require(check)``: the assignments' test
  cells, silent for a student, a failed cell in a kernel run by nbgrader.
- :mod:`~dinof_lite.coursework.graders` — the course's verdicts, outside the student's kernel:
  each test cell's answer from its solution cells, checked by
  :mod:`~dinof_lite.coursework.rules` (static rules), run in
  :mod:`~dinof_lite.coursework.sandbox` (a limited process; values cross as
  :mod:`~dinof_lite.coursework.wire` data, objects stay behind
  :mod:`~dinof_lite.coursework.handles`) at the defaults and at secret inputs;
  :mod:`~dinof_lite.coursework.verdict` holds the nbgrader preprocessors that use them.
- :mod:`~dinof_lite.coursework.course` — the nbgrader course folder (config, source notebooks,
  the release step); nbgrader is the optional ``teach`` extra.
- :mod:`~dinof_lite.coursework.student_notebooks` — ``python -m dinof_lite assignments``: the
  student notebooks in ``notebooks/assignments/student/``, made by nbgrader's release step.
"""
