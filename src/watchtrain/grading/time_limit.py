"""A per-test time limit that ends the test, not the run: SIGALRM raises in the main thread.

The batch grader also watches each test from outside and kills the run when a test ignores this
limit (code stuck inside one C call, or catching every exception); this is the polite first step,
after which the remaining tests still run in the same process.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitExceeded(BaseException):
    """A test ran past --test-timeout. A BaseException, so that `except Exception:` in the
    learner's code (and the learner guard) lets it through to the plugin."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.advice = ""  # what the evidence says the code did, where it singles out a cause (submission.py)
        self.in_learner_call = False  # the time ran out while the learner's code ran, not the checker's own
        super().__init__(f"ran past the time limit of {seconds:g} s per test")


def can_limit_time() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded in this (main) thread once `seconds` have passed; no-op when off."""
    if not seconds or seconds <= 0 or not can_limit_time():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
