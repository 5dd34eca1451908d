"""`watchtrain handout OUT_DIR`: write the student release of the course.

Built from what git has committed at HEAD, never from the working tree: no solutions, no hidden
tests, no mutants or project tests, no run folders; the committed exercise stubs (refused when one
no longer raises NotImplementedError or differs from lessons/), a README and a Makefile for
students, and a GitHub Classroom workflow. Every file is checked for leaked solution bodies and
hidden tests before the handout is kept.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("handout", help="write the student release: no solutions, no hidden tests",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="a new (or empty) folder for the handout")
    parser.add_argument("--force", action="store_true", help="replace OUT_DIR if it is not empty")
    parser.add_argument("--grade-options", default="", metavar="OPTIONS",
                        help="extra options for `watchtrain grade` in the GitHub Classroom workflow, e.g. '--lessons 01'")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.classroom.handout import WORKFLOW, HandoutError, write_handout
    from watchtrain.course import load_course

    course = load_course()
    try:
        handout = write_handout(course, args.out, force=args.force, grade_options=args.grade_options)
    except HandoutError as err:
        print(f"watchtrain handout: {err}", file=sys.stderr)
        return 1
    out = args.out.resolve()
    lessons = sum(path.startswith("lessons/") and path.endswith("/exercise.py") for path in handout.files)
    print(f"Wrote the student handout to {out} ({len(handout.files)} files) from commit {handout.commit}: "
          f"{lessons} lessons with their stubs, the public autograder, README.md and Makefile for "
          f"students, and {WORKFLOW}. Uncommitted changes are not in it.\n"
          f"Checked: no solution body and no hidden test in any file.\n"
          f"Try it as a student would:  cd {out} && make test")
    return 0
