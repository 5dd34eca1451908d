"""`watchtrain hint NN`: the lesson's hints, one more each time you ask."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "hint", help="show the lesson's hints, one more each time",
        description="Show a lesson's hints from course.toml, one more each time you ask: first the "
        "lesson's general hints, then one per exercise.")
    parser.add_argument("lesson", nargs="?", metavar="NN",
                        help="lesson number or folder name, e.g. 01 (default: the first lesson not done yet)")
    parser.add_argument("--reset", action="store_true", help="hide the hints again and start from the first")
    parser.set_defaults(run=run)


def lesson_hints(lesson) -> list[str]:
    """Every hint of a lesson in the order they are revealed: general ones first, then per exercise."""
    return [*lesson.hints, *(f"{e.function}: {e.hint}" for e in lesson.exercises if e.hint)]


def run(args: argparse.Namespace) -> int:
    from watchtrain.course import load_course
    from watchtrain.progress import load_progress

    course = load_course()
    progress = load_progress(course)
    lesson = course.lesson(args.lesson) if args.lesson else progress.current_lesson(course)
    if lesson is None:
        print("Every lesson is done: no hints needed. Ask for one lesson's with `watchtrain hint NN`.")
        return 0
    entry = progress.of(lesson)
    if args.reset:
        entry.hints_shown = 0
        progress.save()
        print(f"Lesson {lesson.number}'s hints are hidden again.")
        return 0
    hints = lesson_hints(lesson)
    if not hints:
        print(f"Lesson {lesson.number} has no hints in course.toml.")
        return 0
    entry.hints_shown = min(entry.hints_shown + 1, len(hints))
    progress.save()
    print(f"Lesson {lesson.number}: {lesson.title}\nHints {entry.hints_shown} of {len(hints)}:\n")
    for number, hint in enumerate(hints[:entry.hints_shown], start=1):
        print(f"  {number}. {hint}")
    if entry.hints_shown < len(hints):
        print(f"\nStill stuck? `watchtrain hint {lesson.number}` again shows the next one.")
    else:
        print(f"\nThose are all the hints. Each check's feedback also says what was expected and what was "
              f"found: `watchtrain check {lesson.number}`.")
    return 0
