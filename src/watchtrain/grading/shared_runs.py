"""One call shared by several checks: a training run, an export, a log the checks read back.

    run = run_once((lesson.train_and_log.key, device), lambda: _train(lesson, tmp_path, device))
    log_dir = call_once((lesson.log_losses.key,), tmp_path_factory, "log_losses",
                        lambda folder: _log(lesson, folder / "logs"))

`make()` runs once per key for the whole grading session; what it raised (a crash, a failed
check, the test's time limit) is kept too and raised again for every check that reads it, so each
check of a broken run reports the same cause without paying for the run again: a loop that never
ends costs one time limit, not one per check.

`call_once` is `run_once` for a call that writes files: `make(folder)` gets a fresh folder of its
own and runs with the working directory in `folder/cwd`, as a test's own call runs in its tmp_path's
`cwd`. What the call writes by mistake in its working directory (`./runs`, say) stays with it, and
`working_directory_of(path)` tells a later check where to look for it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Hashable

from watchtrain.grading.time_limit import TimeLimitExceeded

_OUTCOMES: dict[Hashable, Any] = {}
_KEPT = (Exception, TimeLimitExceeded)  # a crash, a failed check or a call past the time limit
_WORKING_DIRECTORIES: dict[Path, Path] = {}  # a call_once folder -> the working directory its call ran in


def run_once(key: Hashable, make: Callable[[], Any]) -> Any:
    if key not in _OUTCOMES:
        try:
            _OUTCOMES[key] = make()
        except _KEPT as error:  # the same for every check of this run: not paid for again
            _OUTCOMES[key] = error
    outcome = _OUTCOMES[key]
    if isinstance(outcome, _KEPT):
        raise outcome
    return outcome


def call_once(key: Hashable, tmp_path_factory, name: str, make: Callable[[Path], Any]) -> Any:
    """`run_once(key, ...)` of `make(folder)`, in a new folder named after `name`, with the working
    directory moved to its `cwd` for the call and moved back afterwards."""
    def in_a_folder_of_its_own():
        folder = tmp_path_factory.mktemp(name)
        workdir = folder / "cwd"
        workdir.mkdir()
        _WORKING_DIRECTORIES[folder.resolve()] = workdir
        previous = os.getcwd()
        os.chdir(workdir)
        try:
            return make(folder)
        finally:
            os.chdir(previous)
    return run_once(key, in_a_folder_of_its_own)


def working_directory_of(path: str | os.PathLike[str]) -> Path:
    """Where the call that was to write `path` ran: its call_once folder's `cwd`, else this check's."""
    resolved = Path(path).resolve()
    return next((workdir for folder, workdir in _WORKING_DIRECTORIES.items() if resolved.is_relative_to(folder)),
                Path.cwd())
