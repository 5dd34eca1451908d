"""Every autograder check can fail: each mutant (a realistic wrong submission) must be caught,
with the feedback it names."""
from pathlib import Path

import pytest

from watchtrain.grading.mutants import find_mutants
from watchtrain.grading.runner import run_autograder

COURSE = Path(__file__).resolve().parents[1]
MUTANTS = find_mutants(COURSE / "tests" / "mutants")


def test_every_lesson_with_an_autograder_has_at_least_four_mutants():
    lessons = {path.stem.removeprefix("test_") for path in (COURSE / "autograder").glob("test_*.py")}
    counts = {lesson: sum(m.lesson == lesson for m in MUTANTS) for lesson in lessons}
    assert all(count >= 4 for count in counts.values()), counts


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_caught_with_its_feedback(mutant, tmp_path):
    submission = mutant.materialise(COURSE / "solutions", tmp_path / "submission")
    # Only the tests the mutant names: each must fail on its own, so the rest of the lesson adds nothing.
    selection = " or ".join(sorted({expected.test for expected in mutant.expectations}))
    run = run_autograder(COURSE, submission=submission, lessons=[mutant.lesson], extra_args=["-k", selection])
    assert run.report, f"no points report was written:\n{run.output[-3000:]}"
    assert run.returncode != 0, f"{mutant.id} passed the autograder: {mutant.description}"
    lesson = run.report["lessons"][0]
    assert lesson["earned"] < lesson["possible"]
    for expected in mutant.expectations:
        results = run.tests_named(expected.test)
        assert results, f"{mutant.id}: no test named {expected.test} ran"
        caught = [r for r in results if r["status"] == expected.status
                  and expected.feedback.lower() in r["feedback"].lower()]
        assert caught, (f"{mutant.id}: {expected.test} should be {expected.status!r} with feedback containing "
                        f"{expected.feedback!r}; got " + repr([(r["status"], r["feedback"]) for r in results]))
