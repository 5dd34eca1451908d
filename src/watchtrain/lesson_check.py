"""One lesson's check: run its autograder tests, sum them up per exercise, and say what to do next.

`watchtrain check` and `watchtrain watch` print it; the notebooks' check cell prints it too. The
grading itself is the autograder's (a child `pytest` process with the watchtrain plugin), so a
check here scores exactly what `pytest autograder/test_NN_*.py` scores.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watchtrain.course import Course, Lesson
from watchtrain.grading.results import ERROR, FAILED, GRADER_ERROR, NOT_STARTED, PASSED, SKIPPED
from watchtrain.grading.runner import AutograderRun, run_autograder
from watchtrain.progress import DONE, IN_PROGRESS, Progress

_OUTPUT_SHOWN = 3000


class CheckError(Exception):
    """The autograder could not grade the lesson at all (missing tests, broken set-up)."""


@dataclass(frozen=True)
class ExerciseResult:
    function: str
    earned: float
    possible: float
    status: str  # passed | failed | error | not started
    problem: str  # the first failing test's feedback: what, expected, found, hint ("" when passed)
    also: tuple[str, ...] = ()  # the other failing checks, one line each: the first line of their feedback


@dataclass(frozen=True)
class LessonCheck:
    lesson: Lesson
    exercises: tuple[ExerciseResult, ...]

    @property
    def earned(self) -> float:
        return round(sum(e.earned for e in self.exercises), 6)

    @property
    def possible(self) -> float:
        return round(sum(e.possible for e in self.exercises), 6)

    @property
    def status(self) -> str:
        statuses = {e.status for e in self.exercises}
        if statuses == {PASSED}:
            return DONE
        return NOT_STARTED if statuses <= {NOT_STARTED} else IN_PROGRESS

    @property
    def done(self) -> bool:
        return self.status == DONE

    def record(self, progress: Progress, checked_file: Path | None) -> None:
        progress.record_check(self.lesson, status=self.status, earned=self.earned, possible=self.possible,
                              exercises={e.function: e.status for e in self.exercises}, checked_file=checked_file)


def check_lesson(course: Course, lesson: Lesson, *, submission: Path | None = None, solutions: bool = False,
                 runner: Callable[[list[str]], AutograderRun] | None = None) -> LessonCheck:
    """Grade one lesson of the learner's own `submission` (a folder shaped like lessons/, such as the
    one a notebook's check writes its cells to; default lessons/). `runner` grades lessons/ in
    another way than a fresh interpreter (`watch`'s WarmChecks.run)."""
    tests = course.files(lesson).tests
    if not tests.is_file():
        raise CheckError(f"lesson {lesson.number} has no autograder tests yet ({tests} is missing)")
    if runner is not None and submission is None and not solutions:
        run = runner([lesson.dir])
    else:
        run = run_autograder(course.root, submission=submission, solutions=solutions, lessons=[lesson.dir],
                             own_work=True)
    graded = [lesson_report for lesson_report in run.report.get("lessons", []) if lesson_report["dir"] == lesson.dir]
    if not graded:
        raise CheckError(f"the autograder could not grade lesson {lesson.number} (pytest exit code "
                         f"{run.returncode}). Its output:\n{run.output[-_OUTPUT_SHOWN:]}")
    return LessonCheck(lesson, tuple(_exercise_result(exercise, graded[0]["tests"]) for exercise in lesson.exercises))


def _exercise_result(exercise, tests: list[dict]) -> ExerciseResult:
    counted = [t for t in tests if t["exercise"] == exercise.function and t["status"] != SKIPPED]
    statuses = {t["status"] for t in counted}
    if not counted or statuses == {NOT_STARTED}:
        status = NOT_STARTED
    elif statuses == {PASSED}:
        status = PASSED
    else:
        status = ERROR if statuses & {ERROR, GRADER_ERROR} else FAILED
    failing = [t["feedback"] for t in counted if t["status"] in (FAILED, ERROR, GRADER_ERROR)]
    also = tuple(dict.fromkeys(feedback.splitlines()[0] for feedback in failing[1:] if feedback.strip()))
    return ExerciseResult(exercise.function, round(sum(t["points"] for t in counted), 6),
                          exercise.points, status, failing[0] if failing else "", also)


def points(value: float) -> str:
    return f"{value:g}"


def render_check(check: LessonCheck, exercise_file: str, *, again: str,
                 paint: Callable[[str, str], str] = lambda text, status: text) -> str:
    """The learner-facing summary: one line per exercise, each problem in full, and the next step.

    `again` says how to check again, e.g. "run `watchtrain check 01`" or "save it". `paint(text,
    status)` colours a status (see watchtrain.cli.style); plain text by default.
    """
    lesson = check.lesson
    width = max(len(e.function) for e in check.exercises)
    lines = [f"Lesson {lesson.number}: {lesson.title}", ""]
    for result in check.exercises:
        score = f"{points(result.earned)}/{points(result.possible)}"
        lines.append(f"  {paint(_MARKS[result.status], result.status)} {result.function:<{width}}  {score:>7}  "
                     f"{paint(result.status, result.status)}")
    lines += ["", f"  {points(check.earned)}/{points(check.possible)} points, {paint(check.status, check.status)}"]
    problems = [r for r in check.exercises if r.problem]
    for result in problems:
        lines += ["", f"{result.function}: {paint(result.status, result.status)}", _indent(result.problem)]
        if result.also:
            lines += ["", f"    Also failing ({len(result.also)} more):", *(f"    - {line}" for line in result.also)]
    lines.append("")
    if check.done:
        lines.append(paint(f"Lesson {lesson.number} is done: every exercise passes.", DONE))
    elif problems:
        lines.append(f"Next: fix {problems[0].function} in {exercise_file}, then {again} to check again. "
                     f"Stuck? `watchtrain hint {lesson.number} {problems[0].function}`.")
    else:
        todo = next(r.function for r in check.exercises if r.status != PASSED)
        lines.append(f"Next: write {todo} in {exercise_file} (its docstring says exactly what to do), "
                     f"then {again} to check it.")
    return "\n".join(lines)


_MARKS = {PASSED: "[x]", FAILED: "[!]", ERROR: "[!]", NOT_STARTED: "[ ]"}


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())
