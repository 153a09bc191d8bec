"""Coursework: self-grading checks and the generator of student notebooks.

- :mod:`~dinof_lite.coursework.checks` — ``check_*`` functions that grade an exercise and name
  the mistake in a wrong answer (``from dinof_lite.coursework import checks``).
- :mod:`~dinof_lite.coursework.student_notebooks` — turns the solution notebooks in
  ``notebooks/assignments/`` into student ones (``python -m dinof_lite assignments``).
"""
