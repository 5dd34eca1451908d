"""Whether an exercise is still its stub: a function whose body, docstring aside, is only
`raise NotImplementedError`. Read from the source with `ast`, so nothing the learner wrote runs.

Calling such a function can only raise NotImplementedError, so the grader knows its checks' verdict
("not started") without running them: the function must be the name's only binding in the module,
undecorated, and never made global elsewhere, or something else could stand in for it at run time.
"""
from __future__ import annotations

import ast
from pathlib import Path


def untouched(path: Path, functions: list[str]) -> list[str]:
    """Those of `functions` that are still stubs in `path` (none when it is missing or cannot be
    parsed: then it runs, and the grader reports what running it says)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):  # the last two: nesting too deep for the parser
        return []
    bindings: dict[str, list[ast.stmt]] = {}
    for statement in tree.body:
        for name in _names_bound_by(statement):
            bindings.setdefault(name, []).append(statement)
    made_global = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    if "NotImplementedError" in bindings or "NotImplementedError" in made_global:
        return []  # `raise NotImplementedError` could raise something else
    return [name for name in functions if name not in made_global and len(bindings.get(name, [])) == 1
            and _is_stub(bindings[name][0])]


def _names_bound_by(statement: ast.stmt) -> list[str]:
    """The module-level names a top-level statement binds."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    names = []
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [alias.asname or alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return names


def _is_stub(function: ast.stmt) -> bool:
    if not isinstance(function, ast.FunctionDef) or function.decorator_list:
        return False
    body = function.body[1:] if ast.get_docstring(function) is not None else function.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
