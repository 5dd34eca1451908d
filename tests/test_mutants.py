"""Every autograder check can fail: each mutant (a realistic wrong submission) must be caught, with
the feedback it names.

The mutants are graded once, in the whole-class batch (tests/test_full_class_batch.py), which
checks each one's expected status and feedback. Here: that the mutants are well formed, so that a
mutant which no longer applies, or names a test that no longer exists, fails before grading.
"""
import ast
from pathlib import Path

import pytest

from mutant_specs import find_mutants

COURSE = Path(__file__).resolve().parents[1]
MUTANTS = find_mutants(COURSE / "tests" / "mutants")


def test_every_lesson_with_an_autograder_has_at_least_four_mutants():
    lessons = {path.stem.removeprefix("test_") for path in (COURSE / "autograder").glob("test_*.py")}
    counts = {lesson: sum(m.lesson == lesson for m in MUTANTS) for lesson in lessons}
    assert all(count >= 4 for count in counts.values()), counts


def _test_names(lesson: str) -> set[str]:
    tree = ast.parse((COURSE / "autograder" / f"test_{lesson}.py").read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_applies_and_names_tests_that_exist(mutant):
    source = mutant.source(COURSE / "solutions")  # raises MutantError when an edit no longer applies
    assert source != (COURSE / "solutions" / mutant.lesson / "exercise.py").read_text(encoding="utf-8"), \
        f"{mutant.id} is the reference solution itself"
    ast.parse(source)  # a mutant is a wrong submission, not a syntax error (tests/bad_submissions has those)
    unknown = {expected.test for expected in mutant.expectations} - _test_names(mutant.lesson)
    assert not unknown, f"{mutant.id} expects feedback from tests that autograder/test_{mutant.lesson}.py lacks: {unknown}"
