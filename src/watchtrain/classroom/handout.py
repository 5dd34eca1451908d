"""`watchtrain handout`: the student release of the course, and the check that nothing leaks into it.

The handout is the course as git committed it at HEAD, never the working tree (where an instructor
may have tried the exercises), minus everything a student must not see: solutions/, the hidden
tests, the project's own tests (mutants included) and CI. It gets a README and a Makefile written
for students, and a GitHub Classroom workflow. It is refused when a stub no longer raises
NotImplementedError or differs from the committed one. Before it is kept, every file in it is
searched for the body of any reference solution and for any hidden test; a leak deletes the
handout and says where.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

from watchtrain.classroom.committed import NotCommitted, extract_head
from watchtrain.classroom.course_files import course_files, fill
from watchtrain.course import MUTANT_FILE, Course, LessonFiles, load_course
from watchtrain.course_map import render_course_map
from watchtrain.grading.options import HIDDEN_DIR
from watchtrain.stubs import untouched

HANDOUT_PARTS = ("course.toml", "pyproject.toml", "constraints.txt", ".gitignore",
                 "lessons", "autograder", "src", "data", "tools")
WORKFLOW = ".github/workflows/classroom.yml"
NEVER_SHIPPED = ("solutions", "tests", f"autograder/{HIDDEN_DIR}", ".ci")
_MIN_LEAK_LINES = 3  # shorter bodies (one add_* call in a `with`) are what every lesson shows anyway
_MAX_TEXT_BYTES = 5 * 2**20


class HandoutError(Exception):
    """The handout cannot be written, or would leak; the message says what and where."""


class Handout(NamedTuple):
    commit: str  # the commit it was built from
    files: list[str]  # relative to the handout


def write_handout(course: Course, out: Path, *, force: bool = False, grade_options: str = "") -> Handout:
    """Write the student release of what `course` has committed at HEAD into `out`."""
    out = out.resolve()
    if out == course.root or course.root.is_relative_to(out):
        raise HandoutError(f"{out} holds the course itself; choose a new folder for the handout")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise HandoutError(f"{out} is not empty; choose a new folder, or add --force to replace it")
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="watchtrain-handout-") as snapshot:
        try:
            commit = extract_head(course.root, Path(snapshot))
        except NotCommitted as err:
            raise HandoutError(str(err)) from None
        committed = load_course(Path(snapshot))
        problems = unsafe_stubs(committed, course.root)
        if problems:
            raise HandoutError("the handout was not written:\n  " + "\n  ".join(problems))
        written = _write_files(committed, out, grade_options)
        leaks = find_leaks(out, committed)
    if leaks:
        shutil.rmtree(out)
        raise HandoutError("the handout would leak, so it was not written:\n  " + "\n  ".join(leaks))
    return Handout(commit, written)


def _write_files(course: Course, out: Path, grade_options: str) -> list[str]:
    written = []
    for relative, source in course_files(course.root, HANDOUT_PARTS, skip=(f"autograder/{HIDDEN_DIR}",)):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        written.append(relative)
    generated = {"README.md": student_readme(course), "Makefile": student_makefile(course),
                 WORKFLOW: fill("github_classroom.yml", grade_options=f" {grade_options}" if grade_options else "")}
    for relative, text in generated.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text, encoding="utf-8")
        written.append(relative)
    return sorted(written)


def unsafe_stubs(committed: Course, working_tree: Path) -> list[str]:
    """Why each committed stub may not be handed out: a function that no longer raises
    NotImplementedError, or a working-tree copy that differs from it (someone tried the exercise
    there). Empty when every stub is safe."""
    problems = []
    for lesson in committed.lessons:
        files = committed.files(lesson)
        stub, relative = files.exercise, files.relative(files.exercise)
        tried = LessonFiles(working_tree, lesson.dir).exercise
        if not stub.is_file():
            problems.append(f"{relative} is not committed")
            continue
        functions = [e.function for e in lesson.exercises]
        stubs = untouched(stub, functions)
        answered = [function for function in functions if function not in stubs]
        if answered:
            problems.append(f"{relative}: {', '.join(answered)} in the committed stub no longer only raise(s) "
                            f"NotImplementedError; restore the stub and commit it")
        if not tried.is_file() or tried.read_bytes() != stub.read_bytes():
            problems.append(f"{relative} differs from the committed one (were the exercises tried here?): "
                            f"`git diff -- {relative}` shows how; `git checkout -- {relative}` restores it")
    return problems


def student_readme(course: Course) -> str:
    first = course.lessons[0]
    first_files = course.files(first)
    hidden = sum(e.hidden_points for lesson in course.lessons for e in lesson.exercises)
    hidden_note = (f"- Your instructor may also grade with hidden checks, worth {hidden:g} more points: the same "
                   f"exercises on other inputs. Code that follows the docstrings, rather than the visible tests' "
                   f"numbers, passes them.\n") if hidden else ""
    course_map = "\n".join(render_course_map(course).splitlines()[1:-1])  # without the README's update markers
    return fill("handout_README.md", title=course.title, tagline=course.tagline, course_map=course_map,
                first_number=first.number, first_readme=first_files.relative(first_files.readme),
                first_dir=first.dir, hidden_note=hidden_note)


def student_makefile(course: Course) -> str:
    """The students' Makefile: the course Makefile's variables, its `setup` rule and every rule that
    one needs (as a prerequisite or through `$(MAKE) rule`), so students install exactly as the
    course does; `make test` grades their lessons/."""
    text = (course.root / "Makefile").read_text(encoding="utf-8")
    variables = [line for line in text.splitlines() if re.match(r"^(export\s+)?[A-Z_]+\s*[:?]?=", line)]
    rules, wanted, seen = [], ["setup"], set()
    while wanted:
        target = wanted.pop(0)
        if target in seen:
            continue
        seen.add(target)
        match = re.search(rf"^(?:#.*\n)*{re.escape(target)}:(.*)\n(?:\t.*\n)*", text, re.M)
        if match is None:
            if target == "setup":
                raise HandoutError("the course Makefile has no `setup:` rule, which the students' Makefile copies")
            continue  # a file, not a rule
        rules.append(match.group(0).rstrip("\n"))
        wanted += match.group(1).split() + re.findall(r"\$\(MAKE\)(?:\s+-\S+)*\s+([\w-]+)", match.group(0))
    return fill("handout_Makefile", variables="\n".join(variables), install_rules="\n\n".join(rules))


def find_leaks(handout: Path, course: Course) -> list[str]:
    """Everything in `handout` a student must not see: a forbidden folder, a mutant, the body of a
    reference solution, or a hidden test. Empty when the handout is clean. The hint ladders are
    handed out on purpose (`watchtrain hint` shows their last rung, the code), so their text is no leak."""
    problems = [f"{name}/ is in the handout" for name in NEVER_SHIPPED if (handout / name).exists()]
    problems += [f"{path.relative_to(handout)} is a mutant" for path in handout.rglob(MUTANT_FILE)]
    secrets = _secrets(course)
    hints = [_normalise(rung) for lesson in course.lessons for exercise in lesson.exercises for rung in exercise.hints]
    for path in sorted(handout.rglob("*")):
        text = _searchable_text(path)
        if text is None:
            continue
        for rung in hints:
            text = text.replace(rung, "")
        for label, block in secrets:
            if block in text:
                problems.append(f"{path.relative_to(handout)} contains {label}")
    return problems


def _secrets(course: Course) -> list[tuple[str, str]]:
    """(what it is, its normalised text) for each solution body and each hidden test."""
    secrets = []
    for lesson in course.lessons:
        solution = course.files(lesson).solution
        if solution.is_file():
            for name, body in _function_bodies(solution, with_signature=False):
                secrets.append((f"the solution of {lesson.dir}: {name}()", body))
    hidden = course.root / "autograder" / HIDDEN_DIR
    for path in sorted(hidden.glob("test_*.py")) if hidden.is_dir() else []:
        for name, body in _function_bodies(path, with_signature=True):
            secrets.append((f"the hidden test {path.name}: {name}()", body))
            if name.startswith("test_"):
                secrets.append((f"the name of the hidden test {name}", f"def {name}("))
    return secrets


def _function_bodies(path: Path, *, with_signature: bool) -> list[tuple[str, str]]:
    """Each top-level function's code without its docstring, normalised, when long enough to mean something."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        if not body:
            continue
        first = node.lineno if with_signature else body[0].lineno
        block = _normalise("\n".join(lines[first - 1:node.end_lineno]))
        if block.count("\n") + 1 >= _MIN_LEAK_LINES:
            found.append((node.name, block))
    return found


def _searchable_text(path: Path) -> str | None:
    """A file's text, normalised; notebooks as the text of their cells. None for binaries and folders."""
    if not path.is_file() or path.stat().st_size > _MAX_TEXT_BYTES:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    if path.suffix == ".ipynb":
        try:
            text = "\n".join("".join(cell.get("source", [])) for cell in json.loads(text).get("cells", []))
        except (json.JSONDecodeError, AttributeError, TypeError):
            pass
    return _normalise(text)


def _normalise(text: str) -> str:
    """Lines stripped of indentation, blank lines dropped: a copy re-indented or re-spaced still matches."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
