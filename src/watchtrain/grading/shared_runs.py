"""One expensive call shared by several checks: a training run, an export.

    run = run_once((lesson.train_and_log.key, device), lambda: _train(lesson, tmp_path, device))

`make()` runs once per key for the whole grading session; what it raised (a crash, a failed
check) is kept too and raised again for every check that reads it, so each check of a broken run
reports the same cause without paying for the run again.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

_OUTCOMES: dict[Hashable, Any] = {}


def run_once(key: Hashable, make: Callable[[], Any]) -> Any:
    if key not in _OUTCOMES:
        try:
            _OUTCOMES[key] = make()
        except Exception as error:  # a crash or a failure is the same for every check of this run
            _OUTCOMES[key] = error
    outcome = _OUTCOMES[key]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
