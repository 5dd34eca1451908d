"""Assertions whose failure message teaches: what was checked, what was expected, what was found.

The plugin appends the exercise's hint from course.toml, so tests never repeat hints.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

_MAX_SHOWN = 8
# For expect_close: a value that went through float32 (a tensor, then .item()) is right to about 6e-8
# relative. Where float32's rounding is not the lesson, accept it: 0.5699999928 is the accuracy 0.57.
FLOAT32_TOL = 1e-6


class GradingFailure(AssertionError):
    """A check failed. Rendered for the learner without a traceback."""

    def __init__(self, what: str, expected: Any = None, found: Any = None, advice: str | None = None,
                 shown_from: int = 0):
        """`shown_from`: in long lists, the position the items shown start at (where they differ)."""
        self.what, self.expected, self.found, self.advice = what, expected, found, advice
        self.shown_from = shown_from
        super().__init__(self.render())

    def render(self) -> str:
        lines = [self.what]
        if self.expected is not None or self.found is not None:
            expected, found = _show(self.expected, start=self.shown_from), _show(self.found, start=self.shown_from)
            if expected == found:  # they differ past the digits shown (2.3 and float32's 2.2999999523): show them all
                expected = _show(self.expected, every_digit=True, start=self.shown_from)
                found = _show(self.found, every_digit=True, start=self.shown_from)
            lines.append(f"  expected: {expected}")
            lines.append(f"  found:    {found}")
        if self.advice:
            lines.append(f"  {self.advice}")
        return "\n".join(lines)


class KnownCrash(GradingFailure):
    """The learner's code crashed with a message the test module's CRASH_ADVICE knows: the crash
    is reported with that advice (`clue` is the key that matched)."""

    def __init__(self, message: str, clue: str, advice: str):
        self.clue = clue
        super().__init__(f"Your code crashed: {message.splitlines()[0][:300] if message else ''}", advice=advice)


def fail(what: str, *, expected: Any = None, found: Any = None, advice: str | None = None) -> NoReturn:
    raise GradingFailure(what, expected, found, advice)


def expect(condition: bool, what: str, *, expected: Any = None, found: Any = None, advice: str | None = None) -> None:
    if not condition:
        fail(what, expected=expected, found=found, advice=advice)


def expect_equal(found: Any, expected: Any, what: str, *, advice: str | None = None) -> None:
    if found == expected:
        return
    shown_from = 0
    if _is_sequence(found) and _is_sequence(expected):
        index = _first_difference(found, expected, lambda a, b: a == b)
        if index is not None:
            what = f"{what} (first difference at position {index})"
            shown_from = max(0, index - 2) if index >= _MAX_SHOWN - 1 else 0  # the difference in sight
    raise GradingFailure(what, expected, found, advice, shown_from)


def expect_close(found: Any, expected: Any, what: str, *, tol: float = 1e-6, advice: str | None = None) -> None:
    """Numbers, or equal-length sequences of numbers, equal within an absolute-or-relative `tol`."""

    def close(a: Any, b: Any) -> bool:
        return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)

    if _is_sequence(found) or _is_sequence(expected):
        found_list, expected_list = list(found), list(expected)
        if len(found_list) != len(expected_list):
            fail(f"{what}: {len(expected_list)} values expected, {len(found_list)} found",
                 expected=expected_list, found=found_list, advice=advice)
        index = _first_difference(found_list, expected_list, close)
        if index is not None:
            fail(f"{what}: value {index} differs by more than {tol:g}",
                 expected=expected_list[index], found=found_list[index], advice=advice)
        return
    if not close(found, expected):
        fail(f"{what} differs by more than {tol:g}", expected=expected, found=found, advice=advice)


def expect_tuple(value: Any, function: str, names: Sequence[str], *, list_ok: bool = False) -> tuple:
    """The values of the tuple `function` returned, one per name in `names`; otherwise a failure that
    says what came back instead: None (a function without `return`), a list (the contract asks for
    a tuple), or another number of values. With `list_ok`, a list of the right length is taken as
    the tuple, for checks that judge the values and leave the form to another check."""
    form, values = f"({', '.join(names)})", ", ".join(names)
    if isinstance(value, tuple) and len(value) == len(names):
        return value
    if isinstance(value, list) and len(value) == len(names):
        if list_ok:
            return tuple(value)
        fail(f"{function}() returns a list of {len(names)}; the contract asks for a tuple {form}.",
             expected=f"tuple {form}", found="list",
             advice=f"A return with commas, `return {values}`, returns a tuple.")
    from watchtrain.grading.crossing import type_name

    found = (f"{type(value).__name__} of {len(value)}" if isinstance(value, (tuple, list))
             else "None" if value is None else type_name(value))
    fail(f"{function}() must return a tuple of {len(names)}, {form}.", expected=form, found=found,
         advice=f"{function}() returned None: end it with `return {values}`." if value is None else None)


def expect_list(value: Any, function: str, name: str, what: str) -> list:
    """The list `function` returned (a tuple counts); otherwise a failure that says what came back
    instead and what to return: `name` is what the learner's code calls the list (`accuracies`),
    `what` what it holds ("the per-epoch accuracies")."""
    if isinstance(value, (list, tuple)):
        return list(value)
    from watchtrain.grading.crossing import type_name

    kind = type_name(value)
    if value is None:
        advice = f"{function}() returned None: end it with `return {name}`, the list of {what}."
    elif kind in ("ndarray", "Tensor"):
        advice = (f"It returned a {'NumPy array' if kind == 'ndarray' else 'tensor'}: return a plain list of "
                  f"numbers, {name}.tolist() makes one.")
    elif isinstance(value, (int, float)):
        advice = f"It returned one number: return the list of {what}, all of them."
    else:
        advice = f"It returned a {kind}: return a plain list of {what}."
    fail(f"{function}() must return the list of {what}.", expected="a list", found="None" if value is None else kind,
         advice=advice)


def read_artifact(reader: Callable[..., Any], *args: Any, what: str) -> Any:
    """`reader(*args)` (one of watchtrain.artifacts' readers); when the artifact is missing or
    unreadable, the check fails with `what` and the reader's own explanation (its path and fix)."""
    from watchtrain.artifacts.errors import ArtifactError

    try:
        return reader(*args)
    except ArtifactError as error:
        fail(what, advice=str(error))


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _first_difference(found: Sequence, expected: Sequence, same) -> int | None:
    for index, (a, b) in enumerate(zip(found, expected)):
        if not same(a, b):
            return index
    return None if len(found) == len(expected) else min(len(found), len(expected))


def _show(value: Any, every_digit: bool = False, start: int = 0) -> str:
    """A value as the learner reads it; a long list as _MAX_SHOWN of its items from position `start`."""
    if _is_sequence(value) and len(value) > _MAX_SHOWN:
        items = list(value)
        start = min(start, len(items) - _MAX_SHOWN)
        shown = ", ".join(_show(v, every_digit) for v in items[start:start + _MAX_SHOWN])
        before = "..., " if start else ""
        after = ", ..." if start + _MAX_SHOWN < len(items) else ""
        where = f", from position {start}" if start else ""
        return f"[{before}{shown}{after} ({len(items)} in all{where})]"
    if isinstance(value, float):
        return repr(value) if every_digit else f"{value:.6g}"
    if _is_sequence(value):
        return "[" + ", ".join(_show(v, every_digit) for v in value) + "]"
    return repr(value)
