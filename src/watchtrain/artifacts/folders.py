"""Walking the folders a learner's code wrote: without recursion, links never followed.

Python's own walks (os.walk, Path.rglob in 3.11) recurse once per level, so a folder made inside
itself in a loop, a few thousand levels deep, raised RecursionError inside the grader. Here such a
tree is the learner's: an ArtifactError that says how deep it goes.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from watchtrain.artifacts.errors import ArtifactError

MAX_FOLDER_DEPTH = 100  # a W&B run's files sit 4 levels below its folder, a projector's 3
# What one reader reads whole: a run's event files, a W&B run file, a projector's file, a saved
# Visdom env, an ONNX model. A lesson writes kilobytes to a few megabytes of each (the whole course, about 10 MB); far
# more would take the checker's memory, and minutes, before any check could say what is wrong.
MAX_READ_BYTES = 64 * 2**20


def walk(root: str | os.PathLike[str]) -> Iterator[tuple[Path, list[str]]]:
    """(folder, names of the files in it) for `root` and every folder below it, parents first."""
    root = Path(root)
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        if depth > MAX_FOLDER_DEPTH:
            raise ArtifactError(f"Folders nest more than {MAX_FOLDER_DEPTH} levels deep under {root}: a folder "
                                f"made inside the one before it, in a loop?", folder,
                                "make each folder once, directly where the exercise says to write")
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        yield folder, [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
        stack.extend((Path(entry.path), depth + 1) for entry in reversed(entries) if entry.is_dir(follow_symlinks=False))


LOGGED_TOO_MUCH = "something was logged far more often than asked, or more than the library's records was written"


def refuse_oversized(paths: list[Path], what: str, where: Path, fix: str, cause: str = LOGGED_TOO_MUCH) -> None:
    """An ArtifactError, before a byte is read, when the files in `paths` hold more than MAX_READ_BYTES together."""
    size = sum(path.stat().st_size for path in paths)
    if size > MAX_READ_BYTES:
        raise ArtifactError(f"{what} reached {size / 2**20:,.0f} MB, and a lesson's code writes a few MB at most "
                            f"({MAX_READ_BYTES >> 20} MB is the limit): {cause}.", where, fix)


def stays_inside(name: str) -> bool:
    """Whether a file name that an artifact records (an ONNX model's weights file, a W&B run's saved
    file) names a file inside the folder it is relative to: not empty, not absolute, no "..", no NUL."""
    parts = Path(name).parts
    return bool(parts) and "\0" not in name and not Path(name).is_absolute() and ".." not in parts
