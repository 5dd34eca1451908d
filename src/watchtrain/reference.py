"""The course's own reference solutions, imported to run the demos (`watchtrain demo`).

This is the instructor's trusted code from `solutions/`, never a learner's: grading never imports
a submission (the learner worker runs it; see grading/submission.py).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from watchtrain.course import EXERCISE_FILE


def load_reference(solutions: Path, lesson_dir: str) -> ModuleType:
    """`solutions/<lesson_dir>/exercise.py` as a module (imported once per process)."""
    path = (solutions / lesson_dir / EXERCISE_FILE).resolve()
    name = f"watchtrain_reference_{lesson_dir}"
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the demos run the course's reference solutions")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    spec.loader.exec_module(module)
    return module
