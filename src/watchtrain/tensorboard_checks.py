"""What the TensorBoard lessons' autograder tests share: read a run or explain where the events went,
check that every writer was closed, and turn the crashes TensorBoard raises into advice.

The readers live in `watchtrain.artifacts.tensorboard`; this module only words their findings for
a learner, with `fail` from `watchtrain.grading`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.tensorboard import find_runs
from watchtrain.grading import fail

def read_run(reader: Callable[[str], Any], path: str | os.PathLike[str], *, what: str) -> Any:
    """`reader(path)` once every writer has written what it queued; a missing or damaged run fails
    with the reader's message, plus where the learner's events went instead when we can tell."""
    try:
        return reader(os.fspath(path))
    except ArtifactError as error:
        stray = _stray_runs_note(path)
        fail(what, advice=f"{stray}\n  {error}" if stray else str(error))


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


def _stray_runs_note(path: str | os.PathLike[str]) -> str:
    """Where the events went when they are in the working directory instead of `path`."""
    cwd = Path.cwd()
    if Path(path).resolve().is_relative_to(cwd.resolve()):
        return ""
    stray = find_runs(cwd) if cwd.is_dir() else []
    if not stray:
        return ""
    where = ", ".join("./" if run == "." else f"./{run}" for run in stray[:4]) + (" ..." if len(stray) > 4 else "")
    if any(run.startswith("runs/") for run in stray):
        why = "SummaryWriter() without a log_dir writes to ./runs/<date>_<host>"
    else:
        why = "a relative path is taken from the working directory"
    return (f"Your events went to the working directory instead ({where}): {why}. "
            f"Write under the directory you were given, e.g. SummaryWriter(log_dir).")
