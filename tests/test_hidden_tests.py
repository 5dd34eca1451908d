"""Hidden tests: collected only with --hidden, worth their exercise's `hidden_points`, and able to
catch code fitted to the public tests. One run also writes the Gradescope and JUnit reports."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from watchtrain.course import load_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSON = "01_tensorboard_basics"


def hidden_points(lesson_dir: str) -> float:
    return sum(exercise.hidden_points for exercise in COURSE.lesson(lesson_dir).exercises)


def test_every_exercise_with_hidden_points_has_a_hidden_test_and_back():
    for lesson in COURSE.lessons:
        path = COURSE.files(lesson).hidden_tests
        text = path.read_text() if path.is_file() else ""
        for exercise in lesson.exercises:
            marked = f'@exercise("{exercise.function}")' in text
            assert marked == (exercise.hidden_points > 0), \
                f"{lesson.dir}: {exercise.function} has hidden_points {exercise.hidden_points:g} but " \
                f"{'a' if marked else 'no'} hidden test in {path.relative_to(COURSE_ROOT)}"
    assert sum(hidden_points(lesson.dir) for lesson in COURSE.lessons) > 0


def test_hidden_tests_count_only_with_hidden(autograde, tmp_path):
    public = autograde(COURSE_ROOT, solutions=True, lessons=[LESSON])
    assert not any(t.get("hidden") for lesson in public.report["lessons"] for t in lesson["tests"])
    assert public.report["max_score"] == COURSE.lesson(LESSON).points
    gradescope, junit = tmp_path / "results.json", tmp_path / "junit.xml"
    graded = autograde(COURSE_ROOT, solutions=True, lessons=[LESSON], hidden=True,
                       extra_args=["--report-gradescope", str(gradescope), "--report-junit", str(junit),
                                   "--hidden-visibility", "after_published"])
    assert graded.returncode == 0, graded.output[-3000:]
    total = COURSE.lesson(LESSON).points + hidden_points(LESSON)
    assert graded.report["score"] == graded.report["max_score"] == total
    hidden = [t for t in graded.report["lessons"][0]["tests"] if t["hidden"]]
    assert hidden and {t["status"] for t in hidden} == {"passed"}
    results = json.loads(gradescope.read_text())
    assert results["score"] == total
    visibility = {t["name"]: t["visibility"] for t in results["tests"]}
    assert {v for name, v in visibility.items() if "(hidden test)" in name} == {"after_published"}
    assert {v for name, v in visibility.items() if "(hidden test)" not in name} == {"visible"}
    suites = ET.parse(junit).getroot()
    assert suites.find("testsuite").get("name") == LESSON and suites.get("failures") == "0"


def test_a_hidden_test_catches_code_fitted_to_the_public_tests(autograde, tmp_path):
    solution = COURSE.files(LESSON).solution.read_text()
    fitted = solution.replace("batches_per_epoch = len(epoch_losses[0])",
                              "batches_per_epoch = 5  # the public test's shape")
    assert fitted != solution
    (tmp_path / LESSON).mkdir()
    (tmp_path / LESSON / "exercise.py").write_text(fitted)
    public = autograde(COURSE_ROOT, submission=tmp_path, lessons=[LESSON])
    assert public.report["score"] == public.report["max_score"], "the public tests should not notice"
    # The instructor's run: someone else's folder, so the worker is a fresh interpreter.
    graded = autograde(COURSE_ROOT, submission=tmp_path, lessons=[LESSON], hidden=True, own_work=False)
    caught = [t for t in graded.report["lessons"][0]["tests"] if t["hidden"] and t["status"] == "failed"]
    assert [t["exercise"] for t in caught] == ["log_batch_losses"]
    assert "len(epoch_losses[0])" in caught[0]["feedback"]
    lost = COURSE.lesson(LESSON).exercise("log_batch_losses").hidden_points
    assert graded.report["score"] == graded.report["max_score"] - lost


def test_stubs_with_hidden_tests_are_not_started(autograde):
    graded = autograde(COURSE_ROOT, lessons=[LESSON], hidden=True)
    hidden = [t for t in graded.report["lessons"][0]["tests"] if t["hidden"]]
    assert hidden and {t["status"] for t in hidden} == {"not started"}
    assert graded.report["score"] == 0
