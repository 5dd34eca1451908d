"""Submissions as they arrive (folders or zips, shaped like lessons/ or holding a whole clone of the
course) turned into what the autograder grades: a clean folder with one `<lesson>/exercise.py` each.

Only the exercise files are taken. Whatever else a student sent (edited tests, run logs, a venv)
is left behind, so an edited autograder changes nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from watchtrain.classroom.zips import ZipRejected, safe_extract
from watchtrain.course import EXERCISE_FILE, Course
from watchtrain.grading.results import SubmissionStatus, writable_text

OK = "ok"  # staged, to be graded
EMPTY, INVALID = SubmissionStatus.EMPTY, SubmissionStatus.INVALID
MAX_EXERCISE_BYTES = 2 * 2**20
_SEARCH_DEPTH = 3
_SKIPPED_DIRS = {"__MACOSX", "node_modules", "__pycache__", "site-packages", "runs", "wandb"}
_NOT_SUBMISSIONS = {"solutions", "tests", "autograder"}  # folders of a course clone that are never the work


@dataclass(frozen=True)
class SubmissionEntry:
    name: str  # the folder's or zip's name in the submissions folder: the row's key in every report
    path: Path


@dataclass(frozen=True)
class Staged:
    status: str  # OK, EMPTY or INVALID
    reason: str
    folder: Path  # shaped like lessons/; empty unless status is OK
    fingerprint: str  # of what will be graded: the same fingerprint means the same grade


def is_one_submission(path: Path, course: Course) -> bool:
    """A zip, or a folder with lesson folders (or a lessons/ folder) right inside it."""
    if path.is_file():
        return True
    return (path / "lessons").is_dir() or any((path / lesson.dir).is_dir() for lesson in course.lessons)


def find_submissions(path: Path, course: Course) -> list[SubmissionEntry]:
    """`path` itself when it is one submission, else the folders and zips inside it, by name."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a folder of submissions, or one submission")
    if is_one_submission(path, course):
        return [SubmissionEntry(readable_name(path.name), path)]
    children = [child for child in sorted(path.iterdir()) if not child.name.startswith(".")
                and child.name not in _SKIPPED_DIRS and (child.is_dir() or child.suffix.lower() == ".zip")]
    entries, names = [], set()
    for child in children:
        name = base = readable_name(child.name)
        number = 1
        while name in names:  # two folders never share a row
            number += 1
            name = f"{base} ({number})"
        names.add(name)
        entries.append(SubmissionEntry(name, child))
    return entries


def readable_name(name: str) -> str:
    """A folder's name as the class table shows it. A name that is not UTF-8 is most likely a
    Korean one from a zip made on Windows and unpacked with `unzip` (CP949 bytes): read as such,
    or else shown as its bytes (\\xff)."""
    raw = os.fsencode(name)
    try:
        raw.decode("utf-8")
        return name
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp949")
    except UnicodeDecodeError:
        return writable_text(name)


def stage(entry: SubmissionEntry, course: Course, scratch: Path) -> Staged:
    """Copy the submission's exercise files into scratch/submission (unzipping into scratch/unzipped first)."""
    folder = scratch / "submission"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        return _stage(entry, course, scratch, folder)
    except OSError as err:  # unreadable files, a folder that vanished: this row says so, the batch goes on
        return _refused(folder, f"it could not be read: {err}")


def _stage(entry: SubmissionEntry, course: Course, scratch: Path, folder: Path) -> Staged:
    source = entry.path
    if source.is_symlink():
        return _refused(folder, f"{entry.name} is a symbolic link; submit the folder or zip itself")
    if source.is_file():
        if source.suffix.lower() != ".zip":
            return _refused(folder, f"{entry.name} is neither a folder nor a .zip file")
        source = scratch / "unzipped"
        shutil.rmtree(source, ignore_errors=True)
        try:
            safe_extract(entry.path, source)
        except ZipRejected as err:
            return _refused(folder, f"the zip was refused: {err}")
    root = _lessons_root(source, course)
    if root is None:
        examples = ", ".join(f"{lesson.dir}/{EXERCISE_FILE}" for lesson in course.lessons[:2])
        return Staged(EMPTY, f"no exercise file found: expected folders like {examples}", folder, _fingerprint(folder))
    for lesson in course.lessons:
        exercise = root / lesson.dir / EXERCISE_FILE
        if exercise.is_symlink():
            return _refused(folder, f"{lesson.dir}/{EXERCISE_FILE} is a symbolic link; submit the file itself")
        if not exercise.is_file():
            continue
        if exercise.stat().st_size > MAX_EXERCISE_BYTES:
            return _refused(folder, f"{lesson.dir}/{EXERCISE_FILE} is larger than {MAX_EXERCISE_BYTES // 2**20} MiB")
        (folder / lesson.dir).mkdir()
        shutil.copyfile(exercise, folder / lesson.dir / EXERCISE_FILE)
    return Staged(OK, "", folder, _fingerprint(folder))


def _refused(folder: Path, reason: str) -> Staged:
    return Staged(INVALID, reason, folder, hashlib.sha256(reason.encode()).hexdigest())


def _lessons_root(source: Path, course: Course) -> Path | None:
    """The shallowest folder holding `<lesson dir>/exercise.py` for some lesson; at equal depth a
    folder named lessons/ wins, and a course clone's solutions/ or tests/ never does."""
    names = {lesson.dir for lesson in course.lessons}
    level = [source]
    for _ in range(_SEARCH_DEPTH + 1):
        found = [folder for folder in level if folder.name not in _NOT_SUBMISSIONS or folder == source
                 if any((folder / name / EXERCISE_FILE).is_file() for name in names)]
        if found:
            return min(found, key=lambda folder: (folder.name != "lessons", str(folder)))
        level = [child for folder in level for child in sorted(folder.iterdir())
                 if child.is_dir() and not child.is_symlink() and not child.name.startswith(".")
                 and child.name not in _SKIPPED_DIRS]
    return None


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
