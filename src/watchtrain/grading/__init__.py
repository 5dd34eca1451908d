"""The autograder's machinery: checks with teaching feedback, submission loading, points and reports.

Autograder tests import what they need from here:

    from watchtrain.grading import exercise, expect, expect_equal, expect_close, fail
    from watchtrain.grading import Described, run_once

- `lesson.<function>(...)` (the `lesson` fixture) runs the learner's function in the learner
  worker and returns plain data; objects that cannot cross arrive as `Described`.
- `run_once(key, make)` shares one expensive call (a training run) between several checks.
"""
from watchtrain.grading.checks import GradingFailure, expect, expect_close, expect_equal, fail
from watchtrain.grading.crossing import Described
from watchtrain.grading.markers import exercise
from watchtrain.grading.shared_runs import run_once

__all__ = ["Described", "GradingFailure", "exercise", "expect", "expect_close", "expect_equal", "fail", "run_once"]
