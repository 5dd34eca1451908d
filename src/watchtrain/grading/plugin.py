"""The autograder's pytest plugin: the hooks and fixtures that tie the grading modules together.

`autograder/conftest.py` loads it with `pytest_plugins`. Every test module there is named
`test_<lesson dir>.py`, and every test carries `@exercise("<function>")` from the manifest.
The instructor's hidden tests live in `autograder/hidden/test_<lesson dir>.py`; they are collected
only with --hidden and share their exercise's `hidden_points`.

    options.py         the command line, and which submission it chooses
    session.py         what a run holds (typed stash keys)
    points.py          each test's share of the points; lessons not submitted, set aside
    outcomes.py        an outcome -> a status and feedback for the learner
    report_writers.py  JSON, Gradescope and JUnit files, each registered only when asked for
    terminal.py        the points table
"""
from __future__ import annotations

import atexit
import gc
import os
import random
import sys
import time
from pathlib import Path

import pytest

from watchtrain.classroom.isolation.jail import cap_work_folder, in_grading_sandbox, isolate_network
from watchtrain.classroom.isolation.warm_up import ask_cuda_through_nvml
from watchtrain.course import Course, ManifestError, find_course_root, load_course
from watchtrain.grading import outcomes
from watchtrain.grading.options import add_options, chosen_submission, is_hidden_dir
from watchtrain.grading.points import (assign_points, forget_deselected, is_gpu, lesson_dir_of, lessons_started,
                                      set_aside_not_started)
from watchtrain.grading.report_writers import register_report_writers
from watchtrain.grading.results import GRADER_ERROR, NOT_STARTED, PASSED, SKIPPED, build_report
from watchtrain.grading.results_log import COLLECTED, PHASE, RESULT, ResultsLog
from watchtrain.grading.session import SESSION, GradingSession, grading_session, result_of
from watchtrain.grading.submission import SubmissionError, lesson_module, missing_reason
from watchtrain.grading.terminal import write_points_table
from watchtrain.grading.time_limit import time_limit
from watchtrain.grading.worker_client import LearnerWorker, WorkerFailed
from watchtrain.library_imports import learner_libraries

SEED = 20_261_201  # not 0: code that forgets to seed (or seeds too late) must not inherit the seed an exercise asks for


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(function): the exercise of course.toml this test checks")
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped cleanly when none is visible")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    try:
        course = load_course(find_course_root(Path(str(config.rootpath))))
    except ManifestError as err:
        raise pytest.UsageError(str(err)) from None
    log_path = config.getoption("--results-log")
    submission = chosen_submission(config, course)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # The lessons' networks are tiny: one thread trains them faster than a pool of threads that wait
    # on each other (the whole autograder: 64 -> 58 s of CPU time, 58 to 68 -> 53 s), and the checker
    # and the worker run side by side. Set before torch is imported here; the worker inherits it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ask_cuda_through_nvml()  # the worker is forked from here: CUDA must not be started first
    # A learner's failure is shown as its feedback, not as pytest's traceback, which pytest would
    # still build first: with the source of every frame, about 0.3 s a failure. A native traceback
    # costs nothing, and is what a bug in the autograder itself shows.
    config.option.tbstyle = "native"
    # Importing torch & co. and collecting the checks grows the heap to about a million objects,
    # and each time it has grown by a quarter Python walks all of it: 1.5 to 2 s of full garbage
    # collections before the first check. None until the collection is done (the worker's spawner,
    # forked below, inherits this); then what was imported is frozen, left out of later ones.
    gc.disable()
    # Before any test is collected: the worker is forked from a process that holds no test and no
    # result. Both sides need torch and its first optimizer step (which imports torch._dynamo, 2 s):
    # done first, each is done once (a fork shares it), and the spawner imports the rest of what its
    # lessons use while this process collects the checks.
    isolate_network()
    if in_grading_sandbox() and config.option.basetemp:  # a batch's run: its work folder is its alone
        cap_work_folder(Path(config.option.basetemp).resolve().parent)
    lessons = lessons_started(course, submission, _lessons_named(config))  # the others' checks call nothing
    fresh = _grades_someone_elses_work(submission, course, own_work=config.getoption("--own-work"))
    if not fresh:
        import torch  # noqa: F401
        if lessons:
            from watchtrain.classroom.isolation.warm_up import warm_up

            warm_up()  # a no-op in a run forked from a zygote, which has done it
    worker = LearnerWorker.start(submission, _data_folder(course), lambda: config._tmp_path_factory.getbasetemp(),
                                 tuple(learner_libraries(course, sorted(lessons))), fresh=fresh)
    config.stash[SESSION] = GradingSession(course, submission, worker, ResultsLog(Path(log_path)) if log_path else None,
                                           lessons)
    register_report_writers(config)


def _grades_someone_elses_work(submission: Path, course: Course, *, own_work: bool = False) -> bool:
    """Whether this process's memory may hold what the submission must not read: true when an
    instructor runs `pytest autograder --submission DIR` with their own environment. False for a
    run in a grading sandbox (`watchtrain grade`, Gradescope), which starts with a scrubbed
    environment, and for the learner's own lessons/ or the course's solutions/ (`--own-work` says
    so of another folder: a notebook's check grades its cells from a scratch folder)."""
    if own_work or in_grading_sandbox():
        return False
    return submission.resolve() not in {(course.root / "lessons").resolve(), (course.root / "solutions").resolve()}


def pytest_sessionstart(session: pytest.Session) -> None:
    """The worker starts its host while the tests are collected; with the command line's test
    files, it imports only what their lessons' exercise.py files import."""
    grading = grading_session(session.config)
    if grading.started:  # none: every check is decided without calling the learner's code, and no host starts
        grading.worker.request_host(grading.started)
    if list(session.config.invocation_params.args) == sys.argv[1:]:  # `python -m pytest ...`, not pytest.main()
        atexit.register(_exit_now, session)


def _lessons_named(config: pytest.Config) -> set[str] | None:
    """The lessons of the test files given on the command line; None when a folder is given."""
    paths = [Path(str(config.invocation_params.dir), arg.split("::")[0]) for arg in config.args]
    if not paths or not all(path.is_file() for path in paths):
        return None
    return {lesson_dir_of(path) for path in paths}


def _exit_now(session: pytest.Session) -> None:
    """End a command-line grading run once its reports are written, skipping the interpreter's
    teardown of torch & co. (1 to 3 s on two cores): the last thing that runs before it would."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(session.exitstatus))


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.005)


def _data_folder(course: Course) -> Path:
    from watchtrain.data import DataError, data_dir

    try:
        return data_dir()
    except DataError:
        return course.root / "data"


def pytest_unconfigure(config: pytest.Config) -> None:
    gc.enable()  # where the run ended before its collection did
    gc.unfreeze()  # a process that goes on after the run (a test's in-process run) may free what the run left
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    session.worker.close()
    if session.log is not None:
        session.log.close()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if is_hidden_dir(collection_path) and not config.getoption("--hidden"):
        return True
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)], indirect=True)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    assign_points(config, items)
    yield  # -k and -m deselect here
    set_aside_not_started(config, items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    forget_deselected(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    grading = grading_session(session.config)
    if grading.log is not None:  # first: a run stopped while its worker starts still names every check
        grading.log.write(COLLECTED, tests=[r.as_dict() for r in grading.results.values()])
        for result in grading.set_aside:  # decided without running: lessons that were not submitted
            grading.log.write(RESULT, test=result.as_dict())
    if session.config.getoption("--test-timeout"):
        import numpy  # noqa: F401  (isolated_run's imports, paid before any test's clock starts)
        import torch  # noqa: F401
    lessons = {lesson_dir_of(item.path) for item in session.items if item.get_closest_marker("exercise")}
    if lessons:
        from watchtrain.classroom.isolation.warm_up import tensorboard_crc_in_c, warm_up

        warm_up()  # the checks' first optimizer step: taken before the fork, unless the worker is a fresh interpreter
        tensorboard_crc_in_c()  # for TensorBoard's loader, which the readers use: it checks every record again
        try:  # its imports, too, before any test's clock starts
            grading.worker.prepare(lessons)
        except WorkerFailed:
            pass  # the first call tries again, and its test reports the failure
    gc.freeze()  # the libraries and the checks, kept for good (see pytest_configure)
    gc.enable()
    if session.config.getoption("--start-when"):
        _wait_for(Path(session.config.getoption("--start-when")))
        grading.worker.refresh_submission()  # what was saved since the worker started


@pytest.fixture(scope="session")
def course(pytestconfig: pytest.Config) -> Course:
    return grading_session(pytestconfig).course


@pytest.fixture
def lesson(request: pytest.FixtureRequest):
    """The learner's exercise module for this test file's lesson: its functions run in the learner
    worker. A crash whose message holds a clue of the test module's `CRASH_ADVICE` dict fails with
    that clue's advice."""
    return lesson_module(grading_session(request.config).worker, lesson_dir_of(request.path),
                         request.config.getoption("--test-timeout") or None,
                         getattr(request.module, "CRASH_ADVICE", None))


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
        _skip_if_unloadable(item)
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
    log = grading_session(item.config).log
    if log is not None and result_of(item) is not None:
        log.write(PHASE, nodeid=item.nodeid, when=when)
    return time_limit(item.config.getoption("--test-timeout"))


def _skip_if_unloadable(item: pytest.Item) -> None:
    """Once a lesson's exercise.py failed to load (a syntax error, a failing import), its error is
    shown once: the lesson's other checks say so in one line, and the GPU twins are skipped."""
    result = result_of(item)
    first = grading_session(item.config).unloadable.get(result.lesson) if result is not None else None
    if first is None:
        return
    test, error = first
    if is_gpu(item):
        pytest.skip(f"not run: {error}")
    raise SubmissionError(f"not run: {error} (shown in full once, at {test})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    outcome = yield
    log, result = grading_session(item.config).log, result_of(item)
    if log is not None and result is not None:
        log.write(RESULT, test=result.as_dict())
    return outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    result = result_of(item)
    if result is None:
        return report
    if report.skipped and result.status == SKIPPED:
        result.feedback = outcomes.skip_reason(report)
    elif report.when == "call" and report.passed:
        result.status = PASSED
    elif report.failed:
        hint = outcomes.first_hint(grading_session(item.config).course, result.lesson, result.exercise)
        result.status, result.feedback = outcomes.classify(call.excinfo, call.when, result.exercise, hint)
        unloadable = grading_session(item.config).unloadable
        if outcomes.makes_lesson_unloadable(call.excinfo) and result.lesson not in unloadable:
            unloadable[result.lesson] = (item.name, result.feedback.splitlines()[0][:300])
        if result.status != GRADER_ERROR:  # a bug of ours keeps pytest's traceback, for us
            report.longrepr = result.feedback
        report.sections = outcomes.sections_for_learner(report.sections, result.status)
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    result = grading_session(config).results.get(report.nodeid)
    if result is not None and report.when == "call" and result.status == NOT_STARTED:
        return "failed", "N", "NOT STARTED"
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Checks decided without running (set aside as not started) are not passes: a run with nothing
    else to run fails, as it would have had they run, rather than reading "no tests collected"."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and any(
            result.status == NOT_STARTED for result in grading_session(session.config).set_aside):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    grading = grading_session(config)
    report = build_report(grading.course, list(grading.results.values()))
    if report.lessons:
        missing = {result.lesson for result in grading.set_aside if missing_reason(grading.submission, result.lesson)}
        write_points_table(terminalreporter, report, grading.submission, missing=missing)
        not_run = sum(result.status == NOT_STARTED for result in grading.set_aside)
        if not_run:
            terminalreporter.write_line(f"{not_run} checks of exercises not started (still the stub, or no exercise.py) "
                                        f"were not run: each reads \"not started\" (pytest counts them, and their GPU twins, as deselected)")
