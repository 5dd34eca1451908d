"""Ending a server's process: politely first, then for sure."""
from __future__ import annotations

import subprocess

STOP_WAIT_S = 5.0


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
