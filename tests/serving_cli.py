"""Drive a serving `watchtrain` command (visdom, netron) as a person would: start it, wait until it
prints its banner, press Ctrl-C (or `kill` it, or close its terminal), and check that its server is
gone afterwards."""
import os
import signal
import subprocess
import sys
import time
from typing import Callable

from watchtrain.servers.ports import port_answers, wait_for_port

CLI = [sys.executable, "-c", "import sys; from watchtrain.cli import main; sys.exit(main())"]


def serve_then_interrupt(args: list[str], port: int, banner_end: str,
                         while_serving: Callable[[str], None] = lambda banner: None,
                         stop_with: signal.Signals = signal.SIGINT) -> tuple[int, str, str]:
    """Run `watchtrain ARGS`, which should serve on `port`; once its banner (up to the line holding
    `banner_end`) is out, call `while_serving(banner)`, then send `stop_with`: SIGINT is Ctrl-C,
    SIGTERM a plain `kill`, SIGHUP a closed terminal. (exit code, stdout, stderr)."""
    process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # The port can answer a moment before the command has finished waiting for it: Ctrl-C then
        # lands in start-up, which tests/test_server_start_interrupted.py covers on its own.
        assert wait_for_port(port, timeout=30, alive=lambda: process.poll() is None), process.communicate()
        lines = [process.stdout.readline()]
        while lines[-1] and banner_end not in lines[-1]:
            lines.append(process.stdout.readline())
        while_serving("".join(lines))
        process.send_signal(stop_with)
        process.wait(timeout=15)
        # Read through the same buffered streams: communicate() would skip what readline() buffered.
        return process.returncode, "".join(lines) + process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()


def assert_port_closes(port: int, what: str, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while port_answers(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not port_answers(port), f"{what} outlived the command"
