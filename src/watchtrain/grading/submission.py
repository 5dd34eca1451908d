"""The learner's `exercise.py`, as the checks see it: functions that run in the learner worker.

    lesson.accuracy(net, loader, "cpu")   # runs in the worker; returns the value as plain data

The call ships its arguments to the worker and waits for its answer (worker_client.py). Back
come the return value (objects that cannot cross as `crossing.Described`) and the state of the
arguments the call changed, which is put into the checker's own arguments: a trained net's
weights, what a RecordingLoss recorded. A stub's NotImplementedError becomes NotStarted; any
other exception in the learner's code becomes LearnerCrash, with their own lines only.
"""
from __future__ import annotations

import os
import re
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

from watchtrain.classroom.isolation.budget import WORKER_MEMORY_BYTES
from watchtrain.classroom.isolation.jail import MAX_PROCESSES
from watchtrain.course import EXERCISE_FILE
from watchtrain.grading.checks import KnownCrash, fail
from watchtrain.grading.time_limit import TimeLimitExceeded
from watchtrain.grading.worker_client import (DATA_BYTES, AnswerTooLarge, LearnerWorker, MalformedAnswer,
                                              WorkerFailed)

DEFAULT_CALL_TIMEOUT_S = 300.0


class NotStarted(Exception):
    """The exercise function still raises NotImplementedError."""

    def __init__(self, function: str):
        self.function = function
        super().__init__(f"not started: {function}() still raises NotImplementedError. "
                         f"Replace the `raise NotImplementedError` line with your code.")


class SubmissionError(Exception):
    """The submission cannot be used at all (missing file, syntax error, failing import)."""


class MissingFunction(SubmissionError):
    """exercise.py loads, but one exercise function is not in it (the lesson's others can be graded)."""


class LearnerCrash(Exception):
    """The learner's code raised (or never returned); the message shows their own lines only."""

    def __init__(self, message: str, exception_types: list[str] | None = None, function: str = ""):
        super().__init__(message)
        self.exception_types = exception_types or []
        self.function = function  # the learner's function that was called when it crashed

    def raised(self, exception_name: str) -> bool:
        """Whether the learner's exception was an instance of the named class (e.g. 'ConnectionError')."""
        return exception_name in self.exception_types


def missing_reason(submission_root: Path, lesson_dir: str) -> str | None:
    """Why a lesson cannot be graded at all, decided from the file system only."""
    path = submission_root / lesson_dir / EXERCISE_FILE
    if path.is_symlink() or (submission_root / lesson_dir).is_symlink():
        return (f"{lesson_dir}/{EXERCISE_FILE} is a symbolic link; submit the file itself "
                f"(links are refused: they could point anywhere on the grading machine)")
    if not path.is_file():
        return (f"{path} is missing: every lesson's code lives in its {EXERCISE_FILE}. "
                f"Copy the stub back from the course (lessons/{lesson_dir}/{EXERCISE_FILE}).")
    return None


class LessonModule:
    """The learner's module for one lesson; attribute access returns functions run by the worker."""

    def __init__(self, worker: LearnerWorker, lesson_dir: str, timeout: float = DEFAULT_CALL_TIMEOUT_S,
                 crash_advice: Mapping[str, str] | None = None):
        self._worker, self._lesson_dir, self._timeout = worker, lesson_dir, timeout
        self._crash_advice = dict(crash_advice or {})

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._advised(name, args, kwargs, None)[0]

        def inside(harness: str, **options: Any) -> Callable:
            """The function called inside a worker-side harness (see worker/harnesses.py); the
            call returns (value, the harness's facts)."""
            return lambda *args, **kwargs: self._advised(name, args, kwargs, {"name": harness, "options": options})

        call.__name__ = call.__qualname__ = name
        call.inside = inside
        call.key = (str(self._worker.submission), self._lesson_dir, name)  # the same function in every test: cache on it
        return call

    def _advised(self, name: str, args: tuple, kwargs: dict, harness: dict | None) -> tuple[Any, dict]:
        """The call; a crash whose message holds a clue of the test module's CRASH_ADVICE becomes a
        KnownCrash with that advice (a library refusing an array's layout, say)."""
        try:
            return _call(self._worker, self._lesson_dir, name, args, kwargs, self._timeout, harness)
        except LearnerCrash as crash:
            for clue, advice in self._crash_advice.items():
                if clue in str(crash):
                    raise KnownCrash(str(crash), clue, advice) from None
            raise


def call_explaining(function: Callable, *args: Any, explain: Callable[[str], str | None], **kwargs: Any) -> Any:
    """Call the learner's function. A crash that `explain` (given the crash's message) recognises fails
    with the advice it returns; any other crash passes unchanged. Unlike CRASH_ADVICE, this applies to
    one call only, and the advice can depend on what the message reports (an array's shape, the learner's line)."""
    try:
        return function(*args, **kwargs)
    except LearnerCrash as crash:
        message = str(crash)
        advice = explain(message)
        if advice:
            fail(f"Your code crashed: {message.splitlines()[0][:300]}", advice=advice)
        raise


def _call(worker: LearnerWorker, lesson_dir: str, function: str, args: tuple, kwargs: dict, timeout: float,
          harness: dict | None = None) -> tuple[Any, dict]:
    from watchtrain.grading.crossing import load_answer  # torch: not before the worker is forked

    problem = missing_reason(worker.submission, lesson_dir)
    if problem:
        raise SubmissionError(problem)
    try:
        worker.prepare()
        answer = load_answer(worker.call(lesson_dir, function, args, kwargs, timeout, harness))
        _note_process_facts(answer)
        worker.remove_links()
        return _outcome(answer, function, args, kwargs, worker)
    except MissingFunction:
        raise
    except TimeLimitExceeded as limit:  # the test's own limit, in the middle of the call
        limit.in_learner_call = True
        if worker.hit_process_limit():
            limit.advice = TOO_MANY_PROCESSES
        raise
    except SubmissionError as error:
        folder = worker.submission / lesson_dir
        advice = missing_module_advice(str(error), _read_text(folder / EXERCISE_FILE), folder)
        raise SubmissionError("\n".join(filter(None, [str(error), advice]))) from None
    except AnswerTooLarge as failure:
        raise LearnerCrash(str(failure), function=function) from None
    except WorkerFailed as failure:
        raise LearnerCrash(_did_not_answer(function, str(failure), worker), function=function) from None
    except MalformedAnswer as error:
        raise LearnerCrash(f"{function}()'s answer did not come back in the form the grader sends it ({error}). "
                           f"Does your code change the grader's own files or processes?", function=function) from None


def _outcome(answer: dict, function: str, args: tuple, kwargs: dict, worker: LearnerWorker) -> Any:
    global last_printed
    from watchtrain.grading.crossing import rebuild, restore_arguments

    last_printed = Printed()
    status = answer["status"]
    if status == "not_started":
        raise NotStarted(function)
    if status == "submission_error":
        raise SubmissionError(_text(answer, "message"))
    if status == "missing_function":
        raise MissingFunction(_text(answer, "message"))
    if status == "crash":
        types = answer.get("exception_types")
        types = [str(t) for t in types] if isinstance(types, list) else []
        headline = _text(answer, "headline")
        processes = TOO_MANY_PROCESSES if worker.hit_process_limit() else ""
        memory = _memory_note(types, headline) or (CHILD_KILLED_FOR_MEMORY if worker.ran_out_of_memory() else "")
        message = "\n".join(filter(None, [headline, _text(answer, "traceback"), memory, processes]))
        raise LearnerCrash(message, types, function)
    if status == "died":
        raise LearnerCrash(_died(function, answer.get("exit_code"), worker.ran_out_of_memory()), function=function)
    if status != "returned":
        raise MalformedAnswer(f"unknown status {status[:40]!r}")
    restore_arguments(list(args), answer.get("arguments"))
    keywords = answer.get("keywords")
    if not isinstance(keywords, dict) or set(keywords) != set(kwargs):
        raise MalformedAnswer("the keyword arguments' state does not match")
    restore_arguments([kwargs[name] for name in keywords], list(keywords.values()))
    facts = answer.get("harness") or {}
    if not isinstance(facts, dict) or not all(isinstance(v, (str, bool, int)) for v in facts.values()):
        raise MalformedAnswer("the harness's facts are not plain text, numbers or yes/no")
    last_printed = _printed(answer.get("printed"))
    return rebuild(answer.get("value")), facts


def _printed(value) -> Printed:
    if not isinstance(value, dict):
        return Printed()

    def text(key: str) -> str:
        return _CONTROL.sub("", value[key]) if isinstance(value.get(key), str) else ""

    def size(key: str) -> int:
        return value[key] if type(value.get(key)) is int else 0

    return Printed(text("stdout"), text("stderr"), size("stdout_bytes"), size("stderr_bytes"))


# What the learner's calls left open in the worker (worker/harnesses.py: process_facts):
# the W&B runs and the number of figures of the last call, and the event files of every call
# (each test writes in its own folder, so a check can look its own up by path).
open_wandb_runs: set[str] = set()
open_event_files: set[str] = set()
open_figures = 0


def figures_left_open() -> int:
    """How many matplotlib figures the learner's last call left open in the worker."""
    return open_figures


@dataclass(frozen=True)
class Printed:
    """What a call wrote on the screen: the first characters of its standard output and error
    (control characters and colour codes removed), and how many bytes of each in all."""
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0

    @property
    def nothing(self) -> bool:
        return self.stdout_bytes == 0 and self.stderr_bytes == 0


last_printed = Printed()


def printed_by_last_call() -> Printed:
    """What the learner's last call that returned printed on the screen (its standard output and error)."""
    return last_printed


def _note_process_facts(answer: dict) -> None:
    global open_figures
    facts = answer.get("process")
    facts = facts if isinstance(facts, dict) else {}
    open_wandb_runs.clear()
    open_wandb_runs.update(str(item) for item in _strings(facts.get("open_wandb_runs")))
    open_event_files.update(_strings(facts.get("open_event_files")))
    figures = facts.get("open_figures")
    open_figures = figures if isinstance(figures, int) else 0


def _strings(value) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]")


def _text(answer: dict, key: str) -> str:
    """Text from the worker, as it may appear in a report: no colour codes or terminal controls."""
    value = answer.get(key)
    if not isinstance(value, str):
        raise MalformedAnswer(f"{key} is not text")
    return _CONTROL.sub("", value).strip("\n")[:5000]


_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
# The classic projector tutorial's work-around for an old TensorBoard, which needed TensorFlow's file API.
_TUTORIAL_GFILE_HACK = ("This is the classic tutorial's `tf.io.gfile = tb.compat.tensorflow_stub.io.gfile` "
                        "work-around, which imports TensorFlow. add_embedding has not needed it since TensorBoard 2.x: "
                        "delete those lines (the imports of tensorflow and tensorboard with them). Do not install "
                        "TensorFlow for it.")

# Libraries that blog posts and older tutorials use where the course has its own counterpart.
_COURSE_COUNTERPARTS = {
    "tensorboardX": "tensorboardX is the stand-alone writer that PyTorch's own grew out of, and it is not installed "
                    "here: `from torch.utils.tensorboard import SummaryWriter` takes the same log_dir and has the same "
                    "add_scalar, add_image, add_graph ... methods.",
    "tensorflow": "TensorFlow is not installed here, and no lesson needs it: TensorBoard reads event files without it, "
                  "and the course writes them with PyTorch's `torch.utils.tensorboard.SummaryWriter`.",
}


def missing_module_advice(message: str, source: str, folder: Path | None = None) -> str:
    """What to do when importing exercise.py (whose text is `source`, in `folder`) failed on a module
    that is not there."""
    found = _MISSING_MODULE.search(message)
    if not found or "ModuleNotFoundError" not in message:
        return ""
    module = found.group(1).split(".")[0]
    beside = [name for name in (f"{module}.py", module) if folder is not None and (folder / name).exists()]
    if beside:
        return (f"Your {beside[0]} sits beside {EXERCISE_FILE}, but only {EXERCISE_FILE} is graded: each lesson is "
                f"one file. Move what you need from {beside[0]} into {EXERCISE_FILE}, and remove the import.")
    if module == "tensorflow" and "gfile" in source:
        return _TUTORIAL_GFILE_HACK
    if module in _COURSE_COUNTERPARTS:
        return _COURSE_COUNTERPARTS[module]
    if module.lower().replace("_", "-") in _course_libraries():
        return (f"`{module}` is one of the course's libraries, but it is not installed here: `make setup` installs "
                f"them all, and `watchtrain doctor` lists what is missing.")
    return (f"`{module}` is not one of the course's libraries, and the grader has only those: remove the import "
            f"(the lesson shows how to do it with the course's libraries).")


def _read_text(path: Path) -> str:
    """The learner's file as text (read, never run), or "" when it cannot be read."""
    try:  # not a link, not a FIFO that would block: a regular file only
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return ""
        return file.read(200_000).decode("utf-8", "replace")


def _course_libraries() -> set[str]:
    from importlib.metadata import PackageNotFoundError, requires

    try:
        return {re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower() for requirement in requires("watchtrain") or []}
    except PackageNotFoundError:
        return set()


_GROWING = ("Look for data kept at every step or batch (a list that only grows, say), or a tensor far larger than "
            "the exercise needs.")


def _memory_note(exception_types: list[str], headline: str) -> str:
    """What a memory error means here, for the exceptions that say memory ran out."""
    if "OutOfMemoryError" in exception_types or "CUDA out of memory" in headline:
        return f"The GPU's memory ran out. {_GROWING}"
    if "MemoryError" in exception_types or "can't allocate memory" in headline:
        return (f"Your code ran out of memory: the grader lets each of its processes hold at most "
                f"{DATA_BYTES >> 30} GiB (less where the machine has less free). {_GROWING}")
    return ""


_BUDGET = f"the grader lets your code's processes hold at most {WORKER_MEMORY_BYTES >> 30} GiB together"
CHILD_KILLED_FOR_MEMORY = (f"While it ran, the kernel killed one or more of the processes your code started, for "
                           f"running out of memory: {_BUDGET}. {_GROWING}")


def _killed_for_memory() -> str:
    return f"the kernel killed it for running out of memory ({_BUDGET}). {_GROWING}"


def _died(function: str, code, ran_out_of_memory: bool | None) -> str:
    """Why a call's process ended without an answer. `ran_out_of_memory`: whether the kernel killed
    one of the worker's processes for memory meanwhile (None: not known, no memory budget)."""
    code = code if isinstance(code, int) else 0
    if code >= 0:
        return (f"crashed: {function}() ended its process (the process exited (exit code {code})) before returning. "
                f"An exercise must return; os._exit() or exit() would end a training script too.")
    if code == -signal.SIGKILL and ran_out_of_memory:
        return f"crashed: {function}() did not return: {_killed_for_memory()}"
    killed = ("the process was killed (SIGKILL), most likely for running out of memory" if ran_out_of_memory is None
              else "the process was killed (SIGKILL) though your code stayed within its memory budget: does it send "
                   "that signal itself (os.kill)? A machine short of memory kills processes too")
    reasons = {signal.SIGSEGV: "a segmentation fault (SIGSEGV) in native code, which read or wrote memory it does "
                               "not own (ctypes with a bad address, a C extension given a wrong argument)",
               signal.SIGBUS: "a bus error (SIGBUS) in native code", signal.SIGABRT: "native code aborted (SIGABRT)",
               signal.SIGKILL: killed}
    try:
        reason = reasons.get(signal.Signals(-code), f"the process was killed by {signal.Signals(-code).name}")
    except ValueError:
        reason = f"the process was killed by signal {-code}"
    return f"crashed: {function}() did not return: {reason}."


TOO_MANY_PROCESSES = (f"Your code started processes until it had the most it may have at once ({MAX_PROCESSES}), "
                      f"and then tried to start more. Look for a loop that starts processes (os.fork, subprocess, "
                      f"multiprocessing) without end, or processes that are never waited for.")


def _did_not_answer(function: str, reason: str, worker: LearnerWorker) -> str:
    if worker.hit_process_limit():
        return f"{reason}. {TOO_MANY_PROCESSES}"
    if "did not return within" in reason:
        return (f"timed out: {reason}. Look for a loop that never ends (a `while` whose condition never "
                f"changes), or far more work than the exercise asks for.")
    if worker.ran_out_of_memory():
        return f"{reason}: {_killed_for_memory()}"
    return (f"{reason}. The process running your code was killed or crashed: look for os._exit, os.kill, "
            f"a segmentation fault in a library call, or memory use far beyond the exercise's.")


def lesson_module(worker: LearnerWorker, lesson_dir: str, timeout: float | None,
                  crash_advice: Mapping[str, str] | None = None) -> LessonModule:
    return LessonModule(worker, lesson_dir, timeout or float(os.environ.get("WATCHTRAIN_CALL_TIMEOUT", DEFAULT_CALL_TIMEOUT_S)),
                        crash_advice)
