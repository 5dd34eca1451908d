"""The autograder plugin on a tiny throwaway course: points, statuses and learner-facing feedback.

Most runs are graded inside this process (`autograde`, tests/conftest.py); the usage error and
the report of a bare `pytest autograder` are shown by a separate process."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


COURSE = Path(__file__).resolve().parents[1]

MANIFEST = """
[course]
title = "Tiny"
[[lessons]]
dir = "01_tiny"
title = "Tiny lesson"
[[lessons.exercises]]
function = "add"
points = 3
hint = "Use the + operator."
[[lessons.exercises]]
function = "parse"
points = 1
hint = "Return a dict."
"""

TESTS = """
from watchtrain.grading import exercise, expect_equal

@exercise("add")
def test_add_small(lesson):
    expect_equal(lesson.add(1, 2), 3, "add(1, 2)")

@exercise("add")
def test_add_on_device(lesson, device):
    expect_equal(lesson.add(10, 20), 30, "add(10, 20)")

@exercise("parse")
def test_parse(lesson):
    expect_equal(lesson.parse('{"a": 1}'), {"a": 1}, "parse of a JSON object")
"""

STUB = """
def add(a, b):
    raise NotImplementedError

def parse(text):
    raise NotImplementedError
"""


@pytest.fixture
def tiny_course(tmp_path):
    (tmp_path / "course.toml").write_text(MANIFEST)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "conftest.py").write_text((COURSE / "autograder" / "conftest.py").read_text())
    (tmp_path / "autograder" / "test_01_tiny.py").write_text(TESTS)
    (tmp_path / "lessons" / "01_tiny").mkdir(parents=True)
    (tmp_path / "lessons" / "01_tiny" / "exercise.py").write_text(STUB)
    return tmp_path


def submit(course: Path, source: str) -> Path:
    folder = course / "submission" / "01_tiny"
    folder.mkdir(parents=True)
    (folder / "exercise.py").write_text(textwrap.dedent(source))
    return folder.parent


def by_name(run):
    return {t["name"]: t for t in run.report["lessons"][0]["tests"]}


def test_stubs_are_not_started_with_zero_points(autograde, tiny_course):
    run = autograde(tiny_course)
    assert run.returncode != 0
    assert run.report["score"] == 0 and run.report["max_score"] == 4
    statuses = {name: t["status"] for name, t in by_name(run).items()}
    assert statuses == {"test_add_small": "not started", "test_add_on_device[cpu]": "not started",
                        "test_add_on_device[cuda]": "skipped", "test_parse": "not started"}
    assert "not started" in run.output and "Traceback" not in run.output


def test_exercises_still_their_stubs_are_not_started_without_importing_the_file(autograde, tiny_course):
    # The stubs are read with `ast` only: a file that fails when imported says so only once an
    # exercise is started, and only the started one's checks call the learner's code.
    untouched = """
        raise RuntimeError("exercise.py was imported")
        def add(a, b):
            raise NotImplementedError
        def parse(text):
            raise NotImplementedError
    """
    run = autograde(tiny_course, submission=submit(tiny_course, untouched))
    assert {name: t["status"] for name, t in by_name(run).items() if "cuda" not in name} == \
        {"test_add_small": "not started", "test_add_on_device[cpu]": "not started", "test_parse": "not started"}
    assert "was imported" not in run.output and run.returncode == 1
    (tiny_course / "submission" / "01_tiny" / "exercise.py").write_text(textwrap.dedent(untouched).replace(
        "def parse(text):\n    raise NotImplementedError", "def parse(text):\n    return {'a': 1}"))
    tests = by_name(autograde(tiny_course, submission=tiny_course / "submission"))
    assert tests["test_add_small"]["status"] == "not started"
    assert tests["test_parse"]["status"] == "error" and "exercise.py was imported" in tests["test_parse"]["feedback"]


def test_points_split_within_an_exercise_and_gpu_runs_carry_none(autograde, tiny_course):
    submission = submit(tiny_course, """
        def add(a, b):
            return a + b if a < 5 else 0
        def parse(text):
            raise NotImplementedError
    """)
    run = autograde(tiny_course, submission=submission)
    tests = by_name(run)
    assert tests["test_add_small"]["points"] == 1.5
    assert tests["test_add_on_device[cpu]"]["max_points"] == 1.5
    assert tests["test_add_on_device[cuda]"]["max_points"] == 0
    assert run.report["score"] == 1.5
    assert run.report["lessons"][0]["status"] == "in progress"


def test_failure_says_expected_found_and_the_manifest_hint(autograde, tiny_course):
    submission = submit(tiny_course, """
        def add(a, b):
            return a - b
        def parse(text):
            return {"a": 1}
    """)
    run = autograde(tiny_course, submission=submission)
    feedback = by_name(run)["test_add_small"]["feedback"]
    assert "expected: 3" in feedback and "found:    -1" in feedback and "Hint: Use the + operator." in feedback
    assert "1/4" in run.output  # the table: the parse exercise passed, 1 of 4 points
    assert run.report["score"] == 1


def test_learner_exception_is_an_error_showing_their_own_line(autograde, tiny_course):
    submission = submit(tiny_course, """
        import json
        def add(a, b):
            return a + b
        def parse(text):
            return json.loads(text[:-1])
    """)
    run = autograde(tiny_course, submission=submission)
    result = by_name(run)["test_parse"]
    assert result["status"] == "error"
    assert "parse() raised JSONDecodeError" in result["feedback"]
    assert "exercise.py, line 6, in parse: return json.loads(text[:-1])" in result["feedback"]
    assert "Traceback" not in run.output


def test_sys_exit_in_learner_code_is_reported_not_obeyed(autograde, tiny_course):
    submission = submit(tiny_course, """
        import sys
        def add(a, b):
            sys.exit(0)
        def parse(text):
            return {"a": 1}
    """)
    run = autograde(tiny_course, submission=submission)
    assert "called sys.exit(0)" in by_name(run)["test_add_small"]["feedback"]
    assert run.report["score"] == 1


def test_syntax_error_names_file_and_line(autograde, tiny_course):
    submission = submit(tiny_course, """
        def add(a, b)
            return a + b
    """)
    run = autograde(tiny_course, submission=submission)
    feedback = by_name(run)["test_add_small"]["feedback"]
    assert "syntax error on line 2" in feedback and run.report["score"] == 0


def test_a_helper_module_beside_the_exercise_is_named_and_a_missing_library_is_not_blamed_on_it(autograde,
                                                                                                   tiny_course):
    """Only exercise.py is graded: a learner's own module beside it is not there when it is imported."""
    submission = submit(tiny_course, """
        from helpers import plus
        def add(a, b):
            return plus(a, b)
        def parse(text):
            return {"a": 1}
    """)
    (submission / "01_tiny" / "helpers.py").write_text("def plus(a, b):\n    return a + b\n")
    feedback = by_name(autograde(tiny_course, submission=submission))["test_add_small"]["feedback"]
    assert "Your helpers.py sits beside exercise.py, but only exercise.py is graded" in feedback, feedback
    (submission / "01_tiny" / "helpers.py").unlink()
    feedback = by_name(autograde(tiny_course, submission=submission))["test_add_small"]["feedback"]
    assert "`helpers` is not one of the course's libraries" in feedback and "sits beside" not in feedback, feedback


def test_a_failing_try_left_at_the_top_level_is_told_to_move_under_main(autograde, tiny_course):
    submission = submit(tiny_course, """
        def add(a, b):
            return a + b
        def parse(text):
            return {"a": 1}
        print(add(1, 2))
        input("press Enter to finish")
    """)
    feedback = by_name(autograde(tiny_course, submission=submission))["test_add_small"]["feedback"]
    assert "EOFError" in feedback and 'in <module>: input("press Enter to finish")' in feedback, feedback
    assert 'the grader imports it before every check. Keep your own tries under `if __name__ == "__main__":`' \
        in feedback, feedback


def test_renamed_function_is_named_in_the_feedback(autograde, tiny_course):
    submission = submit(tiny_course, """
        def add_numbers(a, b):
            return a + b
        def parse(text):
            return {"a": 1}
    """)
    run = autograde(tiny_course, submission=submission)
    assert "has no function add()" in by_name(run)["test_add_small"]["feedback"]


def test_missing_submission_folder_is_a_usage_error(tiny_course):
    completed = subprocess.run([sys.executable, "-m", "pytest", "autograder", "--submission", "nowhere"],
                               cwd=tiny_course, capture_output=True, text=True)
    assert completed.returncode == 4
    assert "does not exist" in completed.stderr


def test_own_work_without_a_submission_folder_is_a_usage_error(tiny_course):
    completed = subprocess.run([sys.executable, "-m", "pytest", "autograder", "--own-work"],
                               cwd=tiny_course, capture_output=True, text=True)
    assert completed.returncode == 4
    assert "give it with --submission DIR" in completed.stderr and "Traceback" not in completed.stderr


def test_unmarked_autograder_test_is_rejected(autograde, tiny_course):
    (tiny_course / "autograder" / "test_01_tiny.py").write_text(TESTS + "\ndef test_free(lesson):\n    pass\n")
    run = autograde(tiny_course)
    assert "has no @exercise(...) marker" in run.output


def test_json_report_lists_every_test(tiny_course, tmp_path):
    out = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pytest", "autograder", "-q", "--report-json", str(out)],
                   cwd=tiny_course, capture_output=True, text=True)
    report = json.loads(out.read_text())
    assert [t["name"] for t in report["lessons"][0]["tests"]] == [
        "test_add_small", "test_add_on_device[cpu]", "test_add_on_device[cuda]", "test_parse"]


TEMPLATE_MANIFEST = """
[course]
title = "Template"
[[lessons]]
dir = "01_tiny"
title = "The template's lesson"
[[lessons.exercises]]
function = "log_losses"
points = 3
hints = ["A step is an x position.", "add_scalar(tag, value, step)", "writer.close()"]
"""


@pytest.mark.parametrize("source, earned, says", [
    ("""
        from torch.utils.tensorboard import SummaryWriter
        def log_losses(log_dir, losses):
            with SummaryWriter(log_dir) as writer:
                for step, loss in enumerate(losses):
                    writer.add_scalar("loss", loss, step)
    """, 3, ""),
    ("""
        from torch.utils.tensorboard import SummaryWriter
        def log_losses(log_dir, losses):
            writer = SummaryWriter(log_dir)
            for step, loss in enumerate(losses, start=1):
                writer.add_scalar("loss", loss, step)
            writer.close()
    """, 2, "The steps start at 1"),
    ("""
        from torch.utils.tensorboard import SummaryWriter
        def log_losses(log_dir, losses):
            with SummaryWriter(log_dir) as writer:
                for loss in losses:
                    writer.add_scalar("loss", loss)  # no step: every point at 0
    """, 2, "Every point is at step 0"),
    ("""
        from torch.utils.tensorboard import SummaryWriter
        def log_losses(log_dir, losses):
            with SummaryWriter(log_dir) as writer:
                writer.add_scalar("loss", losses, 0)
    """, 0, "add_scalar logs one number per call"),
])
def test_the_template_autograder_grades_its_example(autograde, tiny_course, source, earned, says):
    """autograder/TEMPLATE.py, the check author's starting point, is a working autograder file."""
    (tiny_course / "course.toml").write_text(TEMPLATE_MANIFEST)
    (tiny_course / "autograder" / "test_01_tiny.py").write_text((COURSE / "autograder" / "TEMPLATE.py").read_text())
    run = autograde(tiny_course, submission=submit(tiny_course, source))
    assert run.report["score"] == earned, run.output[-3000:]
    assert says in " ".join(t["feedback"] for t in by_name(run).values())


def test_checks_that_share_a_call_each_say_where_its_stray_events_went(autograde, tiny_course):
    """call_once runs the shared call in a folder of its own, working directory included: a run
    written to ./runs instead of log_dir is found there by every check that reads the call, not
    only by the check that made it (the others run in working directories of their own)."""
    (tiny_course / "course.toml").write_text(TEMPLATE_MANIFEST)
    (tiny_course / "autograder" / "test_01_tiny.py").write_text(textwrap.dedent("""
        from watchtrain.artifacts.tensorboard import read_scalars
        from watchtrain.grading import call_once, exercise, read_run

        def _log_dir(lesson, tmp_path_factory):
            def call(folder):
                lesson.log_losses(str(folder / "logs"), [1.0, 0.5])
                return folder / "logs"
            return call_once((lesson.log_losses.key,), tmp_path_factory, "log_losses", call)

        @exercise("log_losses")
        def test_first(lesson, tmp_path_factory):
            read_run(read_scalars, _log_dir(lesson, tmp_path_factory), what="Reading the scalars.")

        @exercise("log_losses")
        def test_second(lesson, tmp_path_factory):
            read_run(read_scalars, _log_dir(lesson, tmp_path_factory), what="Reading the scalars.")
    """))
    run = autograde(tiny_course, submission=submit(tiny_course, """
        from torch.utils.tensorboard import SummaryWriter
        def log_losses(log_dir, losses):
            with SummaryWriter() as writer:  # ./runs/<date>_<host>, not log_dir
                for step, loss in enumerate(losses):
                    writer.add_scalar("loss", loss, step)
    """))
    tests = by_name(run)
    assert set(tests) == {"test_first", "test_second"}, run.output[-3000:]
    for name, test in tests.items():
        assert test["status"] == "failed" and "Your events went to the working directory instead (./runs/" in \
            test["feedback"], (name, test["feedback"])


def test_a_report_is_written_even_when_no_test_was_collected(autograde, tiny_course):
    run = autograde(tiny_course, extra_args=["-k", "no_test_has_this_name"])
    assert run.report == {"score": 0, "max_score": 0, "lessons": []}, run.output[-2000:]


def test_the_checks_run_with_garbage_collection_on_and_the_imports_set_aside(autograde, tiny_course):
    """The plugin turns garbage collection off while torch & co. are imported and the checks are
    collected (Python would walk the whole heap each time it grew by a quarter), then freezes what
    is there and turns collection back on; the worker's spawner does the same around its imports.
    A check or a learner's call that ran with it off would let a long run's reference cycles pile up."""
    (tiny_course / "autograder" / "test_01_tiny.py").write_text(TESTS + textwrap.dedent("""
        import gc

        @exercise("add")
        def test_garbage_collection_state(lesson):
            expect_equal((gc.isenabled(), gc.get_freeze_count() > 0), (True, True),
                         "in the checker: (garbage collection on, objects frozen)")
            expect_equal(lesson.parse("{}"), {"on": True, "frozen": True},
                         "in the learner's call: garbage collection")
    """))
    submission = submit(tiny_course, """
        import gc
        import json

        def add(a, b):
            return a + b
        def parse(text):
            if text == "{}":
                return {"on": gc.isenabled(), "frozen": gc.get_freeze_count() > 0}
            return json.loads(text)
    """)
    run = autograde(tiny_course, submission=submission)
    assert by_name(run)["test_garbage_collection_state"]["status"] == "passed", run.output[-2000:]
