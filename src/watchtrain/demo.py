"""The course's main job: train the tutorial CNN on the bundled data and run every lesson's
reference code, offline, writing everything under one folder (default `runs/`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watchtrain.course import Course
from watchtrain.grading.submission import load_lesson
from watchtrain.demos import lesson_demo
from watchtrain.tutorial_training import train_tutorial_cnn


@dataclass(frozen=True)
class DemoOutput:
    name: str
    path: Path
    what: str
    seconds: float


def run_demo(course: Course, out: Path, *, device: str = "cpu", report: Callable[[str], None] = print) -> list[DemoOutput]:
    outputs = []

    def step(name: str, path: Path, job: Callable[[], str]) -> None:
        report(f"  {name} ...")
        started = time.perf_counter()
        what = job()
        outputs.append(DemoOutput(name, path, what, time.perf_counter() - started))

    def tutorial() -> str:
        summary = train_tutorial_cnn(out / "tutorial_cnn", device=device)
        return (f"{summary.steps} steps; running loss {summary.first_running_loss:.3f} -> "
                f"{summary.last_running_loss:.3f}; test accuracy {summary.test_accuracy:.1%}")

    step("tutorial CNN, one epoch", out / "tutorial_cnn", tutorial)
    solutions = course.root / "solutions"
    for lesson in course.lessons:
        demo = lesson_demo(lesson.dir)
        if demo is not None and (solutions / lesson.dir).is_dir():
            target = out / lesson.dir
            step(f"lesson {lesson.number}: {lesson.title}", target,
                 lambda demo=demo, target=target, lesson=lesson: demo.run(load_lesson(solutions, lesson.dir), target))
    return outputs
