"""What one grading run holds, kept in pytest's stash under typed keys."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from watchtrain.course import Course
from watchtrain.grading.results import TestResult
from watchtrain.grading.results_log import ResultsLog
from watchtrain.grading.worker_client import LearnerWorker


@dataclass
class GradingSession:
    course: Course
    submission: Path  # the folder graded, shaped like lessons/
    worker: LearnerWorker
    log: ResultsLog | None  # --results-log, for `watchtrain grade`
    started: set[str]  # the lessons graded whose checks call the learner's code (points.lessons_started)
    results: dict[str, TestResult] = field(default_factory=dict)  # every graded test, by node id
    set_aside: list[TestResult] = field(default_factory=list)  # decided without running (not submitted, stubs)
    unloadable: dict[str, tuple[str, str]] = field(default_factory=dict)  # lesson -> (first test, its error)


SESSION = pytest.StashKey[GradingSession]()
RESULT = pytest.StashKey[TestResult]()  # on each graded item


def grading_session(config: pytest.Config) -> GradingSession:
    return config.stash[SESSION]


def result_of(item: pytest.Item) -> TestResult | None:
    """The graded result of a test, or None for a test that carries no points (a project test)."""
    return item.stash.get(RESULT, None)
