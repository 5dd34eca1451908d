"""The points table printed at the end of an autograder run."""
from __future__ import annotations

from pathlib import Path

from watchtrain.grading.results import NOT_STARTED, GradeReport


def _points(value: float) -> str:
    return f"{value:g}"


def write_points_table(terminal, report: GradeReport, submission: Path, missing: set[str] = frozenset()) -> None:
    """`missing`: lessons whose exercise.py the submission lacks (graded as not started, without running)."""
    terminal.section(f"Watch It Train: points for {submission}", sep="=", bold=True)
    width = max(len(lesson.dir) for lesson in report.lessons)
    for lesson in report.lessons:
        score = f"{_points(lesson.earned)}/{_points(lesson.possible)}"
        status = lesson.status
        if lesson.dir in missing:
            status += f" (no {lesson.dir}/exercise.py in the submission)"
        terminal.write_line(f"  {lesson.dir:<{width}}  {score:>9}  {status}")
        not_started = sorted({t.exercise for t in lesson.tests if t.status == NOT_STARTED})
        if not_started and lesson.status != NOT_STARTED:
            terminal.write_line(f"  {'':<{width}}  {'':>9}  not started yet: {', '.join(not_started)}")
    total = f"{_points(report.earned)}/{_points(report.possible)}"
    percent = 100.0 * report.earned / report.possible if report.possible else 0.0
    terminal.write_line(f"  {'total':<{width}}  {total:>9}  {percent:.0f}%", bold=True)
