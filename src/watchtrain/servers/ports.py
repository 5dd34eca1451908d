"""Ports on this machine: find a free one, tell whether one is taken, wait until one answers."""
from __future__ import annotations

import socket
import time
from typing import Callable

LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """True when a server could bind `port` on `host` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT (a server stopped a moment ago) reads as taken,
        # although servers such as Tornado bind it again without trouble.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(port: int, host: str = LOCALHOST, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, host: str = LOCALHOST, *, timeout: float = 30.0,
                  alive: Callable[[], bool] = lambda: True, interval: float = 0.05) -> bool:
    """Wait until `host:port` accepts connections; False on timeout or as soon as `alive()` is False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers(port, host):
            return True
        if not alive():
            return False
        time.sleep(interval)
    return port_answers(port, host)
