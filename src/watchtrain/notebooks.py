"""Each lesson as a Jupyter notebook, generated from its README.md and exercise.py.

    python -m watchtrain.notebooks            write lessons/NN_*/lesson.ipynb for every lesson
    python -m watchtrain.notebooks --check    fail (exit 1) when a notebook differs from its sources

The notebook is never edited by hand: README.md and exercise.py are the sources, the generator is
deterministic (same sources, same bytes), and a project test fails when they drift apart.

What a notebook holds, in order:
- the README, one markdown cell per section. A ```python snippet becomes a code cell when it can
  run where it stands (see `readme_cells`); an excerpt, or a snippet right after a
  `<!-- notebook: skip -->` line, stays in the text;
- "Watch it", before the exercises, when the snippets wrote TensorBoard runs (they used a
  SummaryWriter) and the README does not show them itself: `%tensorboard --logdir runs`;
- at "Your exercises" (else at the end): exercise.py cut into cells, its set-up (imports,
  constants) and then one cell per exercise function, each starting with `# exercise: NAME`;
- a check cell, `check_exercises("NN")`: it grades the exercise cells as run (the last run of
  each), with the same autograder as `watchtrain check NN`, without touching exercise.py;
- last, a snippet that only stops a server (`server.stop()`): moved here from its place in the
  README, so that the views of that server above (an IFrame) keep working while you read on.

TensorBoard is loaded once, in the first cell that uses `%tensorboard`, and only in lessons that
use it. That cell also points `%tensorboard` at the `tensorboard` program installed beside the
kernel's Python, so it starts even when Jupyter was started without the course's environment on
PATH.
"""
from __future__ import annotations

import ast
import builtins
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from watchtrain.course import EXERCISE_FILE, README_FILE, Course, Lesson

SKIP_MARK = "<!-- notebook: skip -->"
SETUP = "setup"
_MARKER = re.compile(r"^# exercise: (\w+)")
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
_PYTHON_FENCES = {"python", "py", "python3", "ipython"}
_EXERCISES_HEADING = re.compile(r"^#{1,6}\s+your exercises\b", re.IGNORECASE)
_SECTION = re.compile(r"^#{1,3}\s")
# The course's environment lacks these on purpose (TensorFlow beside TensorBoard breaks the projector:
# see `watchtrain doctor`), so a snippet importing one is shown, never run: it is a "don't".
_ABSENT_ON_PURPOSE = {"tensorflow"}
_KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_LOAD_TENSORBOARD = "%load_ext tensorboard"
_TENSORBOARD_SETUP = (
    "# `%tensorboard` starts the `tensorboard` program: the one installed beside this kernel's Python,\n"
    "# also when Jupyter itself was started without the course's environment on its PATH.\n"
    "import os, shutil, sysconfig\n"
    "os.environ.setdefault(\"TENSORBOARD_BINARY\",\n"
    "                      shutil.which(\"tensorboard\", path=sysconfig.get_path(\"scripts\")) or \"tensorboard\")\n"
    f"{_LOAD_TENSORBOARD}\n")


@dataclass(frozen=True)
class ExerciseChunk:
    name: str  # "setup" or the exercise function
    source: str


# --- exercise.py <-> cells ------------------------------------------------------------------------

def split_exercises(source: str, functions: list[str]) -> list[ExerciseChunk]:
    """Cut an exercise.py into its set-up and one chunk per exercise function, in file order.

    A chunk runs from its function (decorators and the comment lines right above included) to the
    next exercise function, so module-level helpers stay with the function above them.
    """
    lines = source.splitlines()
    starts = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in functions:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#"):
                start -= 1
            starts.append((start, node.name))
    bounds = [0, *(start for start, _ in starts), len(lines)]
    names = [SETUP, *(name for _, name in starts)]
    return [ExerciseChunk(name, "\n".join(lines[begin:end]).strip("\n"))
            for name, begin, end in zip(names, bounds, bounds[1:])]


def exercise_cell_source(lesson: Lesson, chunk: ExerciseChunk) -> str:
    if chunk.name == SETUP:
        header = "# exercise: setup (the imports and constants of exercise.py; run this cell first)"
    else:
        header = f"# exercise: {chunk.name} ({_points(lesson.exercise(chunk.name).points)} points)"
    return f"{header}\n{chunk.source}"


def latest_exercise_cells(cells: list[str]) -> dict[str, str]:
    """The last run of each `# exercise: NAME` cell among `cells` (in run order), set-up first."""
    latest: dict[str, str] = {}
    for cell in cells:
        found = _MARKER.match(cell.lstrip())
        if found:
            latest.pop(found.group(1), None)  # keep the order of each cell's last run
            latest[found.group(1)] = cell.strip("\n")
    return dict(sorted(latest.items(), key=lambda item: item[0] != SETUP))


def submission_source(cells: dict[str, str]) -> str:
    """exercise.py rebuilt from the exercise cells."""
    return "\n\n\n".join(cells.values()) + "\n"


# --- README -> cells --------------------------------------------------------------------------------

def readme_cells(readme: str) -> list[tuple[str, str]]:
    """("markdown" | "code", source) pairs: a markdown cell per section, a code cell per python snippet.

    A snippet becomes a code cell only when it can run where it stands: it parses, it is not an
    excerpt (no `...` line), every name it uses is a builtin or defined by itself or by an earlier
    code cell, and it imports nothing the course leaves out on purpose (TensorFlow). Anything else
    (an excerpt of a loop, the old TensorFlow workaround) stays in the text as code to read, and so
    does a snippet right after a `<!-- notebook: skip -->` line.
    """
    cells: list[tuple[str, str]] = []
    text: list[str] = []
    defined: set[str] = set()

    def flush_text() -> None:
        body = "\n".join(text).strip("\n")
        if body.strip():
            cells.append(("markdown", body))
        text.clear()

    lines, index, skip_next = readme.splitlines(), 0, False
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if line.strip() == SKIP_MARK:
            skip_next, index = True, index + 1
            continue
        if fence:
            end = index + 1
            while end < len(lines) and not lines[end].startswith(fence.group(1)):
                end += 1
            block = lines[index:end + 1]
            snippet = "\n".join(block[1:-1]).strip("\n")
            bound = runnable_names(snippet, defined) if fence.group(2).lower() in _PYTHON_FENCES else None
            if bound is not None and not skip_next:
                flush_text()
                cells.append(("code", snippet))
                defined |= bound
            else:
                text.extend(block)
            index, skip_next = end + 1, False
            continue
        if _SECTION.match(line) and text:
            flush_text()
        if line.strip():
            skip_next = False
        text.append(line)
        index += 1
    flush_text()
    return cells


def runnable_names(snippet: str, defined: set[str]) -> set[str] | None:
    """The module-level names `snippet` defines when it can run after code that defined `defined`;
    None when it cannot: it does not parse, it is an excerpt, or it uses a name from nowhere."""
    python = "\n".join(line for line in snippet.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return None
    bound_anywhere, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node.value.value is Ellipsis:
            return None  # an excerpt: "..." stands for code left out
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound_anywhere).add(node.id)
        bound_anywhere |= _binds(node)
    if used - bound_anywhere - defined - set(dir(builtins)) or _imports(tree) & _ABSENT_ON_PURPOSE:
        return None
    return _module_level_names(tree)


def _imports(tree: ast.Module) -> set[str]:
    """The top-level packages a snippet imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _binds(node: ast.AST) -> set[str]:
    """Names a node binds other than by assignment: definitions, parameters, imports, `except ... as`."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.arg):
        return {node.arg}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.ExceptHandler) and node.name:
        return {node.name}
    return set()


def _module_level_names(tree: ast.Module) -> set[str]:
    """The names a snippet leaves defined for the cells after it: not those local to its functions."""
    names, pending = set(), list(tree.body)
    while pending:
        node = pending.pop()
        names |= _binds(node)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            pending.extend(ast.iter_child_nodes(node))
    return names


# --- the notebook ---------------------------------------------------------------------------------

def build_notebook(lesson: Lesson, lesson_path: Path):
    """The notebook of one lesson, from `lesson_path`/README.md and exercise.py."""
    import nbformat
    from nbformat import v4

    readme = (lesson_path / README_FILE).read_text(encoding="utf-8")
    exercise = (lesson_path / EXERCISE_FILE).read_text(encoding="utf-8")
    functions = [e.function for e in lesson.exercises]
    cells: list = []

    def markdown(source: str) -> None:
        cells.append(v4.new_markdown_cell(source))

    def code(source: str, **watchtrain) -> None:
        metadata = {"tags": ["exercise"], "watchtrain": watchtrain} if watchtrain else {}
        cells.append(v4.new_code_cell(source, metadata=metadata))

    def exercises() -> None:
        markdown(f"### Your exercises, in the notebook\n\nWrite each function in its cell below, run the cells, "
                 f"then run the check cell: it grades what you ran with the same autograder as "
                 f"`watchtrain check {lesson.number}`. (Prefer an editor? Write them in `exercise.py` and "
                 f"run `watchtrain check {lesson.number}` in a terminal.)")
        for chunk in split_exercises(exercise, functions):
            code(exercise_cell_source(lesson, chunk), exercise=chunk.name)
        code(f"from watchtrain.notebooks import check_exercises\n\ncheck_exercises({lesson.number!r})")

    def watch_it() -> None:
        if uses_tensorboard and not shows_tensorboard:
            markdown("### Watch it\n\nThe snippets above wrote their runs under `runs/`, next to this notebook. "
                     "TensorBoard shows them right here (it runs on 127.0.0.1 only):")
            code(("" if tensorboard_loaded else _TENSORBOARD_SETUP) + "%tensorboard --logdir runs")

    markdown(f"*The notebook version of [README.md](README.md) and [exercise.py](exercise.py) "
             f"(generated by `python -m watchtrain.notebooks`: edit those, not this file). Run the cells in order.*")
    sections = readme_cells(readme)
    snippets = [source for kind, source in sections if kind == "code"]
    uses_tensorboard = any("SummaryWriter" in source or "%tensorboard" in source for source in snippets)
    shows_tensorboard = any("%tensorboard" in source for source in snippets)
    tensorboard_loaded, placed = False, False
    for kind, source in sections:
        if kind == "markdown" and not placed and _EXERCISES_HEADING.match(source):
            watch_it()
            markdown(source)
            exercises()
            placed = True
        elif kind == "markdown":
            markdown(source)
        elif ("%tensorboard" in source or _LOAD_TENSORBOARD in source) and not tensorboard_loaded:
            code(_TENSORBOARD_SETUP + _without_load_ext(source))
            tensorboard_loaded = True
        else:
            code(_without_load_ext(source) if tensorboard_loaded else source)
    if not placed:
        watch_it()
        exercises()
    for index, cell in enumerate(cells):
        cell["id"] = f"{lesson.number}-{index:03d}"
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": _KERNEL, "language_info": {"name": "python"},
        "watchtrain": {"lesson": lesson.dir, "sources": ["README.md", "exercise.py"]}})
    nbformat.validate(notebook)
    return notebook


def _without_load_ext(source: str) -> str:
    """A snippet without its `%load_ext tensorboard` line: the notebook loads TensorBoard once."""
    return "\n".join(line for line in source.splitlines() if line.strip() != _LOAD_TENSORBOARD).strip("\n")


def render(notebook) -> str:
    import nbformat

    return nbformat.writes(notebook) + "\n"


def notebook_lessons(course: Course) -> list[Lesson]:
    """The lessons that can have a notebook: those whose README.md and exercise.py exist."""
    return [lesson for lesson in course.lessons if has_notebook_sources(course, lesson)]


def has_notebook_sources(course: Course, lesson: Lesson) -> bool:
    files = course.files(lesson)
    return files.readme.is_file() and files.exercise.is_file()


def write_notebooks(course: Course) -> list[Path]:
    """(Re)write every lesson's notebook; returns those whose bytes changed."""
    changed = []
    for lesson in notebook_lessons(course):
        files = course.files(lesson)
        text = render(build_notebook(lesson, files.folder))
        if not files.notebook.is_file() or files.notebook.read_text(encoding="utf-8") != text:
            files.notebook.write_text(text, encoding="utf-8")
            changed.append(files.notebook)
    return changed


def notebook_drift(course: Course) -> list[str]:
    """One message per notebook that is missing or differs from what its sources generate."""
    return [problem for lesson in notebook_lessons(course) if (problem := lesson_notebook_drift(course, lesson))]


def lesson_notebook_drift(course: Course, lesson: Lesson) -> str | None:
    """Why `lesson`'s notebook is not what its README.md and exercise.py generate (they must exist); None when it is."""
    files = course.files(lesson)
    relative = files.relative(files.notebook)
    if not files.notebook.is_file():
        return f"{relative} is missing"
    if files.notebook.read_text(encoding="utf-8") != render(build_notebook(lesson, files.folder)):
        return f"{relative} differs from its README.md and exercise.py"
    return None


def with_sources_of(notebook, exercise_path: Path, lesson: Lesson):
    """A copy of `notebook` whose exercise cells hold `exercise_path`'s code (e.g. the reference solution)."""
    import copy

    chunks = {chunk.name: chunk for chunk in split_exercises(exercise_path.read_text(encoding="utf-8"),
                                                             [e.function for e in lesson.exercises])}
    result = copy.deepcopy(notebook)
    for cell in result.cells:
        name = cell.get("metadata", {}).get("watchtrain", {}).get("exercise")
        if name is not None:
            cell.source = exercise_cell_source(lesson, chunks[name])
    return result


# --- inside the notebook's kernel -----------------------------------------------------------------

def check_exercises(lesson_key: str) -> None:
    """Grade the exercise cells this kernel has run, as `watchtrain check` grades exercise.py."""
    from IPython import get_ipython

    from watchtrain.course import load_course
    from watchtrain.lesson_check import CheckError, check_lesson, render_check
    from watchtrain.progress import load_progress

    shell = get_ipython()
    course = load_course()
    lesson = course.lesson(lesson_key)
    cells = latest_exercise_cells(list(shell.user_ns.get("In", [])) if shell is not None else [])
    missing = [name for name in (SETUP, *(e.function for e in lesson.exercises)) if name not in cells]
    if missing:
        print(f"Run the exercise cells above first; not run yet: {', '.join(missing)}.")
        return
    with tempfile.TemporaryDirectory(prefix="watchtrain-notebook-") as scratch:
        folder = Path(scratch) / lesson.dir
        folder.mkdir()
        (folder / EXERCISE_FILE).write_text(submission_source(cells), encoding="utf-8")
        print(f"Checking the exercise cells of lesson {lesson.number} ...", flush=True)
        try:
            check = check_lesson(course, lesson, submission=Path(scratch))
        except CheckError as err:
            print(f"Could not check: {err}")
            return
    print(render_check(check, "the exercise cells", again="re-run the cell and this check"))
    progress = load_progress(course)
    check.record(progress, None)
    progress.save()


def _points(value: float) -> str:
    return f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    import argparse

    from watchtrain.course import ManifestError, load_course

    parser = argparse.ArgumentParser(prog="python -m watchtrain.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ from their sources")
    args = parser.parse_args(argv)
    try:
        course = load_course()
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.check:
        problems = notebook_drift(course)
        for problem in problems:
            print(problem)
        if problems:
            print("Regenerate them with `python -m watchtrain.notebooks` (or `make notebooks`).")
        return 1 if problems else 0
    changed = write_notebooks(course)
    for path in changed:
        print(f"wrote {path.relative_to(course.root)}")
    print(f"{len(notebook_lessons(course))} lesson notebook(s) up to date ({len(changed)} rewritten)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
