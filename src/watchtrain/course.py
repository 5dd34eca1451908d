"""The course manifest (`course.toml`): lessons in order, their exercises, points and hint ladders.

Everything that needs the lesson list (the autograder, the README's course map, the CLI) reads it
from here, so the order and the points are written down once.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MANIFEST_NAME = "course.toml"
ROOT_ENV = "WATCHTRAIN_COURSE_ROOT"
# A lesson's folder name, `NN_name`: the number gives the order, and the whole name becomes part of
# Python module names (autograder/test_<dir>.py, watchtrain.demos.lesson_<dir>).
LESSON_DIR_PATTERN = r"\d{2}_[a-z][a-z0-9_]*"
EXERCISE_FILE = "exercise.py"
README_FILE = "README.md"
NOTEBOOK_FILE = "lesson.ipynb"
MUTANT_FILE = "mutant.toml"
DEMOS_PACKAGE = "watchtrain.demos"


class ManifestError(Exception):
    """course.toml is missing or malformed; the message names the entry and the fix."""


@dataclass(frozen=True)
class Exercise:
    function: str
    points: float
    # The hint ladder, revealed one rung at a time by `watchtrain hint`: the concept, the API and
    # its arguments, a worked example on other data, and last the code.
    hints: tuple[str, ...]
    # Points of the instructor's hidden tests (autograder/hidden/), shared equally by them like
    # `points` by the public tests; counted only when grading with --hidden.
    hidden_points: float = 0.0


@dataclass(frozen=True)
class Lesson:
    dir: str
    title: str
    tool: str
    hints: tuple[str, ...]
    credits: tuple[str, ...]
    exercises: tuple[Exercise, ...]

    @property
    def number(self) -> str:
        return self.dir.split("_", 1)[0]

    @property
    def points(self) -> float:
        return sum(exercise.points for exercise in self.exercises)

    def exercise(self, function: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.function == function:
                return exercise
        known = ", ".join(e.function for e in self.exercises)
        raise ManifestError(f"lesson {self.dir} has no exercise {function!r} in {MANIFEST_NAME} (it has: {known})")


@dataclass(frozen=True)
class Course:
    root: Path
    title: str
    tagline: str
    lessons: tuple[Lesson, ...]

    def lesson(self, key: str) -> Lesson:
        """Find a lesson by directory name or number ('01', '1' or '01_tensorboard_basics')."""
        for lesson in self.lessons:
            if key in (lesson.dir, lesson.number) or (key.isdigit() and int(key) == int(lesson.number)):
                return lesson
        valid = ", ".join(f"{lesson.number} ({lesson.dir})" for lesson in self.lessons)
        raise ManifestError(f"there is no lesson {key!r}; the lessons are: {valid}")

    @property
    def points(self) -> float:
        return sum(lesson.points for lesson in self.lessons)

    def files(self, lesson: Lesson | str) -> LessonFiles:
        """Where `lesson`'s files live in this course."""
        return LessonFiles(self.root, lesson.dir if isinstance(lesson, Lesson) else lesson)


@dataclass(frozen=True)
class LessonFiles:
    """Where one lesson's files live: the one place that knows the naming rules (README.md, "Adding
    a lesson"). Every path is under the course root `root`; none needs to exist."""

    root: Path
    dir: str

    @property
    def folder(self) -> Path:
        """lessons/<dir>/: what the learner gets."""
        return self.root / "lessons" / self.dir

    @property
    def readme(self) -> Path:
        """The lesson's text."""
        return self.folder / README_FILE

    @property
    def exercise(self) -> Path:
        """The stubs the learner fills in."""
        return self.folder / EXERCISE_FILE

    @property
    def notebook(self) -> Path:
        """Generated from README.md and exercise.py by `python -m watchtrain.notebooks`."""
        return self.folder / NOTEBOOK_FILE

    @property
    def solution_folder(self) -> Path:
        return self.root / "solutions" / self.dir

    @property
    def solution(self) -> Path:
        """The reference solution: the stubs' functions, answered."""
        return self.solution_folder / EXERCISE_FILE

    @property
    def tests(self) -> Path:
        """The public autograder tests, each marked `@exercise("<function>")`."""
        return self.root / "autograder" / f"test_{self.dir}.py"

    @property
    def hidden_tests(self) -> Path:
        """The instructor's hidden tests, for the exercises with `hidden_points`."""
        return self.root / "autograder" / "hidden" / f"test_{self.dir}.py"

    @property
    def mutants(self) -> Path:
        """tests/mutants/<dir>/: one folder per realistic wrong submission, each with a mutant.toml."""
        return self.root / "tests" / "mutants" / self.dir

    @property
    def alternatives(self) -> Path:
        """tests/alternatives/<dir>/ (optional): one folder per right submission written otherwise than
        the reference, each with a mutant.toml that names the checks it must pass."""
        return self.root / "tests" / "alternatives" / self.dir

    @property
    def demo_module(self) -> str:
        """The module `watchtrain demo` runs for this lesson."""
        return demo_module(self.dir)

    @property
    def demo(self) -> Path:
        """The demo module's source, in the course's own copy of the package."""
        *package, module = self.demo_module.split(".")
        return self.root.joinpath("src", *package, f"{module}.py")

    def relative(self, path: Path) -> str:
        """`path` as the README and the messages write it: relative to the course root, with slashes."""
        return path.relative_to(self.root).as_posix()


def demo_module(lesson_dir: str) -> str:
    return f"{DEMOS_PACKAGE}.lesson_{lesson_dir}"


def lesson_dirs_on_disk(root: Path) -> dict[str, list[Path]]:
    """Every lesson folder name that some file or folder under `root` is named after, by the rules
    of `LessonFiles`, with those paths; whether course.toml lists it or not."""
    probe = LessonFiles(root, "*")
    found: dict[str, list[Path]] = {}
    for pattern, is_kind in ((probe.folder, Path.is_dir), (probe.solution_folder, Path.is_dir),
                             (probe.tests, Path.is_file), (probe.hidden_tests, Path.is_file),
                             (probe.mutants, Path.is_dir), (probe.demo, Path.is_file)):
        prefix, suffix = pattern.name.split("*")
        for path in sorted(pattern.parent.glob(pattern.name)):
            name = path.name[len(prefix):len(path.name) - len(suffix)]
            if is_kind(path) and not name.startswith((".", "_")):
                found.setdefault(name, []).append(path)
    return found


def find_course_root(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: cwd) holding course.toml."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    raise ManifestError(
        f"no {MANIFEST_NAME} found in {here} or any folder above it; "
        f"run this from inside the course folder (or set {ROOT_ENV})"
    )


@lru_cache(maxsize=8)
def _load(root: Path) -> Course:
    path = root / MANIFEST_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} is missing; restore it with `git checkout -- {MANIFEST_NAME}`") from None
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f"{path} is not valid TOML: {err}") from None
    try:
        lessons = tuple(_lesson(entry) for entry in data["lessons"])
        course = data["course"]
        return Course(root=root, title=course["title"], tagline=course.get("tagline", ""), lessons=lessons)
    except KeyError as err:
        raise ManifestError(f"{path}: an entry lacks the required key {err}") from None


def _lesson(entry: dict) -> Lesson:
    exercises = tuple(
        Exercise(function=e["function"], points=float(e["points"]), hints=_hint_ladder(e),
                 hidden_points=float(e.get("hidden_points", 0)))
        for e in entry["exercises"]
    )
    return Lesson(
        dir=entry["dir"],
        title=entry["title"],
        tool=entry.get("tool", ""),
        hints=tuple(entry.get("hints", ())),
        credits=tuple(entry.get("credits", ())),
        exercises=exercises,
    )


def _hint_ladder(exercise: dict) -> tuple[str, ...]:
    """An exercise's `hints = [...]` ladder; an older single `hint = "..."` is a one-rung ladder."""
    ladder = exercise.get("hints", [exercise["hint"]] if exercise.get("hint") else [])
    if not isinstance(ladder, list) or not all(isinstance(rung, str) and rung.strip() for rung in ladder):
        raise ManifestError(f"{MANIFEST_NAME}: exercise {exercise.get('function')!r} needs "
                            f"hints = [\"concept\", \"API\", \"example\", \"code\"], a list of non-empty strings")
    return tuple(ladder)


def load_course(root: Path | None = None) -> Course:
    return _load(find_course_root(root))
