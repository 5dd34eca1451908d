"""What the demo runs for each lesson: its reference exercises on real data, into one folder.

Each entry takes the lesson's solution module (guarded, as the autograder loads it) and an output
folder, and returns a one-line description of what it wrote.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

LessonDemo = Callable[[Any, Path], str]

LESSON_DEMOS: dict[str, LessonDemo] = {}
