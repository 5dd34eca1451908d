"""Worker side: what the grader sets up around a learner's call, in the worker's process.

Some exercises run inside state that a script would have made first: lesson 06's `train` and
`test` log into a W&B run that is already open. That state must live where the learner's code
runs, so the checker names a harness and its options, and the worker opens it around the call:

    lesson.train.inside("wandb_run", project=..., config=..., watch=False)(model, loader, ...)

A harness yields facts as plain data (the run's folder, say) and adds what it sees once the call has
returned (the learner finished the run, or started another); the checker gets them with the answer.
A harness may also only watch what the call does: lesson 09's

    lesson.train_and_instrument.inside("lr_schedulers")(log_dir, model, ..., optimizer, ...)

notes the learning-rate schedulers the call attaches to its optimizer, and how often it steps them,
and lesson 02's `log_class_histogram_figure` runs inside "figure_texts", which notes the words of
the figures it logs.
"""
from __future__ import annotations

import functools
import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def wandb_run(args: tuple, project: str, config: dict, watch: bool = False):
    """A W&B run the grader started, as after `wandb.init` in a script; `watch` also watches the
    call's first argument as after a training loop (histograms on every forward pass)."""
    import wandb

    with wandb.init(project=project, config=config) as run:
        if watch:
            wandb.watch(args[0], log="all", log_freq=1)
        facts = {"run_dir": str(run.dir)}
        runs_folder = Path(run.dir).parents[1]  # <wandb dir>/<this run's folder>/files
        before = set(runs_folder.iterdir())
        yield facts
        facts["finished_by_the_call"] = bool(getattr(run, "_is_finished", False))
        facts["runs_started_by_the_call"] = len([path for path in runs_folder.iterdir()
                                                 if path not in before and "run-" in path.name])


# torch's schedulers that are not built through LRScheduler.__init__
INDEPENDENT_SCHEDULERS = ("ReduceLROnPlateau", "SequentialLR", "ChainedScheduler")


@contextmanager
def lr_schedulers(args: tuple):
    """Notes the learning-rate schedulers the call builds and how often it steps them: those attached
    to an optimizer among the call's arguments, and those attached to another one. Their __init__ and
    step are wrapped for the call's duration only; the step a scheduler takes while it is built does
    not count. __init__ is wrapped in LRScheduler, which the others reach through super() (so wrong
    arguments still fail on the learner's own line), and in those of torch's that do not reach it."""
    from torch.optim import Optimizer, lr_scheduler

    watched = {id(arg) for arg in args if isinstance(arg, Optimizer)}
    built: dict[int, tuple[object, str]] = {}  # id -> (scheduler, its class name), once it is built
    steps: dict[int, int] = {}
    given_an_epoch: dict[int, int] = {}  # step(epoch): the deprecated form, which sets that epoch's rate
    busy: set[tuple[str, int]] = set()  # (method, scheduler id) running: a super() chain counts once

    def wrapped(method: str, original):
        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            key = (method, id(self))
            if key in busy:
                return original(self, *args, **kwargs)
            busy.add(key)
            try:
                result = original(self, *args, **kwargs)
            finally:
                busy.discard(key)
            if method == "__init__":
                built[id(self)] = (self, type(self).__name__)
            elif id(self) in built:
                steps[id(self)] = steps.get(id(self), 0) + 1
                if args or kwargs:
                    given_an_epoch[id(self)] = given_an_epoch.get(id(self), 0) + 1
            return result
        return wrapper

    base = lr_scheduler.LRScheduler
    builders = [base, *(getattr(lr_scheduler, name, None) for name in INDEPENDENT_SCHEDULERS)]
    patched = [(cls, "__init__", cls.__dict__["__init__"]) for cls in dict.fromkeys(builders)
               if isinstance(cls, type) and "__init__" in cls.__dict__]
    patched += [(cls, "step", cls.__dict__["step"]) for cls in dict.fromkeys([base, *_subclasses(base)])
                if "step" in cls.__dict__]
    for cls, method, original in patched:
        setattr(cls, method, wrapped(method, original))
    facts: dict = {}
    try:
        yield facts
    finally:
        for cls, method, original in patched:
            setattr(cls, method, original)
    ours = {key: name for key, (scheduler, name) in built.items() if id(getattr(scheduler, "optimizer", None)) in watched}
    facts["schedulers_on_the_optimizer"] = len(ours)
    facts["scheduler_names"] = ", ".join(ours.values())
    facts["scheduler_steps"] = sum(steps.get(key, 0) for key in ours)
    facts["scheduler_steps_given_an_epoch"] = sum(given_an_epoch.get(key, 0) for key in ours)
    facts["schedulers_on_other_optimizers"] = len(built) - len(ours)


@contextmanager
def figure_texts(args: tuple):
    """Notes the text of every matplotlib figure the call logs with SummaryWriter.add_figure, once
    drawn: its tick labels apart (what names the bars), and all its texts (legends, titles,
    annotations). A check reads the words there; the pixels alone do not say them."""
    from torch.utils.tensorboard import SummaryWriter

    original = SummaryWriter.__dict__["add_figure"]
    ticks: list[str] = []
    texts: list[str] = []

    @functools.wraps(original)
    def add_figure(self, tag, figure, *args, **kwargs):
        result = original(self, tag, figure, *args, **kwargs)  # draws the figure: its tick labels are set now
        for one in figure if isinstance(figure, list) else [figure]:
            for axes in getattr(one, "axes", []):
                ticks.extend(label.get_text() for label in [*axes.get_xticklabels(), *axes.get_yticklabels()])
            finder = getattr(one, "findobj", None)
            if finder is not None:
                from matplotlib.text import Text

                texts.extend(text.get_text() for text in finder(Text))
        return result

    SummaryWriter.add_figure = add_figure
    facts: dict = {}
    try:
        yield facts
    finally:
        SummaryWriter.add_figure = original
    facts["figure_tick_labels"] = "\n".join(dict.fromkeys(filter(None, ticks)))[:4000]
    facts["figure_texts"] = "\n".join(dict.fromkeys(filter(None, texts)))[:8000]


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


HARNESSES = {"wandb_run": wandb_run, "lr_schedulers": lr_schedulers, "figure_texts": figure_texts}


def process_facts() -> dict:
    """What the learner's call left open in its process, which a script's end would cut short:
    TensorBoard writers not closed, matplotlib figures not closed, W&B runs not finished. Then
    what the open writers had queued is let through, so the grade is the same on every run."""
    facts = {"open_event_files": _open_event_files(), "open_figures": _open_figures(),
             "open_wandb_runs": open_wandb_runs()}
    _settle_writers()
    flush_wandb()
    return facts


def _open_event_files() -> list[str]:
    if "torch.utils.tensorboard" not in sys.modules and "tensorboard" not in sys.modules:
        return []
    from watchtrain.artifacts.tensorboard import event_files_still_open

    return [str(path) for path in event_files_still_open("/")]


def _open_figures() -> int:
    if "matplotlib.pyplot" not in sys.modules:
        return 0
    import matplotlib.pyplot as plt

    return len(plt.get_fignums())


def _settle_writers(seconds: float = 5.0) -> None:
    """Wait (briefly) until every open writer's background thread has written what was queued."""
    import threading
    import time

    try:
        from tensorboard.summary.writer import event_file_writer
    except ImportError:
        return
    thread_type = getattr(event_file_writer, "_AsyncWriterThread", ())
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        queue = getattr(thread, "_queue", None) if isinstance(thread, thread_type) else None
        while queue is not None and thread.is_alive() and queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)


def open_wandb_runs() -> list[str]:
    """The ids of the W&B runs the learner's code left open (none when it never imported wandb)."""
    if "wandb" not in sys.modules:
        return []
    import wandb
    from wandb.sdk import wandb_setup

    runs = [wandb.run, wandb_setup.singleton().most_recent_active_run]
    return sorted({run.id for run in runs if run is not None})


def flush_wandb() -> None:
    """Let wandb's service write what finished runs logged, before the call's processes are killed."""
    if "wandb" in sys.modules and not open_wandb_runs():
        import wandb

        wandb.teardown()
