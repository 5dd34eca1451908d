"""The autograder's command-line options, and which submission they choose."""
from __future__ import annotations

from pathlib import Path

import pytest

from watchtrain.course import Course
from watchtrain.grading.gradescope import DEFAULT_HIDDEN_VISIBILITY, VISIBILITIES

HIDDEN_DIR = "hidden"  # autograder/hidden/: the instructor's tests, never handed out
REPORT_OPTIONS = ("--report-json", "--report-gradescope", "--report-junit")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("watchtrain", "Watch It Train autograder")
    group.addoption("--submission", metavar="DIR", help="grade this folder (shaped like lessons/) instead of lessons/")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions in solutions/")
    group.addoption("--own-work", action="store_true",
                    help="the --submission folder is the work of whoever runs this (a notebook's cells, say): the "
                         "learner worker is forked from this process, as for lessons/, not started as a fresh "
                         "interpreter, which keeps the grader's environment from someone else's code")
    group.addoption("--report-json", metavar="PATH", help="also write the points report as JSON to PATH")
    group.addoption("--report-gradescope", metavar="PATH", help="also write Gradescope's results.json to PATH")
    group.addoption("--report-junit", metavar="PATH", help="also write the points report as JUnit XML to PATH")
    group.addoption("--hidden", action="store_true",
                    help=f"also run the instructor's hidden tests in autograder/{HIDDEN_DIR}/ (they carry hidden_points)")
    group.addoption("--hidden-visibility", choices=VISIBILITIES, default=DEFAULT_HIDDEN_VISIBILITY,
                    help="when students see hidden tests' feedback on Gradescope (default: %(default)s)")
    group.addoption("--test-timeout", type=float, default=0, metavar="SECONDS",
                    help="stop a test (setup, call and teardown each) after SECONDS and grade it as an error; 0: no limit")
    group.addoption("--results-log", metavar="PATH",
                    help="append each test's start and result to PATH as JSON lines (used by `watchtrain grade`)")
    group.addoption("--start-when", metavar="PATH",
                    help="collect the tests and start the learner worker, then wait until PATH exists before running "
                         "them (used by `watchtrain watch`, which keeps the next check ready before the next save)")


def chosen_submission(config: pytest.Config, course: Course) -> Path:
    """--submission DIR, --solutions, or the learner's own lessons/."""
    chosen, solutions = config.getoption("--submission"), config.getoption("--solutions")
    if chosen and solutions:
        raise pytest.UsageError("choose one: --submission DIR or --solutions, not both")
    if config.getoption("--own-work") and not chosen:
        raise pytest.UsageError("--own-work says whose work the --submission DIR folder is; "
                                "give it with --submission DIR (lessons/ and solutions/ are yours already)")
    root = Path(chosen).resolve() if chosen else course.root / ("solutions" if solutions else "lessons")
    if not root.is_dir():
        raise pytest.UsageError(f"the submission folder {root} does not exist; "
                                f"--submission needs a folder shaped like lessons/ (one sub-folder per lesson)")
    return root


def is_hidden_dir(path: Path) -> bool:
    return path.name == HIDDEN_DIR and path.parent.name == "autograder"


def is_hidden(item: pytest.Item) -> bool:
    return is_hidden_dir(item.path.parent)
