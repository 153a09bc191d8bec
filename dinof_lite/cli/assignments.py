"""``python -m dinof_lite assignments``: write the student notebooks with nbgrader's release step
(:mod:`dinof_lite.coursework.student_notebooks`), check that they are up to date (``--check``: exit
1 naming the stale ones), or set up an nbgrader course folder (``--course DIR``,
:func:`~dinof_lite.coursework.course.setup_course`). Needs the ``teach`` extra."""

from __future__ import annotations

import argparse

__all__ = ["arguments", "run"]


def arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m dinof_lite assignments``."""
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the student notebooks that are out of date",
    )
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="write the student notebooks without running them (no outputs)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="rewrite every student notebook (with --course: every source notebook and the config)",
    )
    p.add_argument(
        "--course",
        metavar="DIR",
        default=None,
        help="set up an nbgrader course folder in DIR (nbgrader_config.py, source/A1..) instead",
    )
    p.add_argument("--root", default=".", help="repository root (default: the current directory)")


def _course_run(args: argparse.Namespace) -> int:
    from dinof_lite.coursework.course import setup_course

    written = setup_course(args.course, args.root, force=args.force)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.course} is already set up (--force overwrites its config and sources)")
    print(f"next: cd {args.course} && nbgrader generate_assignment A1 --create  (see the guide)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Generate (or with ``--check`` verify) the student notebooks, or set up a course folder;
    returns the exit code."""
    from dinof_lite.coursework.course import assignments
    from dinof_lite.coursework.student_notebooks import stale_students, write_students

    try:
        if args.course is not None:
            return _course_run(args)
        if args.check:
            problems = stale_students(args.root)
            for problem in problems:
                print(f"out of date: {problem}")
            if problems:
                print("regenerate with `python -m dinof_lite assignments`")
                return 1
            print(f"{len(assignments(args.root))} student notebooks are up to date")
            return 0
        written = write_students(args.root, execute=not args.no_execute, force=args.force)
    except (ModuleNotFoundError, RuntimeError) as err:  # nbgrader missing, or it failed
        raise SystemExit(f"error: {err}") from None
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("all student notebooks are up to date (--force rewrites them)")
    return 0
