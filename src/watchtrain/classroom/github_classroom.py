"""A points report in the form GitHub Classroom's autograding reporter reads.

`classroom-resources/autograding-grading-reporter` takes each runner's result from an environment
variable `<RUNNER ID>_RESULTS`: base64 of JSON `{"version", "status", "max_score", "tests": [{"name",
"status", "score", "message"}]}`. It adds up the tests' scores and reports `Points X/Y` to GitHub
Classroom, so every check keeps its own points: partial credit survives.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

from watchtrain.grading.results import ERROR, GRADER_ERROR, PASSED, SKIPPED


def runner_result(report: dict) -> dict:
    tests = [{"name": f"{lesson['dir']} {test['exercise']}: {test['name']}",
              "status": "pass" if test["status"] == PASSED else "error" if test["status"] in (ERROR, GRADER_ERROR) else "fail",
              "score": test["points"], "max_score": test["max_points"], "message": test["feedback"] or "passed",
              "line_no": 0, "test_code": ""}
             for lesson in report.get("lessons", []) for test in lesson["tests"] if test["status"] != SKIPPED]
    return {"version": 1, "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail",
            "max_score": report.get("max_score", 0), "tests": tests}


def step_summary(report: dict) -> str:
    """Markdown for the workflow run's summary page: points per lesson, then what to fix."""
    lines = [f"## Watch It Train: {report['score']:g}/{report['max_score']:g} points", "",
             "| lesson | points | status |", "|---|---|---|"]
    lines += [f"| {lesson['dir']} | {lesson['earned']:g}/{lesson['possible']:g} | {lesson['status']} |"
              for lesson in report.get("lessons", [])]
    problems = [(lesson["dir"], test) for lesson in report.get("lessons", []) for test in lesson["tests"]
                if test["status"] not in (PASSED, SKIPPED)]
    if problems:
        lines += ["", "### To fix", ""]
        lines += [f"- **{lesson} {test['exercise']}** ({test['name']}): {test['status']}\n\n"
                  f"  ```\n  {test['feedback'].replace(chr(10), chr(10) + '  ')}\n  ```" for lesson, test in problems]
    return "\n".join(lines) + "\n"


def write_github_outputs(report: dict, output_file: Path | None, summary_file: Path | None) -> None:
    """Append `result=<base64 JSON>` to $GITHUB_OUTPUT and the Markdown summary to $GITHUB_STEP_SUMMARY."""
    if output_file is not None:
        encoded = base64.b64encode(json.dumps(runner_result(report)).encode()).decode()
        with output_file.open("a", encoding="utf-8") as file:
            file.write(f"result={encoded}\n")
    if summary_file is not None:
        with summary_file.open("a", encoding="utf-8") as file:
            file.write(step_summary(report))
