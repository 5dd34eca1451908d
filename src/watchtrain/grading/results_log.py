"""The results log: the plugin's running account of a grading run, one JSON object per line.

The plugin appends, and flushes, an event as each step happens:

    {"event": "collected", "tests": [<test result>, ...]}      every graded test, in order, with its points
    {"event": "phase", "nodeid": ..., "when": "setup"}          a test enters setup, call or teardown
    {"event": "result", "test": <test result>}                  a test's final status and feedback

so that when the learner's code takes the whole process down (a segfault, os._exit, a kill after
a time limit), the batch grader still knows which tests finished, which one was running, and
which never ran.
"""
from __future__ import annotations

import json
from pathlib import Path

COLLECTED, PHASE, RESULT = "collected", "phase", "result"


class ResultsLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, event: str, **data) -> None:
        self._file.write(json.dumps({"event": event, **data}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_results_log(path: Path) -> list[dict]:
    """Every event written so far."""
    return read_new_events(path, 0)[0]


def read_new_events(path: Path, offset: int) -> tuple[list[dict], int]:
    """The events in the whole lines written after byte `offset`, and the offset to read on from.
    A line still being written, or torn by a crash mid-write, is not read."""
    if not path.is_file():
        return [], offset
    with path.open("rb") as file:
        file.seek(offset)
        chunk = file.read()
    complete = chunk[:chunk.rfind(b"\n") + 1]
    events = []
    for line in complete.decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events, offset + len(complete)
