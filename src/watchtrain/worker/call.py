"""Worker side: one call of one exercise function, in a process forked for that call alone.

The checker sends the call's arguments (pickled by the checker: data flows from the trusted side
only), the submission's `exercise.py` is imported fresh, the function runs, and the answer goes
back as `torch.save` of plain data (see describe.py). The answer is one of
    {"status": "returned", "value": ..., "arguments": [...], "keywords": {...}}
    {"status": "not_started", "function": name}
    {"status": "crash", "headline": ..., "traceback": ..., "exception_types": [...]}
    {"status": "submission_error", "message": ...}     (exercise.py cannot be loaded at all)
    {"status": "missing_function", "message": ...}     (it loads, without the function asked for)
It never holds a verdict: points, statuses and feedback are decided by the checker.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import pickle
import random
import re
import sys
import traceback
from pathlib import Path
from typing import Any

from watchtrain.course import EXERCISE_FILE

STATEFUL_KINDS = {"module", "optimizer", "tensor"}
PRINTED_KEPT = 4000  # characters of what a call printed that the checker gets


class Submission(Exception):
    """The submission cannot be used at all (missing file or function, syntax error, failing import)."""


def run_call(request_bytes: bytes) -> bytes:
    """Everything the checker asked for, answered; never raises."""
    from watchtrain.worker.harnesses import process_facts

    try:
        answer = _answer(pickle.loads(request_bytes))  # made by the checker, never by learner code
    except Submission as error:
        answer = {"status": "submission_error", "message": str(error)}
    except Exception as error:  # the harness itself failed (a folder it cannot enter, say): say so
        answer = {"status": "crash", "headline": f"the grader's worker could not run the call: "
                                                 f"{type(error).__name__}: {error}"[:2000],
                  "traceback": "", "exception_types": []}
    answer["process"] = process_facts()
    return _encode(answer)


def _answer(request: dict) -> dict:
    import numpy
    import torch

    os.environ.update(request["environment"])
    os.chdir(request["cwd"])
    torch.set_num_threads(1)
    random.setstate(request["random_state"])
    numpy.random.set_state(request["numpy_state"])
    path = Path(request["submission"]) / request["lesson"] / EXERCISE_FILE
    function = getattr(_import(path), request["function"], None)
    if not callable(function):
        return {"status": "missing_function",
                "message": f"{path.name} has no function {request['function']}(); it is one of the exercises. "
                           f"Did you rename or delete it?"}
    args, kwargs = pickle.loads(request["arguments"])
    torch.set_rng_state(request["torch_state"])
    if torch.cuda.is_available() and request.get("cuda_states"):
        torch.cuda.set_rng_state_all(request["cuda_states"])
    facts: dict = {}
    printed: dict = {}
    try:
        with _screen_captured(printed), _harness(request, args, facts):
            value = function(*args, **kwargs)
    except NotImplementedError as error:
        if not _raised_in(error, path):  # by a library
            return _crash(error, request["function"], path)
        raiser = traceback.extract_tb(error.__traceback__)[-1].name
        if raiser == request["function"]:  # its stub's `raise NotImplementedError`, maybe under a decorator
            return {"status": "not_started", "function": request["function"]}
        return _crash(error, request["function"], path, waits_for=raiser)  # another function, still its stub
    except BaseException as error:  # KeyboardInterrupt too: this process ignores Ctrl-C, so the code raised it
        return _crash(error, request["function"], path)
    from watchtrain.worker.describe import Describer

    describer = Describer()
    try:
        describer.name_parameters("value", value)
        for index, argument in enumerate(args):
            describer.name_parameters(f"argument.{index}", argument)
        described = describer.describe(value)
        state = [_state(describer, argument) for argument in args]
        keywords = {name: _state(describer, argument) for name, argument in kwargs.items()}
    except Exception as error:  # the value's own code (a property, named_parameters) raised as it was read
        return _crash(error, request["function"], path, while_reading_the_value=True)
    return {"status": "returned", "value": described, "arguments": state, "keywords": keywords, "harness": facts,
            "printed": printed}


@contextlib.contextmanager
def _screen_captured(printed: dict):
    """What the call wrote on its standard output and error (a progress bar, a printed table):
    the first PRINTED_KEPT characters of each, and how many bytes in all. Read from pipes as it is
    written, so that endless printing costs no disk, only the call's time limit."""
    from watchtrain.classroom.isolation.warm_up import standard_streams_to

    readers = {name: _PipeReader() for name in ("stdout", "stderr")}
    try:
        with standard_streams_to(readers["stdout"].write_end, readers["stderr"].write_end):
            yield
    finally:
        for name, reader in readers.items():
            kept, size = reader.finish()
            printed[name] = kept.decode("utf-8", errors="replace")[:PRINTED_KEPT]
            printed[f"{name}_bytes"] = size


class _PipeReader:
    """A pipe whose reading end a thread drains, keeping the first bytes and counting the rest."""

    KEPT_BYTES = 4 * PRINTED_KEPT  # UTF-8 takes up to 4 bytes a character
    LINGER_S = 0.2  # the most `finish` waits for a pipe that a process the call started keeps filling

    def __init__(self):
        import threading

        self._read_end, self.write_end = os.pipe()
        self._wake_read, self._wake_write = os.pipe()
        self._kept, self._size = bytearray(), 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        """Read until the end of the pipe, or until `finish` wakes us and nothing is left to read: a
        process the call started (W&B's service, say) may hold the pipe open long after the call, and
        what it writes then is not the call's."""
        import select

        while True:
            ready, _, _ = select.select([self._read_end, self._wake_read], [], [])
            if self._read_end not in ready:
                return  # woken, and all that was written before the call ended is read
            chunk = os.read(self._read_end, 1 << 16)
            if not chunk:
                return
            self._size += len(chunk)
            if len(self._kept) < self.KEPT_BYTES:
                self._kept += chunk[:self.KEPT_BYTES - len(self._kept)]

    def finish(self) -> tuple[bytes, int]:
        """What was kept and the byte count, once this side's writing end is closed."""
        os.close(self.write_end)
        os.write(self._wake_write, b"x")
        self._thread.join(self.LINGER_S)
        if not self._thread.is_alive():
            for fd in (self._read_end, self._wake_read, self._wake_write):
                os.close(fd)
        return bytes(self._kept), self._size


@contextlib.contextmanager
def _harness(request: dict, args: tuple, facts: dict):
    harness = request.get("harness")
    if not harness:
        yield
        return
    from watchtrain.worker.harnesses import HARNESSES

    with HARNESSES[harness["name"]](args, **harness["options"]) as found:
        yield
    facts.update(found)  # what the harness saw, before and after the call


def _state(describer, argument: Any) -> Any:
    """What the call left in a mutable argument: a model's weights and modes, an optimizer's state."""
    described = describer.describe(argument) if not isinstance(argument, (str, int, float, bool)) else None
    return described if isinstance(described, dict) and described.get("kind") in STATEFUL_KINDS else None


def _import(path: Path):
    if not path.is_file():
        raise Submission(f"{path.parent.name}/{EXERCISE_FILE} is missing: every lesson's code lives in its "
                         f"{EXERCISE_FILE}. Copy the stub back from the course (lessons/{path.parent.name}/{EXERCISE_FILE}).")
    name = f"exercise_{path.parent.name}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise Submission(f"{path.parent.name}/{EXERCISE_FILE} has a syntax error on line {error.lineno}: {error.msg}\n"
                         f"    {(error.text or '').rstrip()}\n    {' ' * max((error.offset or 1) - 1, 0)}^") from None
    except BaseException as error:
        raise Submission(f"importing {path.parent.name}/{EXERCISE_FILE} failed: {type(error).__name__}: "
                         f"{_message(error)}\n"
                         f"{learner_traceback(error, path)}{_top_level_advice(error, path)}") from None
    return module


def _top_level_advice(error: BaseException, path: Path) -> str:
    """When the import failed in a statement of the file's own top level that runs code (a call, say,
    not an import or a definition): what that means."""
    own = _frames_in(error, path)
    line = (own[0].line or "").strip() if own and own[0].name == "<module>" else ""
    if not line or line.startswith(("import ", "from ", "def ", "class ", "@")):
        return ""
    return (f"\n  That line is at the top level of {EXERCISE_FILE}, so it runs whenever the file is imported, and the "
            f"grader imports it before every check. Keep your own tries under `if __name__ == \"__main__\":`.")


def _frames_in(error: BaseException, path: Path) -> list[traceback.FrameSummary]:
    """The frames of the error's traceback that are lines of the learner's file, outermost first."""
    return [frame for frame in traceback.extract_tb(error.__traceback__)
            if Path(frame.filename).resolve() == path.resolve()]


def _raised_in(error: BaseException, path: Path) -> bool:
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve() == path.resolve()


def _crash(error: BaseException, function: str, path: Path, waits_for: str | None = None,
           while_reading_the_value: bool = False) -> dict:
    if isinstance(error, SystemExit):
        headline = f"{function}() called sys.exit({error.code!r}); an exercise must return, not exit."
    elif waits_for:
        headline = (f"{function}() calls {waits_for}(), which still raises NotImplementedError, so {function}() "
                    f"cannot finish. Write {waits_for}() first: {function}() depends on it.")
    else:
        message = _message(error)
        raised = "returned, but reading what it gave back ran code of its own, which raised" \
            if while_reading_the_value else "raised"
        headline = f"{function}() {raised} {type(error).__name__}" + (f": {message}" if message else "")
    return {"status": "crash", "headline": headline[:5000], "traceback": learner_traceback(error, path),
            "exception_types": [cls.__name__ for cls in type(error).__mro__ if cls is not object]}


def learner_traceback(error: BaseException, path: Path) -> str:
    """The traceback lines in the learner's file, plus the library call they ended in."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [i for i, frame in enumerate(frames) if Path(frame.filename).resolve() == path.resolve()]
    if not own:
        return "  (no line of your exercise.py is involved)"
    lines = _repeats_folded([f"  {path.name}, line {frames[i].lineno}, in {frames[i].name}: "
                             f"{(frames[i].line or '').strip()}" for i in own])
    if own[-1] != len(frames) - 1:
        last = frames[-1]
        lines.append(f"  ... which failed inside {Path(last.filename).name}, line {last.lineno}, in {last.name}")
    return "\n".join(lines)


def _repeats_folded(lines: list[str], shown: int = 3) -> list[str]:
    """The lines, a run of the same line (a function calling itself without end) shown `shown`
    times and then counted, as Python's own tracebacks do."""
    folded: list[str] = []
    run = 0
    for index, line in enumerate(lines):
        run = run + 1 if index and lines[index - 1] == line else 1
        if run <= shown:
            folded.append(line)
        elif index + 1 == len(lines) or lines[index + 1] != line:
            more = run - shown
            folded.append(f"  [the line above repeated {more} more time{'s' if more > 1 else ''}]")
    return folded


def _message(error: BaseException) -> str:
    """str(error), or a note when the exception's own __str__ fails."""
    try:
        return str(error)
    except BaseException:
        return "(its message could not be shown: its __str__ failed)"


def _encode(answer: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    try:
        torch.save(answer, buffer)
        # The checker reads answers with weights_only: an object describe.py let through by mistake
        # would read there as a forged answer. Read it here first, and say what it is instead.
        torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    except Exception as error:  # a value we could not describe safely: say so rather than send it
        buffer = io.BytesIO()
        refused = re.search(r"GLOBAL ([\w.]+)", str(error))  # the class torch.load would not rebuild
        reason = f"it holds a {refused.group(1)}" if refused else type(error).__name__
        torch.save({"status": "crash", "headline": f"the value returned could not be sent to the grader ({reason}): "
                                                   f"return plain Python values, tensors or NumPy arrays"[:2000],
                    "traceback": "", "exception_types": []}, buffer)
    return buffer.getvalue()
