"""W&B for the autograder (and the demo): forced offline, quiet, in a private folder, no key in sight.

`autograder/conftest.py` lists this module in `pytest_plugins`, which gives every test two fixtures:

- `wandb_offline` (session, used by every check): every WANDB_* variable of the environment is
  replaced by `offline_environment(root)` for the whole session, so nothing can leave the machine,
  and the same submission gets the same result whatever the learner's shell says.
- `wandb_runs` (per test): the runs this test wrote, read back with the course's reader. Runs
  the learner left open are finished when the test ends, so none leaks into the next test.

wandb reads its settings once per process (`wandb.setup()`), so `forced_offline` resets wandb
when it starts and when it ends; in between, runs share one background service, which keeps
each `wandb.init` cheap (about 0.05 s after the first).

`WandbWatchedNet` is the tutorial CNN for a learner's training loop: it notes, at every forward
pass and when the call ends, which `wandb.watch` hooks were on it and their log_freq
(`wandb_hooks`), so that a check can say where the learner's wandb.watch call stood.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.grading.checks import fail

# The quiet, fast settings of ENVIRONMENT.md. Never WANDB_DISABLE_SERVICE: wandb 0.31 raises on it.
QUIET_OFFLINE = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_CONSOLE": "off",
    "WANDB_DISABLE_GIT": "true",
    "WANDB_DISABLE_CODE": "true",
    "WANDB_X_DISABLE_STATS": "true",
}
# For grading only: no requirements.txt listing every installed package with each run. Reading
# ~200 package records costs about 0.1 s per wandb.init, and no check looks at the file; the demo
# keeps it, since lesson 06 shows it.
GRADING_ONLY = {"WANDB_X_SAVE_REQUIREMENTS": "false"}
# Should code ask for mode="online" anyway, it finds no server and no key for this address,
# and stops with "No API key configured" instead of uploading.
UNREACHABLE_SERVER = "http://127.0.0.1:9"
# How long a finished run may take to reach the disk (milliseconds, normally).
FLUSH_WAIT_S = 30.0


def offline_environment(root: Path) -> dict[str, str]:
    """The WANDB_* variables that keep wandb offline and every file it writes under `root`."""
    return {
        **QUIET_OFFLINE,
        "WANDB_DIR": str(root),
        "WANDB_DATA_DIR": str(root / "data"),  # staged artifact files
        "WANDB_CACHE_DIR": str(root / "cache"),
        "WANDB_CONFIG_DIR": str(root / "config"),
        "WANDB_ARTIFACT_DIR": str(root / "artifacts"),
        "WANDB_BASE_URL": UNREACHABLE_SERVER,
    }


@contextmanager
def forced_offline(root: Path, extra: dict[str, str] | None = None) -> Iterator[Path]:
    """Run the body with wandb offline under `root`, plus the `extra` WANDB_* settings; every other
    WANDB_* variable (an API key too) is hidden for the duration and restored afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    saved = {name: value for name, value in os.environ.items() if name.startswith("WANDB_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(offline_environment(root) | (extra or {}))
    _reset_wandb()
    try:
        yield root
    finally:
        finish_open_runs()
        _reset_wandb()
        for name in [name for name in os.environ if name.startswith("WANDB_")]:
            del os.environ[name]
        os.environ.update(saved)


def finish_open_runs() -> None:
    """Finish every run that code under test left open (none where wandb was never imported)."""
    if "wandb" not in sys.modules:
        return
    from wandb.sdk import wandb_setup

    wandb_setup.singleton().finish_all_active_runs()


def reset_watch_names() -> None:
    """Make the next `wandb.watch` name its histograms as in a fresh process.

    wandb counts watched models per process and prefixes the names from the second one on
    ("gradients/graph_1conv1.weight"); a learner's script watches one model and sees plain names.
    """
    from wandb.sdk import wandb_watch

    if hasattr(wandb_watch, "_global_watch_idx"):
        wandb_watch._global_watch_idx = 0


def _reset_wandb() -> None:
    """Make wandb read its settings again; where it is not imported yet, it will read them when it is."""
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        wandb.teardown()


class NewRuns:
    """The W&B runs written under some folders since this object was made."""

    def __init__(self, *roots: Path):
        self.roots = roots
        self.before = set(self._run_files())

    def _run_files(self) -> list[Path]:
        from watchtrain.artifacts.wandb import find_runs

        return [path for root in self.roots if root.is_dir() for path in find_runs(root)]

    def read(self) -> list:
        """The new runs as `WandbRun`s, in the order they started; a damaged file fails the test."""
        open_ids = _open_run_ids()
        runs = []
        for path in self._run_files():
            if path in self.before:
                continue
            try:
                runs.append(_read_when_written(path, still_open=path.stem.removeprefix("run-") in open_ids))
            except ArtifactError as error:
                fail(f"The autograder could not read the W&B run your code wrote.\n{error}")
        return sorted(runs, key=lambda run: (run.start_time or 0.0, str(run.path)))


def _read_when_written(path: Path, still_open: bool):
    """Read a run file once wandb has written all of it.

    `run.finish()` returns before wandb's background service has flushed the file's last block
    (the exit record among it), usually by a few milliseconds. A run that finished is therefore
    read again until its exit record is there; one still open is read as it is.
    """
    from watchtrain.artifacts.wandb import read_run

    run = read_run(path)
    deadline = time.monotonic() + FLUSH_WAIT_S
    pause = 0.005
    while not still_open and not run.finished and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
        run = read_run(path)
    return run


def _open_run_ids() -> set[str]:
    """The ids of the runs the learner's last call left open (the worker reports them)."""
    from watchtrain.grading import submission

    return set(submission.open_wandb_runs)


@pytest.fixture(scope="session", autouse=True)
def wandb_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder every W&B run of this session lands in (WANDB_DIR), wandb forced offline. From
    the first check on, whichever it is: a learner's call inherits these settings, and the import of
    exercise.py that starts each call may already use W&B (the W&B tutorial's `wandb.login()`)."""
    with forced_offline(tmp_path_factory.mktemp("wandb"), GRADING_ONLY) as root:
        yield root


@pytest.fixture
def wandb_runs(wandb_offline: Path, tmp_path: Path) -> Iterator[NewRuns]:
    """This test's runs: `wandb_runs.read()` after the code under test has run."""
    finish_open_runs()
    reset_watch_names()
    runs = NewRuns(wandb_offline, tmp_path)
    yield runs
    finish_open_runs()


def wandb_hooks(module) -> dict[str, int]:
    """The hooks `wandb.watch` left on `module` right now: {"parameters": log_freq, "gradients": log_freq},
    each present only when such hooks are on (read from wandb 0.31's hook closures)."""
    found: dict[str, int] = {}
    hooks = [("parameters", hook) for hook in module._forward_hooks.values()]
    hooks += [("gradients", hook) for parameter in module.parameters()
              for hook in (parameter._backward_hooks or {}).values()]
    for kind, hook in hooks:
        if "TorchHistory" not in getattr(hook, "__qualname__", ""):
            continue
        for cell in getattr(hook, "__closure__", None) or ():
            value = cell.cell_contents
            if isinstance(value, list) and len(value) == 2 and all(isinstance(item, int) for item in value):
                found[kind] = value[1]  # wandb's log_track: [calls counted, log_freq]
    return found



def _watched_net_class():
    from watchtrain.models import Net

    class WandbWatchedNet(Net):
        """The tutorial CNN, noting at every forward pass which `wandb.watch` hooks were on it (and how
        often they log), and again when the call ends: where the learner's wandb.watch call stood."""

        def __init__(self):
            super().__init__()
            self.passes: list[dict[str, int]] = []
            self.at_end: dict[str, int] = {}

        def forward(self, x):
            self.passes.append(wandb_hooks(self))
            return super().forward(x)

        def worker_record(self) -> dict:
            return {"passes": [dict(hooks) for hooks in self.passes], "at_end": wandb_hooks(self)}

        def restore_worker_record(self, record: dict) -> None:
            self.passes = [_plain_hooks(hooks) for hooks in record.get("passes", [])]
            self.at_end = _plain_hooks(record.get("at_end"))

    WandbWatchedNet.__module__, WandbWatchedNet.__qualname__ = __name__, "WandbWatchedNet"
    return WandbWatchedNet


def _plain_hooks(hooks) -> dict[str, int]:
    return {str(k): int(v) for k, v in hooks.items() if isinstance(v, int)} if isinstance(hooks, dict) else {}


def __getattr__(name: str):
    """`WandbWatchedNet` on first use (it needs torch, which this plugin's import must not load);
    pickle finds it here by name, in the checker and in the worker alike."""
    if name == "WandbWatchedNet":
        cls = globals()[name] = _watched_net_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
