"""Points: each graded test's share of its exercise's points from course.toml, and the lessons a
submission lacks and the exercises still their stubs, set aside as not started without running."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from watchtrain.course import EXERCISE_FILE, Course, ManifestError
from watchtrain.grading.options import is_hidden
from watchtrain.grading.results import NOT_STARTED, SKIPPED, TestResult
from watchtrain.grading.session import RESULT, grading_session, result_of
from watchtrain.grading.submission import NotStarted, missing_reason
from watchtrain.stubs import untouched


def lesson_dir_of(path: Path) -> str:
    """autograder/test_<lesson dir>.py -> <lesson dir>."""
    return path.stem.removeprefix("test_")


def exercise_of(item: pytest.Item) -> str:
    return item.get_closest_marker("exercise").args[0]


def is_gpu(item: pytest.Item) -> bool:
    return item.get_closest_marker("gpu") is not None


def assign_points(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every graded test its result record and its share of the points; refuse tests that
    carry no points, and hidden tests without --hidden."""
    session = grading_session(config)
    graded = [item for item in items if item.get_closest_marker("exercise")]
    for item in items:
        if item.get_closest_marker("exercise") is None and _in_autograder(item):
            raise pytest.UsageError(f"{item.nodeid} has no @exercise(...) marker, so it carries no points")
        if is_hidden(item) and not config.getoption("--hidden"):
            raise pytest.UsageError(f"{item.nodeid} is one of the instructor's hidden tests: add --hidden to run it")
    shares = Counter(_share_key(item) for item in graded if not is_gpu(item))
    for item in graded:
        lesson_dir, function = lesson_dir_of(item.path), exercise_of(item)
        points = _points_of(session.course, item, lesson_dir, function)
        # Unrounded: the report rounds the sums, so a lesson's tests add up to exactly its points.
        share = 0.0 if is_gpu(item) else points / shares[_share_key(item)]
        item.stash[RESULT] = session.results[item.nodeid] = TestResult(
            nodeid=item.nodeid, name=item.name, lesson=lesson_dir, exercise=function, max_points=share,
            hidden=is_hidden(item))


def forget_deselected(items: list[pytest.Item]) -> None:
    """Tests left out with -k or -m are not graded: keep them out of the points table. (Tests set
    aside as "not started" are deselected afterwards, by set_aside_not_started: they stay.)"""
    for item in items:
        session = grading_session(item.config)
        result = result_of(item)
        if not any(result is kept for kept in session.set_aside):
            session.results.pop(item.nodeid, None)


def _in_autograder(item: pytest.Item) -> bool:
    return item.path.parent.name == "autograder" or "autograder" in item.path.parent.parts


def _share_key(item: pytest.Item) -> tuple[str, str, bool]:
    return lesson_dir_of(item.path), exercise_of(item), is_hidden(item)


def _points_of(course: Course, item: pytest.Item, lesson_dir: str, function: str) -> float:
    try:
        exercise = course.lesson(lesson_dir).exercise(function)
    except ManifestError as err:
        raise pytest.UsageError(f"{item.nodeid}: {err}") from None
    if not is_hidden(item):
        return exercise.points
    if exercise.hidden_points <= 0:
        raise pytest.UsageError(f"{item.nodeid} is a hidden test of {function}, which has no hidden_points in "
                                f"course.toml: give that exercise `hidden_points = N` (its hidden tests share N)")
    return exercise.hidden_points


def not_started(course: Course, submission: Path, lesson_dir: str) -> tuple[str | None, list[str]]:
    """Decided from the files alone: why the submission lacks the lesson (None when it has it), and
    which of the lesson's exercises are still their stubs (watchtrain.stubs: such a function can
    only raise NotImplementedError)."""
    problem = missing_reason(submission, lesson_dir)
    if problem:
        return problem, []
    exercises = [exercise.function for exercise in course.lesson(lesson_dir).exercises]
    return None, untouched(submission / lesson_dir / EXERCISE_FILE, exercises)


def lessons_started(course: Course, submission: Path, lessons: set[str] | None) -> set[str]:
    """Those of `lessons` (None: the course's) with an exercise that is more than its stub: the
    lessons whose checks will call the learner's code."""
    started = set()
    for lesson_dir in lessons if lessons is not None else [lesson.dir for lesson in course.lessons]:
        try:
            missing, stubs = not_started(course, submission, lesson_dir)
        except ManifestError:
            continue
        if not missing and len(stubs) < len(course.lesson(lesson_dir).exercises):
            started.add(lesson_dir)
    return started


def set_aside_not_started(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A lesson the submission lacks is not started, and so is an exercise that is still its stub.
    Their tests are reported without running them (or starting a worker or servers for them), so a
    submission is graded as fast as what it has started."""
    session = grading_session(config)
    found: dict[str, tuple[str | None, list[str]]] = {}
    set_aside: dict[pytest.Item, bool] = {}
    for item in items:
        result = result_of(item)
        if result is None:
            continue
        if result.lesson not in found:
            found[result.lesson] = not_started(session.course, session.submission, result.lesson)
        missing, stubs = found[result.lesson]
        if missing:
            result.status, result.feedback = (SKIPPED, "not submitted") if is_gpu(item) else \
                (NOT_STARTED, f"not started: {missing}")
        elif result.exercise in stubs:
            result.status, result.feedback = (SKIPPED if is_gpu(item) else NOT_STARTED), str(NotStarted(result.exercise))
        else:
            continue
        session.set_aside.append(result)
        set_aside[item] = True
    if set_aside:
        config.hook.pytest_deselected(items=list(set_aside))
        items[:] = [item for item in items if item not in set_aside]
