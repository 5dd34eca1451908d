"""`make bench` (benchmarks/bench.py) is not run here: it measures for minutes. These tests keep it
runnable: every name it imports from the course exists, and a measure that breaks costs only its
own figure, not the others' (a bench that imported a helper removed by a refactor once crashed
after twelve minutes of measuring and wrote nothing)."""
import ast
import importlib
import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("watchtrain_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_name_the_bench_imports_from_the_course_exists():
    missing = []
    for node in ast.walk(ast.parse(BENCH.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("watchtrain"):
            module = importlib.import_module(node.module)
            missing += [f"{node.module}.{alias.name} (line {node.lineno})"
                        for alias in node.names if not hasattr(module, alias.name)]
        elif isinstance(node, ast.Import):
            missing += [f"{alias.name} (line {node.lineno})" for alias in node.names
                        if alias.name.startswith("watchtrain") and importlib.util.find_spec(alias.name) is None]
    assert not missing, f"benchmarks/bench.py imports what the course no longer has: {missing}"


def test_a_measure_that_fails_is_reported_and_the_others_are_kept(tmp_path, monkeypatch, capsys):
    bench = load_bench()

    def broken(*args):
        raise ImportError("cannot import name '_gone'")

    monkeypatch.setattr(bench, "bench_check", broken)
    monkeypatch.setattr(bench, "bench_autograder",
                        lambda repeat: {"what": "stand-in", "unit": "s", "runs": [1.0, 2.0, 3.0], "median": 2.0})
    out = tmp_path / "results.json"
    monkeypatch.setattr(sys, "argv", ["bench.py", "--only", "check", "autograder", "--out", str(out)])
    assert bench.main() == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["results"]["autograder"]["median"] == 2.0 and report["results"]["autograder"]["met"] is True
    assert report["failed"] == {"check": "ImportError: cannot import name '_gone'"}
    printed = capsys.readouterr().out
    assert "check ...\n    FAILED, not measured: ImportError: cannot import name '_gone'" in printed
    assert f"written to {out}" in printed
