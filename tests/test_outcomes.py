"""Unit tests of grading/outcomes.py (how each kind of failed test becomes a status and feedback) and of
the check API's failures (grading/checks.py)."""
import os

import pytest

from watchtrain.course import load_course
from watchtrain.grading import GradingFailure, expect_equal, expect_list, expect_tuple
from watchtrain.grading.outcomes import (GRADER_ERROR_PREFIX, classify, first_hint, incident, makes_lesson_unloadable,
                                         sections_for_learner)
from watchtrain.grading.results import ERROR, FAILED, GRADER_ERROR, NOT_STARTED
from watchtrain.grading.submission import (LearnerCrash, MissingFunction, NotStarted, SubmissionError,
                                           missing_module_advice)
from watchtrain.grading.time_limit import TimeLimitExceeded

HINT = "The concept.\nMore: `watchtrain hint 01 add`"


def raised(error: BaseException) -> pytest.ExceptionInfo:
    try:
        raise error
    except BaseException:
        return pytest.ExceptionInfo.from_current()


def outcome(error: BaseException, when: str = "call", exercise: str = "add"):
    return classify(raised(error), when, exercise, HINT)


def test_a_failed_check_says_what_expected_found_and_the_hint():
    status, feedback = outcome(GradingFailure("add(1, 2)", expected=3, found=-1, advice="Add, do not subtract."))
    assert status == FAILED
    assert feedback == "add(1, 2)\n  expected: 3\n  found:    -1\n  Add, do not subtract.\n" + "Hint: " + HINT


def test_numbers_that_differ_past_the_digits_shown_are_shown_with_every_digit():
    """Six significant digits, unless expected and found would then read the same: a float32
    rounding (2.3 sent as 2.2999999523) must not read "expected 2.3, found 2.3"."""
    assert GradingFailure("y", expected=0.123456789, found=0.2).render() == "y\n  expected: 0.123457\n  found:    0.2"
    assert GradingFailure("y", expected=[1.0, 2.3], found=[1.0, 2.299999952316284]).render() == \
        "y\n  expected: [1.0, 2.3]\n  found:    [1.0, 2.299999952316284]"


def test_long_lists_are_shown_where_they_first_differ():
    """Eight items of a long list: from its start, or from just before the first difference when
    that lies past them (the steps of a second epoch that restart at 0)."""
    steps = list(range(24))
    with pytest.raises(GradingFailure) as raised:
        expect_equal([step % 8 for step in steps], steps, "The steps")
    assert raised.value.render() == (
        "The steps (first difference at position 8)\n"
        "  expected: [..., 6, 7, 8, 9, 10, 11, 12, 13, ... (24 in all, from position 6)]\n"
        "  found:    [..., 6, 7, 0, 1, 2, 3, 4, 5, ... (24 in all, from position 6)]")
    with pytest.raises(GradingFailure) as raised:
        expect_equal([0, 9, *steps[2:]], steps, "The steps")
    assert "expected: [0, 1, 2, 3, 4, 5, 6, 7, ... (24 in all)]" in raised.value.render()


@pytest.mark.parametrize("returned, list_ok, says", [
    (None, False, "pick() must return a tuple of 2, (rows, classes).\n  expected: '(rows, classes)'\n"
                  "  found:    'None'\n  pick() returned None: end it with `return rows, classes`."),
    ([1, 2], False, "pick() returns a list of 2; the contract asks for a tuple (rows, classes).\n"
                    "  expected: 'tuple (rows, classes)'\n  found:    'list'\n"
                    "  A return with commas, `return rows, classes`, returns a tuple."),
    ((1, 2, 3), False, "pick() must return a tuple of 2, (rows, classes).\n  expected: '(rows, classes)'\n"
                       "  found:    'tuple of 3'"),
    ([1, 2, 3], True, "pick() must return a tuple of 2, (rows, classes).\n  expected: '(rows, classes)'\n"
                      "  found:    'list of 3'"),
])
def test_a_returned_tuple_of_another_form_says_what_came_back(returned, list_ok, says):
    with pytest.raises(GradingFailure) as failure:
        expect_tuple(returned, "pick", ("rows", "classes"), list_ok=list_ok)
    assert failure.value.render() == says


def test_a_returned_object_is_named_by_its_own_class():
    from watchtrain.grading import Described

    generator = Described("object", {"types": ["builtins.generator"], "repr": "<generator object>"})
    with pytest.raises(GradingFailure) as failure:
        expect_tuple(generator, "pick", ("rows", "classes"))
    assert "found:    'generator'" in failure.value.render()


def test_a_returned_tuple_unpacks_and_a_list_only_where_allowed():
    assert expect_tuple((1, 2), "pick", ("rows", "classes")) == (1, 2)
    assert expect_tuple([1, 2], "pick", ("rows", "classes"), list_ok=True) == (1, 2)


@pytest.mark.parametrize("returned, says", [
    (None, "found:    'None'\n  fit() returned None: end it with `return losses`, the list of the losses."),
    (0.5, "found:    'float'\n  It returned one number: return the list of the losses, all of them."),
    ({"a": 1}, "found:    'dict'\n  It returned a dict: return a plain list of the losses."),
])
def test_a_returned_list_of_another_form_says_what_came_back(returned, says):
    with pytest.raises(GradingFailure) as failure:
        expect_list(returned, "fit", "losses", "the losses")
    assert failure.value.render() == "fit() must return the list of the losses.\n  expected: 'a list'\n  " + says
    assert expect_list((1.0, 2.0), "fit", "losses", "the losses") == [1.0, 2.0]


def test_an_untouched_stub_is_not_started_without_a_hint():
    status, feedback = outcome(NotStarted("add"))
    assert status == NOT_STARTED and "Hint" not in feedback and "add() still raises NotImplementedError" in feedback


def test_a_crash_of_the_exercise_itself_is_an_error_with_its_hint():
    status, feedback = outcome(LearnerCrash("add() raised ValueError: no", ["ValueError"], function="add"))
    assert status == ERROR and feedback.startswith("add() raised ValueError") and feedback.endswith(HINT)


def test_a_crash_in_another_exercise_it_calls_gets_no_hint_of_this_one():
    status, feedback = outcome(LearnerCrash("make() raised KeyError: 'lr'", ["KeyError"], function="make"),
                               exercise="model_pipeline")
    assert status == ERROR and "Hint" not in feedback


def test_a_file_that_does_not_load_is_an_error_without_a_hint_that_stops_the_lesson():
    error = SubmissionError("01/exercise.py has a syntax error on line 3: expected ':'")
    status, feedback = outcome(error)
    assert status == ERROR and "Hint" not in feedback and "line 3" in feedback
    assert makes_lesson_unloadable(raised(error))


def test_one_missing_function_does_not_stop_the_lesson():
    error = MissingFunction("exercise.py has no function add(); it is one of the exercises.")
    assert outcome(error)[0] == ERROR
    assert not makes_lesson_unloadable(raised(error))
    assert not makes_lesson_unloadable(raised(GradingFailure("x")))


@pytest.mark.parametrize("when, says", [("setup", "top level of exercise.py"), ("call", "add() did not finish")])
def test_a_time_limit_names_the_phase(when, says):
    limit = TimeLimitExceeded(5)
    limit.in_learner_call = True  # submission._call says so when the time ran out in the learner's call
    status, feedback = outcome(limit, when=when)
    assert status == ERROR and says in feedback and "5 s" in feedback


def test_a_bug_in_the_autograder_is_a_grader_error_not_the_learners():
    status, feedback = outcome(KeyError("lessons"))
    assert status == GRADER_ERROR and feedback.startswith(GRADER_ERROR_PREFIX) and "KeyError" in feedback


def test_the_first_hint_rung_and_how_to_climb_further():
    course = load_course()
    lesson = course.lessons[0]
    exercise = lesson.exercises[0]
    assert first_hint(course, lesson.dir, exercise.function) == \
        f"{exercise.hints[0]}\nMore: `watchtrain hint {lesson.number} {exercise.function}`"


def test_printed_output_is_kept_and_library_logs_dropped_and_a_stub_shows_nothing():
    sections = [("Captured stdout call", "epoch 1"), ("Captured log call", "wandb: syncing")]
    assert sections_for_learner(sections, FAILED) == [("Captured stdout call", "epoch 1")]
    assert sections_for_learner(sections, NOT_STARTED) == []


def test_a_name_that_is_not_utf8_reaches_the_feedback_as_its_bytes():
    """A file the learner's code named with bytes that are not UTF-8 is read back with lone
    surrogates, which junit.xml, a CSV or a terminal cannot hold: the feedback shows the bytes."""
    name = os.fsdecode(b"events.out.tfevents.\xfe\xff")
    status, feedback = outcome(GradingFailure(f"The event file is damaged.\n  path: {name}"))
    assert status == FAILED and r"path: events.out.tfevents.\xfe\xff" in feedback
    assert outcome(GradingFailure("The runs", expected=["a"], found=[name, "a"]))[1].encode("utf-8")
    assert outcome(LearnerCrash("ValueError: bad \ud800 text", function="add"))[1].encode("utf-8")


def test_a_timeout_whose_cause_is_known_says_it_instead_of_the_usual_guess():
    limit = TimeLimitExceeded(10)
    limit.advice = "Your code started processes until it had the most it may have at once (256)."
    status, feedback = outcome(limit)
    assert status == ERROR and "(256)" in feedback and "a loop that never ends" not in feedback
    plain = TimeLimitExceeded(10)
    plain.in_learner_call = True
    assert "a loop that never ends" in outcome(plain)[1]


def test_a_timeout_after_the_learners_call_returned_is_not_blamed_on_it():
    limit = TimeLimitExceeded(10)
    status, feedback = outcome(limit)
    assert status == ERROR and "after your code had returned" in feedback and "did not finish" not in feedback
    assert incident(feedback, "add") == "checking what add() left behind timed out"
    limit.in_learner_call = True
    assert "add() did not finish within the time limit" in outcome(limit)[1]
    assert incident(outcome(limit)[1], "add") == "add() timed out"
    assert incident(outcome(LearnerCrash("crashed: add() did not return: killed", function="add"))[1], "add") == \
        "add() crashed"


@pytest.mark.parametrize("module, source, says", [
    ("tensorboardX", "from tensorboardX import SummaryWriter", "from torch.utils.tensorboard import SummaryWriter"),
    ("tensorflow", "import tensorflow as tf", "TensorBoard reads event files without it"),
    ("tensorflow", "tf.io.gfile = tb.compat.tensorflow_stub.io.gfile", "classic tutorial's `tf.io.gfile"),
    ("tensorboard_magic", "import tensorboard_magic", "not one of the course's libraries"),
])
def test_a_module_that_is_not_installed_gets_the_courses_counterpart_where_it_has_one(module, source, says):
    message = f"importing 01/exercise.py failed: ModuleNotFoundError: No module named '{module}'"
    assert says in missing_module_advice(message, source)
