"""An exercise that is still its stub is decided from the source (watchtrain.stubs): its checks are
"not started" without calling it, so they must be exactly the functions that can only raise
NotImplementedError, and nothing that could stand in for them at run time."""
import textwrap
from pathlib import Path

import pytest

from watchtrain.course import load_course
from watchtrain.stubs import untouched

COURSE = load_course(Path(__file__).resolve().parents[1])
STUB = '''
def f(x):
    """Docstring."""
    raise NotImplementedError("write f")
'''


@pytest.mark.parametrize("lesson", COURSE.lessons, ids=lambda lesson: lesson.dir)
def test_the_shipped_stubs_are_untouched_and_the_solutions_are_not(lesson):
    functions = [exercise.function for exercise in lesson.exercises]
    assert untouched(COURSE.root / "lessons" / lesson.dir / "exercise.py", functions) == functions
    assert untouched(COURSE.root / "solutions" / lesson.dir / "exercise.py", functions) == []


@pytest.mark.parametrize("source, is_stub", [
    (STUB, True),
    ("import os\n" + STUB + "\ndef g():\n    return 1\n", True),           # other code beside it
    (STUB.replace('raise NotImplementedError("write f")', "raise NotImplementedError"), True),
    (STUB + "\ndef f(x):\n    return x\n", False),                          # defined again below
    (STUB + "\nf = print\n", False),                                        # rebound
    ("from os import path as f\n" + STUB, False),                           # bound twice
    ("import functools\n@functools.lru_cache\n" + STUB.lstrip(), False),    # decorated
    (STUB + "\ndef g():\n    global f\n    f = len\ng()\n", False),         # rebound at import time
    ("NotImplementedError = ValueError\n" + STUB, False),                   # raises something else
    (STUB.replace('raise NotImplementedError("write f")', "print(x)\n    raise NotImplementedError"), False),
    ("def f(x:\n", False),                                                   # a syntax error: it must run
    (STUB + "\nx = " + "-" * 1_000_000 + "1\n", False),                     # too deep for the parser (MemoryError)
])
def test_only_a_function_that_can_only_raise_not_implemented_is_untouched(tmp_path, source, is_stub):
    path = tmp_path / "exercise.py"
    path.write_text(textwrap.dedent(source))
    assert untouched(path, ["f"]) == (["f"] if is_stub else [])
