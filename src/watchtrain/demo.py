"""The course's main job: run every lesson's reference code on the bundled data (lesson 04's
training run of the tutorial CNN is the centrepiece), offline, writing everything under one folder (default `runs/`); then, on request,
serve that folder's dashboards (TensorBoard, Visdom, Netron) on 127.0.0.1."""
from __future__ import annotations

import inspect
import json
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from watchtrain.course import Course


@dataclass(frozen=True)
class DemoOutput:
    name: str
    path: Path
    what: str
    seconds: float
    ok: bool = True


def run_demo(course: Course, out: Path, *, device: str = "cpu", report: Callable[[str], None] = print) -> list[DemoOutput]:
    """Run every step; a step that fails is reported (ok=False) and the others still run. A lesson
    without a demo module or a reference solution has no step, and `report` says so."""
    from watchtrain.demos import lesson_demo
    from watchtrain.reference import load_reference

    outputs = []

    def step(name: str, path: Path, job: Callable[[], str]) -> None:
        report(f"  {name} ...")
        started = time.perf_counter()
        try:
            what, ok = job(), True
        except Exception as err:  # one broken lesson must not hide the others' dashboards
            what, ok = f"FAILED: {type(err).__name__}: {err}".splitlines()[0], False
        outputs.append(DemoOutput(name, path, what, time.perf_counter() - started, ok))

    solutions = course.root / "solutions"
    for lesson in course.lessons:
        files = course.files(lesson)
        demo = lesson_demo(lesson.dir)
        if demo is None:
            report(f"  note: lesson {lesson.number} has no demo ({files.relative(files.demo)} does not exist); skipped")
        elif not files.solution_folder.is_dir():
            report(f"  note: lesson {lesson.number} has no reference solution "
                   f"({files.relative(files.solution_folder)}/ does not exist); its demo is skipped")
        else:
            target = out / lesson.dir
            # Demos that train take the device; the others have no use for it.
            options = {"device": device} if "device" in inspect.signature(demo.run).parameters else {}
            step(f"lesson {lesson.number}: {lesson.title}", target,
                 lambda demo=demo, target=target, lesson=lesson, options=options:
                 demo.run(load_reference(solutions, lesson.dir), target, **options))
    return outputs


# The dashboards' own default ports, used when free so that the URLs look familiar.
TENSORBOARD_PORT, VISDOM_PORT, NETRON_PORT = 6006, 8097, 8080
# TensorBoard's older dashboards (Scalars, Images, Text, PR Curves, Mesh, Histograms, Distributions) tick
# the runs their run filter matches only while it matches at most this many (maxNamesToEnableByDefault in
# TensorBoard's page); past that they tick none, and every card stays empty until runs are ticked by hand.
TENSORBOARD_TICKS_AT_MOST = 40


@dataclass
class Dashboards:
    """The servers `serve_dashboards` started: (name, url, what it shows), and what could not start."""

    running: list[tuple[str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    servers: list = field(default_factory=list, repr=False)

    def all_running(self) -> bool:
        return all(server.running() for server in self.servers)


@contextmanager
def serve_dashboards(out: Path) -> Iterator[Dashboards]:
    """Start TensorBoard on `out`, Visdom on the envs saved under it and Netron on its first ONNX
    model, all bound to 127.0.0.1; stop them all on leaving. A server that cannot start is listed
    in `problems` (with the reason and the fix) and the others still start."""
    from watchtrain.servers.errors import ServerError
    from watchtrain.servers.ports import port_is_free

    dashboards = Dashboards()

    def start(name: str, what: str, starter: Callable[[int | None], object], default_port: int,
              page: Callable[[object], str] = lambda server: server.url) -> None:
        try:
            server = starter(default_port if port_is_free(default_port) else None)
        except (ServerError, ImportError) as err:
            dashboards.problems.append(f"{name} did not start: {err}")
            return
        stack.callback(server.stop)
        dashboards.servers.append(server)
        dashboards.running.append((name, page(server), what))

    with ExitStack() as stack:
        from watchtrain.servers.tensorboard import start_tensorboard

        page, left_out = tensorboard_page(out)
        start("TensorBoard", f"every run under {out}" + (f"; the older tabs' run filter leaves out {left_out}"
                                                         if left_out else ""),
              lambda port: start_tensorboard(out, port), TENSORBOARD_PORT, page=lambda server: server.url + page)
        env = saved_visdom_env(out)
        # The URL opens the saved env itself: Visdom's front page shows its empty `main` env.
        start("Visdom", f"the env {env.stem!r} saved in {env.parent}" if env else "an empty Visdom for live plots",
              lambda port: _start_visdom(env.parent if env else out / "visdom", port), VISDOM_PORT,
              page=lambda server: server.env_url(env.stem) if env else server.url)
        # The model a lesson exported, rather than the copies W&B keeps with its runs.
        models = sorted(out.rglob("*.onnx"), key=lambda path: ("wandb" in path.parts, len(path.parts), path))
        if models:
            start("Netron", str(models[0]), lambda port: _start_netron(models[0], port), NETRON_PORT)
        else:
            dashboards.problems.append(f"Netron: no ONNX model under {out} to show "
                                       f"(the model-visualisation lesson's demo exports one)")
        yield dashboards


def tensorboard_page(out: Path) -> tuple[str, str]:
    """The page to open on TensorBoard's front page for the runs under `out` (a URL fragment), and what it
    leaves out. Past TensorBoard's 40 runs, the page comes with a run filter that leaves out lesson 09's runs
    to diagnose (24 of the demo's 47), so that the older dashboards tick every lesson's own run. The filter
    stands in their Runs box; clearing it brings the runs to diagnose back."""
    from watchtrain.demos.lesson_09_read_the_dashboard import FAILURE_RUNS

    runs = {path.parent.relative_to(out).as_posix() for path in out.rglob("events.out.tfevents.*")}
    folders = sorted({run[:run.index(f"/{FAILURE_RUNS}/")] + f"/{FAILURE_RUNS}/" for run in runs
                      if f"/{FAILURE_RUNS}/" in run})
    if len(runs) <= TENSORBOARD_TICKS_AT_MOST or not folders:
        return "", ""
    run_filter = f"^(?!{'|'.join(re.escape(folder) for folder in folders)})"
    left_out = sum(run.startswith(tuple(folders)) for run in runs)
    page = f"/#timeseries&regexInput={quote(run_filter, safe='()?!/')}"
    return page, f"the {left_out} runs in {', '.join(folders)}"


def saved_visdom_env(out: Path) -> Path | None:
    """The first Visdom env saved under `out` (a `<env>.json` with "jsons" and "reload") that holds a
    window. The server saves its own empty `main` env beside the lesson's, and names sort it first."""
    saved = []
    for candidate in sorted(out.rglob("*.json")):
        try:
            data = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and {"jsons", "reload"} <= data.keys():
            saved.append((not data["jsons"], candidate))
    return min(saved)[1] if saved else None


def _start_visdom(env_path: Path, port: int | None):
    from watchtrain.servers.visdom import start_visdom

    return start_visdom(env_path, port)


def _start_netron(model: Path, port: int | None):
    from watchtrain.servers.netron import start_netron

    return start_netron(model, port)
