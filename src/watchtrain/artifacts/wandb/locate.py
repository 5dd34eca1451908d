"""Finding W&B run files: `<WANDB_DIR>/wandb/offline-run-<time>-<id>/run-<id>.wandb`."""
from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import walk

RUN_FILE_GLOB = "run-*.wandb"
# Offline runs live in offline-run-*, online ones in run-*; `latest-run`, a link to one of them,
# matches neither.
RUN_DIR_GLOBS = ("offline-run-*", "run-*")
INIT_FIX = "call wandb.init(...) (W&B forced offline) and log something, then run the exercise again"


def find_runs(root: str | os.PathLike[str]) -> list[Path]:
    """Every run file under `root`, oldest folder first.

    `root` may be the folder wandb was pointed at (WANDB_DIR or `wandb.init(dir=...)`, holding
    `wandb/`), that `wandb/` folder itself, or anything above them.
    """
    root = Path(root)
    if not root.is_dir():
        raise ArtifactError("Expected a folder holding W&B runs, but it does not exist.", root, INIT_FIX)
    found = [folder / name for folder, files in walk(root)
             if folder != root and any(fnmatch(folder.name, pattern) for pattern in RUN_DIR_GLOBS)
             for name in files if fnmatch(name, RUN_FILE_GLOB)]
    return sorted(found, key=lambda path: (path.parent.name.split("-")[-2:], str(path)))


def run_file(path: str | os.PathLike[str]) -> Path:
    """The run file that `path` names: a `run-<id>.wandb` file, or the run folder holding it."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        candidates = sorted(path.glob(RUN_FILE_GLOB))
        if len(candidates) == 1:
            return candidates[0]
        found = "no" if not candidates else f"{len(candidates)}"
        raise ArtifactError(f"Expected one run-<id>.wandb file in this run folder, found {found}.", path, INIT_FIX)
    raise ArtifactError("Expected a W&B run file (run-<id>.wandb) or its run folder, but it does not exist.",
                        path, INIT_FIX)
