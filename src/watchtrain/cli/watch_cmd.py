"""`watchtrain watch [NN]`: check a lesson, then whichever lesson's exercise.py is saved; move on when one passes."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "watch", help="re-check a lesson every time you save its exercise.py",
        description="Check a lesson now, then watch every lesson's exercise.py and check the one you save. "
        "When every exercise of a lesson passes, move on to the next lesson that is not done yet. Stop with Ctrl-C.")
    parser.add_argument("lesson", nargs="?", metavar="NN",
                        help="lesson to start with, e.g. 03 (default: the first lesson not done yet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.cli.style import Terminal
    from watchtrain.course import load_course
    from watchtrain.progress import load_progress
    from watchtrain.warm_checks import WarmChecks

    course = load_course()
    progress = load_progress(course)
    lesson = course.lesson(args.lesson) if args.lesson else progress.current_lesson(course)
    import watchfiles  # a dependency of the package

    exercise_files = {course.files(each).exercise: each for each in course.lessons}
    # Watch the lessons folder, not the files: many editors save by writing a new file and renaming it.
    # yield_on_timeout: the first next() returns once the watcher runs, so no save made during (or
    # right after) a check is missed; the watcher keeps collecting while a check runs.
    saves = watchfiles.watch(course.root / "lessons", rust_timeout=200, yield_on_timeout=True,
                             watch_filter=lambda change, path: change != watchfiles.Change.deleted
                             and Path(path) in exercise_files)
    terminal = Terminal(sys.stdout)
    heading = ""
    # Imports torch & co. once, in the background, for the lesson watched first; each check forks from it.
    checks = WarmChecks(course, [lesson.dir] if lesson else [])
    try:
        next(saves)
        while lesson is not None:
            check = _check(course, lesson, progress, terminal, heading, checks.run)
            if check is None:
                return 1
            if check.done:
                done, lesson = lesson, progress.current_lesson(course, after=lesson) or progress.current_lesson(course)
                heading = f"Lesson {done.number} is done. On to lesson {lesson.number}: {lesson.title}\n" \
                    if lesson else ""
                continue
            print(f"\nWatching every lesson's exercise.py: save one to check it (Ctrl-C stops).", flush=True)
            lesson, saved = _next_save(saves, exercise_files)
            heading = f"--- {saved.relative_to(course.root)} saved at {time.strftime('%H:%M:%S')} ---\n"
    except KeyboardInterrupt:
        print("\nStopped watching. Your progress is saved: `watchtrain list`.")
        return 0
    finally:
        saves.close()
        checks.close()
    print("Every lesson is done. Well trained! `watchtrain list` shows your points.")
    return 0


def _check(course, lesson, progress, terminal, heading: str, runner):
    """Check `lesson` on a cleared screen and record it; its LessonCheck, or None when it cannot be graded."""
    from watchtrain.lesson_check import CheckError, check_lesson, render_check

    exercise_file = course.files(lesson).exercise
    relative = exercise_file.relative_to(course.root)
    if not exercise_file.is_file():
        print(f"watchtrain: error: {relative} is missing; restore it with `git checkout -- {relative}`",
              file=sys.stderr)
        return None
    terminal.clear()
    print(f"\n{heading}Checking {relative} ...", flush=True)
    try:
        check = check_lesson(course, lesson, runner=runner)
    except CheckError as err:
        print(f"watchtrain: error: {err}", file=sys.stderr)
        return None
    print(render_check(check, str(relative), again="save it", paint=terminal.paint))
    check.record(progress, exercise_file)
    progress.save()
    return check


def _next_save(saves, exercise_files: dict):
    """Wait for a save of any lesson's exercise.py: (its lesson, its path); the first in course order when several."""
    while True:
        saved = {Path(path) for _, path in next(saves)}
        for path, lesson in exercise_files.items():
            if path in saved:
                return lesson, path
