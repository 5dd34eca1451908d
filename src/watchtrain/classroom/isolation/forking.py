"""Graded runs forked from a zygote that has imported the heavy libraries once (see zygote.py).

    with Zygote(env, folder) as zygote:   # starts at the first spawn; Zygote.start(...) starts it now
        process = zygote.spawn(pytest_args, env=..., cwd=..., output=..., python_path=..., data_bytes=..., file_bytes=...)
        process.poll(); process.wait(); process.returncode; process.pid   # as subprocess.Popen

When the zygote cannot start or dies, `spawn` raises ZygoteUnavailable and the sandbox starts a
plain process instead: slower, never different.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterable, NoReturn

from watchtrain.library_imports import HEAVY

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")


def preload_for(libraries: Iterable[str]) -> tuple[str, ...]:
    """What a zygote imports for runs that use these heavy libraries (see watchtrain.library_imports):
    a module missing here is simply imported by the run itself."""
    return ("torch", *(name for name in HEAVY if name in set(libraries)), "pytest")


PRELOAD = preload_for(HEAVY)  # every lesson's libraries
START_TIMEOUT_S = 120.0


class ZygoteUnavailable(Exception):
    """The zygote is not running (it failed to start, or died); start a plain process instead."""


class ForkedProcess:
    """A run forked by the zygote, with the part of subprocess.Popen's interface the supervisor uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def _end(self, returncode: int) -> None:
        self.returncode = returncode
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
        return self.returncode


class Zygote:
    """The zygote process, started by the first `spawn` (a resumed batch with nothing left to grade
    never pays its few seconds of imports), or at once by `Zygote.start`."""

    def __init__(self, env: dict[str, str], cwd: Path, preload: tuple[str, ...] = PRELOAD):
        self._env, self._cwd, self._preload = env, cwd, preload
        self.process: subprocess.Popen | None = None
        self.preloaded: list[str] = []
        self._lock = threading.Lock()
        self._next_id = 0
        self._started: dict[int, tuple[threading.Event, dict]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._alive = True  # False once it could not start, has stopped, or was closed

    @classmethod
    def start(cls, env: dict[str, str], cwd: Path, preload: tuple[str, ...] = PRELOAD) -> "Zygote":
        """A zygote started now; raises ZygoteUnavailable when it cannot start."""
        zygote = cls(env, cwd, preload)
        with zygote._lock:
            zygote._ensure_running()
        return zygote

    def _ensure_running(self) -> None:
        """Start the process (with `env`, scrubbed as a sandbox's, in `cwd`) and wait until it has
        imported `preload`; call with the lock held."""
        if not self._alive:
            raise ZygoteUnavailable("the zygote has stopped")
        if self.process is not None:
            return
        self._alive = False  # until it is ready
        self._cwd.mkdir(parents=True, exist_ok=True)
        try:
            process = subprocess.Popen([sys.executable, str(ZYGOTE_SCRIPT), *self._preload], cwd=self._cwd,
                                       env=self._env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            _say_unavailable(f"could not start the zygote: {error}")
        first = _read_with_timeout(process, START_TIMEOUT_S)
        if first is None or "ready" not in first:
            process.kill()
            process.wait()
            _say_unavailable("the zygote did not get ready")
        self.process, self.preloaded, self._alive = process, first["ready"], True
        threading.Thread(target=self._read_replies, name="zygote-replies", daemon=True).start()

    @property
    def runs_requested(self) -> int:
        """How many runs have been asked of this zygote so far (from its second on, it forks with
        its memory in huge pages: zygote.py)."""
        return self._next_id

    def wait_until_ready(self) -> None:
        """Start the process if it has not started, and wait until it is ready (or could not start:
        then each run is a plain process, as with spawn)."""
        with self._lock:
            try:
                self._ensure_running()
            except ZygoteUnavailable:
                pass

    def spawn(self, args: list[str], *, env: dict[str, str], cwd: Path, output: Path, python_path: list[str],
              data_bytes: int, file_bytes: int) -> ForkedProcess:
        """Fork a run of `pytest args`; raises ZygoteUnavailable when the zygote is gone."""
        with self._lock:
            self._ensure_running()
            request_id = self._next_id
            self._next_id += 1
            answered = (threading.Event(), {})
            self._started[request_id] = answered
            request = {"id": request_id, "args": args, "env": env, "cwd": str(cwd), "output": str(output),
                       "python_path": python_path, "data_bytes": data_bytes, "file_bytes": file_bytes}
            try:
                self.process.stdin.write((json.dumps(request) + "\n").encode())
                self.process.stdin.flush()
            except OSError:
                self._alive = False
                raise ZygoteUnavailable("the zygote has stopped") from None
        event, reply = answered
        if not event.wait(30.0) or "pid" not in reply:
            raise ZygoteUnavailable(f"the zygote could not fork a run: {reply.get('error', 'no answer')}")
        return self._children[reply["pid"]]

    def close(self) -> None:
        """Stop the zygote; runs still going are killed by it."""
        with self._lock:
            self._alive = False
            if self.process is None:
                return
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _read_replies(self) -> None:
        for line in self.process.stdout:
            reply = json.loads(line)
            with self._lock:
                if "exited" in reply:  # always after the run's "pid" reply: the zygote sends in order
                    self._children[reply["exited"]]._end(reply["returncode"])
                elif "id" in reply:
                    event, answer = self._started.pop(reply["id"])
                    if "pid" in reply:
                        self._children[reply["pid"]] = ForkedProcess(reply["pid"])
                    answer.update(reply)
                    event.set()
        with self._lock:  # the zygote is gone: no exit report will come for the runs it forked
            self._alive = False
            for child in self._children.values():
                if child.returncode is None:
                    child._end(-9)
            for event, _ in self._started.values():
                event.set()


def _read_with_timeout(process: subprocess.Popen, timeout: float) -> dict | None:
    found: list[dict | None] = [None]

    def read() -> None:
        line = process.stdout.readline()
        found[0] = json.loads(line) if line else None

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0]


def _say_unavailable(reason: str) -> NoReturn:
    print(f"watchtrain: note: {reason}; grading with a fresh interpreter per run (slower)", file=sys.stderr)
    raise ZygoteUnavailable(reason)
