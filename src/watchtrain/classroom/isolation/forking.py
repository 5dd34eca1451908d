"""Graded runs forked from a zygote that has imported the heavy libraries once (see zygote.py).

    with Zygote.start(env, folder) as zygote:   # or start_zygote_or_none(env, folder)
        process = zygote.spawn(pytest_args, env=..., cwd=..., output=..., python_path=..., limits=...)
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

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
# What every graded run imports; a module missing here is simply imported by the run itself.
PRELOAD = ("torch", "torchvision", "matplotlib.pyplot", "torch.utils.tensorboard", "wandb", "onnx",
           "onnxscript", "torch.onnx", "pytest")
START_TIMEOUT_S = 120.0


class ZygoteUnavailable(Exception):
    """The zygote is not running (it failed to start, or died); start a plain process instead."""


class ForkedProcess:
    """A run forked by the zygote, with the part of subprocess.Popen's interface the supervisor uses."""

    def __init__(self, pid: int, zygote: "Zygote"):
        self.pid = pid
        self.returncode: int | None = None
        self._zygote = zygote
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
    def __init__(self, process: subprocess.Popen, preloaded: list[str]):
        self.process = process
        self.preloaded = preloaded
        self._lock = threading.Lock()
        self._next_id = 0
        self._started: dict[int, tuple[threading.Event, dict]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
        self._alive = True
        self._reader = threading.Thread(target=self._read_replies, name="zygote-replies", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, env: dict[str, str], cwd: Path, preload: tuple[str, ...] = PRELOAD) -> "Zygote":
        """Start the zygote with `env` (scrubbed, as a sandbox's) in `cwd` and wait until it has
        imported `preload`. Raises ZygoteUnavailable when it cannot."""
        cwd.mkdir(parents=True, exist_ok=True)
        try:
            process = subprocess.Popen([sys.executable, str(ZYGOTE_SCRIPT), *preload], cwd=cwd, env=env,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        except OSError as error:
            raise ZygoteUnavailable(f"could not start the zygote: {error}") from None
        first = _read_with_timeout(process, START_TIMEOUT_S)
        if first is None or "ready" not in first:
            process.kill()
            process.wait()
            raise ZygoteUnavailable("the zygote did not get ready")
        return cls(process, first["ready"])

    def spawn(self, args: list[str], *, env: dict[str, str], cwd: Path, output: Path, python_path: list[str],
              data_bytes: int, file_bytes: int) -> ForkedProcess:
        """Fork a run of `pytest args`; raises ZygoteUnavailable when the zygote is gone."""
        with self._lock:
            if not self._alive:
                raise ZygoteUnavailable("the zygote has stopped")
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
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _read_replies(self) -> None:
        for line in self.process.stdout:
            reply = json.loads(line)
            with self._lock:
                if "exited" in reply:
                    child = self._children.get(reply["exited"])
                    if child is None:
                        self._early_exits[reply["exited"]] = reply["returncode"]
                    else:
                        child._end(reply["returncode"])
                elif "id" in reply:
                    event, answer = self._started.pop(reply["id"])
                    if "pid" in reply:
                        child = ForkedProcess(reply["pid"], self)
                        self._children[child.pid] = child
                        if child.pid in self._early_exits:
                            child._end(self._early_exits.pop(child.pid))
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


def start_zygote_or_none(env: dict[str, str], cwd: Path) -> Zygote | None:
    """A zygote, or None (with the reason on stderr) when it cannot start: runs are then plain processes."""
    try:
        return Zygote.start(env, cwd)
    except ZygoteUnavailable as error:
        print(f"watchtrain: note: {error}; grading with a fresh interpreter per run (slower)", file=sys.stderr)
        return None
