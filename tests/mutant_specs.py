"""Mutants: realistic wrong submissions that prove each autograder check can fail; and alternatives:
right submissions written another way, which prove the checks accept what the contract allows.

`tests/mutants/<lesson dir>/<name>/mutant.toml` describes one as edits to the reference solution
(or ships a whole `exercise.py` beside it) plus the feedback the autograder must give.
`tests/alternatives/<lesson dir>/<name>/mutant.toml` has the same edits and, instead of feedback,
`checks = [...]`: the checks that must pass it.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from watchtrain.grading.submission import EXERCISE_FILE

MUTANT_FILE = "mutant.toml"


class MutantError(Exception):
    """A mutant's description no longer matches the reference solution."""


@dataclass(frozen=True)
class Expectation:
    test: str
    status: str
    feedback: str


@dataclass(frozen=True)
class Mutant:
    lesson: str
    name: str
    path: Path
    description: str
    expectations: tuple[Expectation, ...]

    @property
    def id(self) -> str:
        return f"{self.lesson}/{self.name}"

    def source(self, solutions: Path) -> str:
        """The wrong exercise.py: the shipped file, or the reference with the edits applied."""
        shipped = self.path / EXERCISE_FILE
        if shipped.is_file():
            return shipped.read_text(encoding="utf-8")
        text = (solutions / self.lesson / EXERCISE_FILE).read_text(encoding="utf-8")
        for edit in _spec(self.path)["edit"]:
            count = text.count(edit["old"])
            if count != 1:
                raise MutantError(f"{self.id}: an edit's `old` text occurs {count} times in the solution, "
                                  f"not once:\n{edit['old']}")
            text = text.replace(edit["old"], edit["new"])
        return text

    def materialise(self, solutions: Path, submission_root: Path) -> Path:
        """Write the mutant as a submission folder shaped like lessons/; return that folder."""
        lesson_dir = submission_root / self.lesson
        lesson_dir.mkdir(parents=True, exist_ok=True)
        (lesson_dir / EXERCISE_FILE).write_text(self.source(solutions), encoding="utf-8")
        return submission_root


def _spec(path: Path) -> dict:
    return tomllib.loads((path / MUTANT_FILE).read_text(encoding="utf-8"))


def find_mutants(mutants_root: Path) -> list[Mutant]:
    def expectations(spec: dict, spec_path: Path) -> tuple[Expectation, ...]:
        found = tuple(Expectation(e["test"], e.get("status", "failed"), e["feedback"]) for e in spec.get("expect", ()))
        if not found:
            raise MutantError(f"{spec_path} names no [[expect]]: a mutant must say which feedback it triggers")
        return found

    return _find(mutants_root, expectations)


def find_alternatives(alternatives_root: Path) -> list[Mutant]:
    """Right submissions that differ from the reference: each expects "passed" of every check it names."""
    def expectations(spec: dict, spec_path: Path) -> tuple[Expectation, ...]:
        if not spec.get("checks"):
            raise MutantError(f"{spec_path} names no checks: an alternative must say which checks it passes")
        return tuple(Expectation(test, "passed", "") for test in spec["checks"])

    return _find(alternatives_root, expectations)


def _find(root: Path, expectations) -> list[Mutant]:
    found = []
    for spec_path in sorted(root.glob(f"*/*/{MUTANT_FILE}")):
        spec = _spec(spec_path.parent)
        found.append(Mutant(lesson=spec_path.parent.parent.name, name=spec_path.parent.name, path=spec_path.parent,
                            description=spec.get("description", ""), expectations=expectations(spec, spec_path)))
    return found


def unmet_expectations(mutant: Mutant, tests: list[dict]) -> list[str]:
    """The expectations of `mutant` that its lesson's test results (a points report's "tests") do not meet."""
    unmet = []
    for expected in mutant.expectations:
        results = [t for t in tests if t["name"] == expected.test or t["name"].startswith(expected.test + "[")]
        if not any(r["status"] == expected.status and expected.feedback.lower() in r["feedback"].lower()
                   for r in results):
            unmet.append(f"{expected.test} should be {expected.status!r} with feedback containing "
                         f"{expected.feedback!r}; got {[(r['status'], r['feedback']) for r in results]!r}")
    return unmet


def not_passed(alternative: Mutant, tests: list[dict]) -> list[str]:
    """The checks an alternative names that did not pass it: every run of each (its [cpu] and [cuda]
    twins) must pass or be skipped, and at least one must pass."""
    problems = []
    for expected in alternative.expectations:
        results = [t for t in tests if t["name"] == expected.test or t["name"].startswith(expected.test + "[")]
        if not any(r["status"] == "passed" for r in results) or any(r["status"] not in ("passed", "skipped")
                                                                   for r in results):
            problems.append(f"{expected.test} should pass; got {[(r['status'], r['feedback']) for r in results]!r}")
    return problems


def grade_mutant(course_root: Path, mutant: Mutant, scratch: Path, *, alternative: bool = False) -> list[str]:
    """Grade one mutant on the tests it names only; the expectations it does not meet (none: caught).
    With `alternative`, the checks it names that did not pass it (none: right)."""
    from watchtrain.grading.runner import run_autograder

    submission = mutant.materialise(course_root / "solutions", scratch / mutant.lesson / mutant.name)
    selection = " or ".join(sorted({expected.test for expected in mutant.expectations}))
    run = run_autograder(course_root, submission=submission, lessons=[mutant.lesson], extra_args=["-k", selection])
    if not run.report:
        return [f"no points report was written:\n{run.output[-3000:]}"]
    tests = [test for lesson in run.report["lessons"] for test in lesson["tests"]]
    return not_passed(mutant, tests) if alternative else unmet_expectations(mutant, tests)


if __name__ == "__main__":  # a maintainer's loop: python tests/mutant_specs.py 04_training_run [NAME ...]
    import sys
    import tempfile

    root = Path(__file__).resolve().parents[1]
    lesson, names = sys.argv[1], set(sys.argv[2:])

    def chosen(found: list[Mutant]) -> list[Mutant]:
        return [m for m in found if m.lesson.startswith(lesson) and (not names or m.name in names)]

    mutants = chosen(find_mutants(root / "tests" / "mutants"))
    alternatives = chosen(find_alternatives(root / "tests" / "alternatives"))
    graded = [(mutant, False) for mutant in mutants] + [(alternative, True) for alternative in alternatives]
    with tempfile.TemporaryDirectory(prefix="watchtrain-mutants-") as scratch:
        failures = 0
        for mutant, is_alternative in graded:
            unmet = grade_mutant(root, mutant, Path(scratch), alternative=is_alternative)
            failures += bool(unmet)
            verdict = ("FAILED " if unmet else "passes ") if is_alternative else ("MISSED " if unmet else "caught ")
            print(f"{verdict} {mutant.id}" + "".join(f"\n    {line}" for line in unmet))
    print(f"{len(graded) - failures} of {len(graded)} as expected ({len(mutants)} mutants, each caught with its "
          f"feedback; {len(alternatives)} alternatives, each passing its checks)")
    sys.exit(1 if failures or not graded else 0)
