"""Checks forked from a warm process, for `watchtrain watch`: a save gets its verdict without
importing torch, torchvision, pytest and the grader again.

    with WarmChecks(course, [lesson.dir]) as checks:  # starts the warm process in the background
        run = checks.run([lesson.dir])                # an AutograderRun, as run_autograder returns

The warm process is the batch grader's zygote (classroom/isolation/zygote.py): it imports the
libraries, and here the grader too, once; each check is a fresh fork of it that runs `pytest` on
the lesson's tests, exactly as `pytest autograder/test_NN_*.py` would, so no state leaks from one
check to the next. Until the warm process is ready, or if it cannot start, a check runs in a fresh
interpreter instead: slower, never different.

It imports the libraries of the lessons it starts for, not all of them: W&B, matplotlib and the
ONNX exporter cost a lesson that uses none of them seconds before its first warm check. When a
check needs more (the learner moved on to lesson 06), its fork imports what is missing, and a
warm process with those libraries as well starts in the background and takes over once ready.

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

from watchtrain.classroom.isolation.forking import Zygote, ZygoteUnavailable, preload_for
from watchtrain.course import Course
from watchtrain.grading.runner import GRADING_ENVIRONMENT, AutograderRun, pytest_arguments, read_report, run_autograder
from watchtrain.library_imports import lesson_libraries

# The learner's own grader, imported once: the checker side of every check.
GRADER_PRELOAD = ("watchtrain.grading.plugin", "watchtrain.artifacts.tensorboard", "watchtrain.tensorboard_checks",
                  "watchtrain.worker.host", "watchtrain.worker.call", "watchtrain.worker.describe")
UNLIMITED = resource.RLIM_INFINITY  # the learner's own machine: no batch limits on memory or files


class WarmChecks:
    def __init__(self, course: Course, lessons: list[str]):
        self.course = course
        self.libraries: frozenset[str] = frozenset()  # what the warm process in use has imported
        self._zygote: Zygote | None = None
        self._ready: _ReadyCheck | None = None  # the next check, collected and waiting for a save
        self._scratch = tempfile.TemporaryDirectory(prefix="watchtrain-watch-")
        self._bigger: tuple[Zygote, frozenset[str]] | None = None  # a warm process for more libraries, once it has started
        self._growing: threading.Thread | None = None
        self._libraries_by_lessons: dict[tuple[str, ...], frozenset[str]] = {}
        self._starting = threading.Thread(target=self._start, args=(self._libraries_of(lessons),),
                                          name="warm-checks", daemon=True)
        self._starting.start()

    def _start(self, libraries: frozenset[str]) -> None:
        zygote = self._started(libraries)
        self.libraries = libraries  # first: a check that sees the process sees what it imported
        self._zygote = zygote

    def _started(self, libraries: frozenset[str]) -> Zygote | None:
        try:
            return Zygote.start(dict(os.environ), Path(self._scratch.name),
                                preload_for(libraries) + GRADER_PRELOAD)
        except ZygoteUnavailable:
            return None

    def _libraries_of(self, lessons: list[str]) -> frozenset[str]:
        """What the lessons' files import: read once (tens of milliseconds), not at every save."""
        key = tuple(lessons)
        if key not in self._libraries_by_lessons:
            self._libraries_by_lessons[key] = frozenset(lesson_libraries(self.course, lessons))
        return self._libraries_by_lessons[key]

    @property
    def warm(self) -> bool:
        return self._zygote is not None

    def wait_until_warm(self, timeout: float | None = None) -> bool:
        self._starting.join(timeout)
        return self.warm

    def run(self, lessons: list[str]) -> AutograderRun:
        """Grade `lessons` of lessons/ in a fork of the warm process (a fresh interpreter until it is ready)."""
        self._take_over_when_bigger_is_ready()
        zygote = self._zygote
        if zygote is None:
            return run_autograder(self.course.root, lessons=lessons)
        needed = self._libraries_of(lessons)
        if not needed <= self.libraries and self._growing is None:
            self._grow(needed | self.libraries)
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

    def _grow(self, libraries: frozenset[str]) -> None:
        """Start a warm process that imports `libraries` too, in the background."""
        def start() -> None:
            zygote = self._started(libraries)
            if zygote is not None:  # otherwise the forks go on importing what they miss
                self._bigger = (zygote, libraries)

        self._growing = threading.Thread(target=start, name="warm-checks-grow", daemon=True)
        self._growing.start()

    def _take_over_when_bigger_is_ready(self) -> None:
        """Between checks: use the bigger warm process once it has started, and stop the old one."""
        if self._growing is None or self._growing.is_alive():
            return
        finished, self._growing, self._bigger = self._bigger, None, None
        if finished is None:
            return  # it could not start
        bigger, libraries = finished
        if self._ready is not None:
            self._ready.cancel()
            self._ready = None
        old, self._zygote, self.libraries = self._zygote, bigger, libraries
        if old is not None:
            old.close()

    def close(self) -> None:
        """Stop the warm processes, once started: a process still importing would linger until it is."""
        self._starting.join()
        if self._growing is not None:
            self._growing.join()
        if self._ready is not None:
            self._ready.cancel()
        bigger = self._bigger[0] if self._bigger is not None else None
        for zygote in (self._zygote, bigger):
            if zygote is not None:
                zygote.close()
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
