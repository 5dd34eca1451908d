"""`watchtrain check NN`: grade one lesson's exercises and say what to fix next."""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="grade one lesson: points per exercise and the first problem of each",
        description="Run a lesson's autograder tests on your lessons/NN_*/exercise.py and print, per "
        "exercise, the points and the first failing check (what was expected, what was found, a hint). "
        "The result is saved for `watchtrain list`.")
    parser.add_argument("lesson", nargs="?", metavar="NN",
                        help="lesson number or folder name, e.g. 01 (default: the first lesson not done yet)")
    parser.add_argument("--solutions", action="store_true",
                        help="grade the reference solutions instead of your work (instructors; saves nothing)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.cli.style import Terminal
    from watchtrain.course import load_course
    from watchtrain.lesson_check import CheckError, check_lesson, render_check
    from watchtrain.progress import load_progress

    course = load_course()
    progress = load_progress(course)
    lesson = course.lesson(args.lesson) if args.lesson else progress.current_lesson(course)
    if lesson is None:
        print("Every lesson is done. Re-check one with `watchtrain check NN`.")
        return 0
    files = course.files(lesson)
    exercise_file = files.solution if args.solutions else files.exercise
    relative = files.relative(exercise_file)
    print(f"Checking {relative} ...", flush=True)
    try:
        check = check_lesson(course, lesson, solutions=args.solutions)
    except CheckError as err:
        print(f"watchtrain: error: {err}", file=sys.stderr)
        return 1
    print(render_check(check, relative, again=f"run `watchtrain check {lesson.number}`",
                       paint=Terminal(sys.stdout).paint))
    if not args.solutions:
        check.record(progress, exercise_file)
        progress.save()
    return 0 if check.done else 1
