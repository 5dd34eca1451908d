"""Checks forked from a warm process, for `watchtrain watch`: a save gets its verdict without
importing torch, torchvision, pytest and the grader again.

    with WarmChecks(course) as checks:      # starts the warm process in the background
        run = checks.run([lesson.dir])      # an AutograderRun, as run_autograder returns

The warm process is the batch grader's zygote (classroom/isolation/zygote.py): it imports the
libraries, and here the grader too, once; each check is a fresh fork of it that runs `pytest` on
the lesson's tests, exactly as `pytest autograder/test_NN_*.py` would, so no state leaks from one
check to the next. Until the warm process is ready, or if it cannot start, a check runs in a fresh
interpreter instead: slower, never different.
"""
from __future__ import annotations

import os
import resource
import tempfile
import threading
from pathlib import Path

from watchtrain.classroom.isolation.forking import PRELOAD, Zygote, ZygoteUnavailable
from watchtrain.course import Course
from watchtrain.grading.runner import GRADING_ENVIRONMENT, AutograderRun, pytest_arguments, read_report, run_autograder

# The learner's own grader, imported once: the checker side of every check.
GRADER_PRELOAD = ("watchtrain.grading.plugin", "watchtrain.artifacts.tensorboard", "watchtrain.tensorboard_checks",
                  "watchtrain.worker.host", "watchtrain.worker.call", "watchtrain.worker.describe")
UNLIMITED = resource.RLIM_INFINITY  # the learner's own machine: no batch limits on memory or files


class WarmChecks:
    def __init__(self, course: Course):
        self.course = course
        self._zygote: Zygote | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="watchtrain-watch-")
        self._starting = threading.Thread(target=self._start, name="warm-checks", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        try:
            self._zygote = Zygote.start(dict(os.environ), Path(self._scratch.name), PRELOAD + GRADER_PRELOAD)
        except ZygoteUnavailable:
            self._zygote = None

    @property
    def warm(self) -> bool:
        return self._zygote is not None

    def wait_until_warm(self, timeout: float | None = None) -> bool:
        self._starting.join(timeout)
        return self.warm

    def run(self, lessons: list[str]) -> AutograderRun:
        """Grade `lessons` of lessons/ in a fork of the warm process (a fresh interpreter until it is ready)."""
        zygote = self._zygote
        if zygote is None:
            return run_autograder(self.course.root, lessons=lessons)
        with tempfile.TemporaryDirectory(prefix="check-", dir=self._scratch.name) as scratch:
            report, output = Path(scratch) / "report.json", Path(scratch) / "output.txt"
            try:
                process = zygote.spawn(pytest_arguments(self.course.root, report, lessons=lessons),
                                       env=os.environ | GRADING_ENVIRONMENT, cwd=self.course.root, output=output, python_path=[],
                                       data_bytes=UNLIMITED, file_bytes=UNLIMITED)
            except ZygoteUnavailable:
                self._zygote = None
                return run_autograder(self.course.root, lessons=lessons)
            returncode = process.wait()
            text = output.read_text(encoding="utf-8", errors="replace") if output.is_file() else ""
            return AutograderRun(returncode, read_report(report), text)

    def close(self) -> None:
        self._starting.join()
        if self._zygote is not None:
            self._zygote.close()
        self._scratch.cleanup()

    def __enter__(self) -> "WarmChecks":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
