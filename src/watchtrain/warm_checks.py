"""Checks forked from a warm process, for `watchtrain watch`: a save gets its verdict without
importing torch, torchvision, pytest and the grader again.

    with WarmChecks(course) as checks:      # starts the warm process in the background
        run = checks.run([lesson.dir])      # an AutograderRun, as run_autograder returns

The warm process is the batch grader's zygote (classroom/isolation/zygote.py): it imports the
libraries, and here the grader too, once; each check is a fresh fork of it that runs `pytest` on
the lesson's tests, exactly as `pytest autograder/test_NN_*.py` would, so no state leaks from one
check to the next. Until the warm process is ready, or if it cannot start, a check runs in a fresh
interpreter instead: slower, never different.

The next check is forked as soon as one ends, for the same lessons: it collects the tests, starts
the learner worker and waits (`--start-when`), so a save pays only for running the tests. The
worker imports exercise.py afresh for every call, so what it runs is what was saved.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
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
        self._ready: _ReadyCheck | None = None  # the next check, collected and waiting for a save
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
        ready, self._ready = self._ready, None
        try:
            if ready is None or ready.lessons != lessons or ready.process.poll() is not None:
                if ready is not None:
                    ready.cancel()
                ready = _ReadyCheck.fork(zygote, self.course, lessons, Path(self._scratch.name))
            run = ready.finish()
            self._ready = _ReadyCheck.fork(zygote, self.course, lessons, Path(self._scratch.name))
            return run
        except ZygoteUnavailable:
            self._zygote = None
            return run_autograder(self.course.root, lessons=lessons)

    def close(self) -> None:
        self._starting.join()
        if self._ready is not None:
            self._ready.cancel()
        if self._zygote is not None:
            self._zygote.close()
        self._scratch.cleanup()

    def __enter__(self) -> "WarmChecks":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _ReadyCheck:
    """A check forked from the warm process that has collected its tests and started its worker,
    and waits for `finish` to run them."""

    def __init__(self, lessons: list[str], process, scratch: Path):
        self.lessons, self.process, self._scratch = lessons, process, scratch

    @classmethod
    def fork(cls, zygote: Zygote, course: Course, lessons: list[str], parent: Path) -> "_ReadyCheck":
        scratch = Path(tempfile.mkdtemp(prefix="check-", dir=parent))
        arguments = pytest_arguments(course.root, scratch / "report.json", lessons=lessons,
                                     extra_args=["--start-when", str(scratch / "go")])
        process = zygote.spawn(arguments, env=os.environ | GRADING_ENVIRONMENT, cwd=course.root,
                               output=scratch / "output.txt", python_path=[], data_bytes=UNLIMITED, file_bytes=UNLIMITED)
        return cls(lessons, process, scratch)

    def finish(self) -> AutograderRun:
        (self._scratch / "go").touch()
        returncode = self.process.wait()
        output = self._scratch / "output.txt"
        text = output.read_text(encoding="utf-8", errors="replace") if output.is_file() else ""
        run = AutograderRun(returncode, read_report(self._scratch / "report.json"), text)
        shutil.rmtree(self._scratch, ignore_errors=True)
        return run

    def cancel(self) -> None:
        try:
            os.kill(self.process.pid, signal.SIGKILL)  # its worker dies with it
        except OSError:
            pass
        shutil.rmtree(self._scratch, ignore_errors=True)
