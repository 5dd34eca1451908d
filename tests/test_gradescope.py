"""`watchtrain gradescope build`: the bundle is unpacked and its run_autograder run locally, in a
folder laid out as Gradescope lays out /autograder, against sample submissions."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from watchtrain.classroom.handout import find_leaks
from watchtrain.course import load_course
from watchtrain.grading.gradescope import gradescope_results

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSON = "01_tensorboard_basics"
SOLUTION = COURSE_ROOT / "solutions" / LESSON / "exercise.py"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    completed = subprocess.run([sys.executable, "-m", "watchtrain.cli", "gradescope", "build", str(out),
                                "--lessons", LESSON, "--test-timeout", "30", "--submission-timeout", "200"],
                               cwd=COURSE_ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return out


def gradescope_layout(bundle: Path, root: Path) -> Path:
    """/autograder as Gradescope makes it: the bundle unpacked in source/, run_autograder copied up."""
    with zipfile.ZipFile(bundle) as zipped:
        zipped.extractall(root / "source")
        for info in zipped.infolist():  # extractall drops the permission bits
            mode = info.external_attr >> 16
            if mode:
                (root / "source" / info.filename).chmod(stat.S_IMODE(mode))
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, python: str = sys.executable) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHTRAIN_")}
    env |= {"AUTOGRADER_ROOT": str(root), "WATCHTRAIN_PYTHON": python}
    completed = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_bundle_has_the_gradescope_scripts_and_no_solutions(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as zipped:
        infos = {info.filename: info for info in zipped.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & 0o111, f"{script} must be executable"
    names = set(infos)
    assert f"autograder/test_{LESSON}.py" in names and f"autograder/hidden/test_{LESSON}.py" in names
    assert "src/watchtrain/grading/plugin.py" in names and "course.toml" in names and "Makefile" in names
    assert not any(name.startswith(("solutions/", "tests/", "lessons/", ".ci/")) for name in names)
    assert not any("fashion-mnist-full" in name or "__pycache__" in name for name in names)
    root = gradescope_layout(bundle, tmp_path)
    assert [leak for leak in find_leaks(root / "source", COURSE) if "solution" in leak] == []


def test_run_autograder_grades_a_repository_submission(bundle, tmp_path):
    root = gradescope_layout(bundle, tmp_path)
    source = SOLUTION.read_text()
    wrong = source.replace("batches_per_epoch = len(epoch_losses[0])", "batches_per_epoch = 5")
    repository = root / "submission" / "lessons" / LESSON  # a GitHub submission: the whole repository
    repository.mkdir(parents=True)
    (repository / "exercise.py").write_text(wrong)
    (root / "submission" / "autograder").mkdir()  # students' edited tests are never used
    (root / "submission" / "autograder" / f"test_{LESSON}.py").write_text("def test_nothing():\n    pass\n")
    results = run_autograder(root)
    lesson = COURSE.lesson(LESSON)
    hidden_total = sum(e.hidden_points for e in lesson.exercises)
    expected = lesson.points + hidden_total - lesson.exercise("log_batch_losses").hidden_points
    assert results["score"] == pytest.approx(expected)
    assert sum(test["max_score"] for test in results["tests"]) == pytest.approx(lesson.points + hidden_total)
    hidden = [test for test in results["tests"] if "(hidden test)" in test["name"]]
    assert hidden and {test["visibility"] for test in hidden} == {"after_due_date"}
    failed = [test for test in hidden if test["status"] == "failed"]
    assert len(failed) == 1 and "log_batch_losses" in failed[0]["name"] and "FAILED" in failed[0]["output"]
    assert "def test_hidden" not in json.dumps(results), "hidden tests' code must never reach students"
    assert results["stdout_visibility"] == "hidden" and "Watch It Train:" in results["output"]
    # The public points read as the course map gives them; the hidden ones are labelled apart.
    hidden_earned = hidden_total - lesson.exercise("log_batch_losses").hidden_points
    assert f"{LESSON}: {lesson.points:g}/{lesson.points:g} (in progress); hidden tests: " \
           f"{hidden_earned:g}/{hidden_total:g} more" in results["output"], results["output"]


def test_run_autograder_grades_a_single_uploaded_zip(bundle, tmp_path):
    root = gradescope_layout(bundle, tmp_path)
    with zipfile.ZipFile(root / "submission" / "work.zip", "w") as zipped:
        zipped.writestr(f"{LESSON}/exercise.py", (COURSE_ROOT / "lessons" / LESSON / "exercise.py").read_text())
    results = run_autograder(root)
    assert results["score"] == 0
    assert {test["status"] for test in results["tests"]} == {"failed"}
    assert all("NOT STARTED" in test["output"] for test in results["tests"])


def test_run_autograder_reports_a_grader_that_cannot_start(bundle, tmp_path):
    root = gradescope_layout(bundle, tmp_path)
    results = run_autograder(root, python="/bin/false")
    assert results["score"] == 0 and "could not run" in results["output"]


def test_gradescope_results_leave_out_skipped_checks_and_keep_feedback():
    report = {"score": 1.5, "max_score": 3, "lessons": [{"dir": "01_x", "title": "X", "earned": 1.5, "possible": 3,
              "status": "in progress", "tests": [
                  {"nodeid": "a", "name": "test_a", "lesson": "01_x", "exercise": "f", "max_points": 1.5,
                   "status": "passed", "feedback": "", "hidden": False, "points": 1.5},
                  {"nodeid": "b", "name": "test_b[cuda]", "lesson": "01_x", "exercise": "f", "max_points": 0,
                   "status": "skipped", "feedback": "no CUDA", "hidden": False, "points": 0},
                  {"nodeid": "c", "name": "test_c", "lesson": "01_x", "exercise": "g", "max_points": 1.5,
                   "status": "error", "feedback": "g() raised KeyError", "hidden": True, "points": 0}]}]}
    results = gradescope_results(report, hidden_visibility="visible")
    assert [test["name"] for test in results["tests"]] == ["01 f: test_a", "01 g: test_c (hidden test)"]
    assert results["tests"][1] | {"tags": None} == {
        "name": "01 g: test_c (hidden test)", "number": "1.2", "score": 0, "max_score": 1.5, "status": "failed",
        "output": "ERROR: g() raised KeyError", "tags": None, "visibility": "visible"}
    assert results["output"] == "01_x: 1.5/1.5 (in progress); hidden tests: 0/1.5 more\n" \
                                "total: 1.5/1.5 public + 0/1.5 hidden = 1.5/3"
    with pytest.raises(ValueError, match="hidden_visibility"):
        gradescope_results(report, hidden_visibility="sometimes")


def test_gradescope_output_without_hidden_tests_is_one_line_per_lesson():
    report = {"score": 2, "max_score": 2, "lessons": [{"dir": "01_x", "title": "X", "earned": 2, "possible": 2,
              "status": "done", "tests": [
                  {"nodeid": "a", "name": "test_a", "lesson": "01_x", "exercise": "f", "max_points": 2,
                   "status": "passed", "feedback": "", "hidden": False, "points": 2}]}]}
    assert gradescope_results(report)["output"] == "01_x: 2/2 (done)"
