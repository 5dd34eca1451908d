"""The one exception the artifact readers raise."""
from __future__ import annotations

import os
from pathlib import Path


class ArtifactError(Exception):
    """An artifact is missing, incomplete or unreadable.

    `str(error)` is written for a learner: what is wrong, the file or directory, and the fix.
    Library errors are folded into `problem`, so no traceback from inside a library reaches them.
    """

    def __init__(self, problem: str, path: str | os.PathLike[str], fix: str):
        self.problem = problem
        self.path = Path(path)
        self.fix = fix
        super().__init__(f"{problem}\n  path: {self.path}\n  fix: {fix}")

    def __reduce__(self):
        # Batch grading sends results between processes; the default pickling would call
        # __init__ with the rendered message only.
        return type(self), (self.problem, self.path, self.fix)
