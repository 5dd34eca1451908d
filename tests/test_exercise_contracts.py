"""Each stub states a contract and gives no code (README, "Adding a lesson").

Two figures per lesson, comparing lessons/DIR/exercise.py (the stub) with solutions/DIR/exercise.py:

- statement share: of the statements in the reference's exercise functions (a compound statement
  counts by its header line, e.g. `for epoch in range(epochs):`), how many appear verbatim in the
  stub, ignoring whitespace and quote style. Target: at most 10 % per lesson.
- identifier share, per exercise function: of the names, attributes, keyword names and literals of
  the reference function (less its parameters and Python's builtins), how many the stub's docstring
  mentions. Target: no function above 60 %.

`pytest tests/test_exercise_contracts.py -s` or `python tests/test_exercise_contracts.py` prints the
table; the assertion messages list what the stub gives away.
"""
from __future__ import annotations

import ast
import builtins
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from watchtrain.course import load_course

COURSE_ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(COURSE_ROOT)
LESSONS = list(COURSE.lessons)
MAX_STATEMENT_SHARE = 0.10
MAX_IDENTIFIER_SHARE = 0.60
BUILTIN_NAMES = set(dir(builtins))
# Statements that carry no code of their own: finding "return" or "try:" in a stub says nothing.
KEYWORD_ONLY = {"pass", "break", "continue", "return", "try:"}


def squeeze(text: str) -> str:
    """Text without whitespace, with one quote style: how statements are compared."""
    return re.sub(r"\s+", "", text).replace('"', "'")


def is_docstring(node: ast.stmt, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body and node is body[0]
            and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))


def statement_text(node: ast.stmt) -> str:
    """A simple statement's source; a compound one's header line only (not its body)."""
    lines = ast.unparse(node).splitlines()
    if hasattr(node, "body"):  # for, while, if, with, try, def, class, match
        return next(line for line in lines if not line.lstrip().startswith("@"))
    return "\n".join(lines)


def reference_statements(function: ast.FunctionDef) -> list[str]:
    statements = []
    for parent in ast.walk(function):
        for child in ast.iter_child_nodes(parent):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                continue  # the stub may import the same modules at its top: that gives nothing away
            if isinstance(child, ast.stmt) and not is_docstring(child, parent):
                text = squeeze(statement_text(child))
                if text not in KEYWORD_ONLY:
                    statements.append(text)
    return statements


def reference_tokens(function: ast.FunctionDef) -> set[str | tuple[str]]:
    """Identifiers and literals of a reference function; a string literal is kept as a 1-tuple."""
    parameters = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
    docstring = function.body[0].value if is_docstring(function.body[0], function) else None
    tokens: set = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            tokens.add(node.id)
        elif isinstance(node, ast.Attribute):
            tokens.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            tokens.add(node.arg)
        elif isinstance(node, ast.Constant) and node is not docstring and node.value not in (None, True, False):
            if not isinstance(node.value, str):
                tokens.add(repr(node.value))
            elif re.search(r"\w", node.value):  # "", ", " or ")" from an f-string say nothing
                tokens.add((node.value,))
    return {token for token in tokens if token not in parameters and token not in BUILTIN_NAMES}


def mentioned(token, docstring: str) -> bool:
    if isinstance(token, tuple):  # a string literal: anywhere in the text
        return token[0] in docstring
    return re.search(rf"(?<![\w.]){re.escape(token)}(?!\w)" if token[0].isdigit() else rf"\b{re.escape(token)}\b",
                     docstring) is not None


def shown(token) -> str:
    return repr(token[0]) if isinstance(token, tuple) else token


def functions_of(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@dataclass
class FunctionFigures:
    function: str
    tokens: list[str]
    mentioned: list[str]

    @property
    def share(self) -> float:
        return len(self.mentioned) / len(self.tokens) if self.tokens else 0.0


@dataclass
class LessonFigures:
    lesson: str
    statements: list[str]
    statements_in_stub: list[str]
    functions: list[FunctionFigures]

    @property
    def statement_share(self) -> float:
        return len(self.statements_in_stub) / len(self.statements) if self.statements else 0.0

    @property
    def largest(self) -> FunctionFigures | None:
        return max(self.functions, key=lambda figures: figures.share, default=None)


def measure(lesson) -> LessonFigures:
    files = COURSE.files(lesson)
    stub_text = squeeze(files.exercise.read_text(encoding="utf-8"))
    stubs = functions_of(files.exercise)
    references = functions_of(files.solution)
    statements, in_stub, per_function = [], [], []
    for exercise in lesson.exercises:
        reference = references[exercise.function]
        own = reference_statements(reference)
        statements += own
        in_stub += [statement for statement in own if statement in stub_text]
        stub = stubs.get(exercise.function)
        docstring = (ast.get_docstring(stub, clean=False) or "") if stub else ""
        tokens = sorted(reference_tokens(reference), key=str)
        per_function.append(FunctionFigures(
            exercise.function,
            tokens=[shown(token) for token in tokens],
            mentioned=[shown(token) for token in tokens if mentioned(token, docstring)]))
    return LessonFigures(lesson.dir, statements, in_stub, per_function)


def table() -> str:
    rows = [f"{'lesson':<26} {'statements in stub':>20}   {'largest identifier share':<40}"]
    for lesson in LESSONS:
        figures = measure(lesson)
        largest = figures.largest
        statements = f"{len(figures.statements_in_stub)}/{len(figures.statements)} = {figures.statement_share:4.0%}"
        identifiers = f"{largest.share:4.0%} {largest.function}" if largest else "-"
        rows.append(f"{lesson.dir:<26} {statements:>20}   {identifiers:<40}")
    rows.append(f"targets: statements at most {MAX_STATEMENT_SHARE:.0%} per lesson; "
                f"identifiers at most {MAX_IDENTIFIER_SHARE:.0%} per function")
    return "\n".join(rows)


def test_print_the_contract_table():
    print("\n" + table())


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.dir)
def test_stub_gives_few_statements_of_the_reference(lesson):
    figures = measure(lesson)
    found = "\n  ".join(figures.statements_in_stub)
    assert figures.statement_share <= MAX_STATEMENT_SHARE, (
        f"{lesson.dir}: {len(figures.statements_in_stub)} of the reference's {len(figures.statements)} statements "
        f"({figures.statement_share:.0%}, target at most {MAX_STATEMENT_SHARE:.0%}) appear in the stub "
        f"(whitespace removed):\n  {found}")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.dir)
def test_stub_docstrings_name_few_of_the_reference_identifiers(lesson):
    too_telling = [figures for figures in measure(lesson).functions if figures.share > MAX_IDENTIFIER_SHARE]
    assert not too_telling, "\n".join(
        f"{lesson.dir}.{figures.function}: its docstring names {len(figures.mentioned)} of the reference's "
        f"{len(figures.tokens)} identifiers and literals ({figures.share:.0%}, target at most "
        f"{MAX_IDENTIFIER_SHARE:.0%}): {', '.join(figures.mentioned)}"
        for figures in too_telling)


if __name__ == "__main__":
    print(table())
    if "-v" in sys.argv[1:]:
        for lesson in LESSONS:
            for figures in measure(lesson).functions:
                print(f"  {lesson.number} {figures.function:<32} {figures.share:4.0%} "
                      f"({len(figures.mentioned)}/{len(figures.tokens)}): {', '.join(figures.mentioned)}")
