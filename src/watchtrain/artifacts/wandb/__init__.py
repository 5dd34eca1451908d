"""W&B runs as plain Python data, read straight from their `run-<id>.wandb` files.

wandb 0.31 keeps an offline run only in that file (no summary or config JSON) and ships no reader
for it, so this package reads the format itself (`framing`), decodes wandb's own protobuf records
(`records`) and finds run files on disk (`locate`):

    from watchtrain.artifacts.wandb import find_runs, read_run
    run = read_run(find_runs(wandb_dir)[-1])
    run.config, run.history, run.summary, run.histograms("gradients/fc.weight"), run.exit_code

Damage raises `ArtifactError`. A file cut short is not an error: its complete records are read
and `run.truncated` says, naming the file, where it ends.
"""
from __future__ import annotations

import os

from watchtrain.artifacts.wandb.locate import find_runs, run_file
from watchtrain.artifacts.wandb.records import (
    ArtifactEntry,
    Histogram,
    HistoryRow,
    LoggedArtifact,
    SavedFile,
    WandbRun,
    as_histogram,
    read_run_file,
)


def read_run(path: str | os.PathLike[str]) -> WandbRun:
    """Read one run: a `run-<id>.wandb` file, or the `offline-run-*` folder holding it."""
    return read_run_file(run_file(path))


__all__ = [
    "ArtifactEntry", "Histogram", "HistoryRow", "LoggedArtifact", "SavedFile", "WandbRun",
    "as_histogram", "find_runs", "read_run",
]
