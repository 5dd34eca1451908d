"""A points report as Gradescope's `results.json` (gradescope-autograders.readthedocs.io, "specs").

One Gradescope test per graded check: its name says lesson, exercise and check, its output is the
feedback the learner would see locally. Skipped checks (GPU re-runs without a GPU) are left out.
Hidden tests carry their feedback, never their code, under the visibility the instructor chose, and
their points are labelled as hidden: the public points of each lesson are the course map's.
"""
from __future__ import annotations

from watchtrain.grading.results import PASSED, SKIPPED

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEFAULT_HIDDEN_VISIBILITY = "after_due_date"


def gradescope_results(report: dict, *, hidden_visibility: str = DEFAULT_HIDDEN_VISIBILITY,
                       output: str = "") -> dict:
    """`report` is a points report (GradeReport.as_dict(), or the batch grader's per-submission report)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    tests = []
    for lesson in report.get("lessons", []):
        number = lesson["dir"].split("_", 1)[0]
        graded = [t for t in lesson["tests"] if t["status"] != SKIPPED]
        for index, test in enumerate(graded, start=1):
            tests.append({
                "name": f"{number} {test['exercise']}: {test['name']}" + (" (hidden test)" if test.get("hidden") else ""),
                "number": f"{int(number)}.{index}" if number.isdigit() else f"{number}.{index}",
                "score": test["points"],
                "max_score": test["max_points"],
                "status": "passed" if test["status"] == PASSED else "failed",
                "output": _test_output(test),
                "tags": [lesson["dir"], test["exercise"]],
                "visibility": hidden_visibility if test.get("hidden") else "visible",
            })
    summary = _summary(report.get("lessons", []))
    return {
        "score": report.get("score", 0),
        "output": "\n\n".join(part for part in (output, summary) if part),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _test_output(test: dict) -> str:
    if test["status"] == PASSED:
        return "passed"
    label = str(test["status"]).upper()
    return f"{label}: {test['feedback']}" if test["feedback"] else label


def _summary(lessons: list[dict]) -> str:
    """One line per lesson, its public points apart from its hidden ones; then the total, when hidden
    tests count, so that "12/12" is never read against a course map that gives the lesson 10."""
    lines, totals = [], {False: [], True: []}
    for lesson in lessons:
        parts = {hidden: [t for t in lesson["tests"] if t["status"] != SKIPPED and bool(t.get("hidden")) == hidden]
                 for hidden in (False, True)}
        line = f"{lesson['dir']}: {_points(parts[False])} ({lesson['status']})"
        lines.append(line + (f"; hidden tests: {_points(parts[True])} more" if parts[True] else ""))
        for hidden, tests in parts.items():
            totals[hidden] += tests
    if totals[True]:
        lines.append(f"total: {_points(totals[False])} public + {_points(totals[True])} hidden "
                     f"= {_points(totals[False] + totals[True])}")
    return "\n".join(lines)


def _points(tests: list[dict]) -> str:
    earned, possible = (round(sum(t[key] for t in tests), 6) for key in ("points", "max_points"))
    return f"{earned:g}/{possible:g}"
