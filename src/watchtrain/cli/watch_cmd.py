"""`watchtrain watch [NN]`: re-check a lesson each time its exercise.py is saved; move on when it passes."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "watch", help="re-check the current lesson every time you save its exercise.py",
        description="Check a lesson now and again each time its exercise.py is saved. When every exercise "
        "passes, move on to the next lesson that is not done yet. Stop with Ctrl-C.")
    parser.add_argument("lesson", nargs="?", metavar="NN",
                        help="lesson to start with, e.g. 03 (default: the first lesson not done yet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from watchtrain.course import load_course
    from watchtrain.progress import load_progress

    course = load_course()
    progress = load_progress(course)
    lesson = course.lesson(args.lesson) if args.lesson else progress.current_lesson(course)
    try:
        import watchfiles
    except ImportError:
        print("watchtrain: error: `watch` needs the package watchfiles: `pip install watchfiles` "
              "(`make setup` installs it)", file=sys.stderr)
        return 1
    try:
        while lesson is not None:
            if not _watch_lesson(course, lesson, progress, watchfiles):
                return 1
            lesson = progress.current_lesson(course, after=lesson) or progress.current_lesson(course)
            if lesson is not None:
                print(f"\nOn to lesson {lesson.number}: {lesson.title}\n", flush=True)
    except KeyboardInterrupt:
        print("\nStopped watching. Your progress is saved: `watchtrain list`.")
        return 0
    print("Every lesson is done. Well trained! `watchtrain list` shows your points.")
    return 0


def _watch_lesson(course, lesson, progress, watchfiles) -> bool:
    """Check `lesson` on every save until it passes (True), or until it cannot be graded (False)."""
    from watchtrain.lesson_check import CheckError, check_lesson, render_check

    exercise_file = course.root / "lessons" / lesson.dir / "exercise.py"
    relative = exercise_file.relative_to(course.root)
    if not exercise_file.parent.is_dir():
        print(f"watchtrain: error: {exercise_file.parent} is missing; restore it with "
              f"`git checkout -- lessons/{lesson.dir}`", file=sys.stderr)
        return False
    # Watch the folder, not the file: many editors save by writing a new file and renaming it.
    # yield_on_timeout: the first next() returns once the watcher runs, so no save made during
    # (or right after) a check is missed; the watcher keeps collecting while a check runs.
    saves = watchfiles.watch(exercise_file.parent, recursive=False, rust_timeout=200, yield_on_timeout=True,
                             watch_filter=lambda change, path: Path(path).name == exercise_file.name)
    try:
        next(saves)
        while True:
            print(f"Checking {relative} ...", flush=True)
            try:
                check = check_lesson(course, lesson)
            except CheckError as err:
                print(f"watchtrain: error: {err}", file=sys.stderr)
                return False
            print(render_check(check, str(relative), again="save it"))
            check.record(progress, exercise_file)
            progress.save()
            if check.done:
                return True
            print(f"\nWatching {relative}: save it to check again (Ctrl-C stops).", flush=True)
            while not next(saves):
                pass
            print(f"\n--- {time.strftime('%H:%M:%S')} {relative} saved ---", flush=True)
    finally:
        saves.close()
