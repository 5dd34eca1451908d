"""Crashes with a known cause: the learner's exception, turned into advice that names the fix."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from watchtrain.grading.checks import fail
from watchtrain.grading.submission import LearnerCrash


def call_with_advice(function: Callable, *args: Any, crashes: Mapping[str, str], **kwargs: Any) -> Any:
    """Call the learner's function; a crash whose message contains a key of `crashes` fails with
    that key's advice (e.g. TensorBoard refusing an array's layout). Other crashes pass unchanged."""
    try:
        return function(*args, **kwargs)
    except LearnerCrash as crash:
        message = str(crash)
        for clue, advice in crashes.items():
            if clue in message:
                fail(f"Your code crashed: {message.splitlines()[0][:300]}", advice=advice)
        raise
