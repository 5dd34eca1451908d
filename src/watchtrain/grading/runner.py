"""Run the autograder in a child process and read back its JSON points report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from watchtrain.grading.options import HIDDEN_DIR

# The pytest plugins a grading run does without: the cache (it would write into the course), and
# the unraisable-exception report, whose closing gc.collect() over torch's heap costs ~0.3 s a run.
GRADING_PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:unraisableexception")
# Nor the plugins other packages install (anyio's, say): importing them cost a check about 1 s.
GRADING_ENVIRONMENT = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


@dataclass(frozen=True)
class AutograderRun:
    returncode: int
    report: dict
    output: str

    def tests_named(self, name: str) -> list[dict]:
        """The results of test function `name`, every parametrization of it."""
        return [t for lesson in self.report.get("lessons", []) for t in lesson["tests"]
                if t["name"] == name or t["name"].startswith(name + "[")]


def autograder_targets(autograder: Path, lessons: list[str] | None, *, hidden: bool = False) -> list[Path]:
    """What pytest is given: the whole autograder/ folder, or the chosen lessons' test files (plus
    their hidden test files, with `hidden`)."""
    if not lessons:
        return [autograder]
    targets = [autograder / f"test_{lesson}.py" for lesson in lessons]
    if hidden:
        targets += [path for lesson in lessons if (path := autograder / HIDDEN_DIR / f"test_{lesson}.py").is_file()]
    return targets


def run_autograder(course_root: Path, *, submission: Path | None = None, solutions: bool = False,
                   lessons: list[str] | None = None, hidden: bool = False, own_work: bool = False,
                   extra_args: list[str] | None = None, timeout: float | None = None) -> AutograderRun:
    """`pytest autograder` for the given lessons (dirs; all when None) on one submission; with
    `hidden`, the instructor's hidden tests too (all of autograder/ is collected then). `own_work`:
    the submission is the work of whoever runs this (see --own-work)."""
    with tempfile.TemporaryDirectory(prefix="watchtrain-report-") as scratch:
        report_path = Path(scratch) / "report.json"
        arguments = pytest_arguments(course_root, report_path, submission=submission, solutions=solutions,
                                     lessons=lessons, hidden=hidden, own_work=own_work, extra_args=extra_args)
        completed = subprocess.run([sys.executable, "-m", "pytest", *arguments], cwd=course_root,
                                   env=os.environ | GRADING_ENVIRONMENT, capture_output=True, text=True, timeout=timeout)
        return AutograderRun(completed.returncode, read_report(report_path), completed.stdout + completed.stderr)


def pytest_arguments(course_root: Path, report_path: Path, *, submission: Path | None = None, solutions: bool = False,
                     lessons: list[str] | None = None, hidden: bool = False, own_work: bool = False,
                     extra_args: list[str] | None = None) -> list[str]:
    """pytest's arguments for a grading run that writes its JSON points report to `report_path`."""
    targets = [str(path) for path in autograder_targets(course_root / "autograder", lessons, hidden=hidden)]
    arguments = [*targets, "-q", *GRADING_PYTEST_OPTIONS, "--report-json", str(report_path), *(extra_args or [])]
    if hidden:
        arguments.append("--hidden")
    if solutions:
        arguments.append("--solutions")
    elif submission is not None:
        arguments += ["--submission", str(submission)]
        if own_work:
            arguments.append("--own-work")
    return arguments


def read_report(report_path: Path) -> dict:
    return json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
