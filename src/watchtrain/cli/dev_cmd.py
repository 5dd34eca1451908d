"""`watchtrain dev check`: for the course's maintainers, everything missing or inconsistent in every
lesson, reported in one run with the fix (README.md, "Adding a lesson")."""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dev", help="for the course's maintainers: `dev check` reports what every lesson lacks",
        description="Tools for the course's maintainers. `watchtrain dev check` reads every lesson of "
        "course.toml (and any lesson folder it does not list) and reports, one line each with the fix, every "
        "file missing and everything inconsistent: stubs against solutions and the manifest, autograder "
        "markers, mutants, hint ladders, demos, notebooks and the README's course map. It only reads files: "
        "it imports no lesson code and grades nothing. Exit code 1 when anything is wrong.")
    parser.add_argument("action", choices=["check"], help="check: report everything missing or inconsistent")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.cli.style import Terminal
    from watchtrain.course import load_course
    from watchtrain.dev_check import check_course, render_report
    from watchtrain.grading.results import FAILED, PASSED

    course = load_course()
    problems = check_course(course)
    paint = Terminal(sys.stdout).paint
    report = render_report(course, problems, mark=lambda text: paint(text, FAILED))
    print(report if problems else paint(report, PASSED))
    return 1 if problems else 0
