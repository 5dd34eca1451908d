"""`watchtrain gradescope`: build a Gradescope autograder bundle, or (inside it) grade one submission.

    watchtrain gradescope build OUT.zip     upload OUT.zip as the assignment's autograder
    watchtrain gradescope run               what the bundle's run_autograder calls on Gradescope
"""
from __future__ import annotations

import argparse
from pathlib import Path

from watchtrain.classroom.isolation.sandbox import Limits
from watchtrain.grading.gradescope import DEFAULT_HIDDEN_VISIBILITY, VISIBILITIES

DEFAULTS = Limits()


def register(subparsers) -> None:
    parser = subparsers.add_parser("gradescope", help="build a Gradescope autograder bundle (or run it)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="write the autograder bundle (.zip) to upload to Gradescope")
    build.add_argument("out", type=Path, metavar="OUT.zip")
    _grading_options(build)
    build.set_defaults(run=run_build)
    grade = actions.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json (inside the bundle)")
    grade.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's folder (default: %(default)s)")
    _grading_options(grade)
    grade.set_defaults(run=run_grade)


def _grading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", action=argparse.BooleanOptionalAction, default=True,
                        help="grade with the hidden tests in autograder/hidden/ (default: yes)")
    parser.add_argument("--hidden-visibility", choices=VISIBILITIES, default=DEFAULT_HIDDEN_VISIBILITY,
                        help="when students see the hidden tests' feedback, never their code (default: %(default)s)")
    parser.add_argument("--lessons", nargs="+", metavar="LESSON",
                        help="grade only these lessons (one assignment per lesson)")
    parser.add_argument("--test-timeout", type=float, default=DEFAULTS.test_timeout, metavar="SECONDS")
    parser.add_argument("--submission-timeout", type=float, default=DEFAULTS.submission_timeout, metavar="SECONDS",
                        help="keep it below the Gradescope assignment's own timeout (default: %(default)g)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULTS.memory_mb, metavar="MIB")


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(test_timeout=args.test_timeout, submission_timeout=args.submission_timeout, memory_mb=args.memory_mb)


def run_build(args: argparse.Namespace) -> int:
    from watchtrain.classroom.gradescope_bundle import build_bundle
    from watchtrain.course import load_course

    course = load_course()
    lessons = tuple(course.lesson(key).dir for key in args.lessons or ())
    names = build_bundle(course, args.out, hidden=args.hidden, lessons=lessons,
                         hidden_visibility=args.hidden_visibility, limits=_limits(args))
    print(f"Wrote the Gradescope autograder bundle {args.out} ({len(names)} files; "
          f"{'with' if args.hidden else 'without'} hidden tests, {', '.join(lessons) or 'every lesson'}).\n"
          f"On Gradescope: a Programming Assignment, Configure Autograder, base image Ubuntu 24.04, upload the zip.")
    return 0


def run_grade(args: argparse.Namespace) -> int:
    from watchtrain.classroom.gradescope_run import grade_on_gradescope
    from watchtrain.classroom.supervisor import GradingOptions
    from watchtrain.course import load_course

    course = load_course(args.root / "source")
    lessons = tuple(course.lesson(key).dir for key in args.lessons or ())
    options = GradingOptions(lessons=lessons, hidden=args.hidden, limits=_limits(args))
    results = grade_on_gradescope(args.root, options, hidden_visibility=args.hidden_visibility)
    print(results["output"])
    return 0
