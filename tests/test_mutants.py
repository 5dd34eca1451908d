"""Every autograder check can fail: each mutant (a realistic wrong submission) must be caught, with
the feedback it names.

First, that the mutants are well formed, so that a mutant which no longer applies, or names a test
that no longer exists, fails before grading. Then each mutant is graded the way a batch grades a
submission (a sandboxed run forked from a zygote, the checker apart from the learner worker), on the
checks it names: each must get the status and the feedback its mutant.toml expects. The mutants of
different lessons share submissions, one mutant per lesson in each, as in a class where every
student gets a different lesson wrong.

The alternatives (tests/alternatives/: right submissions written another way than the reference, a
float32 accuracy or the classic exporter, say) ride in the same class, graded on the checks each
names: all of them must pass it.

The same class holds two whole submissions graded on the whole autograder, with the limits an
instructor would use: the reference solutions must score full points and the untouched stubs 0,
"not started". (The bad submissions are tests/test_batch_grading.py's; the command line, its CSV and
its reports are shown there and in tests/test_attacks.py.)
"""
import ast
import functools
import shutil
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path

import pytest

from mutant_specs import Mutant, find_alternatives, find_mutants, not_passed, unmet_expectations
from watchtrain.classroom.isolation.sandbox import start_zygote
from watchtrain.classroom.supervisor import GRADED, GradingOptions, Outcome, grade_folder
from watchtrain.course import load_course

COURSE = Path(__file__).resolve().parents[1]
MUTANTS = find_mutants(COURSE / "tests" / "mutants")
ALTERNATIVES = find_alternatives(COURSE / "tests" / "alternatives")
GRADED_ON_THEIR_CHECKS = MUTANTS + ALTERNATIVES


def test_every_lesson_with_an_autograder_has_at_least_four_mutants():
    lessons = {path.stem.removeprefix("test_") for path in (COURSE / "autograder").glob("test_*.py")}
    counts = {lesson: sum(m.lesson == lesson for m in MUTANTS) for lesson in lessons}
    assert all(count >= 4 for count in counts.values()), counts


@functools.cache  # one parse of each autograder file, not one for each of its 30-odd mutants
def _test_names(lesson: str) -> set[str]:
    tree = ast.parse((COURSE / "autograder" / f"test_{lesson}.py").read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_a_mutant_and_an_alternative_never_share_a_name():
    assert not {m.id for m in MUTANTS} & {a.id for a in ALTERNATIVES}


@pytest.mark.parametrize("mutant", GRADED_ON_THEIR_CHECKS, ids=[m.id for m in GRADED_ON_THEIR_CHECKS])
def test_mutant_applies_and_names_tests_that_exist(mutant):
    source = mutant.source(COURSE / "solutions")  # raises MutantError when an edit no longer applies
    assert source != (COURSE / "solutions" / mutant.lesson / "exercise.py").read_text(encoding="utf-8"), \
        f"{mutant.id} is the reference solution itself"
    ast.parse(source)  # a mutant is a wrong submission, not a syntax error (tests/bad_submissions has those)
    unknown = {expected.test for expected in mutant.expectations} - _test_names(mutant.lesson)
    assert not unknown, f"{mutant.id} expects feedback from tests that autograder/test_{mutant.lesson}.py lacks: {unknown}"


def bundles(mutants: list[Mutant]) -> list[list[Mutant]]:
    """The mutants as a class of submissions: the k-th submission holds the k-th mutant of each
    lesson. Lessons are graded independently (each its own exercise.py, its own checks), so one run
    grades a mutant of every lesson at the cost of one run's start instead of nine."""
    by_lesson: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_lesson.setdefault(mutant.lesson, []).append(mutant)
    return [[m for m in row if m is not None] for row in zip_longest(*by_lesson.values())]


def selection(bundle: list[Mutant]) -> str:
    """A -k expression for the checks each mutant names, in its own lesson's file only (two lessons
    may have checks of the same name)."""
    return " or ".join(f"(test_{m.lesson} and ({' or '.join(sorted({e.test for e in m.expectations}))}))"
                       for m in bundle)


WHOLE_SUBMISSIONS = {"reference": COURSE / "solutions", "stubs": COURSE / "lessons"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[dict[str, tuple[Outcome, dict | None]], dict[str, Outcome]]:
    """Every mutant graded on the checks it names: a submission of one mutant per lesson at a time,
    two submissions at a time, each run forked from one zygote. By mutant id: the outcome of its
    submission, and its lesson's part of the report. Then the whole submissions' outcomes, by name
    (graded first: they take the longest)."""
    course, root = load_course(COURSE), tmp_path_factory.mktemp("mutants")
    zygote = start_zygote(root / "zygote")

    def grade(folder: Path, options: GradingOptions) -> Outcome:
        try:
            return grade_folder(course, folder / "submission", folder / "grading", options, zygote=zygote)
        finally:
            shutil.rmtree(folder / "grading", ignore_errors=True)

    def grade_whole(name: str) -> Outcome:
        folder = root / "work" / name
        shutil.copytree(WHOLE_SUBMISSIONS[name], folder / "submission", ignore=shutil.ignore_patterns("__pycache__"))
        return grade(folder, GradingOptions())

    def grade_bundle(numbered: tuple[int, list[Mutant]]) -> dict[str, tuple[Outcome, dict | None]]:
        number, bundle = numbered
        folder = root / "work" / f"submission_{number:02d}"
        for mutant in bundle:
            mutant.materialise(COURSE / "solutions", folder / "submission")
        outcome = grade(folder, GradingOptions(lessons=tuple(m.lesson for m in bundle), select=selection(bundle)))
        lessons = {lesson["dir"]: lesson for lesson in outcome.report["lessons"]}
        return {m.id: (outcome, lessons.get(m.lesson)) for m in bundle}

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            whole = {name: pool.submit(grade_whole, name) for name in WHOLE_SUBMISSIONS}
            rows = enumerate(bundles(GRADED_ON_THEIR_CHECKS))
            by_mutant = {mutant_id: result for results in pool.map(grade_bundle, rows)
                         for mutant_id, result in results.items()}
            return by_mutant, {name: future.result() for name, future in whole.items()}
    finally:
        zygote.close()


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_every_mutant_is_caught_with_its_feedback(graded, mutant):
    outcome, lesson = graded[0][mutant.id]
    assert outcome.status == GRADED, (outcome.status, outcome.notes, outcome.output[-3000:])
    assert lesson is not None and lesson["earned"] < lesson["possible"], (mutant.id, lesson)
    unmet = unmet_expectations(mutant, lesson["tests"])
    assert not unmet, f"{mutant.id}:\n" + "\n".join(unmet)


@pytest.mark.slow
@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=[a.id for a in ALTERNATIVES])
def test_every_alternative_passes_the_checks_it_names(graded, alternative):
    outcome, lesson = graded[0][alternative.id]
    assert outcome.status == GRADED, (outcome.status, outcome.notes, outcome.output[-3000:])
    problems = not_passed(alternative, lesson["tests"] if lesson else [])
    assert not problems, f"{alternative.id}:\n" + "\n".join(problems)


@pytest.mark.slow
def test_the_reference_scores_full_points_and_the_stubs_zero_not_started(graded):
    reference, stubs = graded[1]["reference"], graded[1]["stubs"]
    assert reference.status == GRADED, (reference.notes, reference.output[-3000:])
    assert reference.report["score"] == reference.report["max_score"] == load_course(COURSE).points
    statuses = {test["status"] for lesson in reference.report["lessons"] for test in lesson["tests"]
                if not (test["status"] == "skipped" and test["name"].endswith("[cuda]"))}
    assert statuses == {"passed"}, statuses
    assert stubs.status == GRADED and stubs.report["score"] == 0, (stubs.status, stubs.notes)
    statuses = {test["status"] for lesson in stubs.report["lessons"] for test in lesson["tests"]}
    assert "not started" in statuses and statuses <= {"not started", "skipped"}, statuses
