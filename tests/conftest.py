"""Shared by the project's tests.

`autograde(course_root, **options)`: `pytest autograder` run inside this test's process with
pytester, as `watchtrain.grading.runner.run_autograder` runs it in a fresh one (same arguments,
same AutograderRun back; a submission is graded as this process's own work unless
own_work=False). A fresh process pays the import of torch and the checker's first optimizer step,
5 to 8 s on 2 cores; here they are paid once, which is what makes the plugin's many small tests
cheap. Tests of what only a separate process shows (exit codes, time limits) use run_autograder.
"""
import importlib
import json
import pkgutil
import signal
from pathlib import Path

import pytest

from watchtrain.grading import runner  # (its pytest_arguments, imported by name here, would read as a hook)

pytest_plugins = ["pytester"]

# The tests of Ctrl-C send SIGINT to the commands they start, as a terminal would. A shell without
# job control starts a background job (`pytest tests &`) with SIGINT ignored, which its children
# inherit, and then Python never installs its Ctrl-C handler: the commands would not see it. A
# handler here is reset to the default in every program this process starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The files that take longest, longest first (`--durations`, 2026-12-03: 220 s down to 25 s in two
# processes). `make test` hands files to its two processes in collection order
# (--no-loadscope-reorder): each starts on a long one and the short files fill in at the end, so
# both end at about the same time. Ordered by their number of tests instead, a 30 s file of two
# tests started last and ran alone. A file not named here keeps its place after these.
LONGEST_FIRST = ("test_mutants.py", "test_notebooks.py", "test_attacks.py", "test_batch_grading.py", "test_cli.py",
                 "test_worker_boundary.py", "test_zygote.py", "test_library_imports.py", "test_demo_browser.py",
                 "test_warm_checks.py", "test_visdom_server.py", "test_grading_plugin.py",
                 "test_handout.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests keep their order


@pytest.fixture(scope="session")
def _checker_libraries():
    """What a grading run's checker imports and warms, done before pytester's snapshot of the
    imported modules: pytester forgets the modules a run imports, so that a class imported afresh
    by one run (LearnerCrash, say) would not be the class another module of ours still holds; and
    torch cannot be imported twice. The lessons' libraries too: a package keeps its forgotten
    submodule as an attribute (`http.cookiejar`, imported by Visdom's requests), which a later
    `from http import cookiejar` returns while `import http.cookiejar` makes a new one, and the
    two disagree. The plugin itself is left to the run, which rewrites its asserts."""
    import torch  # noqa: F401

    import watchtrain.classroom.isolation
    import watchtrain.grading
    import watchtrain.worker
    from watchtrain.classroom.isolation.warm_up import warm_up
    from watchtrain.course import find_course_root, load_course
    from watchtrain.library_imports import lesson_libraries
    from watchtrain.worker.host import PRELOAD

    course = load_course(find_course_root(Path(__file__).resolve().parent))
    for library in lesson_libraries(course, [lesson.dir for lesson in course.lessons]):
        importlib.import_module(library)

    for package in (watchtrain.grading, watchtrain.worker, watchtrain.classroom.isolation):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if module.name not in ("watchtrain.grading.plugin", "watchtrain.classroom.isolation.zygote"):  # zygote: run by path
                importlib.import_module(module.name)
    warm_up(PRELOAD)  # what the worker's spawner warms too: it is forked from this process


@pytest.fixture
def autograde(_checker_libraries, pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # as run_autograder's environment says

    def run(course_root, **options) -> runner.AutograderRun:
        # This process holds no one's secrets: a submission is graded as its own work (--own-work), its
        # worker forked from here. A fresh worker would import torch again in every run; the runs that
        # need one (an instructor grading someone else's folder) pass own_work=False.
        options.setdefault("own_work", True)
        report_path = pytester.path / "report.json"
        report_path.unlink(missing_ok=True)
        result = pytester.runpytest_inprocess(*runner.pytest_arguments(course_root, report_path, **options))
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
        return runner.AutograderRun(int(result.ret), report, "\n".join(result.outlines + result.errlines))

    return run
