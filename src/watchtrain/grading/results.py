"""Test outcomes turned into points per exercise and per lesson: the data behind every report."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from watchtrain.course import Course


class Status(StrEnum):
    """Every status a graded test, an exercise or a lesson can have: the one list of them. The
    values are what reports, results logs and progress files hold."""

    PASSED = "passed"
    FAILED = "failed"  # the learner's code broke the contract: the check says how
    ERROR = "error"  # the learner's code crashed, timed out, or its file does not load
    NOT_STARTED = "not started"  # the stub still raises NotImplementedError
    SKIPPED = "skipped"  # not run here (a GPU check without a GPU); carries no points
    GRADER_ERROR = "grader error"  # a bug in the autograder itself, not the learner's
    DONE = "done"  # a lesson (or exercise) whose every check passed
    IN_PROGRESS = "in progress"  # a lesson with some work done, not all of it passing


class SubmissionStatus(StrEnum):
    """What became of one submission in a batch (grades.csv's status column)."""

    GRADED = "graded"
    CRASHED = "crashed"  # the grading process died; what it finished is kept
    TIMEOUT = "timeout"
    GRADER_ERROR = "grader-error"  # the autograder failed, not the submission: look at it
    EMPTY = "empty"
    INVALID = "invalid"  # refused before grading (an unsafe zip, a link)


PASSED, FAILED, ERROR, NOT_STARTED, SKIPPED, GRADER_ERROR = (
    Status.PASSED, Status.FAILED, Status.ERROR, Status.NOT_STARTED, Status.SKIPPED, Status.GRADER_ERROR)


def writable_text(text: str) -> str:
    """`text` as valid Unicode, which every report format can hold. A name made of bytes that are
    not UTF-8 (a file the learner's code named so, a Korean folder name from a zip made on Windows,
    in CP949) reaches Python as lone surrogates, and writing those to junit.xml, a CSV or a terminal
    raises: they are shown as the bytes they stand for, \\xff."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte (decoded from UTF-16, say)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class TestResult:
    nodeid: str
    name: str
    lesson: str
    exercise: str
    max_points: float
    status: str = SKIPPED
    feedback: str = ""
    hidden: bool = False  # an instructor-only test from autograder/hidden/

    @property
    def points(self) -> float:
        return self.max_points if self.status == PASSED else 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {"points": self.points}

    @classmethod
    def from_dict(cls, data: dict) -> "TestResult":
        """The inverse of as_dict (a report's or a results log's entry)."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


@dataclass
class LessonResult:
    dir: str
    title: str
    tests: list[TestResult] = field(default_factory=list)

    @property
    def counted(self) -> list[TestResult]:
        return [t for t in self.tests if t.status != SKIPPED]

    @property
    def earned(self) -> float:
        return round(sum(t.points for t in self.counted), 6)

    @property
    def possible(self) -> float:
        return round(sum(t.max_points for t in self.counted), 6)

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.counted}
        if not statuses or statuses == {NOT_STARTED}:
            return NOT_STARTED
        if statuses == {PASSED}:
            return Status.DONE
        return Status.IN_PROGRESS


@dataclass
class GradeReport:
    lessons: list[LessonResult]

    @property
    def earned(self) -> float:
        return round(sum(lesson.earned for lesson in self.lessons), 6)

    @property
    def possible(self) -> float:
        return round(sum(lesson.possible for lesson in self.lessons), 6)

    def as_dict(self) -> dict:
        return {
            "score": self.earned,
            "max_score": self.possible,
            "lessons": [
                {"dir": lesson.dir, "title": lesson.title, "earned": lesson.earned,
                 "possible": lesson.possible, "status": lesson.status,
                 "tests": [t.as_dict() for t in lesson.tests]}
                for lesson in self.lessons
            ],
        }


def build_report(course: Course, results: list[TestResult]) -> GradeReport:
    """Group results by lesson, in the manifest's order, keeping only lessons that were graded."""
    lessons = []
    for lesson in course.lessons:
        tests = [r for r in results if r.lesson == lesson.dir]
        if tests:
            lessons.append(LessonResult(lesson.dir, lesson.title, tests))
    return GradeReport(lessons)
