"""Points: each graded test's share of its exercise's points from course.toml, and the lessons a
submission lacks, set aside as not started without running."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from watchtrain.course import Course, ManifestError
from watchtrain.grading.options import is_hidden
from watchtrain.grading.results import NOT_STARTED, SKIPPED, TestResult
from watchtrain.grading.session import RESULT, grading_session, result_of
from watchtrain.grading.submission import missing_reason


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
    _set_aside_missing_lessons(config, items)


def forget_deselected(items: list[pytest.Item]) -> None:
    """Tests left out with -k or -m are not graded: keep them out of the points table. (Tests of a
    lesson the submission lacks are deselected too, but set aside as "not started": they stay.)"""
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


def _set_aside_missing_lessons(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A lesson the submission lacks is not started: its tests are reported, without running them
    (or starting their servers), so a submission of one lesson is graded as fast as that lesson."""
    session = grading_session(config)
    missing = [item for item in items if result_of(item) is not None
               and missing_reason(session.submission, lesson_dir_of(item.path))]
    if not missing:
        return
    for item in missing:
        result = result_of(item)
        if is_gpu(item):
            result.status, result.feedback = SKIPPED, "not submitted"
        else:
            problem = missing_reason(session.submission, result.lesson)
            result.status, result.feedback = NOT_STARTED, f"not started: {problem}"
        session.set_aside.append(result)
    config.hook.pytest_deselected(items=missing)
    set_aside = set(missing)
    items[:] = [item for item in items if item not in set_aside]
