"""The autograder's pytest plugin: which submission, fixtures, points, teaching feedback, reports.

`autograder/conftest.py` loads it with `pytest_plugins`. Every test module there is named
`test_<lesson dir>.py`, and every test carries `@exercise("<function>")` from the manifest.
"""
from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from watchtrain.course import Course, ManifestError, find_course_root, load_course
from watchtrain.grading.checks import GradingFailure
from watchtrain.grading.results import ERROR, FAILED, NOT_STARTED, PASSED, SKIPPED, TestResult, build_report
from watchtrain.grading.submission import LearnerCrash, NotStarted, SubmissionError, load_lesson
from watchtrain.grading.terminal import write_points_table

SEED = 0
_results = pytest.StashKey[TestResult]()
_state = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("watchtrain", "Watch It Train autograder")
    group.addoption("--submission", metavar="DIR", help="grade this folder (shaped like lessons/) instead of lessons/")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions in solutions/")
    group.addoption("--report-json", metavar="PATH", help="also write the points report as JSON to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(function): the exercise of course.toml this test checks")
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped cleanly when none is visible")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    try:
        course = load_course(find_course_root(Path(str(config.rootpath))))
    except ManifestError as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[_state] = {"course": course, "submission": _submission_root(config, course), "results": {}}
    os.environ.setdefault("MPLBACKEND", "Agg")


def _submission_root(config: pytest.Config, course: Course) -> Path:
    chosen, solutions = config.getoption("--submission"), config.getoption("--solutions")
    if chosen and solutions:
        raise pytest.UsageError("choose one: --submission DIR or --solutions, not both")
    root = Path(chosen).resolve() if chosen else course.root / ("solutions" if solutions else "lessons")
    if not root.is_dir():
        raise pytest.UsageError(f"the submission folder {root} does not exist; "
                                f"--submission needs a folder shaped like lessons/ (one sub-folder per lesson)")
    return root


def _course(config: pytest.Config) -> Course:
    return config.stash[_state]["course"]


def _lesson_dir(path: Path) -> str:
    return path.stem.removeprefix("test_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    course, results = _course(config), config.stash[_state]["results"]
    graded = [item for item in items if item.get_closest_marker("exercise")]
    for item in items:
        if item.get_closest_marker("exercise") is None and _in_autograder(item):
            raise pytest.UsageError(f"{item.nodeid} has no @exercise(...) marker, so it carries no points")
    shares = Counter((_lesson_dir(item.path), _function(item)) for item in graded if not _is_gpu(item))
    for item in graded:
        lesson_dir, function = _lesson_dir(item.path), _function(item)
        try:
            points = course.lesson(lesson_dir).exercise(function).points
        except ManifestError as err:
            raise pytest.UsageError(f"{item.nodeid}: {err}") from None
        share = 0.0 if _is_gpu(item) else points / shares[(lesson_dir, function)]
        item.stash[_results] = results[item.nodeid] = TestResult(
            nodeid=item.nodeid, name=item.name, lesson=lesson_dir, exercise=function, max_points=round(share, 6))


def _in_autograder(item: pytest.Item) -> bool:
    return item.path.parent.name == "autograder" or "autograder" in item.path.parent.parts


def _function(item: pytest.Item) -> str:
    return item.get_closest_marker("exercise").args[0]


def _is_gpu(item: pytest.Item) -> bool:
    return item.get_closest_marker("gpu") is not None


@pytest.fixture(scope="session")
def course(pytestconfig: pytest.Config) -> Course:
    return _course(pytestconfig)


@pytest.fixture
def lesson(request: pytest.FixtureRequest):
    """The learner's exercise module for this test file's lesson, with guarded functions."""
    return load_lesson(request.config.stash[_state]["submission"], _lesson_dir(request.path))


@pytest.fixture
def device(request: pytest.FixtureRequest) -> str:
    if request.param == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no CUDA device visible; the GPU run of this check is skipped")
    return request.param


@pytest.fixture(autouse=True)
def isolated_run(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Fixed seeds and a fresh working directory, so stray files land in the test's tmp dir."""
    if request.node.get_closest_marker("exercise") is None:
        yield
        return
    import numpy
    import torch

    random.seed(SEED)
    numpy.random.seed(SEED)
    torch.manual_seed(SEED)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    result = item.stash.get(_results, None)
    if result is None:
        return report
    if report.skipped and result.status == SKIPPED:
        result.feedback = _skip_reason(report)
    elif report.when == "call" and report.passed:
        result.status = PASSED
    elif report.failed:
        result.status, feedback = _classify(item, call)
        result.feedback = feedback
        report.longrepr = feedback if result.status != ERROR or _is_learner_error(call) else report.longrepr
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def _is_learner_error(call: pytest.CallInfo) -> bool:
    return call.excinfo is not None and call.excinfo.errisinstance((LearnerCrash, SubmissionError))


def _classify(item: pytest.Item, call: pytest.CallInfo) -> tuple[str, str]:
    excinfo = call.excinfo
    if excinfo is None:
        return FAILED, "failed"
    hint = _hint(item)
    if excinfo.errisinstance(NotStarted):
        return NOT_STARTED, str(excinfo.value)
    if excinfo.errisinstance(GradingFailure):
        return FAILED, f"{excinfo.value}\nHint: {hint}" if hint else str(excinfo.value)
    if excinfo.errisinstance((LearnerCrash, SubmissionError)):
        return ERROR, f"{excinfo.value}\nHint: {hint}" if hint else str(excinfo.value)
    # Anything else is a bug in the autograder itself: keep pytest's full traceback for us.
    return ERROR, f"internal error in the autograder: {excinfo.typename}: {excinfo.value}"


def _hint(item: pytest.Item) -> str:
    result = item.stash[_results]
    return _course(item.config).lesson(result.lesson).exercise(result.exercise).hint


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    result = config.stash[_state]["results"].get(report.nodeid)
    if result is not None and report.when == "call" and result.status == NOT_STARTED:
        return "failed", "N", "NOT STARTED"
    return None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[_state]
    report = build_report(state["course"], list(state["results"].values()))
    if not report.lessons:
        return
    write_points_table(terminalreporter, report, state["submission"])
    path = config.getoption("--report-json")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
        terminalreporter.write_line(f"points report written to {path}")
