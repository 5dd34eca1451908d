"""A TensorBoard server on 127.0.0.1, on a chosen or free port, started and stopped from Python.

    with start_tensorboard("runs") as server:
        print(server.url)   # http://127.0.0.1:PORT, answering already

It runs `tensorboard` as a child process (the same Python, so the same TensorBoard the course
pins) and returns once its HTTP API answers. TensorBoard reads the log folder in the background;
`wait_for_tag` waits until a scalar tag has been loaded.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from watchtrain.servers.errors import ServerError
from watchtrain.servers.ports import LOCALHOST, free_port, port_is_free, wait_for_port
from watchtrain.servers.processes import lives_for_this_process, ready_or_stopped, stop_process

DEFAULT_PORT = 6006  # TensorBoard's own default
# `python -m tensorboard.main`, which also ends once the process that started it is gone.
_SERVER_CODE = ("from watchtrain.servers.processes import exit_when_orphaned; exit_when_orphaned(); "
                "from tensorboard.main import run_main; run_main()")


@dataclass
class TensorBoardServer:
    """A running TensorBoard process. Stop it with `stop()`, or use it as a context manager."""

    port: int
    logdir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def running(self) -> bool:
        return self.process.poll() is None

    def get_json(self, path: str, timeout: float = 10.0):
        """GET one of TensorBoard's JSON endpoints, e.g. "/data/runs"."""
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.load(response)

    def scalar_tags(self) -> dict[str, list[str]]:
        """{run: [scalar tag, ...]} as TensorBoard has loaded them so far."""
        return {run: sorted(tags) for run, tags in self.get_json("/data/plugin/scalars/tags").items()}

    def wait_for_tag(self, tag: str, timeout: float = 60.0) -> str:
        """Wait until some run's scalars include `tag`; returns that run's name."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                for run, tags in self.scalar_tags().items():
                    if tag in tags:
                        return run
            except (OSError, ValueError):
                pass  # still starting: the next poll tells
            if time.monotonic() > deadline or not self.running():
                raise ServerError(f"TensorBoard at {self.url} has not loaded a scalar tag {tag!r} from "
                                  f"{self.logdir} within {timeout:g} s; is it there? Its log: {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server, wait for it to end (killed if it does not end in 5 s), drop its log."""
        stop_process(self.process)
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "TensorBoardServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_tensorboard(logdir: str | os.PathLike, port: int | None = None, *, timeout: float = 60.0,
                      reload_interval: float = 5.0) -> TensorBoardServer:
    """Start TensorBoard on `logdir`, bound to 127.0.0.1, and wait until its HTTP API answers.

    `port`: None picks a free port. The server's output goes to a temporary log file (named in
    error messages), removed when the server stops. Raises ServerError, saying why and what to do, when
    TensorBoard is missing, the folder does not exist, the port is taken, or the server does not
    answer within `timeout` seconds.
    """
    if importlib.util.find_spec("tensorboard") is None:
        raise ServerError(f"tensorboard is not installed in {sys.executable}; install it with `make setup` "
                          f"(or `pip install -c constraints.txt tensorboard`)")
    logdir = Path(logdir).resolve()
    if not logdir.is_dir():
        raise ServerError(f"there is no folder {logdir} for TensorBoard to show; write some runs first "
                          f"(e.g. `watchtrain demo`), or point it at the folder that holds them")
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise ServerError(f"port {port} on {LOCALHOST} is already taken (another TensorBoard?). Stop it, "
                          f"choose another port, or leave the port out to get a free one.")
    handle, log_name = tempfile.mkstemp(prefix="watchtrain-tensorboard-", suffix=".log")
    command = [sys.executable, "-c", _SERVER_CODE, "--logdir", str(logdir), "--host", LOCALHOST,
               "--port", str(port), "--reload_interval", str(reload_interval)]
    with os.fdopen(handle, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=lives_for_this_process(), start_new_session=True)
    server = TensorBoardServer(port=port, logdir=logdir, log_path=Path(log_name), process=process)
    return ready_or_stopped(
        server, lambda: wait_for_port(port, LOCALHOST, timeout=timeout, alive=server.running)
        and _api_answers(server, timeout), lambda: _failure_message(server, timeout))


def _api_answers(server: TensorBoardServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while server.running():
        try:
            server.get_json("/data/plugins_listing", timeout=2.0)
            return True
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
    return False


def _failure_message(server: TensorBoardServer, timeout: float) -> str:
    log = server.log_path.read_text(encoding="utf-8", errors="replace") if server.log_path.is_file() else ""
    tail = "\n".join("    " + line for line in log.strip().splitlines()[-8:]) or "    (nothing)"
    if "already in use" in log or "could not bind" in log.lower():
        return (f"port {server.port} on {LOCALHOST} is already taken (another TensorBoard?). Stop it, choose "
                f"another port, or leave the port out to get a free one.")
    code = server.process.returncode
    state = (f"exited with code {code}" if code is not None and code >= 0
             else f"did not answer on port {server.port} within {timeout:g} s (stopped it)")
    return f"TensorBoard {state}. Its output ended with:\n{tail}"
