"""A learner's progress file is never lost: saves merge with what other commands wrote meanwhile,
two writers at once lose nothing, and a pass of exercise.py is undone only by a failing check of a
changed exercise.py."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from watchtrain.course import load_course
from watchtrain.progress import DONE, IN_PROGRESS, NOT_STARTED, PROGRESS_ENV, load_progress

from test_cli import MANIFEST, SOLVED_01  # its tiny course: lessons 01_tiny and 02_tiny

ROUNDS = 40
# One writer: reads its copy once (as `watchtrain watch` does), says it is ready, waits for the
# start signal, then shows ROUNDS hint rungs, saving after each.
WRITER = """
import sys, time
from pathlib import Path
from watchtrain.course import load_course
from watchtrain.progress import load_progress
root, name, start = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
course = load_course(root)
progress = load_progress(course)
start.with_name(f"ready_{{name}}").touch()
while not start.exists():
    time.sleep(0.005)
for index in range({rounds}):
    progress.of(course.lessons[1]).rungs_shown[f"{{name}}_{{index}}"] = 1
    progress.save()
""".format(rounds=ROUNDS)


@pytest.fixture
def course(tmp_path, monkeypatch):
    root = tmp_path / "course"
    (root / "lessons" / "01_tiny").mkdir(parents=True)
    (root / "course.toml").write_text(MANIFEST)
    (root / "lessons" / "01_tiny" / "exercise.py").write_text(SOLVED_01)
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    return load_course(root)


def saved(course) -> dict:
    return json.loads((course.root / ".watchtrain" / "progress.json").read_text())["lessons"]


def record(progress, lesson, status: str, checked_file: Path | None) -> None:
    earned = {DONE: 2, IN_PROGRESS: 1, NOT_STARTED: 0}[status]
    progress.record_check(lesson, status=status, earned=earned, possible=2, exercises={}, checked_file=checked_file)
    progress.save()


def test_a_stale_copy_keeps_what_others_saved_meanwhile(course):
    first, second = course.lessons
    watching = load_progress(course)  # `watchtrain watch` reads once, then saves after every check
    checking = load_progress(course)
    record(checking, second, DONE, None)
    record(watching, first, IN_PROGRESS, course.root / "lessons" / first.dir / "exercise.py")
    assert {name: entry["status"] for name, entry in saved(course).items()} == {first.dir: IN_PROGRESS, second.dir: DONE}
    assert watching.current_lesson(course, after=first) is None, "the watcher's copy now knows lesson 02 is done"


def test_hints_shown_and_reset_by_two_copies_merge(course):
    lesson = course.lessons[0]
    one, other = load_progress(course), load_progress(course)
    one.of(lesson).rungs_shown["add"] = 2
    one.save()
    other.of(lesson).rungs_shown["sub"] = 1
    other.save()
    assert saved(course)[lesson.dir]["rungs_shown"] == {"add": 2, "sub": 1}
    del other.of(lesson).rungs_shown["add"]  # `watchtrain hint 01 add --reset`
    other.save()
    assert saved(course)[lesson.dir]["rungs_shown"] == {"sub": 1}


def test_a_pass_of_exercise_py_is_undone_only_by_a_failing_check_of_a_changed_file(course):
    lesson = course.lessons[0]
    exercise = course.root / "lessons" / lesson.dir / "exercise.py"
    notebook = load_progress(course)
    record(load_progress(course), lesson, DONE, exercise)
    record(notebook, lesson, NOT_STARTED, None)  # a notebook's check cell, on cells not run yet
    assert saved(course)[lesson.dir]["status"] == DONE
    record(load_progress(course), lesson, IN_PROGRESS, exercise)  # a stale check of the same file
    assert saved(course)[lesson.dir]["status"] == DONE
    stat = exercise.stat()
    os.utime(exercise, (stat.st_atime, stat.st_mtime + 5))  # the learner changed exercise.py since it passed
    record(load_progress(course), lesson, IN_PROGRESS, exercise)
    assert saved(course)[lesson.dir]["status"] == IN_PROGRESS


def test_two_processes_saving_at_once_lose_nothing(course, tmp_path):
    start = tmp_path / "start"
    env = {key: value for key, value in os.environ.items() if key != PROGRESS_ENV}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(course.root), name, str(start)], env=env,
                                stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    while not all((tmp_path / f"ready_{name}").exists() for name in ("a", "b")):
        assert all(writer.poll() is None for writer in writers), "a writer ended before it was ready"
        time.sleep(0.01)
    start.touch()  # both at once
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
    shown = saved(course)[course.lessons[1].dir]["rungs_shown"]
    assert sorted(shown) == sorted(f"{name}_{index}" for name in ("a", "b") for index in range(ROUNDS))
