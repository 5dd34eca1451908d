"""The check author's API: everything an autograder test file needs, from this one module.
`autograder/TEMPLATE.py` is a commented example of a lesson's test file that uses it.

    from watchtrain.grading import exercise, expect, expect_equal, expect_close, fail, read_artifact, call_once

Calling the learner
- `lesson.<function>(...)` (the `lesson` fixture) runs the learner's function in the learner
  worker and returns plain data; objects that cannot cross arrive as `Described`. Arguments the
  call changed (a net's weights, a `RecordingLoss`'s records) are put back into yours.
- `lesson.<function>.inside(harness, **options)(...)` runs it inside a worker-side harness (an
  open W&B run, say) and returns (value, the harness's facts). Harnesses: "wandb_run", and
  "lr_schedulers", which notes the learning-rate schedulers the call attaches to an optimizer among
  its arguments (schedulers_on_the_optimizer, scheduler_names, scheduler_steps, and
  scheduler_steps_given_an_epoch: the deprecated step(epoch)) or to another one
  (schedulers_on_other_optimizers), and "figure_texts", which notes the words of every figure the
  call logs with add_figure, once drawn (figure_tick_labels and figure_texts, one per line).
- `CRASH_ADVICE = {clue: advice}` at the top of a test file: a crash whose message holds `clue`
  fails as `KnownCrash` with that advice. Other crashes are `LearnerCrash` errors, an untouched
  stub is `NotStarted`; the plugin words both for the learner.
- `call_explaining(lesson.<function>, ..., explain=explain)`: advice for one call, `explain(message)`
  (None: a crash it does not know); `image_layout_crash(message)` reads TensorBoard's layout refusals.
- `run_once(key, make)` shares one expensive call (a training run) between several checks; key it
  on `lesson.<function>.key` and the arguments that matter. `call_once(key, tmp_path_factory, name,
  make)` does the same for a call that writes files: `make(folder)` runs in a fresh folder of its
  own, with the working directory in `folder/cwd`. Checks that read the same call share it: every
  call is a process of its own.

Judging
- `exercise("function")` marks a test; its points come from course.toml.
- `expect`, `expect_equal`, `expect_close`, `fail`: a failure says what was checked, what was
  expected and what was found, and, only when the evidence singles out the cause, `advice`.
  `expect_close(..., tol=FLOAT32_TOL)` accepts a float32 rounding where it is not the lesson.
  `expect_tuple(returned, "function", ("probs", "labels"))` unpacks a returned tuple, or fails
  saying what came back instead (None, a list, another number of values); `expect_list` does the
  same for a returned list, and `type_name(value)` names what came back (a described object's class).
- `step_mistake(found, expected, per_epoch)`: which usual mistake the steps of a logged series show
  (a `StepMistake`: all at 0, restarting every epoch, the epoch as the step, one too far or too
  small), or None; the check words the advice in its lesson's terms.
- `read_artifact(reader, *args, what=...)`: a reader of `watchtrain.artifacts`, whose errors
  fail the check with the reader's path and fix. TensorBoard runs: `read_run` (it also says where
  stray events went) and `expect_writers_closed`.
- `RecordingLoss` and `WatchedNet` record what the learner's training loop did; `WandbWatchedNet`
  also where the learner's `wandb.watch` hooks stood. `figures_left_open()`: the matplotlib figures
  the learner's last call left open; `printed_by_last_call()`: what it wrote on the screen, a `Printed`
  (`.stdout`, `.stderr`, `.nothing`).
- W&B runs: the `wandb_runs` fixture holds the runs a test wrote; `NewRuns(*folders)` the runs
  written under some folders since it was made (read them with `.read()`).
"""
from importlib import import_module

from watchtrain.grading.checks import (FLOAT32_TOL, GradingFailure, KnownCrash, expect, expect_close, expect_equal,
                                      expect_list, expect_tuple, fail, read_artifact)
from watchtrain.grading.shared_runs import call_once, run_once
from watchtrain.grading.steps import StepMistake, step_mistake

# Loaded on first use: they need torch or pytest, which the CLI's start-up must not import (every
# `watchtrain` command imports this package through its modules: pytest alone costs it 0.2 s).
_LAZY = {
    "exercise": "watchtrain.grading.markers",
    "Described": "watchtrain.grading.crossing",
    "type_name": "watchtrain.grading.crossing",
    "LearnerCrash": "watchtrain.grading.submission",
    "NotStarted": "watchtrain.grading.submission",
    "call_explaining": "watchtrain.grading.submission",
    "figures_left_open": "watchtrain.grading.submission",
    "printed_by_last_call": "watchtrain.grading.submission",
    "Printed": "watchtrain.grading.submission",
    "RecordingLoss": "watchtrain.grading.recording",
    "WatchedNet": "watchtrain.grading.recording",
    "read_run": "watchtrain.tensorboard_checks",
    "expect_writers_closed": "watchtrain.tensorboard_checks",
    "image_layout_crash": "watchtrain.tensorboard_checks",
    "NewRuns": "watchtrain.grading.wandb_fixtures",
    "WandbWatchedNet": "watchtrain.grading.wandb_fixtures",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'watchtrain.grading' has no attribute {name!r}")


__all__ = ["FLOAT32_TOL", "Described", "GradingFailure", "KnownCrash", "LearnerCrash", "NewRuns", "NotStarted", "Printed",
           "RecordingLoss", "StepMistake", "WandbWatchedNet", "WatchedNet", "call_explaining", "call_once", "exercise",
           "expect", "expect_close", "expect_equal", "expect_list", "expect_tuple", "expect_writers_closed", "fail",
           "figures_left_open", "image_layout_crash", "printed_by_last_call", "read_artifact", "read_run", "run_once",
           "step_mistake", "type_name"]
