"""`watchtrain dev check`: everything missing or inconsistent in every lesson, in one run.

It checks what the project's tests and the course's tools rely on, lesson by lesson (README.md,
"Adding a lesson", is the path it checks): each lesson's files (`LessonFiles` in watchtrain.course),
the stubs against the reference solution and the manifest, the autograder tests' `@exercise`
markers, the mutants, the hint ladders, the demo module and the generated notebook; then what is on
disk for a lesson course.toml does not list, and the README's course map.

It only reads files: Python is parsed with `ast`, never imported (no learner code, no torch), and
nothing is graded. It does not measure how much of a solution its stub gives away
(tests/test_exercise_contracts.py does), and the demos and notebooks only run in `make test`.
"""
from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchtrain.course import (LESSON_DIR_PATTERN, MANIFEST_NAME, MUTANT_FILE, README_FILE, Course, Lesson,
                               lesson_dirs_on_disk)

MIN_MUTANTS = 4  # tests/test_mutants.py: every lesson with an autograder has at least four
MIN_HINT_RUNGS = 3  # concept, API, a worked example on other data (and the code)
TEMPLATE_TESTS = "autograder/TEMPLATE.py"
_STUB_BODY = "raise NotImplementedError"
_README_LINK = re.compile(r"\.\./\.\./README\.md#([\w-]+)")


@dataclass(frozen=True)
class Problem:
    lesson: str | None  # the lesson folder it concerns; None for the course as a whole
    what: str  # what is missing or wrong
    fix: str  # what to do about it

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


# --- reading Python without running it ------------------------------------------------------------

def functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The module's top-level functions by name."""
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def exercise_markers(tree: ast.Module) -> set[str]:
    """The functions named by the `@exercise("<function>")` markers of any test in `tree`."""
    return {decorator.args[0].value for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            for decorator in node.decorator_list if _exercise_marker(decorator)}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def readme_anchors(readme: str) -> set[str]:
    return {github_anchor(line.lstrip("#")) for line in readme.splitlines() if line.startswith("#")}


def _exercise_marker(decorator: ast.expr) -> bool:
    return (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "exercise"
            and bool(decorator.args) and isinstance(decorator.args[0], ast.Constant))


def _stub_body(function: ast.FunctionDef) -> list[ast.stmt]:
    return function.body[1:] if ast.get_docstring(function) is not None else function.body


# --- the check ----------------------------------------------------------------------------------------

def check_course(course: Course) -> list[Problem]:
    """Every problem of every lesson in course.toml, then of what is on disk outside it, then of the course."""
    anchors = _course_anchors(course)
    problems = []
    for index, lesson in enumerate(course.lessons, start=1):
        problems += [Problem(lesson.dir, what, fix) for what, fix in _LessonCheck(course, lesson, index, anchors).run()]
    listed = {lesson.dir for lesson in course.lessons}
    for name, paths in sorted(lesson_dirs_on_disk(course.root).items()):
        if name not in listed:
            problems += [Problem(name, f"{_relative(course, path)} is not a lesson of {MANIFEST_NAME}",
                                 f"add a [[lessons]] entry with dir = \"{name}\", or remove it") for path in paths]
    problems += [Problem(None, what, fix) for what, fix in _course_map_problems(course)]
    return problems


class _LessonCheck:
    """The problems of one lesson, as (what, fix) pairs."""

    def __init__(self, course: Course, lesson: Lesson, index: int, anchors: set[str] | None):
        self.course, self.lesson, self.index, self.anchors = course, lesson, index, anchors
        self.files = course.files(lesson)
        self.functions = [exercise.function for exercise in lesson.exercises]

    def name(self, path: Path) -> str:
        return self.files.relative(path) + ("/" if path == self.files.mutants else "")

    def run(self) -> Iterator[tuple[str, str]]:
        # In the order of README.md's "Adding a lesson".
        yield from self.manifest()
        solution = yield from self.parsed(self.files.solution, MISSING_FIXES["solution"])
        stub = yield from self.parsed(self.files.exercise, MISSING_FIXES["exercise"])
        yield from self.stubs(stub, solution)
        yield from self.readme()
        tests = yield from self.parsed(self.files.tests, MISSING_FIXES["tests"])
        yield from self.tests(tests)
        yield from self.hidden_tests()
        yield from self.mutants(tests)
        yield from self.alternatives(tests)
        yield from self.demo()
        yield from self.notebook(stub)

    def manifest(self) -> Iterator[tuple[str, str]]:
        lesson, expected = self.lesson, f"{self.index:02d}"
        if not re.fullmatch(LESSON_DIR_PATTERN, lesson.dir):
            yield (f"{MANIFEST_NAME}: the lesson folder name {lesson.dir!r} is not NN_name",
                   "two digits, an underscore, then lower-case letters, digits and underscores (it becomes part "
                   "of Python module names); rename it in course.toml and on disk")
        elif lesson.number != expected:
            yield (f"{MANIFEST_NAME}: lesson {lesson.dir} is number {self.index} in the lesson order",
                   f"number the lessons 01, 02, ... in course.toml's order: {expected}_{lesson.dir.split('_', 1)[1]}")
        if not lesson.exercises:
            yield (f"{MANIFEST_NAME}: lesson {lesson.dir} has no exercises",
                   "add a [[lessons.exercises]] entry per function")
        for exercise in lesson.exercises:
            if exercise.points <= 0:
                yield (f"{MANIFEST_NAME}: exercise {exercise.function} has {exercise.points:g} points",
                       "give it points = N, more than 0")
            if len(exercise.hints) < MIN_HINT_RUNGS:
                yield (f"{MANIFEST_NAME}: exercise {exercise.function} has a hint ladder of {len(exercise.hints)} "
                       f"rung(s)", "write hints = [concept, API, a worked example on other data, the code]")

    def parsed(self, path: Path, fix_missing: str) -> Iterator[tuple[str, str]]:
        """Yield what stops `path` from being read; return its tree, or None."""
        if not path.is_file():
            yield f"{self.name(path)} is missing", fix_missing.format(dir=self.lesson.dir)
            return None
        try:
            return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, ValueError, UnicodeDecodeError) as err:
            yield f"{self.name(path)} cannot be parsed ({err})", "fix its syntax"
            return None

    def stubs(self, stub: ast.Module | None, solution: ast.Module | None) -> Iterator[tuple[str, str]]:
        stubs = functions(stub) if stub else None
        solutions = functions(solution) if solution else None
        stub_name, solution_name = self.name(self.files.exercise), self.name(self.files.solution)
        for function in self.functions:
            if stubs is not None and function not in stubs:
                yield (f"{stub_name} has no function {function}, an exercise in {MANIFEST_NAME}",
                       f"write its stub: the reference's signature and docstring, then `{_STUB_BODY}`")
            elif stubs is not None and [ast.unparse(s) for s in _stub_body(stubs[function])] != [_STUB_BODY]:
                yield (f"{stub_name}: {function} is not a stub",
                       f"leave only its docstring and `{_STUB_BODY}` (the handout refuses a stub with code)")
            if solutions is not None and function not in solutions and (stubs is None or function in stubs):
                yield (f"{solution_name} has no function {function}, an exercise in {MANIFEST_NAME}",
                       "write its reference solution")
        if stubs is None or solutions is None:
            return
        for name in sorted(solutions.keys() - stubs.keys() - set(self.functions)):
            yield f"{solution_name} defines {name}, {stub_name} does not", "the two files define the same functions"
        for name in sorted(stubs.keys() - solutions.keys() - set(self.functions)):
            yield f"{stub_name} defines {name}, {solution_name} does not", "the two files define the same functions"
        for name in sorted(stubs.keys() & solutions.keys()):
            if ast.get_docstring(stubs[name]) != ast.get_docstring(solutions[name]):
                yield (f"{name}: its docstrings in {stub_name} and {solution_name} differ",
                       "the stub's docstring is the contract the solution meets: make them the same")
            if ast.dump(stubs[name].args) != ast.dump(solutions[name].args):
                yield (f"{name}: its signatures in {stub_name} and {solution_name} differ",
                       "give the stub the reference's parameters and defaults")

    def tests(self, tests: ast.Module | None) -> Iterator[tuple[str, str]]:
        if tests is None:
            return
        yield from self.markers(self.files.tests, exercise_markers(tests), set(self.functions),
                                "a test that fails on the stub and passes on the reference")
        for name, test in functions(tests).items():
            if name.startswith("test_") and not any(_exercise_marker(d) for d in test.decorator_list):
                yield (f"{self.name(self.files.tests)}: {name} has no @exercise(\"<function>\") marker",
                       "mark it with the exercise it checks (its points come from that exercise)")

    def hidden_tests(self) -> Iterator[tuple[str, str]]:
        path = self.files.hidden_tests
        wanted = {e.function for e in self.lesson.exercises if e.hidden_points > 0}
        if not wanted and not path.is_file():
            return
        tree = yield from self.parsed(path, MISSING_FIXES["hidden_tests"])
        if tree is not None:
            yield from self.markers(path, exercise_markers(tree), wanted,
                                    "a hidden test (the same exercise on other inputs)", hidden=True)

    def markers(self, path: Path, marked: set[str], wanted: set[str], test: str, *,
                hidden: bool = False) -> Iterator[tuple[str, str]]:
        for function in sorted(wanted - marked):
            yield f"{self.name(path)} has no test marked @exercise(\"{function}\")", f"write {test}"
        for function in sorted(marked - wanted):
            if hidden and function in self.functions:
                yield (f"{self.name(path)} tests {function}, whose hidden_points are 0",
                       f"give it hidden_points = N in {MANIFEST_NAME}, or remove the test")
            else:
                yield (f"{self.name(path)} marks a test @exercise(\"{function}\"), not an exercise of this lesson",
                       f"name an exercise of lesson {self.lesson.number} in {MANIFEST_NAME}")

    def mutants(self, tests: ast.Module | None) -> Iterator[tuple[str, str]]:
        folder = self.files.mutants
        if not folder.is_dir():
            yield f"{self.name(folder)} is missing", MISSING_FIXES["mutants"]
            return
        test_names, solution = self.references(tests)
        count = 0
        for spec in (yield from self.specs(folder, MISSING_FIXES["mutant"])):
            count += 1
            yield from self.mutant(spec, test_names, solution)
        if count < MIN_MUTANTS:
            yield (f"{self.name(folder)} holds {count} mutant(s), fewer than {MIN_MUTANTS}",
                   f"add {MIN_MUTANTS - count} more: {MISSING_FIXES['mutant']}")

    def alternatives(self, tests: ast.Module | None) -> Iterator[tuple[str, str]]:
        """Optional: right submissions written otherwise, each naming the checks that must pass it."""
        folder = self.files.alternatives
        if not folder.is_dir():
            return
        test_names, solution = self.references(tests)
        for spec in (yield from self.specs(folder, MISSING_FIXES["alternative"])):
            yield from self.alternative(spec, test_names, solution)

    def references(self, tests: ast.Module | None) -> tuple[set[str] | None, str | None]:
        """What a mutant or an alternative is checked against: the test names, the reference's text."""
        test_names = {name for name in functions(tests) if name.startswith("test_")} if tests else None
        solution = self.files.solution.read_text(encoding="utf-8") if self.files.solution.is_file() else None
        return test_names, solution

    def specs(self, folder: Path, fix: str) -> Iterator[tuple[str, str]]:
        """The mutant.toml of each submission folder in `folder`; a folder without one is reported."""
        found = []
        for submission in sorted(path for path in folder.iterdir()
                                 if path.is_dir() and not path.name.startswith((".", "_"))):
            if (submission / MUTANT_FILE).is_file():
                found.append(submission / MUTANT_FILE)
            else:
                yield f"{self.files.relative(submission)}/ has no {MUTANT_FILE}", fix
        return found

    def spec_data(self, spec: Path) -> Iterator[tuple[str, str]]:
        """The spec's TOML (the generator's return value), or None after saying why it cannot be read."""
        try:
            return tomllib.loads(spec.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            yield f"{self.files.relative(spec)} is not valid TOML ({err})", "fix it"
            return None

    def unknown_test(self, name: str, named: str) -> tuple[str, str]:
        """`named`: how the spec names a test, "expects the test X" or "names the check X"."""
        return (f"{name} {named}, which {self.name(self.files.tests)} does not define",
                "name one of its tests (was it renamed?)")

    def mutant(self, spec: Path, test_names: set[str] | None, solution: str | None) -> Iterator[tuple[str, str]]:
        name = self.files.relative(spec)
        data = yield from self.spec_data(spec)
        if data is None:
            return
        expectations = data.get("expect")
        if not isinstance(expectations, list) or not expectations:
            yield f"{name} has no [[expect]]", "say which test must catch it: test = \"test_...\", feedback = \"...\""
            expectations = []
        for expected in expectations:
            if not isinstance(expected, dict) or not {"test", "feedback"} <= expected.keys():
                yield (f"{name}: an [[expect]] lacks test or feedback",
                       "give both: the test that fails, and words of its feedback")
            elif test_names is not None and expected["test"] not in test_names:
                yield self.unknown_test(name, f"expects the test {expected['test']}")
        yield from self.edits(name, spec, data, solution)

    def alternative(self, spec: Path, test_names: set[str] | None, solution: str | None) -> Iterator[tuple[str, str]]:
        name = self.files.relative(spec)
        data = yield from self.spec_data(spec)
        if data is None:
            return
        checks = data.get("checks")
        if not isinstance(checks, list) or not checks or not all(isinstance(check, str) for check in checks):
            yield f"{name} names no checks", MISSING_FIXES["alternative"]
        elif test_names is not None:
            yield from (self.unknown_test(name, f"names the check {check}") for check in checks if check not in test_names)
        yield from self.edits(name, spec, data, solution)

    def edits(self, name: str, spec: Path, data: dict, solution: str | None) -> Iterator[tuple[str, str]]:
        """A mutant's or an alternative's [[edit]]s, each quoting the reference once."""
        if (spec.parent / self.files.exercise.name).is_file():
            return  # a whole exercise.py, shipped beside the mutant.toml
        edits = data.get("edit")
        if not isinstance(edits, list) or not edits:
            yield (f"{name} has no [[edit]] (and no {self.files.exercise.name} beside it)",
                   "give the edits (old = ..., new = ...) that turn the reference solution into this submission")
            return
        for edit in edits:
            old = edit.get("old") if isinstance(edit, dict) else None
            if not isinstance(old, str) or not isinstance(edit.get("new"), str):
                yield f"{name}: an [[edit]] lacks old or new", "give both, as strings"
            elif solution is not None and solution.count(old) != 1:
                yield (f"{name}: an [[edit]]'s old text occurs {solution.count(old)} times in "
                       f"{self.name(self.files.solution)}, not once",
                       "quote the reference's current code, enough to be unique")

    def demo(self) -> Iterator[tuple[str, str]]:
        tree = yield from self.parsed(self.files.demo, MISSING_FIXES["demo"])
        if tree is not None and "run" not in functions(tree):
            yield (f"{self.name(self.files.demo)} has no function run",
                   "define run(solution, out) -> str: `watchtrain demo` calls it")

    def readme(self) -> Iterator[tuple[str, str]]:
        if not self.files.readme.is_file():
            yield f"{self.name(self.files.readme)} is missing", MISSING_FIXES["readme"]
            return
        if self.anchors is None:
            return
        for anchor in _README_LINK.findall(self.files.readme.read_text(encoding="utf-8")):
            if anchor not in self.anchors:
                yield (f"{self.name(self.files.readme)} links to README.md#{anchor}, which has no such section",
                       "link to a heading of the course README")

    def notebook(self, stub: ast.Module | None) -> Iterator[tuple[str, str]]:
        from watchtrain.notebooks import has_notebook_sources, lesson_notebook_drift

        name = self.name(self.files.notebook)
        regenerate = "regenerate it with `python -m watchtrain.notebooks` (or `make notebooks`)"
        if not has_notebook_sources(self.course, self.lesson):
            if not self.files.notebook.is_file():
                yield f"{name} is missing", f"once README.md and exercise.py are written, {regenerate}"
            return
        if stub is None:
            return  # reported above; the notebook is cut from the stub's functions
        try:
            drift = lesson_notebook_drift(self.course, self.lesson)
        except Exception as err:  # noqa: BLE001 - any failure of the generator is a problem to report
            yield f"{name} cannot be generated ({type(err).__name__}: {err})", "fix README.md or exercise.py"
            return
        if drift:
            yield drift, regenerate


MISSING_FIXES = {
    "readme": "write the lesson: what the tool shows and why, its API on other data, then a \"Your exercises\" section",
    "exercise": f"write the stubs: the reference's functions, signatures and docstrings, each body `{_STUB_BODY}`",
    "solution": f"write the reference solution, one function per exercise in {MANIFEST_NAME}",
    "tests": f"copy {TEMPLATE_TESTS} to autograder/test_{{dir}}.py and write tests, each marked "
             f"@exercise(\"<function>\"), for every exercise",
    "hidden_tests": "write the hidden tests of the exercises with hidden_points, each marked @exercise(\"<function>\")",
    "mutants": f"add at least {MIN_MUTANTS} realistic wrong submissions, one folder each with a {MUTANT_FILE}",
    "alternative": f"an alternative is a folder with a {MUTANT_FILE}: [[edit]]s (old, new) that rewrite the reference "
                   f"another right way, and checks = [\"test_...\"], the checks that must pass it",
    "mutant": f"each mutant is a folder with a {MUTANT_FILE}: [[edit]]s (old, new) that turn the reference into a "
              f"realistic mistake, and [[expect]] with the test that must catch it and words of its feedback",
    "demo": "write run(solution, out) -> str, which runs the reference on the bundled data; without it "
            "`watchtrain demo` skips this lesson",
}


def _course_anchors(course: Course) -> set[str] | None:
    readme = course.root / README_FILE
    return readme_anchors(readme.read_text(encoding="utf-8")) if readme.is_file() else None


def _course_map_problems(course: Course) -> Iterator[tuple[str, str]]:
    from watchtrain.course_map import END, START, readme_course_map, render_course_map

    readme = course.root / README_FILE
    if not readme.is_file():
        yield f"{README_FILE} is missing", "restore the course README"
        return
    found = readme_course_map(readme)
    if found is None:
        yield (f"{README_FILE} has no course map",
               f"add the lines {START} and {END}, then `watchtrain course-map --write`")
    elif found != render_course_map(course):
        yield f"{README_FILE}'s course map differs from {MANIFEST_NAME}", "run `watchtrain course-map --write`"


def _relative(course: Course, path: Path) -> str:
    return path.relative_to(course.root).as_posix() + ("/" if path.is_dir() else "")


# --- the report ---------------------------------------------------------------------------------------

def render_report(course: Course, problems: list[Problem], mark: Callable[[str], str] = lambda text: text) -> str:
    """One line per problem, grouped per lesson (the course's own last), then a summary."""
    if not problems:
        return f"All {len(course.lessons)} lessons are complete."
    numbers = {lesson.dir: f"lesson {lesson.number} ({lesson.dir})" for lesson in course.lessons}
    groups: dict[str | None, list[Problem]] = {}
    for problem in problems:
        groups.setdefault(problem.lesson, []).append(problem)
    lines = []
    for lesson, found in sorted(groups.items(), key=lambda item: (item[0] is None, item[0] not in numbers)):
        heading = "the course" if lesson is None else numbers.get(lesson, f"{lesson} (not in {MANIFEST_NAME})")
        lines += [f"{heading}:", *(f"  {mark('x')} {problem}" for problem in found), ""]
    lessons = [lesson for lesson in groups if lesson in numbers]
    others = len(problems) - sum(len(groups[lesson]) for lesson in lessons)
    summary = f"{len(problems)} problem(s), in {len(lessons)} of the {len(course.lessons)} lessons"
    if others:
        summary += f" and {others} outside them"
    lines.append(summary + ". Fix them, then run `watchtrain dev check` again.")
    return "\n".join(lines)
