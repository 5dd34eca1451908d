"""The `watchtrain` command.

Each sub-command lives in its own small module with a `register(subparsers)` function that adds
its parser and sets `run` (a function of the parsed arguments returning an exit code). To add one,
write the module and list it in SUBCOMMANDS.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from watchtrain.cli import course_map_cmd, data_cmd, demo_cmd, netron_cmd
from watchtrain.cli import check_cmd, doctor_cmd, hint_cmd, list_cmd, visdom_cmd, watch_cmd
from watchtrain.cli import dev_cmd, grade_cmd, gradescope_cmd, handout_cmd
from watchtrain.course import ManifestError
from watchtrain.data import DataError

SUBCOMMANDS = (list_cmd, check_cmd, hint_cmd, watch_cmd, doctor_cmd, demo_cmd, data_cmd, course_map_cmd, netron_cmd,
               visdom_cmd, handout_cmd, grade_cmd, gradescope_cmd, dev_cmd)

# Errors a learner can fix: shown as one line, without a traceback. Anything else is a bug in
# watchtrain, and its traceback is worth seeing.
EXPECTED_ERRORS = (DataError, ManifestError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watchtrain", description="Watch It Train: the course's command-line tools.")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    with _ended_like_ctrl_c():
        try:
            return _run(argv)
        except BrokenPipeError:
            # `watchtrain check | head`: the reader stopped reading, which is no error of ours. Point
            # stdout at devnull so that the flush at exit does not complain again, and exit as a
            # program killed by SIGPIPE would (128 + 13).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status = run(args) or 0
        sys.stdout.flush()  # a closed pipe shows up here, not at exit where it cannot be caught
        return status
    except EXPECTED_ERRORS as err:
        print(f"watchtrain: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("watchtrain: interrupted", file=sys.stderr)
        return 130


@contextmanager
def _ended_like_ctrl_c() -> Iterator[None]:
    """SIGTERM (`kill`) and SIGHUP (the terminal closed) end a command as Ctrl-C does, with a
    KeyboardInterrupt, so that its `finally` blocks run and the servers it started are stopped
    (they run in sessions of their own, which a closing terminal does not reach)."""
    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (main() called from a thread, as in a test)
        return
    previous = {name: signal.signal(getattr(signal, name), signal.default_int_handler) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), signal.SIG_DFL if handler is None else handler)
