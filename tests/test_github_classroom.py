"""`watchtrain grade --github-classroom`, as the handout's workflow runs it: the points reach GitHub
Classroom's autograding reporter check by check, so partial credit counts."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from watchtrain.course import load_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
LESSON = "01_tensorboard_basics"


def test_grade_writes_the_reporters_result_and_a_step_summary(tmp_path):
    lessons = tmp_path / "repo" / "lessons"  # what the workflow grades: the student's lessons/ folder
    (lessons / LESSON).mkdir(parents=True)
    solution = (COURSE_ROOT / "solutions" / LESSON / "exercise.py").read_text()
    (lessons / LESSON / "exercise.py").write_text(solution.replace("writer.add_scalars(", "writer.add_scalarz("))
    output, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    completed = subprocess.run(
        [sys.executable, "-m", "watchtrain.cli", "grade", str(lessons), "--out", str(tmp_path / "grades"),
         "--lessons", LESSON, "--github-classroom"], cwd=COURSE_ROOT, capture_output=True, text=True,
        env={**os.environ, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)})
    assert completed.returncode == 0, completed.stderr[-3000:]
    key, _, encoded = output.read_text().strip().partition("=")
    assert key == "result"
    result = json.loads(base64.b64decode(encoded))
    assert result["version"] == 1 and result["status"] == "fail"
    assert result["max_score"] == load_course(COURSE_ROOT).lesson(LESSON).points
    scores = {test["name"]: test["score"] for test in result["tests"]}
    assert 0 < sum(scores.values()) < result["max_score"], "partial credit must survive"
    broken = [test for test in result["tests"] if test["status"] != "pass"]
    assert broken and all("log_train_and_test" in test["name"] for test in broken)
    assert all(test["message"] for test in broken) and {t["status"] for t in broken} <= {"fail", "error"}
    markdown = summary.read_text()
    assert markdown.startswith("## Watch It Train:") and "log_train_and_test" in markdown
