"""`watchtrain dev check`: the real course is complete, and on a copy of it each realistic slip of a
maintainer adding or changing a lesson is reported, with its fix, in one run."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from watchtrain.cli import main
from watchtrain.course import ROOT_ENV, LessonFiles, load_course
from watchtrain.dev_check import check_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
FIRST = COURSE.lessons[0]
NEW = "10_new_lesson"
NEW_LESSON = f'''
[[lessons]]
dir = "{NEW}"
title = "A lesson in the manifest, and nowhere else yet"
tool = "TensorBoard"

[[lessons.exercises]]
function = "log_something"
points = 3
hidden_points = 1
hints = ["the concept", "the API", "an example on other data", "the code"]
'''


def dev_check(root: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setenv(ROOT_ENV, str(root))
    status = main(["dev", "check"])
    return status, capsys.readouterr().out


@pytest.fixture
def course_copy(tmp_path) -> Path:
    """What `dev check` reads of the course, copied: every lesson's files and the README."""
    root = tmp_path / "course"
    ignore = shutil.ignore_patterns("__pycache__", "runs", ".ipynb_checkpoints")
    for part in ("lessons", "solutions", "autograder", "tests/mutants", "tests/alternatives", "src/watchtrain/demos"):
        shutil.copytree(COURSE_ROOT / part, root / part, ignore=ignore)
    for part in ("course.toml", "README.md"):
        shutil.copy(COURSE_ROOT / part, root / part)
    return root


def test_the_course_is_complete(monkeypatch, capsys):
    assert check_course(COURSE) == []
    assert dev_check(COURSE_ROOT, monkeypatch, capsys) == (0, f"All {len(COURSE.lessons)} lessons are complete.\n")


def test_the_copy_is_complete_too(course_copy, monkeypatch, capsys):
    """The copy holds everything the check reads, so what the tests below change is all it reports."""
    assert dev_check(course_copy, monkeypatch, capsys)[0] == 0


def test_a_lesson_only_in_course_toml_gets_every_file_named_with_its_fix(course_copy, monkeypatch, capsys):
    with (course_copy / "course.toml").open("a", encoding="utf-8") as manifest:
        manifest.write(NEW_LESSON)
    status, out = dev_check(course_copy, monkeypatch, capsys)
    assert status == 1
    expected = {
        f"solutions/{NEW}/exercise.py is missing": "write the reference solution",
        f"lessons/{NEW}/exercise.py is missing": "write the stubs",
        f"lessons/{NEW}/README.md is missing": "write the lesson",
        f"autograder/test_{NEW}.py is missing": f"copy autograder/TEMPLATE.py to autograder/test_{NEW}.py",
        f"autograder/hidden/test_{NEW}.py is missing": "write the hidden tests",
        f"tests/mutants/{NEW}/ is missing": "add at least 4 realistic wrong submissions",
        f"src/watchtrain/demos/lesson_{NEW}.py is missing": "`watchtrain demo` skips this lesson",
        f"lessons/{NEW}/lesson.ipynb is missing": "python -m watchtrain.notebooks",
        "README.md's course map differs from course.toml": "watchtrain course-map --write",
    }
    for what, fix in expected.items():
        assert any(what in line and fix in line.split(what, 1)[1] for line in out.splitlines()), (what, out)
    problems = check_course(load_course(course_copy))
    assert {problem.lesson for problem in problems} == {NEW, None}, out  # the nine others are untouched
    assert len(problems) == len(expected), out
    assert f"lesson 10 ({NEW}):" in out and f"{len(expected)} problem(s), in 1 of the 10 lessons and 1 outside them" in out


def test_a_lesson_folder_missing_from_course_toml_is_reported(course_copy, monkeypatch, capsys):
    LessonFiles(course_copy, NEW).folder.mkdir()
    shutil.copy(COURSE.files(FIRST).readme, LessonFiles(course_copy, NEW).readme)
    LessonFiles(course_copy, NEW).demo.write_text("def run(solution, out):\n    return ''\n")
    status, out = dev_check(course_copy, monkeypatch, capsys)
    assert status == 1
    assert f"{NEW} (not in course.toml):" in out
    assert f"lessons/{NEW}/ is not a lesson of course.toml: add a [[lessons]] entry with dir = \"{NEW}\"" in out
    assert f"src/watchtrain/demos/lesson_{NEW}.py is not a lesson of course.toml" in out


def test_a_mutant_naming_a_renamed_test_is_reported(course_copy, monkeypatch, capsys):
    """The autograder test a mutant names was renamed; the mutant still names the old one."""
    files = LessonFiles(course_copy, FIRST.dir)
    tests = files.tests.read_text(encoding="utf-8")
    old = "test_log_batch_losses_closes_the_writer"
    assert f"def {old}(" in tests
    files.tests.write_text(tests.replace(f"def {old}(", "def test_log_batch_losses_closes_its_writer("))
    status, out = dev_check(course_copy, monkeypatch, capsys)
    assert status == 1
    assert (f"tests/mutants/{FIRST.dir}/forgets_close/mutant.toml expects the test {old}, which "
            f"autograder/test_{FIRST.dir}.py does not define") in out


def test_too_few_mutants_and_edits_that_no_longer_apply_are_reported(course_copy, monkeypatch, capsys):
    """Mutants were deleted, and the reference was reworded under the edits of two of those left."""
    files = LessonFiles(course_copy, FIRST.dir)
    kept = ("every_point_at_step_0", "forgets_close", "log_dir_ignored")
    for mutant in files.mutants.iterdir():
        if mutant.name not in kept:
            shutil.rmtree(mutant)
    solution = files.solution.read_text(encoding="utf-8")
    files.solution.write_text(solution.replace("with SummaryWriter(log_dir) as writer:",
                                               "with SummaryWriter(log_dir=log_dir) as writer:"))
    status, out = dev_check(course_copy, monkeypatch, capsys)
    assert status == 1
    assert f"tests/mutants/{FIRST.dir}/ holds 3 mutant(s), fewer than 4: add 1 more" in out
    stale = [line for line in out.splitlines() if "old text occurs 0 times" in line and "tests/mutants/" in line]
    assert [line.split(f"tests/mutants/{FIRST.dir}/")[1].split("/")[0] for line in stale] == list(kept[1:]), out


def test_an_alternative_naming_a_renamed_check_or_stale_code_is_reported(course_copy, monkeypatch, capsys):
    """A check an alternative names was renamed, and the reference was reworded under its edit."""
    files = LessonFiles(course_copy, FIRST.dir)
    tests = files.tests.read_text(encoding="utf-8")
    old = "test_log_batch_losses_closes_the_writer"
    files.tests.write_text(tests.replace(f"def {old}(", "def test_log_batch_losses_closes_its_writer("))
    solution = files.solution.read_text(encoding="utf-8")
    files.solution.write_text(solution.replace("batches_per_epoch = len(epoch_losses[0])",
                                               "per_epoch = len(epoch_losses[0])"))
    status, out = dev_check(course_copy, monkeypatch, capsys)
    spec = f"tests/alternatives/{FIRST.dir}/counter_and_close_by_hand/mutant.toml"
    assert status == 1
    assert f"{spec} names the check {old}, which autograder/test_{FIRST.dir}.py does not define" in out
    assert f"{spec}: an [[edit]]'s old text occurs 0 times" in out


def test_a_stub_and_solution_that_no_longer_mirror_each_other_are_reported(course_copy, monkeypatch, capsys):
    """The reference gained a parameter and a reworded contract; the stub was not updated. And an
    answer tried in the stub was left in it."""
    files = LessonFiles(course_copy, FIRST.dir)
    first, second = FIRST.exercises[0].function, FIRST.exercises[1].function
    solution = files.solution.read_text(encoding="utf-8")
    files.solution.write_text(solution.replace(f"def {first}(log_dir, epoch_losses):",
                                               f"def {first}(log_dir, epoch_losses, tag=\"Loss/train\"):")
                              .replace("Draw the loss of every training batch", "Draw every batch's loss"))
    stub = files.exercise.read_text(encoding="utf-8")
    start = stub.index(f"def {second}(")
    end = stub.index("raise NotImplementedError", start)
    files.exercise.write_text(stub[:end] + "return None" + stub[end + len("raise NotImplementedError"):])
    status, out = dev_check(course_copy, monkeypatch, capsys)
    assert status == 1
    stub_name, solution_name = f"lessons/{FIRST.dir}/exercise.py", f"solutions/{FIRST.dir}/exercise.py"
    assert f"{first}: its signatures in {stub_name} and {solution_name} differ" in out
    assert f"{first}: its docstrings in {stub_name} and {solution_name} differ" in out
    assert f"{stub_name}: {second} is not a stub: leave only its docstring and `raise NotImplementedError`" in out
    assert f"lessons/{FIRST.dir}/lesson.ipynb differs from its README.md and exercise.py" in out


def test_an_exercise_without_a_stub_or_a_marked_test_is_reported(course_copy, monkeypatch, capsys):
    """course.toml gained an exercise in lesson 01 that only the reference solution has."""
    manifest = (course_copy / "course.toml").read_text(encoding="utf-8")
    marker = "\n[[lessons]]\n"
    second = manifest.index(marker, manifest.index(marker) + 1)  # the end of lesson 01's entry
    extra = '[[lessons.exercises]]\nfunction = "log_more"\npoints = 2\nhints = ["a", "b", "c"]\n'
    (course_copy / "course.toml").write_text(manifest[:second] + "\n" + extra + manifest[second:])
    files = LessonFiles(course_copy, FIRST.dir)
    files.solution.write_text(files.solution.read_text(encoding="utf-8") + "\n\ndef log_more(log_dir):\n    pass\n")
    status, out = dev_check(course_copy, monkeypatch, capsys)
    assert status == 1
    assert f"lessons/{FIRST.dir}/exercise.py has no function log_more, an exercise in course.toml" in out
    assert f"autograder/test_{FIRST.dir}.py has no test marked @exercise(\"log_more\")" in out


def test_dev_check_imports_neither_torch_nor_the_lessons():
    code = ("import sys; from watchtrain.cli import main; status = main(['dev', 'check']); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('torch', 'exercise') "
            "or 'reference' in name)); sys.exit(status)")
    completed = subprocess.run([sys.executable, "-c", code], cwd=COURSE_ROOT, capture_output=True, text=True)
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr  # it ran, whatever it found
    assert completed.stdout.splitlines()[-1] == "[]", completed.stdout
