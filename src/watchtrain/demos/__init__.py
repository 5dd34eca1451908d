"""What the demo runs for each lesson, one module per lesson: `watchtrain.demos.lesson_<lesson dir>`
(`LessonFiles.demo_module` in watchtrain.course).

Each module has `run(solution, out: Path) -> str`: it calls the lesson's reference exercises (the
solution module, loaded and guarded as the autograder loads it) on real data, writes under `out`,
and returns one line saying what it wrote. A lesson without such a module has no demo step: the
demo says so, and `watchtrain dev check` reports it.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from watchtrain.course import demo_module


def lesson_demo(lesson_dir: str) -> ModuleType | None:
    name = demo_module(lesson_dir)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
        return None
