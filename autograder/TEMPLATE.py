"""TEMPLATE for a lesson's autograder file: copy it to autograder/test_<lesson dir>.py (e.g.
test_10_profiler.py) and replace the example. pytest collects only test_*.py, so this file is never run.

The example grades a made-up exercise, `log_losses(log_dir, losses)`, whose contract (the stub's
docstring) says: "write each loss as the scalar 'loss' at steps 0, 1, 2, ... under log_dir, and
close the writer". Every check reads what the learner's code LEFT BEHIND (here, the event file)
with the tool's own reader, and compares it with the contract, exactly.

Rules of thumb (README.md, "Adding a lesson"):
- One test per clause of the contract, named after it, so one mistake costs one clause.
- Messages say what was checked, what was expected and what was found. `advice=` names a cause
  only when the evidence singles it out, and never tells the learner to do what they already do.
- Every test can fail: give it a mutant in tests/mutants/<lesson dir>/ (`watchtrain dev check`
  lists what is missing).
- Everything comes from `watchtrain.grading`; the readers from `watchtrain.artifacts`.
"""
from watchtrain.artifacts.tensorboard import read_scalars
from watchtrain.grading import (StepMistake, call_once, exercise, expect_close, expect_equal, expect_writers_closed,
                                read_run, step_mistake)

# Inputs: small, fixed, and different from the lesson's examples, so that pasting them does not pass.
LOSSES = [2.30, 1.71, 1.24, 0.98, 0.85]
TAG = "loss"

# A crash whose message holds one of these clues fails with the advice instead of a bare traceback.
CRASH_ADVICE = {
    "but numpy array or torch tensor are expected": "add_scalar logs one number per call: log each loss "
                                                    "with its own step, in a loop.",
}


def _logged(lesson, tmp_path_factory):
    """Call the learner once, for all the tests of this exercise, and read the run back.

    call_once shares one call between the tests (each call is a process of its own: a tenth of a
    second, and seconds for a training run or an export). It is keyed on the function (and on the
    arguments that vary, such as the device); the call runs in a folder of its own, with the
    working directory there too, and a crash or failure is replayed to every test that reads it,
    so each reports the same cause. run_once does the same for a call that writes no files."""
    def log_and_read(folder):
        log_dir = folder / "logs"
        lesson.log_losses(str(log_dir), list(LOSSES))  # runs in the learner worker; a copy, so they may change it
        return log_dir, read_run(read_scalars, log_dir, what="Reading the scalars your code wrote to log_dir.")

    return call_once((lesson.log_losses.key,), tmp_path_factory, "log_losses", log_and_read)


@exercise("log_losses")
def test_log_losses_values_in_order(lesson, tmp_path_factory):
    _, scalars = _logged(lesson, tmp_path_factory)
    expect_equal(sorted(scalars), [TAG], "The scalar tags in log_dir")
    expect_close([value for _, value in scalars[TAG]], LOSSES, f"The {TAG!r} values, in the order written", tol=1e-6)


@exercise("log_losses")
def test_log_losses_steps_count_from_zero(lesson, tmp_path_factory):
    _, scalars = _logged(lesson, tmp_path_factory)
    steps = [step for step, _ in scalars.get(TAG, [])]
    expected = list(range(len(LOSSES)))
    # A diagnosis only when the evidence singles it out: step_mistake names the usual step mistakes
    # that fit these steps exactly (or None), and the advice says in this lesson's words what to change.
    advice = {StepMistake.ONE_TOO_FAR: "The steps start at 1: the first point is at step 0 (where enumerate starts "
                                       "by default).",
              StepMistake.ALL_AT_ZERO: "Every point is at step 0: give each loss its own step, its position in the "
                                       "list."}.get(step_mistake(steps, expected))
    expect_equal(steps, expected, f"The steps of the {TAG!r} points", advice=advice)


@exercise("log_losses")
def test_log_losses_closes_the_writer(lesson, tmp_path_factory):
    log_dir, _ = _logged(lesson, tmp_path_factory)
    expect_writers_closed(log_dir)
