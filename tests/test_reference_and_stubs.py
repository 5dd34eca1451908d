"""The two fixed points of the grader: the reference solutions score 100%, the stubs score 0.

Here both on the learner's path: `pytest autograder --solutions` (every check, its GPU twins too
where a GPU is visible) and `pytest autograder` on the untouched lessons/. The class that
tests/test_mutants.py grades shows the same through the sandboxed batch grader.
"""
from pathlib import Path

from watchtrain.course import load_course

COURSE = Path(__file__).resolve().parents[1]


def test_reference_solutions_score_full_points(autograde):
    run = autograde(COURSE, solutions=True)
    assert run.returncode == 0, run.output[-3000:]
    assert run.report["score"] == run.report["max_score"] == load_course(COURSE).points
    for lesson in run.report["lessons"]:
        assert lesson["status"] == "done", lesson["dir"]
        for test in lesson["tests"]:
            assert test["status"] == "passed" or (test["status"] == "skipped" and test["name"].endswith("[cuda]")), test


def test_untouched_stubs_score_zero_and_read_not_started(autograde):
    run = autograde(COURSE)
    assert run.returncode != 0
    assert run.report["score"] == 0
    assert run.report["max_score"] == load_course(COURSE).points
    for lesson in run.report["lessons"]:
        assert lesson["status"] == "not started", lesson["dir"]
        assert {t["status"] for t in lesson["tests"] if t["status"] != "skipped"} == {"not started"}
    assert "checks of exercises not started" in run.output and "Traceback" not in run.output
