"""Which of the heavy libraries some Python files import: read with ast, never run.

The processes that grading runs are forked from (a batch's zygote, the learner worker's spawner
and host) import these libraries, and warm up their first use, once, before the runs need them.
They import only what the lessons being graded use: `watchtrain check 01` waits for its worker,
which should not spend seconds importing W&B, matplotlib and the ONNX exporter for a lesson that
uses none of them. A library a run needs and no file names is imported by the run itself: slower,
never wrong.

    imported_libraries([path, ...])          # a submission's exercise.py files
    learner_libraries(course, ["06_wandb"])  # a lesson's stub and reference solution: the worker's
    lesson_libraries(course, ["06_wandb"])   # and its tests: a batch's zygote, the checker's too
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


def learner_libraries(course, lesson_dirs: Iterable[str]) -> list[str]:
    """What the learner's code of these lessons imports, as the stub and the reference solution
    (when the course has it: a handout does not) show it: for the worker, which runs only that."""
    return imported_libraries(_existing(course, lesson_dirs, "exercise", "solution"))


def lesson_libraries(course, lesson_dirs: Iterable[str]) -> list[str]:
    """What a grading run of these lessons imports on both sides: the learner's libraries and the
    autograder tests' (a batch's zygote forks checkers and workers alike). The tests are the big
    files: reading them all takes about 0.3 s, which a run's start-up should not pay."""
    return imported_libraries(_existing(course, lesson_dirs, "exercise", "solution", "tests"))


def _existing(course, lesson_dirs: Iterable[str], *kinds: str) -> list[Path]:
    files = [course.files(lesson_dir) for lesson_dir in lesson_dirs]
    return [path for lesson in files for kind in kinds if (path := getattr(lesson, kind)).is_file()]


def _module_names(tree: ast.AST) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # from matplotlib import pyplot
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            yield f"{node.value.id}.{node.attr}"  # torch.onnx.export(...)
