"""A learner's progress, kept on their machine: `.watchtrain/progress.json` in the course folder.

`watchtrain check` records each lesson's latest result there, `watchtrain hint` how many rungs of
each exercise's hint ladder were shown, and `watchtrain list` / `watch` read it back. Nothing
leaves the machine, and deleting the file starts the course afresh. $WATCHTRAIN_PROGRESS points it somewhere else (tests do).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from watchtrain.course import Course, Lesson

PROGRESS_ENV = "WATCHTRAIN_PROGRESS"
PROGRESS_FILE = Path(".watchtrain") / "progress.json"
NOT_STARTED, IN_PROGRESS, DONE = "not started", "in progress", "done"
_VERSION = 1


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
    """The progress file of one course; `save()` writes it atomically."""

    def __init__(self, path: Path, lessons: dict[str, LessonProgress]):
        self.path, self._lessons = path, lessons

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": _VERSION, "lessons": {name: asdict(entry) for name, entry in sorted(self._lessons.items())}}
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, self.path)  # a crash mid-write never leaves half a file


def progress_path(course: Course) -> Path:
    return Path(os.environ[PROGRESS_ENV]) if os.environ.get(PROGRESS_ENV) else course.root / PROGRESS_FILE


def load_progress(course: Course) -> Progress:
    """The course's progress; a missing or damaged file counts as a fresh start (it is only a cache)."""
    path = progress_path(course)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = LessonProgress.__dataclass_fields__
        lessons = {name: LessonProgress(**{k: v for k, v in entry.items() if k in known})
                   for name, entry in data.get("lessons", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        lessons = {}
    return Progress(path, lessons)
