"""Ending a server's process: politely first, then for sure; and by itself, once its starter is gone."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Callable, Protocol, TypeVar

from watchtrain.servers.errors import ServerError

STOP_WAIT_S = 5.0
PARENT_ENV = "WATCHTRAIN_SERVER_PARENT"  # the pid a server lives for (see exit_when_orphaned)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


ServerT = TypeVar("ServerT", bound=_Stoppable)


def stop_process(process: subprocess.Popen, wait_s: float = STOP_WAIT_S) -> None:
    """Terminate the process and wait for it; kill it if it has not ended within `wait_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def lives_for_this_process() -> dict[str, str]:
    """The environment for a server process that is to end when this one is gone (see exit_when_orphaned)."""
    return {**os.environ, PARENT_ENV: str(os.getpid())}


def exit_when_orphaned() -> None:
    """In a server process started with `lives_for_this_process()`: end it once the process that
    started it is gone, however that one ended (SIGKILL, a closed notebook kernel, a crashed test
    run), so that no server outlives its user and keeps its port. Runs in a daemon thread."""
    parent = os.environ.get(PARENT_ENV)
    if parent:
        threading.Thread(target=_exit_when_parent_changes, args=(int(parent),), daemon=True).start()


def _exit_when_parent_changes(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def ready_or_stopped(server: ServerT, ready: Callable[[], bool], failure_message: Callable[[], str]) -> ServerT:
    """Return `server` once `ready()` says it answers; otherwise stop it and raise ServerError.

    The servers run in their own session, so a Ctrl-C in the terminal never reaches them: when one
    (or any other exception) arrives while we wait, the server is stopped here before it propagates,
    so no orphaned server keeps the port.
    """
    try:
        answered = ready()
    except BaseException:
        server.stop()
        raise
    if answered:
        return server
    message = failure_message()
    server.stop()
    raise ServerError(message)
