"""Which of the heavy libraries some Python files import: read with ast, never run.

The processes that grading runs are forked from (a batch's zygote, the learner worker's spawner
and host) import these libraries, and warm up their first use, once, before the runs need them.
They import only what the lessons being graded use: `watchtrain check 01` waits for its worker,
which should not spend seconds importing W&B, matplotlib and the ONNX exporter for a lesson that
uses none of them. A library a run needs and no file names is imported by the run itself: slower,
never wrong.

    imported_libraries([path, ...])          # a submission's exercise.py files
    lesson_libraries(course, ["06_wandb"])   # a lesson's stub, reference solution and tests
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable

# Each library whose import (and first use) costs a process a noticeable part of a second or more.
HEAVY = ("torchvision", "matplotlib.pyplot", "torch.utils.tensorboard", "wandb", "onnx", "onnxscript", "torch.onnx",
         "onnxruntime", "visdom", "graphviz", "torchinfo", "torchviz", "torchsummary")
# What a file's import implies it will use as well: `from matplotlib import pyplot`; a lesson that
# checks an ONNX file with onnxruntime, or whose tests read one, after exporting it with torch.onnx
# (which needs onnxscript).
_EXPORTER = ("onnx", "torch.onnx", "onnxscript")
_ALSO = {"matplotlib": ("matplotlib.pyplot",), "onnx": _EXPORTER, "onnxruntime": _EXPORTER, "torch.onnx": _EXPORTER,
         "watchtrain.artifacts.onnx": _EXPORTER}


def imported_libraries(paths: Iterable[Path]) -> list[str]:
    """The HEAVY libraries the files import or use by name (`torch.onnx.export(...)`), with what
    they imply. A file that cannot be read or parsed counts for nothing."""
    found: set[str] = set()
    for path in paths:
        try:
            tree = ast.parse(Path(path).read_bytes())
        except (SyntaxError, ValueError, RecursionError, OSError, MemoryError):
            continue
        for name in _module_names(tree):
            for library in (*HEAVY, *_ALSO):
                if name == library or name.startswith(library + "."):
                    found |= {library, *_ALSO.get(library, ())}
    return sorted(found & set(HEAVY))


def lesson_libraries(course, lesson_dirs: Iterable[str]) -> list[str]:
    """What the lessons' own files import: the stub, the reference solution (when the course has
    it: a handout does not) and the autograder tests."""
    files = [course.files(lesson_dir) for lesson_dir in lesson_dirs]
    return imported_libraries(path for lesson in files for path in (lesson.exercise, lesson.solution, lesson.tests)
                              if path.is_file())


def _module_names(tree: ast.AST) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # from matplotlib import pyplot
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            yield f"{node.value.id}.{node.attr}"  # torch.onnx.export(...)
