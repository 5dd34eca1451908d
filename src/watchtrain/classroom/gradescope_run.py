"""`watchtrain gradescope run`: what the bundle's run_autograder calls on Gradescope.

Grades /autograder/submission (a folder shaped like lessons/, a clone of the course, or a single
uploaded zip) with the batch grader's sandbox, and writes /autograder/results/results.json.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from watchtrain.classroom.batch import grade_batch, read_report
from watchtrain.classroom.submissions import SubmissionEntry
from watchtrain.classroom.supervisor import GRADED, GradingOptions
from watchtrain.course import load_course
from watchtrain.grading.gradescope import gradescope_results


def grade_on_gradescope(root: Path, options: GradingOptions, *, hidden_visibility: str) -> dict:
    """Grade root/submission against the course in root/source; write and return results.json."""
    course = load_course(root / "source")
    entry = _submission(root / "submission")
    with tempfile.TemporaryDirectory(prefix="watchtrain-gradescope-") as scratch:
        [row] = grade_batch(course, [entry], Path(scratch), options, jobs=1, regrade=True)
        report = read_report(Path(scratch), row)
    info = report["submission"]
    headline = f"Watch It Train: {report['score']:g}/{report['max_score']:g} points."
    if info["status"] != GRADED:
        headline += f" Grading status: {info['status']}."
    results = gradescope_results(report, hidden_visibility=hidden_visibility,
                                 output="\n".join([headline, *info["notes"]]))
    path = root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return results


def _submission(folder: Path) -> SubmissionEntry:
    """The folder, or the one zip in it when a student uploaded just a zip."""
    entries = [path for path in folder.iterdir() if not path.name.startswith(".")] if folder.is_dir() else []
    if len(entries) == 1 and entries[0].suffix.lower() == ".zip":
        return SubmissionEntry("submission", entries[0])
    return SubmissionEntry("submission", folder)
