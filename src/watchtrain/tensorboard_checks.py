"""What the TensorBoard lessons' autograder tests share: read a run or explain where the events went,
check that every writer was closed, and read TensorBoard's image-layout crashes.

The readers live in `watchtrain.artifacts.tensorboard`; this module only words their findings for
a learner, with `fail` from `watchtrain.grading`, which exports what is here for the tests.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from watchtrain.artifacts.tensorboard import find_runs
from watchtrain.grading import GradingFailure, fail, read_artifact
from watchtrain.grading.shared_runs import working_directory_of


def read_run(reader: Callable[[str], Any], path: str | os.PathLike[str], *, what: str) -> Any:
    """`read_artifact(reader, path, what=what)`; when the run is missing or damaged, the failure also
    says where the learner's events went instead, when we can tell."""
    try:
        return read_artifact(reader, os.fspath(path), what=what)
    except GradingFailure as failure:
        stray = _stray_runs_note(path)
        if not stray:
            raise
        fail(what, advice=f"{stray}\n  {failure.advice}")


def expect_writers_closed(log_dir: str | os.PathLike[str]) -> None:
    """Fail when a SummaryWriter that wrote under log_dir is still open after the learner returned."""
    from watchtrain.grading import submission  # the learner's writers ran in the worker, which reported them

    root = Path(log_dir).resolve()
    still_open = sorted(Path(path) for path in submission.open_event_files if Path(path).is_relative_to(root))
    if still_open:
        names = [path.relative_to(Path(log_dir).resolve()).as_posix() for path in still_open]
        fail("Every SummaryWriter must be closed before your function returns.",
             expected="no event file still open", found=f"{len(names)} still open: {', '.join(names)}",
             advice="Call writer.close() (or write inside `with SummaryWriter(log_dir) as writer:`). A writer "
                    "queues events in memory and a background thread writes them; when a script ends "
                    "before close() or flush(), the events still queued are lost.")


# The folder SummaryWriter() makes when it is given no log_dir: runs/Dec04_23-46-13_<host><comment>
# (the month's name as the locale writes it).
DEFAULT_RUN = re.compile(r"runs/[^/]*\d{2}_\d{2}-\d{2}-\d{2}_")


def _stray_runs_note(path: str | os.PathLike[str]) -> str:
    """Where the events went when they are in the working directory of the call that was to write
    `path` (a shared call's own, or this check's) instead."""
    cwd = working_directory_of(path)
    if Path(path).resolve().is_relative_to(cwd.resolve()):
        return ""
    stray = find_runs(cwd) if cwd.is_dir() else []
    if not stray:
        return ""
    where = ", ".join("./" if run == "." else f"./{run}" for run in stray[:4]) + (" ..." if len(stray) > 4 else "")
    if any(DEFAULT_RUN.match(run) for run in stray):
        why = "SummaryWriter() without a log_dir writes to ./runs/<date>_<host>"
    else:
        why = "a relative path is taken from the working directory"
    return (f"Your events went to the working directory instead ({where}): {why}. "
            f"Write under the directory you were given, e.g. SummaryWriter(log_dir).")


@dataclass(frozen=True)
class LayoutCrash:
    """TensorBoard's image code refusing an array, as the crash message tells it.

    kind: "axes"      the array has more or fewer axes than `dataformats` names (convert_to_HWC);
          "channels"  a batch whose channel axis, where `dataformats` puts it, holds neither 1 nor 3
                      channels (make_grid; add_embedding's sprite goes through it too);
          "picture"   one picture that ended with `channels` colour channels (PIL refuses it), which
                      happens when an (H, W, C) array is read as (C, H, W).
    """

    kind: str
    shape: tuple[int, ...] | None = None
    dataformats: str | None = None
    channels: int | None = None
    line: str = ""  # the learner's own line that made the call, as the traceback shows it

    def found(self) -> str:
        """What TensorBoard found, in words that follow "TensorBoard" (not why: the caller knows what the
        exercise passes)."""
        if self.kind == "axes":
            return (f"got an array of shape {self.shape}, {len(self.shape)} axes, with dataformats="
                    f"{self.dataformats!r}, which names {len(self.dataformats)}")
        if self.kind == "channels":
            layout = self.passed_dataformats or "NCHW, the default"
            return f"read the batch as {layout} and found neither 1 nor 3 colour channels where that layout puts them"
        layout = self.passed_dataformats or "CHW, the default"
        return f"read the picture as {layout} and found {self.channels} colour channels where that layout puts them"

    @property
    def passed_dataformats(self) -> str | None:
        """The dataformats the learner's line passes, when the line shows it."""
        found = re.search(r"dataformats\s*=\s*[\"']([A-Za-z]+)[\"']", self.line)
        return found.group(1) if found else None


def learner_line(message: str) -> str:
    """The last line of the learner's exercise.py in a crash message (the call that failed), or ""."""
    lines = re.findall(r"^\s*exercise\.py, line \d+, in \w+: (.*)$", message, flags=re.MULTILINE)
    return lines[-1] if lines else ""


def image_layout_crash(message: str) -> LayoutCrash | None:
    """What TensorBoard's image code reported, when the crash is one of its layout refusals."""
    line = learner_line(message)
    axes = re.search(r"tensor shape: \(([\d, ]*)\), input_format: (\w+)", message)
    if axes:
        shape = tuple(int(size) for size in axes.group(1).replace(" ", "").split(",") if size)
        return LayoutCrash("axes", shape=shape, dataformats=axes.group(2), line=line)
    if "Input should be a 4D numpy array with 3 channels" in message:
        return LayoutCrash("channels", line=line)
    picture = re.search(r"Cannot handle this data type: \(1, 1, (\d+)\)", message)
    if picture:
        return LayoutCrash("picture", channels=int(picture.group(1)), line=line)
    return None
