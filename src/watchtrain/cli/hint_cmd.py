"""`watchtrain hint NN [FUNCTION]`: an exercise's hint ladder, one more rung each time you ask.

The rungs are the concept, the API and its arguments, a worked example on other data, and last the
code. Without FUNCTION the hints are for the first exercise of the lesson that has not passed yet
(as `watchtrain check` last recorded it; before any check, the exercises are walked in order).
With an exercise's first rung come the lesson's general hints from course.toml.
"""
from __future__ import annotations

import argparse
import textwrap

RUNG_NAMES = ("concept", "API", "example")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "hint", help="show an exercise's hints, one more rung each time",
        description="Show an exercise's hint ladder from course.toml, one more rung each time you ask: "
        "1. the concept, 2. the API, 3. a worked example on other data, 4. the code.")
    parser.add_argument("lesson", nargs="?", metavar="NN",
                        help="lesson number or folder name, e.g. 01 (default: the first lesson not done yet)")
    parser.add_argument("function", nargs="?", metavar="FUNCTION",
                        help="the exercise, e.g. log_batch_losses (default: the first one that does not pass yet)")
    parser.add_argument("--reset", action="store_true",
                        help="hide the hints again (of FUNCTION, or of every exercise of the lesson)")
    parser.set_defaults(run=run)


def rung_name(index: int, count: int) -> str:
    """'concept', 'API', 'example', ... and 'code' for the last rung of a ladder."""
    if count == 1:
        return "hint"
    return "code" if index == count - 1 else RUNG_NAMES[min(index, len(RUNG_NAMES) - 1)]


def exercise_to_hint(lesson, entry):
    """The first exercise not passed yet; with no check recorded, the first whose ladder is not all shown."""
    from watchtrain.grading.results import PASSED

    laddered = [e for e in lesson.exercises if e.hints]
    if entry.exercises:
        return next((e for e in laddered if entry.exercises.get(e.function) != PASSED), None)
    return next((e for e in laddered if entry.rungs_shown.get(e.function, 0) < len(e.hints)),
                laddered[-1] if laddered else None)


def render_rungs(exercise, shown: int) -> str:
    lines = []
    for index, rung in enumerate(exercise.hints[:shown]):
        label = f"  {index + 1}. {rung_name(index, len(exercise.hints))}:"
        if "\n" in rung.strip():  # code: on lines of its own
            lines += [label, textwrap.indent(textwrap.dedent(rung.strip("\n")), "       "), ""]
        else:
            lines += [textwrap.fill(f"{label} {rung}", width=100, subsequent_indent="     "), ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from watchtrain.course import load_course
    from watchtrain.progress import load_progress

    course = load_course()
    progress = load_progress(course)
    lesson = course.lesson(args.lesson) if args.lesson else progress.current_lesson(course)
    if lesson is None:
        print("Every lesson is done: no hints needed. Ask for one with `watchtrain hint NN FUNCTION`.")
        return 0
    entry = progress.of(lesson)
    if args.reset:
        for exercise in [lesson.exercise(args.function)] if args.function else lesson.exercises:
            entry.rungs_shown.pop(exercise.function, None)
        progress.save()
        print(f"The hints of {args.function or f'lesson {lesson.number}'} are hidden again.")
        return 0
    exercise = lesson.exercise(args.function) if args.function else exercise_to_hint(lesson, entry)
    if exercise is None:
        names = ", ".join(e.function for e in lesson.exercises)
        print(f"Every exercise of lesson {lesson.number} passes. Hints for one of them: "
              f"`watchtrain hint {lesson.number} FUNCTION` ({names}).")
        return 0
    if not exercise.hints:
        print(f"{exercise.function} has no hints in course.toml.")
        return 0
    count = len(exercise.hints)
    shown = min(entry.rungs_shown.get(exercise.function, 0) + 1, count)
    entry.rungs_shown[exercise.function] = shown
    progress.save()
    again = f"watchtrain hint {lesson.number}" + (f" {exercise.function}" if args.function else "")
    print(f"Lesson {lesson.number}: {lesson.title}\n{exercise.function}, hint {shown} of {count}:\n")
    print(render_rungs(exercise, shown))
    if shown < count:
        print(f"Still stuck? `{again}` again shows the next rung: {shown + 1}. {rung_name(shown, count)}.")
    else:
        print(f"Those are all the hints for {exercise.function}. Each check's feedback also says what was "
              f"expected and what was found: `watchtrain check {lesson.number}`.")
    if lesson.hints and shown == 1:
        print("\nAbout the whole lesson:\n" + "\n".join(
            textwrap.fill(f"  - {hint}", width=100, subsequent_indent="    ") for hint in lesson.hints))
    return 0
