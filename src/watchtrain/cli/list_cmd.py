"""`watchtrain list`: every lesson with its status and points, and a progress bar for the course."""
from __future__ import annotations

import argparse
import sys

BAR_WIDTH = 30


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "list", help="show every lesson with its status and points, and your progress",
        description="Show every lesson of course.toml with its status (not started / in progress / done) "
        "and points, as of your last `watchtrain check`, and a progress bar for the course.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.cli.style import Terminal
    from watchtrain.course import load_course
    from watchtrain.lesson_check import points
    from watchtrain.progress import DONE, load_progress

    course = load_course()
    progress = load_progress(course)
    paint = Terminal(sys.stdout).paint
    current = progress.current_lesson(course)
    width = max(len(lesson.title) for lesson in course.lessons)
    print(f"{course.title}\n")
    print(f"     #   {'lesson':<{width}}  {'points':>7}  status")
    for lesson in course.lessons:
        entry = progress.of(lesson)
        score = f"{points(entry.earned)}/{points(lesson.points)}"
        note = ""
        if progress.changed_since_check(lesson, course.files(lesson).exercise):
            note = "  (edited since the last check)"
        pointer = "->" if lesson is current else "  "
        status = paint(entry.status, entry.status)
        print(f"  {pointer} {lesson.number}  {lesson.title:<{width}}  {score:>7}  {status}{note}")
    earned = sum(progress.of(lesson).earned for lesson in course.lessons)
    done = sum(progress.of(lesson).status == DONE for lesson in course.lessons)
    fraction = earned / course.points if course.points else 0.0
    filled = round(fraction * BAR_WIDTH)
    print(f"\n  [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {points(earned)}/{points(course.points)} points "
          f"({fraction:.0%}), {done} of {len(course.lessons)} lessons done")
    if current is None:
        print("\nEvery lesson is done. Well trained!")
    else:
        print(f"\nNext: lesson {current.number}. Read lessons/{current.dir}/README.md, then "
              f"`watchtrain check {current.number}` (or `watchtrain watch` to re-check on every save).")
    return 0
