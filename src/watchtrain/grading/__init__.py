"""The autograder's machinery: checks with teaching feedback, submission loading, points and reports.

Autograder tests import what they need from here:

    from watchtrain.grading import exercise, expect, expect_equal, expect_close, fail
"""
from watchtrain.grading.checks import GradingFailure, expect, expect_close, expect_equal, fail
from watchtrain.grading.markers import exercise

__all__ = ["GradingFailure", "exercise", "expect", "expect_close", "expect_equal", "fail"]
