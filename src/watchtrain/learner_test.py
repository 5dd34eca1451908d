"""`make test` in a student's copy: `pytest autograder` on their lessons/, unless nothing is started.

An untouched copy reads "nothing done yet" and passes, rather than failing every check; once any
exercise is started, pytest runs and its exit status is the verdict, so a failing check fails.

    python -m watchtrain.learner_test [PYTEST ARGS]   (default: autograder)
"""
from __future__ import annotations

import subprocess
import sys

from watchtrain.course import load_course
from watchtrain.stubs import untouched


def main(argv: list[str]) -> int:
    course = load_course()
    if not any(_started(course.files(lesson).exercise, lesson) for lesson in course.lessons):
        first = course.lessons[0]
        print(f"Nothing done yet: every exercise of the {len(course.lessons)} lessons is still its stub, so there is "
              f"nothing to grade.\nStart with lesson {first.number}: read lessons/{first.dir}/README.md, write the "
              f"first function of lessons/{first.dir}/exercise.py, then `watchtrain check {first.number}` "
              f"(or `make test` again).")
        return 0
    return subprocess.call([sys.executable, "-m", "pytest", *(argv or ["autograder"])], cwd=course.root)


def _started(exercise_file, lesson) -> bool:
    functions = [exercise.function for exercise in lesson.exercises]
    return untouched(exercise_file, functions) != functions


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
