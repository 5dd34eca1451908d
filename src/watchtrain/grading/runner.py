"""Run the autograder in a child process and read back its JSON points report."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from watchtrain.grading.options import HIDDEN_DIR

# The pytest plugins a grading run does without: the cache (it would write into the course), and
# the unraisable-exception report, whose closing gc.collect() over torch's heap costs ~0.3 s a run.
GRADING_PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:unraisableexception")


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
                   lessons: list[str] | None = None, hidden: bool = False, extra_args: list[str] | None = None,
                   timeout: float | None = None) -> AutograderRun:
    """`pytest autograder` for the given lessons (dirs; all when None) on one submission; with
    `hidden`, the instructor's hidden tests too (all of autograder/ is collected then)."""
    targets = [str(path) for path in autograder_targets(course_root / "autograder", lessons, hidden=hidden)]
    with tempfile.TemporaryDirectory(prefix="watchtrain-report-") as scratch:
        report_path = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pytest", *targets, "-q", *GRADING_PYTEST_OPTIONS,
                   "--report-json", str(report_path), *(extra_args or [])]
        if hidden:
            command.append("--hidden")
        if solutions:
            command.append("--solutions")
        elif submission is not None:
            command += ["--submission", str(submission)]
        completed = subprocess.run(command, cwd=course_root, capture_output=True, text=True, timeout=timeout)
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    return AutograderRun(completed.returncode, report, completed.stdout + completed.stderr)
