"""Mutants: realistic wrong submissions that prove each autograder check can fail.

`tests/mutants/<lesson dir>/<name>/mutant.toml` describes one as edits to the reference solution
(or ships a whole `exercise.py` beside it) plus the feedback the autograder must give.
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
    mutants = []
    for spec_path in sorted(mutants_root.glob(f"*/*/{MUTANT_FILE}")):
        spec = _spec(spec_path.parent)
        expectations = tuple(Expectation(e["test"], e.get("status", "failed"), e["feedback"])
                             for e in spec.get("expect", ()))
        if not expectations:
            raise MutantError(f"{spec_path} names no [[expect]]: a mutant must say which feedback it triggers")
        mutants.append(Mutant(lesson=spec_path.parent.parent.name, name=spec_path.parent.name,
                              path=spec_path.parent, description=spec.get("description", ""),
                              expectations=expectations))
    return mutants
