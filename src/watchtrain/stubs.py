"""Whether an exercise is still its stub: a function whose body, docstring aside, is only
`raise NotImplementedError`. Read from the source with `ast`, so nothing the learner wrote runs."""
from __future__ import annotations

import ast
from pathlib import Path


def untouched(path: Path, functions: list[str]) -> list[str]:
    """Those of `functions` that are still stubs in `path` (none when it is missing or cannot be parsed)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    stubs = {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and _is_stub(node)}
    return [name for name in functions if name in stubs]


def _is_stub(function: ast.FunctionDef) -> bool:
    body = function.body[1:] if ast.get_docstring(function) is not None else function.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
