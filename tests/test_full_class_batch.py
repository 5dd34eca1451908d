"""The whole course as one class: the reference solutions and the untouched stubs, graded as one
batch against the full autograder with the limits an instructor would use. Each mutant
(tests/mutants/) is shown to fail the checks it names, with their feedback, in test_mutants.py,
and each bad submission (tests/bad_submissions/) to get its status, its score and its feedback
next to controls in test_batch_grading.py, both through the same sandboxed runs.
"""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from watchtrain.course import load_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    shutil.copytree(COURSE_ROOT / "solutions", submissions / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(COURSE_ROOT / "lessons", submissions / "stubs", ignore=shutil.ignore_patterns("__pycache__"))
    completed = subprocess.run([sys.executable, "-m", "watchtrain.cli", "grade", str(submissions), "--out",
                                str(root / "results"), "--jobs", "2"], cwd=COURSE_ROOT, capture_output=True,
                               text=True, timeout=3600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with (root / "results" / "grades.csv").open() as file:
        rows = {row["submission"]: row for row in csv.DictReader(file)}
    assert len(rows) == 2
    return root / "results", rows


def report(results: Path, name: str) -> dict:
    return json.loads((results / "submissions" / name / "report.json").read_text())


def test_reference_scores_full_points_and_stubs_zero(graded):
    results, rows = graded
    assert (rows["reference"]["status"], float(rows["reference"]["score"])) == ("graded", COURSE.points)
    assert (rows["stubs"]["status"], float(rows["stubs"]["score"])) == ("graded", 0)
    statuses = {t["status"] for lesson in report(results, "stubs")["lessons"] for t in lesson["tests"]}
    assert "not started" in statuses and statuses <= {"not started", "skipped"}
