"""How a test's outcome becomes a status and feedback a learner can act on.

    GradingFailure (a check)            -> failed, its what/expected/found/advice + the exercise's hint
    NotStarted (the stub's raise)       -> not started
    LearnerCrash (their code raised)    -> error, their own lines; the hint only when it was this exercise's function
    SubmissionError (file does not load)-> error, once per lesson, without a hint
    TimeLimitExceeded (--test-timeout)  -> error, saying which limit
    anything else                       -> grader error: a bug in the autograder, with pytest's traceback
"""
from __future__ import annotations

import pytest

from watchtrain.course import Course
from watchtrain.grading.checks import GradingFailure
from watchtrain.grading.results import ERROR, FAILED, GRADER_ERROR, NOT_STARTED, Status, writable_text
from watchtrain.grading.submission import LearnerCrash, MissingFunction, NotStarted, SubmissionError
from watchtrain.grading.time_limit import TimeLimitExceeded

GRADER_ERROR_PREFIX = "internal error in the autograder"


def classify(excinfo: pytest.ExceptionInfo | None, when: str, exercise: str, hint: str) -> tuple[Status, str]:
    """The status and feedback of a test that failed in phase `when` (setup, call, teardown), for
    the exercise `exercise`, whose first hint rung (with how to climb further) is `hint`."""
    status, feedback = _classify(excinfo, when, exercise, hint)
    return status, writable_text(feedback)


def _classify(excinfo: pytest.ExceptionInfo | None, when: str, exercise: str, hint: str) -> tuple[Status, str]:
    if excinfo is None:
        return FAILED, "failed"
    if excinfo.errisinstance(NotStarted):
        return NOT_STARTED, str(excinfo.value)
    # The exercise's hint goes with failures of its own contract and crashes of its own function;
    # not with a file that does not load, nor with a crash in another exercise that it calls.
    own = excinfo.errisinstance(GradingFailure) or (
        excinfo.errisinstance(LearnerCrash) and excinfo.value.function == exercise)
    feedback = f"{excinfo.value}\nHint: {hint}" if hint and own else str(excinfo.value)
    if excinfo.errisinstance(GradingFailure):
        return FAILED, feedback
    if excinfo.errisinstance((LearnerCrash, SubmissionError)):
        return ERROR, feedback
    if excinfo.errisinstance(TimeLimitExceeded):
        limit = excinfo.value
        return ERROR, timeout_feedback(exercise, when, limit.seconds, limit.advice, limit.in_learner_call)
    return GRADER_ERROR, f"{GRADER_ERROR_PREFIX}: {excinfo.typename}: {excinfo.value}"


def makes_lesson_unloadable(excinfo: pytest.ExceptionInfo | None) -> bool:
    """exercise.py itself does not load (not one function missing): the lesson's other checks need not run."""
    return (excinfo is not None and excinfo.errisinstance(SubmissionError)
            and not excinfo.errisinstance(MissingFunction))


CHECKING_RAN_OUT = "ran out while the grader read and checked"  # the learner's call had returned


def incident(feedback: str, function: str) -> str | None:
    """A check's error as a submission's note counts it: "f() crashed", "f() timed out", or, where
    the time ran out after f() had returned, "checking what f() left behind timed out"; None for
    any other feedback."""
    if feedback.startswith("timed out:") and CHECKING_RAN_OUT in feedback:
        return f"checking what {function}() left behind timed out"
    if feedback.startswith(("crashed:", "timed out:")):
        return f"{function}() {feedback.split(':', 1)[0]}"
    return None


def timeout_feedback(function: str, when: str, seconds: float, advice: str = "", in_learner_call: bool = True) -> str:
    if advice:
        return f"timed out: {function}() did not finish within the time limit of {seconds:g} s per test. {advice}"
    if when == "call" and not in_learner_call:
        return (f"timed out: the time limit of {seconds:g} s per test {CHECKING_RAN_OUT} "
                f"what {function}() left behind, after your code had returned. The grader reads every file your "
                f"code wrote where the exercise says to write: thousands of files there would take it that long.")
    if when == "setup":
        return (f"timed out: preparing this check (which imports your exercise.py) ran past the time limit of "
                f"{seconds:g} s per test. Does code at the top level of exercise.py, outside any function, run forever?")
    return (f"timed out: {function}() did not finish within the time limit of {seconds:g} s per test. Look for a "
            f"loop that never ends (a `while` whose condition never changes), or far more work than the exercise asks for.")


def first_hint(course: Course, lesson_dir: str, function: str) -> str:
    """The first rung of an exercise's hint ladder (the concept), and how to climb further."""
    lesson = course.lesson(lesson_dir)
    exercise = lesson.exercise(function)
    if not exercise.hints:
        return ""
    return f"{exercise.hints[0]}\nMore: `watchtrain hint {lesson.number} {exercise.function}`"


def sections_for_learner(sections: list[tuple[str, str]], status: str) -> list[tuple[str, str]]:
    """Keep what the learner's code printed; drop libraries' log records (W&B logs dozens per
    run) and, for an untouched stub, everything: "not started" is the whole story."""
    if status == NOT_STARTED:
        return []
    return [(name, text) for name, text in sections if not name.startswith("Captured log")]


def skip_reason(report: pytest.TestReport) -> str:
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
