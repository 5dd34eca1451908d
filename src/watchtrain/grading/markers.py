"""The `exercise` marker ties an autograder test to one exercise function of the manifest."""
import pytest


def exercise(function: str):
    """Mark a test as checking `function` of its lesson; its points come from course.toml."""
    return pytest.mark.exercise(function)
