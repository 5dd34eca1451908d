"""Ending a server's process: politely first, then for sure."""
from __future__ import annotations

import subprocess
from typing import Callable, Protocol, TypeVar

from watchtrain.servers.errors import ServerError

STOP_WAIT_S = 5.0


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
