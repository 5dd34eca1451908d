"""What the demo runs for each lesson, one module per lesson: `watchtrain.demos.lesson_<lesson dir>`.

Each module has `run(solution, out: Path) -> str`: it calls the lesson's reference exercises (the
solution module, loaded and guarded as the autograder loads it) on real data, writes under `out`,
and returns one line saying what it wrote. A lesson without such a module has no demo step.
"""
from __future__ import annotations

import importlib
from types import ModuleType


def lesson_demo(lesson_dir: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"{__name__}.lesson_{lesson_dir}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.lesson_{lesson_dir}":
            raise
        return None
