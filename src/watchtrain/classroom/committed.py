"""What git has committed at HEAD, as a folder: the source a release is built from, so that nothing
tried in the working tree (an instructor's answers, run folders, notes) is shipped by accident."""
from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path


class NotCommitted(Exception):
    """The folder is not in a git repository with a commit; the message says what to do."""


def extract_head(root: Path, into: Path) -> str:
    """Write the files git tracks at HEAD under `root` (a repository or a folder inside one) into
    `into`; return HEAD's abbreviated commit id."""
    def git(*args: str) -> bytes:
        completed = subprocess.run(["git", "-C", str(root), *args], capture_output=True)
        if completed.returncode != 0:
            raise NotCommitted(f"{root} is not a git repository with a commit (git {args[0]}: "
                               f"{completed.stderr.decode(errors='replace').strip()}). The release is built from "
                               f"what git has committed; commit the course first: git init && git add -A && "
                               f"git commit -m 'the course'")
        return completed.stdout

    prefix = git("rev-parse", "--show-prefix").decode().strip()
    commit = git("rev-parse", "--short", "HEAD").decode().strip()
    archive = git("archive", "--format=tar", f"HEAD:{prefix}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return commit
