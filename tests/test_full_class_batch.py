"""The whole course as one class: the reference solutions, the untouched stubs and the bad
submissions, graded as one batch with every lesson, each with the status it must get. Each mutant
(tests/mutants/) is shown to fail the checks it names, with their feedback, in test_mutants.py,
through the same sandboxed runs.

Slow (a minute or two on 2 cores): every submission is graded against the full autograder. The two
bad submissions that only test time limits are left to test_batch_grading.py, which runs them with
tight limits; here the limits are the defaults an instructor would use.
"""
import csv
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from watchtrain.course import load_course
from mutant_specs import Mutant

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
BAD = COURSE_ROOT / "tests" / "bad_submissions"
BAD_NAMES = sorted(path.parent.name for path in BAD.glob("*/mutant.toml")
                   if path.parent.name not in ("infinite_loop", "ignores_time_limit"))

pytestmark = pytest.mark.slow


def bad_spec(name: str) -> dict:
    return tomllib.loads((BAD / name / "mutant.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    shutil.copytree(COURSE_ROOT / "solutions", submissions / "reference", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(COURSE_ROOT / "lessons", submissions / "stubs", ignore=shutil.ignore_patterns("__pycache__"))
    for name in BAD_NAMES:
        spec = bad_spec(name)
        Mutant(spec["lesson"], name, BAD / name, spec["description"], ()).materialise(
            COURSE_ROOT / "solutions", submissions / f"bad-{name}")
    completed = subprocess.run([sys.executable, "-m", "watchtrain.cli", "grade", str(submissions), "--out",
                                str(root / "results"), "--jobs", "2"], cwd=COURSE_ROOT, capture_output=True,
                               text=True, timeout=3600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with (root / "results" / "grades.csv").open() as file:
        rows = {row["submission"]: row for row in csv.DictReader(file)}
    assert len(rows) == 2 + len(BAD_NAMES)
    return root / "results", rows


def report(results: Path, name: str) -> dict:
    return json.loads((results / "submissions" / name / "report.json").read_text())


def test_reference_scores_full_points_and_stubs_zero(graded):
    results, rows = graded
    assert (rows["reference"]["status"], float(rows["reference"]["score"])) == ("graded", COURSE.points)
    assert (rows["stubs"]["status"], float(rows["stubs"]["score"])) == ("graded", 0)
    statuses = {t["status"] for lesson in report(results, "stubs")["lessons"] for t in lesson["tests"]}
    assert "not started" in statuses and statuses <= {"not started", "skipped"}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_every_bad_submission_gets_its_status_in_the_batch(graded, name):
    results, rows = graded
    spec = bad_spec(name)
    assert rows[f"bad-{name}"]["status"] == spec["status"]
    assert float(rows[f"bad-{name}"]["score"]) == spec["score"]
