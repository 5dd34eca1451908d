"""The instructor's hidden tests: never handed out, collected only with `--hidden`.

A package, so that `hidden/test_<lesson dir>.py` and `autograder/test_<lesson dir>.py` may share a
name. Each test carries `@exercise(...)` like the public ones; together the hidden tests of an
exercise share its `hidden_points` from course.toml.
"""
