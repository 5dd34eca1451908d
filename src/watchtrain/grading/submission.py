"""Loading a learner's `exercise.py` and calling into it, so that their mistakes read as feedback.

A stub's NotImplementedError becomes NotStarted; any other exception in the learner's code becomes
LearnerCrash with a traceback trimmed to the learner's own lines.
"""
from __future__ import annotations

import functools
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

EXERCISE_FILE = "exercise.py"


class NotStarted(Exception):
    """The exercise function still raises NotImplementedError."""

    def __init__(self, function: str):
        self.function = function
        super().__init__(f"not started: {function}() still raises NotImplementedError. "
                         f"Replace the `raise NotImplementedError` line with your code.")


class SubmissionError(Exception):
    """The submission cannot be used at all (missing file, syntax error, failing import)."""


class LearnerCrash(Exception):
    """The learner's code raised; the message shows their own lines only."""


def load_lesson(submission_root: Path, lesson_dir: str) -> "LessonModule":
    path = submission_root / lesson_dir / EXERCISE_FILE
    return LessonModule(_import(path.resolve()), path)


@functools.lru_cache(maxsize=None)
def _import(path: Path) -> ModuleType:
    if not path.is_file():
        raise SubmissionError(f"{path} is missing: every lesson's code lives in its {EXERCISE_FILE}. "
                              f"Copy the stub back from the course (lessons/{path.parent.name}/{EXERCISE_FILE}).")
    name = f"watchtrain_submission_{path.parent.name}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[name]
        raise SubmissionError(f"{path} has a syntax error on line {err.lineno}: {err.msg}\n"
                              f"    {(err.text or '').rstrip()}") from None
    except (Exception, SystemExit) as err:
        del sys.modules[name]
        raise SubmissionError(f"importing {path} failed: {type(err).__name__}: {err}\n"
                              f"{learner_traceback(err, path)}") from None
    return module


class LessonModule:
    """The learner's module; attribute access returns guarded versions of their functions."""

    def __init__(self, module: ModuleType, path: Path):
        self._module, self._path = module, path

    def __getattr__(self, name: str) -> Any:
        try:
            value = getattr(self._module, name)
        except AttributeError:
            raise SubmissionError(f"{self._path} has no function {name}(); it is one of the exercises. "
                                  f"Did you rename or delete it?") from None
        return _guard(value, name, self._path) if callable(value) else value


def _guard(function: Callable, name: str, path: Path) -> Callable:
    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except NotImplementedError as err:
            if _raised_in(err, path):
                raise NotStarted(name) from None
            raise LearnerCrash(_describe(err, name, path)) from None
        except (Exception, SystemExit) as err:
            raise LearnerCrash(_describe(err, name, path)) from None

    return guarded


def _raised_in(err: BaseException, path: Path) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve() == path.resolve()


def _describe(err: BaseException, name: str, path: Path) -> str:
    if isinstance(err, SystemExit):
        headline = f"{name}() called sys.exit({err.code!r}); an exercise must return, not exit."
    else:
        headline = f"{name}() raised {type(err).__name__}: {err}"
    return f"{headline}\n{learner_traceback(err, path)}"


def learner_traceback(err: BaseException, path: Path) -> str:
    """The traceback lines in the learner's file, plus the library call they ended in."""
    frames = traceback.extract_tb(err.__traceback__)
    own = [i for i, frame in enumerate(frames) if Path(frame.filename).resolve() == path.resolve()]
    if not own:
        return "  (no line of your exercise.py is involved)"
    lines = [f"  {path.name}, line {frames[i].lineno}, in {frames[i].name}: {(frames[i].line or '').strip()}"
             for i in own]
    if own[-1] != len(frames) - 1:
        last = frames[-1]
        lines.append(f"  ... which failed inside {Path(last.filename).name}, line {last.lineno}, in {last.name}")
    return "\n".join(lines)


def forget_imports() -> None:
    """Drop cached submission modules (used when one process grades several submissions)."""
    _import.cache_clear()
    for name in [n for n in sys.modules if n.startswith("watchtrain_submission_")]:
        del sys.modules[name]
