"""How fast grading and logging are on this machine: medians over several runs -> benchmarks/results.json.

    python benchmarks/bench.py                 # or `make bench`
    python benchmarks/bench.py --repeat 5 --only check logging

A benchmark, not a test: it measures and reports against the targets in the README's "Performance", and fails
nothing. Figures from a busy machine are worth little, so the machine and its load average are
recorded with them.

- autograder: `pytest autograder --solutions`, the whole course on the reference solutions;
- check: `watchtrain check NN --solutions`, one lesson, as a learner runs it (CLI start-up included);
- batch: `watchtrain grade` on copies of the reference solutions, in submissions per minute;
- batch_vs_main: the same batch graded by this checkout and by `--baseline` (main before the
  checker/worker split), interleaved in one run, each on its own reference solutions: the median
  throughput of this checkout over the baseline's (the grading split's target: >= 0.85);
- logging: lesson 04's `train_and_log` (the reference) with its TensorBoard logging at the lesson's
  recommended intervals (the function's defaults), against the same loop with the logging taken
  out (a SummaryWriter that does nothing, no figures drawn): the median time with logging over the
  median time without, from interleaved pairs of runs. The epoch is `figure_every` mini-batches
  long, so each run pays for its figures in the same proportion as a long training run does. As a
  cross-check with less noise, the time spent inside the logging calls is also timed directly.
- failure_runs: lesson 09's runs for one grading, one per failure mode, each from a fresh seed, in
  seconds, timed in one process after its imports and the data are loaded (the grader has paid for
  those already); the slowest mode's median is reported beside it.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import inspect
import io
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
WATCHTRAIN = [sys.executable, "-m", "watchtrain.cli"]
LOGGING_LESSON = "04"
# The tutorial's mini-batches of 4. The logging intervals are the lesson's: train_and_log's defaults.
BATCH_SIZE = 4
TARGETS = {  # the README's "Performance"
    "autograder": ("<=", 30.0, "s"),
    "check": ("<=", 4.0, "s"),
    "batch": (">=", 10.0, "submissions/min"),
    "batch_vs_main": (">=", 0.85, "x baseline"),
    "logging": ("<=", 3.0, "%"),
    "failure_runs": ("<=", 5.0, "s"),
    "check_over_floor": ("<=", 1.0, "s"),
    "watch": ("<=", 1.0, "s"),
}
IMPORT_FLOOR = [sys.executable, "-c", "import torch, torchvision"]


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` exited with {done.returncode}:\n{(done.stdout + done.stderr)[-2000:]}")
    return seconds


def bench_autograder(repeat: int) -> dict:
    runs = [timed([sys.executable, "-m", "pytest", "autograder", "--solutions", "-q", "-p", "no:cacheprovider"])
            for _ in range(repeat)]
    return {"what": "pytest autograder --solutions (whole course)", "unit": "s", "runs": runs,
            "median": statistics.median(runs)}


def bench_check(repeat: int, lesson: str) -> dict:
    command = [*WATCHTRAIN, "check", lesson, "--solutions"]
    runs = [timed(command) for _ in range(repeat)]
    return {"what": f"watchtrain check {lesson} --solutions (one lesson, CLI start-up included)", "unit": "s",
            "runs": runs, "median": statistics.median(runs)}


def bench_check_over_floor(repeat: int, lesson: str) -> dict:
    """A cold check against the cold import floor, interleaved: what the check costs beyond
    `import torch, torchvision`, which every fresh interpreter pays."""
    floors, checks = [], []
    for _ in range(repeat):
        floors.append(timed(IMPORT_FLOOR))
        checks.append(timed([*WATCHTRAIN, "check", lesson, "--solutions"]))
    floor, check = statistics.median(floors), statistics.median(checks)
    return {"what": f"watchtrain check {lesson} --solutions, minus a cold `import torch, torchvision`", "unit": "s",
            "runs": [c - f for f, c in zip(floors, checks)], "median": check - floor,
            "detail": f"check {check:.2f} s, import floor {floor:.2f} s: {check / floor:.2f} x the floor"}


def bench_watch(repeat: int, lesson: str) -> dict:
    """`watchtrain watch`: from writing a lesson's exercise.py to its printed verdict (the points
    line), on a copy of the course, once the watcher's warm process is up (3 saves first, unmeasured)."""
    with tempfile.TemporaryDirectory(prefix="watchtrain-bench-watch-") as scratch:
        course = Path(scratch) / "course"
        course.mkdir()
        for part in ("course.toml", "pyproject.toml", "lessons", "autograder", "data"):
            copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
            copy(ROOT / part, course / part, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
        exercise = next((course / "lessons").glob(f"{lesson}_*")) / "exercise.py"
        solution = (ROOT / "solutions" / exercise.parent.name / "exercise.py").read_text(encoding="utf-8")
        env = os.environ | {"WATCHTRAIN_PROGRESS": str(Path(scratch) / "progress.json"), "NO_COLOR": "1"}
        watcher = subprocess.Popen([*WATCHTRAIN, "watch", lesson], cwd=course, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()

        def wait_for(text: str, timeout: float = 300.0) -> float:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    if text in lines.get(timeout=1.0):
                        return time.perf_counter()
                except queue.Empty:
                    continue
            raise RuntimeError(f"`watchtrain watch` printed no {text!r} within {timeout:g} s")

        try:
            wait_for("Watching every lesson")
            runs = []
            for index in range(3 + repeat):
                # Not done (one exercise left as a stub), so watch stays on the lesson; each save differs.
                text = _with_one_stub(solution) + f"# save {index}\n"
                saved = time.perf_counter()
                exercise.write_text(text, encoding="utf-8")
                verdict = wait_for(" points, ")
                wait_for("Watching every lesson")
                if index >= 3:
                    runs.append(verdict - saved)
        finally:
            watcher.terminate()
            watcher.wait(30)
    floor = statistics.median(timed(IMPORT_FLOOR) for _ in range(repeat))
    median = statistics.median(runs)
    return {"what": f"watchtrain watch {lesson}: from saving exercise.py to the printed verdict", "unit": "s",
            "runs": runs, "median": median,
            "detail": f"import floor {floor:.2f} s: the verdict comes in {median / floor:.2f} x a cold import"}


def _with_one_stub(source: str) -> str:
    """The reference with its last exercise function's body replaced by `raise NotImplementedError`."""
    tree = ast.parse(source)
    last = [node for node in tree.body if isinstance(node, ast.FunctionDef)][-1]
    lines = source.splitlines()
    body_start = last.body[1].lineno if len(last.body) > 1 and isinstance(last.body[0], ast.Expr) else last.body[0].lineno
    indent = " " * last.body[0].col_offset
    return "\n".join(lines[:body_start - 1] + [f"{indent}raise NotImplementedError"] + lines[last.end_lineno:]) + "\n"


def bench_batch(repeat: int, submissions: int, jobs: int | None) -> dict | None:
    listing = subprocess.run([*WATCHTRAIN, "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    if " grade " not in listing:
        return None  # no batch grading in this checkout
    runs = []
    with tempfile.TemporaryDirectory(prefix="watchtrain-bench-") as scratch:
        folder = Path(scratch) / "submissions"
        for index in range(submissions):
            shutil.copytree(ROOT / "solutions", folder / f"student_{index:03d}")
        for _ in range(repeat):
            out = Path(scratch) / "results"
            shutil.rmtree(out, ignore_errors=True)
            command = [*WATCHTRAIN, "grade", str(folder), "--out", str(out), "--regrade"]
            seconds = timed(command + (["--jobs", str(jobs)] if jobs else []))
            runs.append(submissions / seconds * 60)
    return {"what": f"watchtrain grade: {submissions} copies of the reference solutions, whole course each"
                    + (f", --jobs {jobs}" if jobs else ", default --jobs"),
            "unit": "submissions/min", "runs": runs, "median": statistics.median(runs)}


BASELINE = "f72ca77"  # main before the checker/worker split (issue 12's "today's main")


def bench_batch_against(baseline: str, repeat: int, submissions: int, jobs: int | None) -> dict:
    """Throughput of this checkout over the baseline's, batches interleaved (baseline, this, ...)."""
    with tempfile.TemporaryDirectory(prefix="watchtrain-bench-") as scratch:
        tree = Path(scratch) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), baseline], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            lessons = sorted(_lesson_dirs(tree) & _lesson_dirs(ROOT))  # the same work on both sides
            runs = {"baseline": [], "this": []}
            for _ in range(repeat):
                for name, root in (("baseline", tree), ("this", ROOT)):
                    runs[name].append(_batch_throughput(root, Path(scratch) / name, submissions, jobs, lessons))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    ratios = [this / base for this, base in zip(runs["this"], runs["baseline"])]
    return {"what": f"watchtrain grade, {submissions} reference copies of lessons {', '.join(lessons)}: this "
                    f"checkout over {baseline}, interleaved",
            "unit": "x baseline", "runs": ratios, "median": medians["this"] / medians["baseline"],
            "detail": f"submissions/min: this {medians['this']:.2f} (runs {_listed(runs['this'])}), "
                      f"baseline {medians['baseline']:.2f} (runs {_listed(runs['baseline'])})"}


def _listed(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _lesson_dirs(root: Path) -> set[str]:
    import tomllib

    return {lesson["dir"] for lesson in tomllib.loads((root / "course.toml").read_text())["lessons"]}


def _batch_throughput(root: Path, scratch: Path, submissions: int, jobs: int | None, lessons: list[str]) -> float:
    folder, out = scratch / "submissions", scratch / "results"
    if not folder.is_dir():
        for index in range(submissions):
            shutil.copytree(root / "solutions", folder / f"student_{index:03d}")
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    command = [sys.executable, "-m", "watchtrain.cli", "grade", str(folder), "--out", str(out), "--regrade",
               "--lessons", *lessons, *(["--jobs", str(jobs)] if jobs else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"grading in {root} exited with {done.returncode}:\n{(done.stdout + done.stderr)[-2000:]}")
    return submissions / seconds * 60


class NullWriter:
    """A SummaryWriter that writes nothing: the training loop with its logging taken out."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def timed_calls(function, spent: list[float]):
    """`function`, adding the seconds each call takes to `spent`."""
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)
    return timed


def bench_logging(pairs: int) -> dict | None:
    from watchtrain.course import load_course

    course = load_course(ROOT)
    lesson = course.lesson(LOGGING_LESSON)
    if not (ROOT / "solutions" / lesson.dir / "exercise.py").is_file():
        return None
    import torch
    from torch import nn
    from torch.utils.data import ConcatDataset, DataLoader, Subset

    from watchtrain.data import fashion_mnist, normalize_transform
    from watchtrain.models import Net
    from watchtrain.reference import load_reference

    module = load_reference(ROOT / "solutions", lesson.dir)
    defaults = inspect.signature(module.train_and_log).parameters
    log_every, figure_every = defaults["log_every"].default, defaults["figure_every"].default
    real_writer, real_figure = module.SummaryWriter, module.plot_classes_preds
    spent: list[float] = []  # seconds inside the logging calls of the current run

    class TimedWriter(real_writer):
        add_scalar = timed_calls(real_writer.add_scalar, spent)
        add_figure = timed_calls(real_writer.add_figure, spent)

    # One epoch of figure_every mini-batches: the bundled images, repeated as often as that needs.
    bundled = fashion_mnist(train=True, transform=normalize_transform())
    images = figure_every * BATCH_SIZE
    train_set = Subset(ConcatDataset([bundled] * -(-images // len(bundled))), range(images))
    test_loader = DataLoader(fashion_mnist(train=False, transform=normalize_transform()), batch_size=256)

    def one_run(logging: bool, log_dir: Path) -> float:
        module.SummaryWriter = TimedWriter if logging else NullWriter
        module.plot_classes_preds = timed_calls(real_figure, spent) if logging else (lambda *args, **kwargs: None)
        spent.clear()
        torch.manual_seed(0)
        net = Net()
        loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        started = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):  # tqdm's bar, drawn in both variants
            module.train_and_log(str(log_dir), net, loader, test_loader, nn.CrossEntropyLoss(), optimizer, epochs=1)
        return time.perf_counter() - started

    logged, bare, inside = [], [], []
    try:
        with tempfile.TemporaryDirectory(prefix="watchtrain-bench-logs-") as scratch:
            one_run(True, Path(scratch) / "warm-up")  # first-use costs (matplotlib fonts, imports)
            for index in range(pairs):  # interleaved, so that a busy moment hits both variants
                logged.append(one_run(True, Path(scratch) / f"run_{index}"))
                inside.append(100 * sum(spent) / (logged[-1] - sum(spent)))
                bare.append(one_run(False, Path(scratch) / f"bare_{index}"))
    finally:
        module.SummaryWriter, module.plot_classes_preds = real_writer, real_figure
    # The figure: median time with logging over median time without. The effect is a few percent of
    # a few seconds, so the per-pair ratios are kept to show the noise around it.
    overhead = [100 * (with_logs / without - 1) for with_logs, without in zip(logged, bare)]
    return {"what": f"lesson {lesson.number} train_and_log at its defaults (loss every {log_every} mini-batches, "
                    f"figure every {figure_every}), one epoch of {figure_every} mini-batches of {BATCH_SIZE}: "
                    f"extra time of the logging",
            "unit": "%", "runs": overhead,
            "median": 100 * (statistics.median(logged) / statistics.median(bare) - 1),
            "seconds_with_logging": statistics.median(logged), "seconds_without_logging": statistics.median(bare),
            "inside_logging_calls": {"unit": "% of the rest of the run", "runs": inside,
                                     "median": statistics.median(inside)},
            "detail": f"cross-check, time inside the logging calls: {statistics.median(inside):.2f} % "
                      f"(runs: {', '.join(f'{r:.2f}' for r in inside)})"}


def bench_failure_runs(repeat: int) -> dict:
    from watchtrain.failure_runs import MODES, write_failure_run

    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="watchtrain-bench-runs-") as scratch:
        write_failure_run(MODES[0], Path(scratch) / "warm-up", seed=0)  # imports, the bundled images
        for index in range(repeat):
            for mode in MODES:
                started = time.perf_counter()
                write_failure_run(mode, Path(scratch) / str(index) / mode, seed=int.from_bytes(os.urandom(4), "little"))
                seconds[mode].append(time.perf_counter() - started)
    runs = [sum(seconds[mode][index] for mode in MODES) for index in range(repeat)]
    slowest = max(MODES, key=lambda mode: statistics.median(seconds[mode]))
    return {"what": f"lesson 09: the {len(MODES)} failure runs of one grading, fresh seeds, one process",
            "unit": "s", "runs": runs, "median": statistics.median(runs),
            "per_mode_median": {mode: statistics.median(times) for mode, times in seconds.items()},
            "detail": f"slowest mode: {slowest}, median {statistics.median(seconds[slowest]):.2f} s"}


def machine() -> dict:
    model = ""
    if Path("/proc/cpuinfo").is_file():
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    memory = ""
    if Path("/proc/meminfo").is_file():
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    from importlib.metadata import version

    return {"cpu": model or platform.processor(), "cores": len(os.sched_getaffinity(0)), "memory": memory,
            "system": platform.platform(), "python": platform.python_version(), "torch": version("torch"),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def met(name: str, value: float) -> bool:
    op, target, _ = TARGETS[name]
    return value <= target if op == "<=" else value >= target


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--only", nargs="+", choices=sorted(TARGETS), help="measure only these")
    parser.add_argument("--pairs", type=int, default=7,
                        help="logging: runs with and without logging, interleaved (default: 7)")
    parser.add_argument("--lesson", default="01", help="the lesson `check` is timed on (default: 01)")
    parser.add_argument("--submissions", type=int, default=6, help="submissions in the batch (default: 6)")
    parser.add_argument("--jobs", type=int, help="--jobs for the batch (default: watchtrain grade's own)")
    parser.add_argument("--baseline", default=BASELINE, help=f"batch_vs_main: the commit to compare with (default: {BASELINE})")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default: {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args()
    wanted = args.only or list(TARGETS)
    measures = {
        "autograder": lambda: bench_autograder(args.repeat),
        "check": lambda: bench_check(args.repeat, args.lesson),
        "batch": lambda: bench_batch(args.repeat, args.submissions, args.jobs),
        "batch_vs_main": lambda: bench_batch_against(args.baseline, args.repeat, args.submissions, args.jobs),
        "logging": lambda: bench_logging(args.pairs),
        "failure_runs": lambda: bench_failure_runs(args.repeat),
        "check_over_floor": lambda: bench_check_over_floor(args.repeat, args.lesson),
        "watch": lambda: bench_watch(max(args.repeat, 5), args.lesson),
    }
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "repeat": args.repeat, "logging_pairs": args.pairs, "results": {}}
    print(f"Benchmarking on {report['machine']['cpu']} ({report['machine']['cores']} cores), "
          f"load average {report['machine']['load_average_at_start']}, {args.repeat} runs each")
    failed = []
    for name in wanted:
        print(f"  {name} ...", flush=True)
        try:
            result = measures[name]()
        except Exception as err:  # one broken measure must not cost the others their figures
            failed.append(name)
            report.setdefault("failed", {})[name] = f"{type(err).__name__}: {err}"
            print(f"    FAILED, not measured: {type(err).__name__}: {err}", flush=True)
            continue
        if result is None:
            print("    (not available in this checkout)")
            continue
        op, target, unit = TARGETS[name]
        result |= {"target": f"{op} {target:g} {unit}", "met": met(name, result["median"])}
        report["results"][name] = result
        print(f"    median {result['median']:.2f} {unit} (runs: {', '.join(f'{r:.2f}' for r in result['runs'])}); "
              f"target {result['target']}: {'met' if result['met'] else 'MISSED'}", flush=True)
        if "detail" in result:
            print(f"    {result['detail']}", flush=True)
        write_report(report, args.out)  # after every measure: an interrupted bench keeps what it measured
    write_report(report, args.out)
    print(f"\n{'measure':<11} {'median':>10}  target")
    for name, result in report["results"].items():
        print(f"{name:<11} {result['median']:>8.2f} {result['unit']:<16} {result['target']}  "
              f"{'met' if result['met'] else 'MISSED'}")
    for name in failed:
        print(f"{name:<11} {'failed':>10}  (see above)")
    print(f"written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
