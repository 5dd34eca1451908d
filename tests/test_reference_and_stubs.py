"""The two fixed points of the grader: the reference solutions score 100%, the stubs score 0.

The reference's 100 % is shown by `make test`'s own `pytest autograder --solutions` and, with its
report, by the whole-class batch (tests/test_full_class_batch.py); here the untouched stubs, on the
learner's path (`pytest autograder` on lessons/).
"""
from pathlib import Path

from watchtrain.course import load_course

COURSE = Path(__file__).resolve().parents[1]


def test_untouched_stubs_score_zero_and_read_not_started(autograde):
    run = autograde(COURSE)
    assert run.returncode != 0
    assert run.report["score"] == 0
    assert run.report["max_score"] == load_course(COURSE).points
    for lesson in run.report["lessons"]:
        assert lesson["status"] == "not started", lesson["dir"]
        assert {t["status"] for t in lesson["tests"] if t["status"] != "skipped"} == {"not started"}
    assert "NOT STARTED" in run.output and "Traceback" not in run.output
