"""The course's structure: the manifest, lessons/ and solutions/ mirroring each other, the README."""
import ast
import re
from pathlib import Path

import pytest

from watchtrain.course import LESSON_DIR_PATTERN, ManifestError, load_course
from watchtrain.course_map import readme_course_map, render_course_map
from watchtrain.dev_check import exercise_markers, functions, readme_anchors

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSONS = [lesson.dir for lesson in COURSE.lessons]


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_lesson_has_its_files(lesson_dir):
    files = COURSE.files(lesson_dir)
    for path in (files.readme, files.exercise, files.solution, files.tests):
        assert path.is_file(), f"{files.relative(path)} is missing"


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_stubs_and_solutions_mirror_each_other(lesson_dir):
    files = COURSE.files(lesson_dir)
    stubs, solutions = functions(parsed(files.exercise)), functions(parsed(files.solution))
    assert stubs.keys() == solutions.keys()
    for name, stub in stubs.items():
        assert ast.get_docstring(stub) == ast.get_docstring(solutions[name]), f"{name}: docstrings differ"
        assert ast.dump(stub.args) == ast.dump(solutions[name].args), f"{name}: signatures differ"


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_every_manifest_exercise_is_a_stub_with_a_graded_test(lesson_dir):
    lesson, files = COURSE.lesson(lesson_dir), COURSE.files(lesson_dir)
    stubs, tested = functions(parsed(files.exercise)), exercise_markers(parsed(files.tests))
    for exercise in lesson.exercises:
        body = stubs[exercise.function].body
        assert isinstance(body[-1], ast.Raise) and ast.unparse(body[-1]) == "raise NotImplementedError", \
            f"{exercise.function}: the stub must end in `raise NotImplementedError`"
        assert exercise.function in tested, f"{exercise.function} has no autograder test"
        assert exercise.points > 0 and exercise.hints, f"{exercise.function} needs points and hints"
    assert tested <= {e.function for e in lesson.exercises}


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_every_exercise_has_a_hint_ladder(lesson_dir):
    """concept, API, a worked example on other data, the code: at least three rungs (README, "The loop")."""
    for exercise in COURSE.lesson(lesson_dir).exercises:
        assert len(exercise.hints) >= 3, \
            f"{exercise.function}: course.toml gives {len(exercise.hints)} hint(s); write a ladder hints = [concept, API, example, code]"


def test_lessons_are_numbered_in_order():
    assert [lesson.number for lesson in COURSE.lessons] == [f"{i:02d}" for i in range(1, len(LESSONS) + 1)]
    assert all(re.fullmatch(LESSON_DIR_PATTERN, lesson_dir) for lesson_dir in LESSONS)


def test_lesson_lookup_names_the_valid_lessons():
    assert COURSE.lesson("1").dir == LESSONS[0]
    with pytest.raises(ManifestError, match="the lessons are: 01"):
        COURSE.lesson("99")


def test_readme_course_map_matches_the_manifest():
    assert readme_course_map(COURSE_ROOT / "README.md") == render_course_map(COURSE), \
        "README.md's course map is stale: run `watchtrain course-map --write`"


@pytest.mark.parametrize("lesson_dir", LESSONS)
def test_links_into_the_course_readme_name_its_sections(lesson_dir):
    anchors = readme_anchors((COURSE_ROOT / "README.md").read_text(encoding="utf-8"))
    text = COURSE.files(lesson_dir).readme.read_text(encoding="utf-8")
    for anchor in re.findall(r"\.\./\.\./README\.md#([\w-]+)", text):
        assert anchor in anchors, f"lessons/{lesson_dir}/README.md links to README.md#{anchor}, which has no such section"
