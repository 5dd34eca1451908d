"""The README's course map, rendered from the manifest so the two never disagree.

`watchtrain course-map --write` refreshes the block between the markers in README.md;
a project test fails when the README's copy is stale.
"""
from __future__ import annotations

import re
from pathlib import Path

from watchtrain.course import Course

START, END = "<!-- course-map:start -->", "<!-- course-map:end -->"
_BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)


def render_course_map(course: Course) -> str:
    rows = ["| # | lesson | tool | exercises | points |", "|---|---|---|---|---|"]
    for lesson in course.lessons:
        exercises = ", ".join(f"`{e.function}`" for e in lesson.exercises)
        link = f"[{lesson.title}](lessons/{lesson.dir}/README.md)"
        rows.append(f"| {lesson.number} | {link} | {lesson.tool} | {exercises} | {lesson.points:g} |")
    rows.append(f"| | **total** | | | **{course.points:g}** |")
    return "\n".join([START, *rows, END])


def readme_course_map(readme: Path) -> str | None:
    match = _BLOCK.search(readme.read_text(encoding="utf-8"))
    return match.group(0) if match else None


def write_course_map(course: Course, readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    if not _BLOCK.search(text):
        raise ValueError(f"{readme} has no {START} ... {END} block to fill")
    readme.write_text(_BLOCK.sub(lambda _: render_course_map(course), text), encoding="utf-8")
