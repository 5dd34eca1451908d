"""A learner's progress, kept on their machine: `.watchtrain/progress.json` in the course folder.

`watchtrain check` records each lesson's latest result there, `watchtrain hint` how many rungs of
each exercise's hint ladder were shown, and `watchtrain list` / `watch` read it back. Nothing
leaves the machine, and deleting the file starts the course afresh. $WATCHTRAIN_PROGRESS points it somewhere else (tests do).

Several commands may write it at once (a `watch` in one terminal, a `check` in another, a notebook),
each from a copy it read earlier. So a save writes only what that copy changed, merged into the
file as it is then, under a lock; and a lesson that passed in exercise.py stays done until
exercise.py itself changes and a check of it fails: no notebook check or stale check undoes it.
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from watchtrain.atomic import write_atomically
from watchtrain.course import Course, Lesson
from watchtrain.grading.results import Status

try:
    import fcntl
except ImportError:  # Windows: saves still merge and replace atomically, without the lock
    fcntl = None

PROGRESS_ENV = "WATCHTRAIN_PROGRESS"
PROGRESS_FILE = Path(".watchtrain") / "progress.json"
NOT_STARTED, IN_PROGRESS, DONE = Status.NOT_STARTED, Status.IN_PROGRESS, Status.DONE
_VERSION = 1
# What one check records: they are kept or replaced together.
_CHECK_FIELDS = ("status", "earned", "possible", "checked_at", "checked_mtime", "exercises")


@dataclass
class LessonProgress:
    status: str = NOT_STARTED
    earned: float = 0.0
    possible: float = 0.0
    checked_at: str = ""
    # The checked file's modification time, so `list` can say "changed since the last check".
    checked_mtime: float = 0.0
    exercises: dict[str, str] = field(default_factory=dict)  # function -> status
    rungs_shown: dict[str, int] = field(default_factory=dict)  # function -> rungs of its hint ladder shown


class Progress:
    """The progress file of one course; `save()` merges this copy's changes into it."""

    def __init__(self, path: Path, lessons: dict[str, LessonProgress]):
        self.path, self._lessons = path, lessons
        self._as_read = copy.deepcopy(lessons)  # as read: what this copy has changed since is what it saves

    def of(self, lesson: Lesson) -> LessonProgress:
        return self._lessons.setdefault(lesson.dir, LessonProgress())

    def record_check(self, lesson: Lesson, *, status: str, earned: float, possible: float,
                     exercises: dict[str, str], checked_file: Path | None) -> LessonProgress:
        entry = self.of(lesson)
        entry.status, entry.earned, entry.possible, entry.exercises = status, earned, possible, dict(exercises)
        entry.checked_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        entry.checked_mtime = checked_file.stat().st_mtime if checked_file and checked_file.is_file() else 0.0
        return entry

    def changed_since_check(self, lesson: Lesson, exercise_file: Path) -> bool:
        entry = self.of(lesson)
        # checked_mtime 0: the last check graded a notebook's cells, not this file.
        return bool(entry.checked_mtime) and exercise_file.is_file() and exercise_file.stat().st_mtime != entry.checked_mtime

    def current_lesson(self, course: Course, after: Lesson | None = None) -> Lesson | None:
        """The first lesson (after `after`, when given) that is not done yet; None when all are."""
        lessons = list(course.lessons)
        if after is not None:
            lessons = lessons[lessons.index(after) + 1:]
        return next((lesson for lesson in lessons if self.of(lesson).status != DONE), None)

    def save(self) -> None:
        """Merge what this copy changed into the file as it is now, and write it atomically; this
        copy then holds the merged progress, other writers' changes included."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            merged = _read(self.path)
            for name, mine in self._lessons.items():
                before = self._as_read.get(name, LessonProgress())
                if mine != before:
                    merged[name] = _merge(merged.get(name, LessonProgress()), before, mine)
            data = {"version": _VERSION, "lessons": {name: asdict(entry) for name, entry in sorted(merged.items())}}
            write_atomically(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        self._lessons.clear()
        self._lessons.update(merged)
        self._as_read = copy.deepcopy(merged)


def _merge(current: LessonProgress, before: LessonProgress, mine: LessonProgress) -> LessonProgress:
    """`current` (the file's entry now) with the changes from `before` to `mine` applied."""
    merged = copy.deepcopy(current)
    if _check_of(mine) != _check_of(before) and not _keeps_its_pass(current, mine):
        for name in _CHECK_FIELDS:
            setattr(merged, name, copy.deepcopy(getattr(mine, name)))
    for function in mine.rungs_shown.keys() | before.rungs_shown.keys():
        if mine.rungs_shown.get(function) != before.rungs_shown.get(function):
            if function in mine.rungs_shown:
                merged.rungs_shown[function] = mine.rungs_shown[function]
            else:  # `watchtrain hint --reset`
                merged.rungs_shown.pop(function, None)
    return merged


def _check_of(entry: LessonProgress) -> tuple:
    return tuple(getattr(entry, name) for name in _CHECK_FIELDS)


def _keeps_its_pass(current: LessonProgress, mine: LessonProgress) -> bool:
    """A pass of exercise.py stands until exercise.py changes: a check of a notebook's cells
    (checked_mtime 0) or of the same or an older exercise.py does not undo it."""
    return (current.status == DONE and bool(current.checked_mtime) and mine.status != DONE
            and mine.checked_mtime <= current.checked_mtime)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time: an exclusive lock on a file beside `path` (not `path` itself, which
    each save replaces)."""
    if fcntl is None:
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def progress_path(course: Course) -> Path:
    return Path(os.environ[PROGRESS_ENV]) if os.environ.get(PROGRESS_ENV) else course.root / PROGRESS_FILE


def load_progress(course: Course) -> Progress:
    """The course's progress; a missing or damaged file counts as a fresh start (it is only a cache)."""
    path = progress_path(course)
    return Progress(path, _read(path))


def _read(path: Path) -> dict[str, LessonProgress]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = LessonProgress.__dataclass_fields__
        return {name: LessonProgress(**{k: v for k, v in entry.items() if k in known})
                for name, entry in data.get("lessons", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}
