"""`watchtrain watch`'s checks, forked from a warm process, and how a grading run ends.

The watcher keeps its next check collected, with its learner worker started, before the learner
saves: the check must still grade the file as saved, not as it was when the check started.
"""
import os
import subprocess
import sys

from watchtrain.course import load_course
from watchtrain.grading.runner import GRADING_ENVIRONMENT
from watchtrain.warm_checks import WarmChecks
from test_cli import SOLVED_01, STUB_01, tiny_course, write_exercise  # noqa: F401  (tiny_course: a fixture)


def statuses(run) -> list[str]:
    return [test["status"] for lesson in run.report["lessons"] for test in lesson["tests"]]


def test_a_check_started_before_the_save_grades_what_was_saved(tiny_course):
    course = load_course(tiny_course)
    with WarmChecks(course, ["01_tiny"]) as checks:
        assert checks.wait_until_warm(300), "the warm process did not start"
        assert statuses(checks.run(["01_tiny"])) == ["not started", "not started"]
        ready = checks._ready
        assert ready is not None and ready.process.poll() is None, "no check is waiting for the next save"
        write_exercise(tiny_course, "01_tiny", SOLVED_01)
        assert statuses(checks.run(["01_tiny"])) == ["passed", "passed"]
        write_exercise(tiny_course, "01_tiny", STUB_01.replace("raise NotImplementedError", "return 0", 1))
        assert statuses(checks.run(["01_tiny"])) == ["failed", "not started"]


def test_the_warm_process_imports_what_its_lessons_use_and_grows_for_a_lesson_that_uses_more(tiny_course):
    course = load_course(tiny_course)
    write_exercise(tiny_course, "02_tiny", """
        import graphviz

        def greet(name):
            return f"Hello, {name}!"
    """)
    with WarmChecks(course, ["01_tiny"]) as checks:
        assert checks.wait_until_warm(300), "the warm process did not start"
        assert checks.libraries == frozenset() and "graphviz" not in checks._zygote.preloaded
        assert statuses(checks.run(["02_tiny"])) == ["passed"], "a fork imports what the warm process lacks"
        assert checks._growing is not None, "no warm process that imports graphviz too was started"
        checks._growing.join(300)
        assert statuses(checks.run(["02_tiny"])) == ["passed"]
        assert checks.libraries == {"graphviz"} and "graphviz" in checks._zygote.preloaded, \
            "the warm process that imports graphviz too has taken over"


def test_a_command_line_run_keeps_its_exit_status_and_its_output(tiny_course):
    """A grading run ends without the interpreter's teardown: its status and output must survive."""
    command = [sys.executable, "-m", "pytest", "autograder/test_01_tiny.py", "-p", "no:cacheprovider"]
    env = os.environ | GRADING_ENVIRONMENT
    write_exercise(tiny_course, "01_tiny", STUB_01.replace("raise NotImplementedError", "return 0"))  # both wrong
    failing = subprocess.run(command, cwd=tiny_course, env=env, capture_output=True, text=True, timeout=300)
    assert failing.returncode == 1
    assert "2 failed" in failing.stdout.splitlines()[-1]
    write_exercise(tiny_course, "01_tiny", SOLVED_01)
    passing = subprocess.run(command, cwd=tiny_course, env=env, capture_output=True, text=True, timeout=300)
    assert passing.returncode == 0
    assert "2 passed" in passing.stdout.splitlines()[-1]
