"""Netron, the model viewer, serving one model file on 127.0.0.1 (a chosen or a free port).

Netron's web app ships inside its Python wheel, so this works offline, and the page is served with
its IP lookup and usage reports turned off (netron_page.py). The server runs in its own
process, so stopping it never leaves a thread behind in ours. Netron serves the model's folder, so
`model.onnx.data` (the weights of a dynamo export) is found beside `model.onnx`.

    with start_netron("runs/08_model_visualisation/net.onnx") as server:
        print(server.url)   # open it in a browser
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from watchtrain.servers.errors import ServerError
from watchtrain.servers.ports import LOCALHOST, free_port, port_is_free, wait_for_port
from watchtrain.servers.processes import lives_for_this_process, ready_or_stopped, stop_process

# Netron's page refuses to show any model once its build is this old ("Please update to the newest version").
STALE_AFTER_DAYS = 180
# The `netron` command, run with this Python, serving a page with Netron's calls out turned off.
_SERVER_MODULE = "watchtrain.servers.netron_page"


@dataclass
class NetronServer:
    """A running Netron process serving `model_path`. Stop it with `stop()`, or use it as a context manager."""

    model_path: Path
    port: int
    process: subprocess.Popen = field(repr=False)
    log: IO[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/"

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What the Netron process has printed so far."""
        self.log.seek(0)
        return self.log.read().decode("utf-8", errors="replace")

    def wait(self) -> int:
        """Block until the server process ends (Ctrl-C in the terminal); its exit code."""
        return self.process.wait()

    def stop(self) -> None:
        """Stop the server and wait for its process to end (killed if it does not end in 5 s)."""
        stop_process(self.process)
        self.log.close()

    def __enter__(self) -> "NetronServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_netron(model_path: str | Path, port: int | None = None, *, timeout: float = 30.0) -> NetronServer:
    """Serve `model_path` with Netron on 127.0.0.1 and wait until the port answers.

    `port`: None picks a free one. Raises ServerError, saying why and what to do, when netron is
    not installed, the file is missing, the port is taken, or the server does not come up in time.
    """
    if importlib.util.find_spec("netron") is None:
        raise ServerError(f"netron is not installed in {sys.executable}: `pip install netron` (or `make setup`)")
    model_path = Path(model_path).resolve()
    if not model_path.is_file():
        raise ServerError(f"there is no model file at {model_path}; export one first (lesson 08, export_onnx), "
                          f"or check the path")
    if port is None:
        port = free_port(LOCALHOST)
    elif not port_is_free(port, LOCALHOST):
        raise ServerError(port_taken_message(port))
    log = tempfile.TemporaryFile(prefix="watchtrain-netron-")
    command = [sys.executable, "-m", _SERVER_MODULE, str(model_path), "--host", LOCALHOST, "--port", str(port)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               env=lives_for_this_process(), start_new_session=True)
    server = NetronServer(model_path=model_path, port=port, process=process, log=log)
    return ready_or_stopped(server, lambda: wait_for_port(port, LOCALHOST, timeout=timeout, alive=server.running),
                            lambda: _failure_message(server, timeout))


def port_taken_message(port: int) -> str:
    return (f"port {port} on {LOCALHOST} is already taken: another program (maybe a Netron you started "
            f"earlier) listens there. Stop it, choose another port (--port N), or leave the port out to get a free one.")


def netron_build_date() -> dt.date | None:
    """The date Netron's web app was built (its page's `date` meta tag), or None when unknown."""
    spec = importlib.util.find_spec("netron")
    if spec is None or spec.origin is None:
        return None
    index = Path(spec.origin).parent / "index.html"
    found = re.search(r'<meta name="date" content="(\d{4}-\d{2}-\d{2})', index.read_text(encoding="utf-8")) \
        if index.is_file() else None
    return dt.date.fromisoformat(found.group(1)) if found else None


def stale_warning(today: dt.date | None = None) -> str | None:
    """A warning when Netron's page will refuse to show models because its build is too old."""
    built = netron_build_date()
    today = today or dt.date.today()
    if built is None or (today - built).days <= STALE_AFTER_DAYS:
        return None
    return (f"this Netron was built on {built} and its page refuses to work after {STALE_AFTER_DAYS} days "
            f"(it says 'Please update to the newest version'): `pip install -U netron`")


def _failure_message(server: NetronServer, timeout: float) -> str:
    output = server.output().strip()
    tail = "\n".join("    " + line for line in output.splitlines()[-8:]) or "    (nothing)"
    if "Address already in use" in output:
        return port_taken_message(server.port)
    if server.process.poll() is None:
        what = f"did not open port {server.port} within {timeout:g} s (stopped it)"
    else:
        what = f"exited with code {server.process.returncode} before opening port {server.port}"
    return f"Netron {what}. It printed:\n{tail}"
