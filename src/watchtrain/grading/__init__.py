"""The autograder's machinery: checks with teaching feedback, submission loading, points and reports.

Autograder tests import what they need from here:

    from watchtrain.grading import exercise, expect, expect_equal, expect_close, fail
    from watchtrain.grading import Described, run_once

- `lesson.<function>(...)` (the `lesson` fixture) runs the learner's function in the learner
  worker and returns plain data; objects that cannot cross arrive as `Described`.
- `run_once(key, make)` shares one expensive call (a training run) between several checks.
"""
from watchtrain.grading.checks import GradingFailure, expect, expect_close, expect_equal, fail
from watchtrain.grading.markers import exercise
from watchtrain.grading.shared_runs import run_once


def __getattr__(name: str):
    """`Described` on first use: it needs torch, which the CLI's start-up must not import."""
    if name == "Described":
        from watchtrain.grading.crossing import Described

        return Described
    raise AttributeError(f"module 'watchtrain.grading' has no attribute {name!r}")

__all__ = ["Described", "GradingFailure", "exercise", "expect", "expect_close", "expect_equal", "fail", "run_once"]
