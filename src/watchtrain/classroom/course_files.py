"""Which of the course's files go into what the instructor ships (the student handout, the
Gradescope bundle), and the templates those get besides. One allowlist: nothing is shipped by accident."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")
# Never shipped, wherever they are: caches, build output, the decompressed and the full data sets.
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", "FashionMNIST", "fashion-mnist-full", ".DS_Store"}
SKIPPED_SUFFIXES = (".egg-info", ".pyc")


def course_files(root: Path, parts: tuple[str, ...], *, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    """(path relative to the course root, file) for every file under `parts` (top-level files or
    folders of the course), leaving out SKIPPED_NAMES and the relative paths in `skip`."""
    for part in parts:
        top = root / part
        if top.is_file():
            yield part, top
            continue
        for folder, dirs, files in os.walk(top):
            relative_folder = Path(folder).relative_to(root)
            dirs[:] = sorted(d for d in dirs if _kept(d) and (relative_folder / d).as_posix() not in skip)
            for name in sorted(files):
                relative = (relative_folder / name).as_posix()
                if _kept(name) and relative not in skip:
                    yield relative, Path(folder) / name


def _kept(name: str) -> bool:
    return name not in SKIPPED_NAMES and not name.endswith(SKIPPED_SUFFIXES)


def fill(template: str, **values: str) -> str:
    """The template file with every @KEY@ replaced by values[key]; a placeholder left over is a bug."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", value)
    left = set(re.findall(r"@([A-Z_]+)@", text))
    if left:
        raise ValueError(f"template {template} has unfilled placeholders: {sorted(left)}")
    return text
