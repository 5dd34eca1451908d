"""The untouched stubs score 0 and read "not started", on the learner's path: `pytest autograder`
on lessons/, in one session of every lesson.

The other fixed point, the reference solutions' full points, is shown twice elsewhere, and a third
grading here would show nothing new (it was 30 s of `make test`): tests/test_mutants.py grades the
whole reference in one sandboxed run, every check, as a batch grades a class; and
tests/test_notebooks.py grades each lesson's reference on the learner's path, through its
notebook's check cell (`pytest autograder` in a fresh process, GPU twins included where a GPU is
visible), which must report the lesson done. `--solutions` is shown in tests/test_hidden_tests.py.
On a GPU machine, `make test-autograder` grades the reference's GPU twins of every check at once.
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
    assert "checks of exercises not started" in run.output and "Traceback" not in run.output
