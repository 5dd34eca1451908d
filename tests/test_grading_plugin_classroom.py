"""The plugin's options for classroom grading, on the tiny throwaway course of test_grading_plugin:
the per-test time limit, the results log the batch grader follows, and lessons not submitted.
Graded inside this process (`autograde`, tests/conftest.py)."""
import json

from test_grading_plugin import by_name, submit, tiny_course  # noqa: F401 (a fixture)

from watchtrain.grading.results_log import COLLECTED, PHASE, RESULT, read_results_log


def test_a_test_past_its_time_limit_is_an_error_and_the_run_goes_on(autograde, tiny_course):
    submission = submit(tiny_course, """
        def add(a, b):
            while True:
                pass
        def parse(text):
            return {"a": 1}
    """)
    run = autograde(tiny_course, submission=submission, extra_args=["--test-timeout", "1"])
    tests = by_name(run)
    assert tests["test_add_small"]["status"] == "error"
    assert "add() did not finish within the time limit of 1 s per test" in tests["test_add_small"]["feedback"]
    assert "Hint: Use the + operator." not in tests["test_add_small"]["feedback"]
    assert tests["test_parse"]["status"] == "passed" and run.report["score"] == 1
    assert "Traceback" not in run.output


def test_results_log_has_every_test_its_phases_and_its_result(autograde, tiny_course, tmp_path):
    log = tmp_path / "results.jsonl"
    submission = submit(tiny_course, """
        def add(a, b):
            return a - b
        def parse(text):
            raise NotImplementedError
    """)
    run = autograde(tiny_course, submission=submission, extra_args=["--results-log", str(log)])
    events = read_results_log(log)
    collected = [event for event in events if event["event"] == COLLECTED]
    assert len(collected) == 1
    nodeids = [test["nodeid"] for test in collected[0]["tests"]]
    assert len(nodeids) == 4 and sum(test["max_points"] for test in collected[0]["tests"]) == 4
    results = {event["test"]["nodeid"]: event["test"] for event in events if event["event"] == RESULT}
    assert sorted(results) == sorted(nodeids)
    assert {nodeid.split("::")[1]: test["status"] for nodeid, test in results.items()} == {
        "test_add_small": "failed", "test_add_on_device[cpu]": "failed", "test_add_on_device[cuda]": "skipped",
        "test_parse": "not started"}
    phases = [(event["nodeid"], event["when"]) for event in events if event["event"] == PHASE]
    add, parse = nodeids[0], next(nodeid for nodeid in nodeids if nodeid.endswith("test_parse"))
    assert (add, "setup") in phases and (add, "call") in phases and (add, "teardown") in phases
    assert not [phase for phase in phases if phase[0] == parse], "a stub's check is decided without running"
    assert json.loads(json.dumps(run.report)) == run.report


def test_a_lesson_not_submitted_is_not_started_without_running(autograde, tiny_course, tmp_path):
    (tmp_path / "empty").mkdir()
    run = autograde(tiny_course, submission=tmp_path / "empty")
    statuses = {name: test["status"] for name, test in by_name(run).items()}
    assert statuses == {"test_add_small": "not started", "test_add_on_device[cpu]": "not started",
                        "test_add_on_device[cuda]": "skipped", "test_parse": "not started"}
    assert "01_tiny/exercise.py is missing" in by_name(run)["test_parse"]["feedback"]
    assert "no 01_tiny/exercise.py in the submission" in run.output and "deselected" in run.output
