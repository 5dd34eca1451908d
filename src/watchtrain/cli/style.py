"""The terminal's look: a colour per status (passed green, failed red, not started dim), and clearing
the screen for `watch`. Only on a terminal: not in a pipe or a file, and no colour with NO_COLOR set
(no-color.org) or TERM=dumb."""
from __future__ import annotations

import os
from typing import TextIO

from watchtrain.grading.results import ERROR, FAILED, GRADER_ERROR, NOT_STARTED, PASSED
from watchtrain.progress import DONE, IN_PROGRESS

_RESET = "\033[0m"
_COLOURS = {PASSED: "\033[32m", DONE: "\033[32m", FAILED: "\033[31m", ERROR: "\033[31m", GRADER_ERROR: "\033[31m",
            IN_PROGRESS: "\033[33m", NOT_STARTED: "\033[2m"}
_CLEAR = "\033[2J\033[H"  # the screen, then the cursor to the top left


class Terminal:
    """How to write to `stream`: plain text, or with colours and screen clearing on a terminal."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.interactive = stream.isatty() and os.environ.get("TERM") != "dumb"
        self.colour = self.interactive and not os.environ.get("NO_COLOR")

    def paint(self, text: str, status: str) -> str:
        """`text` in the colour of `status` (passed, failed, not started, done, ...)."""
        colour = _COLOURS.get(status) if self.colour else None
        return f"{colour}{text}{_RESET}" if colour else text

    def clear(self) -> None:
        if self.interactive:
            self.stream.write(_CLEAR)
