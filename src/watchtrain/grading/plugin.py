"""The autograder's pytest plugin: which submission, fixtures, points, teaching feedback, reports.

`autograder/conftest.py` loads it with `pytest_plugins`. Every test module there is named
`test_<lesson dir>.py`, and every test carries `@exercise("<function>")` from the manifest.
The instructor's hidden tests live in `autograder/hidden/test_<lesson dir>.py`; they are collected
only with --hidden and share their exercise's `hidden_points`.
"""
from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from watchtrain.classroom.isolation.jail import isolate_network
from watchtrain.course import Course, ManifestError, find_course_root, load_course
from watchtrain.grading.checks import GradingFailure
from watchtrain.grading.gradescope import DEFAULT_HIDDEN_VISIBILITY, VISIBILITIES, gradescope_results
from watchtrain.grading.junit import junit_xml
from watchtrain.grading.results import ERROR, FAILED, NOT_STARTED, PASSED, SKIPPED, TestResult, build_report
from watchtrain.grading.results_log import COLLECTED, PHASE, RESULT, ResultsLog
from watchtrain.grading.submission import (LearnerCrash, NotStarted, SubmissionError, lesson_module,
                                           missing_reason)
from watchtrain.grading.worker_client import LearnerWorker, WorkerFailed
from watchtrain.grading.terminal import write_points_table
from watchtrain.grading.time_limit import TimeLimitExceeded, time_limit

SEED = 20_261_201  # not 0: code that forgets to seed (or seeds too late) must not inherit the seed an exercise asks for
HIDDEN_DIR = "hidden"  # autograder/hidden/: the instructor's tests, never handed out
_results = pytest.StashKey[TestResult]()
_state = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("watchtrain", "Watch It Train autograder")
    group.addoption("--submission", metavar="DIR", help="grade this folder (shaped like lessons/) instead of lessons/")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions in solutions/")
    group.addoption("--report-json", metavar="PATH", help="also write the points report as JSON to PATH")
    group.addoption("--report-gradescope", metavar="PATH", help="also write Gradescope's results.json to PATH")
    group.addoption("--report-junit", metavar="PATH", help="also write the points report as JUnit XML to PATH")
    group.addoption("--hidden", action="store_true",
                    help=f"also run the instructor's hidden tests in autograder/{HIDDEN_DIR}/ (they carry hidden_points)")
    group.addoption("--hidden-visibility", choices=VISIBILITIES, default=DEFAULT_HIDDEN_VISIBILITY,
                    help="when students see hidden tests' feedback on Gradescope (default: %(default)s)")
    group.addoption("--test-timeout", type=float, default=0, metavar="SECONDS",
                    help="stop a test (setup, call and teardown each) after SECONDS and grade it as an error; 0: no limit")
    group.addoption("--results-log", metavar="PATH",
                    help="append each test's start and result to PATH as JSON lines (used by `watchtrain grade`)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(function): the exercise of course.toml this test checks")
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped cleanly when none is visible")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    try:
        course = load_course(find_course_root(Path(str(config.rootpath))))
    except ManifestError as err:
        raise pytest.UsageError(str(err)) from None
    log_path = config.getoption("--results-log")
    submission = _submission_root(config, course)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Before any test is collected: the worker is forked from a process that holds no test and no result.
    isolate_network()
    worker = LearnerWorker.fork(submission, _data_folder(course), lambda: config._tmp_path_factory.getbasetemp())
    config.stash[_state] = {"course": course, "submission": submission, "results": {}, "worker": worker,
                            "set_aside": [], "log": ResultsLog(Path(log_path)) if log_path else None}


def _start_worker(worker: LearnerWorker, lessons: set[str]) -> None:
    try:
        worker.prepare(lessons)
    except WorkerFailed:
        pass  # the first call tries again, and its test reports the failure


def _data_folder(course: Course) -> Path:
    from watchtrain.data import DataError, data_dir

    try:
        return data_dir()
    except DataError:
        return course.root / "data"


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_state, {})
    if state.get("worker") is not None:
        state["worker"].close()
    if state.get("log") is not None:
        state["log"].close()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if _is_hidden_dir(collection_path) and not config.getoption("--hidden"):
        return True
    return None


def _is_hidden_dir(path: Path) -> bool:
    return path.name == HIDDEN_DIR and path.parent.name == "autograder"


def _is_hidden(item: pytest.Item) -> bool:
    return _is_hidden_dir(item.path.parent)


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
        if _is_hidden(item) and not config.getoption("--hidden"):
            raise pytest.UsageError(f"{item.nodeid} is one of the instructor's hidden tests: add --hidden to run it")
    shares = Counter(_share_key(item) for item in graded if not _is_gpu(item))
    for item in graded:
        lesson_dir, function = _lesson_dir(item.path), _function(item)
        points = _points_of(course, item, lesson_dir, function)
        # Unrounded: the report rounds the sums, so a lesson's tests add up to exactly its points.
        share = 0.0 if _is_gpu(item) else points / shares[_share_key(item)]
        item.stash[_results] = results[item.nodeid] = TestResult(
            nodeid=item.nodeid, name=item.name, lesson=lesson_dir, exercise=function, max_points=share,
            hidden=_is_hidden(item))
    _set_aside_missing_lessons(config, items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Tests left out with -k or -m are not graded: keep them out of the points table. (Tests of a
    lesson the submission lacks are deselected too, but set aside as "not started": they stay.)"""
    for item in items:
        state = item.config.stash[_state]
        result = item.stash.get(_results, None)
        if not any(result is kept for kept in state["set_aside"]):
            state["results"].pop(item.nodeid, None)


def _share_key(item: pytest.Item) -> tuple[str, str, bool]:
    return _lesson_dir(item.path), _function(item), _is_hidden(item)


def _points_of(course: Course, item: pytest.Item, lesson_dir: str, function: str) -> float:
    try:
        exercise = course.lesson(lesson_dir).exercise(function)
    except ManifestError as err:
        raise pytest.UsageError(f"{item.nodeid}: {err}") from None
    if not _is_hidden(item):
        return exercise.points
    if exercise.hidden_points <= 0:
        raise pytest.UsageError(f"{item.nodeid} is a hidden test of {function}, which has no hidden_points in "
                                f"course.toml: give that exercise `hidden_points = N` (its hidden tests share N)")
    return exercise.hidden_points


def _set_aside_missing_lessons(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A lesson the submission lacks is not started: its tests are reported, without running them
    (or starting their servers), so a submission of one lesson is graded as fast as that lesson."""
    submission = config.stash[_state]["submission"]
    missing = [item for item in items if item.stash.get(_results, None) is not None
               and missing_reason(submission, _lesson_dir(item.path))]
    if not missing:
        return
    for item in missing:
        result = item.stash[_results]
        if _is_gpu(item):
            result.status, result.feedback = SKIPPED, "not submitted"
        else:
            result.status, result.feedback = NOT_STARTED, _missing_reason(config, result.lesson)
        config.stash[_state]["set_aside"].append(result)
    config.hook.pytest_deselected(items=missing)
    set_aside = set(missing)
    items[:] = [item for item in items if item not in set_aside]


def _missing_reason(config: pytest.Config, lesson_dir: str) -> str:
    problem = missing_reason(config.stash[_state]["submission"], lesson_dir)
    return f"not started: {problem}" if problem else "not started"


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[_state]
    if session.config.getoption("--test-timeout"):
        import numpy  # noqa: F401  (isolated_run's imports, paid before any test's clock starts)
        import torch  # noqa: F401
    lessons = {_lesson_dir(item.path) for item in session.items if item.get_closest_marker("exercise")}
    if lessons:
        _start_worker(state["worker"], lessons)  # its imports, too, before any test's clock starts
    if state["log"] is None:
        return
    state["log"].write(COLLECTED, tests=[r.as_dict() for r in state["results"].values()])
    for result in state["set_aside"]:  # decided without running: lessons that were not submitted
        state["log"].write(RESULT, test=result.as_dict())


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
    """The learner's exercise module for this test file's lesson: its functions run in the learner worker."""
    return lesson_module(request.config.stash[_state]["worker"], _lesson_dir(request.path),
                         request.config.getoption("--test-timeout") or None)


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

    # The exercises train tiny models: one thread is faster than two fighting over two cores,
    # and it keeps results independent of the machine's core count.
    torch.set_num_threads(1)
    random.seed(SEED)
    numpy.random.seed(SEED)
    torch.manual_seed(SEED)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _phase(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _phase(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    with _phase(item, "teardown"):
        return (yield)


def _phase(item: pytest.Item, when: str):
    """Log that a test enters a phase, and give the phase the --test-timeout budget."""
    state = item.config.stash[_state]
    if state["log"] is not None and item.stash.get(_results, None) is not None:
        state["log"].write(PHASE, nodeid=item.nodeid, when=when)
    return time_limit(item.config.getoption("--test-timeout"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    outcome = yield
    log, result = item.config.stash[_state]["log"], item.stash.get(_results, None)
    if log is not None and result is not None:
        log.write(RESULT, test=result.as_dict())
    return outcome


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
        report.sections = _sections_for_learner(report.sections, result.status)
    return report


def _sections_for_learner(sections: list[tuple[str, str]], status: str) -> list[tuple[str, str]]:
    """Keep what the learner's code printed; drop libraries' log records (W&B logs dozens per
    run) and, for an untouched stub, everything: "not started" is the whole story."""
    if status == NOT_STARTED:
        return []
    return [(name, text) for name, text in sections if not name.startswith("Captured log")]


def _skip_reason(report: pytest.TestReport) -> str:
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def _is_learner_error(call: pytest.CallInfo) -> bool:
    return call.excinfo is not None and call.excinfo.errisinstance((LearnerCrash, SubmissionError, TimeLimitExceeded))


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
    if excinfo.errisinstance(TimeLimitExceeded):
        return ERROR, _timeout_feedback(item.stash[_results].exercise, call.when, excinfo.value.seconds)
    # Anything else is a bug in the autograder itself: keep pytest's full traceback for us.
    return ERROR, f"internal error in the autograder: {excinfo.typename}: {excinfo.value}"


def _timeout_feedback(function: str, when: str, seconds: float) -> str:
    if when == "setup":
        return (f"timed out: preparing this check (which imports your exercise.py) ran past the time limit of "
                f"{seconds:g} s per test. Does code at the top level of exercise.py, outside any function, run forever?")
    return (f"timed out: {function}() did not finish within the time limit of {seconds:g} s per test. Look for a "
            f"loop that never ends (a `while` whose condition never changes), or far more work than the exercise asks for.")


def _hint(item: pytest.Item) -> str:
    """The first rung of the exercise's hint ladder (the concept), and how to climb further."""
    result = item.stash[_results]
    lesson = _course(item.config).lesson(result.lesson)
    exercise = lesson.exercise(result.exercise)
    if not exercise.hints:
        return ""
    return f"{exercise.hints[0]}\nMore: `watchtrain hint {lesson.number} {exercise.function}`"


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
    missing = {result.lesson for result in state["set_aside"]}
    write_points_table(terminalreporter, report, state["submission"], missing=missing)
    data = report.as_dict()
    writers = {
        "--report-json": ("points report", lambda: json.dumps(data, indent=2)),
        "--report-gradescope": ("Gradescope results", lambda: json.dumps(
            gradescope_results(data, hidden_visibility=config.getoption("--hidden-visibility")), indent=2)),
        "--report-junit": ("JUnit XML report", lambda: junit_xml(data)),
    }
    for option, (what, render) in writers.items():
        path = config.getoption(option)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(render(), encoding="utf-8")
            terminalreporter.write_line(f"{what} written to {path}")
