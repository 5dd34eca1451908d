"""Finding runs (directories of event files) and loading one with TensorBoard's own reader."""
from __future__ import annotations

import os
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import (
    STORE_EVERYTHING_SIZE_GUIDANCE,
    EventAccumulator,
)

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import refuse_oversized, walk
from watchtrain.artifacts.tensorboard.records import CLOSE_WRITER_FIX, is_event_file, verify_event_file

_SHOWN_ENTRIES = 6
# More is a writer per batch of a long loop, or worse. TensorBoard lists the run's directory again
# for each event file it moves on to: 250 files took it 0.4 s here, 1,000 4.6 s, 20,000 minutes.
MAX_EVENT_FILES = 500
_WRITE_HERE_FIX = "create the writer with this directory, SummaryWriter(log_dir=...), and run the exercise again"


def find_runs(log_root: str | os.PathLike[str]) -> list[str]:
    """Directories under log_root (itself included, as ".") that hold event files, as sorted
    relative posix paths. Each one is a run in TensorBoard's run selector."""
    root = existing_directory(log_root)
    runs = [directory.relative_to(root).as_posix()
            for directory, files in walk(root) if any(is_event_file(name) for name in files)]
    return sorted(runs)


def event_files(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The event files directly inside run_dir, in the order TensorBoard reads them."""
    directory = existing_directory(run_dir)
    return sorted(path for path in directory.iterdir() if path.is_file() and is_event_file(path.name))


def load_run(run_dir: str | os.PathLike[str]) -> EventAccumulator:
    """Verify every event file of one run, then load all of it: no sampling, nothing purged."""
    directory = existing_directory(run_dir)
    files = event_files(directory)
    if not files:
        raise ArtifactError(f"Expected TensorBoard event files (events.out.tfevents.*) directly in this "
                            f"directory, but {_contents(directory)}.", directory, _WRITE_HERE_FIX)
    if len(files) > MAX_EVENT_FILES:  # TensorBoard lists the directory again for each file: minutes to read
        raise ArtifactError(f"{len(files)} event files in this one run directory. Each SummaryWriter opened on a "
                            f"directory writes a file of its own, so this many means a new writer for every step "
                            f"or batch.", directory, "make one SummaryWriter before the loop, log every point "
                            "through it, and close it after the loop")
    refuse_oversized(files, "The event files of this run", directory, "log only what the exercise asks for, as often "
                     "as it asks, through one SummaryWriter, and run the exercise again in an empty log directory")
    for path in files:
        verify_event_file(path)
    # purge_orphaned_data=False: a grader must see repeated or backwards steps, not have them
    # dropped the way the dashboard hides the tail of a crashed run.
    accumulator = EventAccumulator(str(directory), size_guidance=STORE_EVERYTHING_SIZE_GUIDANCE,
                                   purge_orphaned_data=False)
    try:
        accumulator.Reload()
    except Exception as error:  # whatever TensorBoard raises, the learner gets a message, not its traceback
        raise ArtifactError(f"TensorBoard could not read these event files ({type(error).__name__}: {error}).",
                            directory, CLOSE_WRITER_FIX) from None
    return accumulator


def existing_directory(path: str | os.PathLike[str]) -> Path:
    """path as a Path, or an ArtifactError that says what exists nearby."""
    directory = Path(path)
    if directory.is_dir():
        return directory
    if directory.exists():
        raise ArtifactError("Expected a directory of TensorBoard event files, but this is a file.",
                            directory, "pass the directory the SummaryWriter wrote to (its log_dir), not a file in it")
    parent = next(parent for parent in directory.absolute().parents if parent.is_dir())
    raise ArtifactError(f"Expected a directory of TensorBoard event files, but it does not exist. "
                        f"Nearest existing directory: {parent}; {_contents(parent)}.", directory, _WRITE_HERE_FIX)


def _contents(directory: Path) -> str:
    """What is in a directory that lacks event files, for the error message."""
    entries = sorted(directory.iterdir())
    if not entries:
        return "it is empty"
    runs_below = [entry.name + "/" for entry in entries if entry.is_dir() and _holds_event_files(entry)]
    if runs_below:
        return (f"only sub-directories hold event files: {_some(runs_below)} (a different log_dir, "
                f"or add_scalars, which writes one sub-directory per line?)")
    return "it holds " + _some([entry.name + ("/" if entry.is_dir() else "") for entry in entries])


def _holds_event_files(directory: Path) -> bool:
    return any(is_event_file(name) for _, files in walk(directory) for name in files)


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN_ENTRIES])
    return shown if len(names) <= _SHOWN_ENTRIES else f"{shown} and {len(names) - _SHOWN_ENTRIES} more"
