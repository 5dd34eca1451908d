"""Worker side: what the grader sets up around a learner's call, in the worker's process.

Some exercises run inside state that a script would have made first: lesson 06's `train` and
`test` log into a W&B run that is already open. That state must live where the learner's code
runs, so the checker names a harness and its options, and the worker opens it around the call:

    lesson.train.inside("wandb_run", project=..., config=..., watch=False)(model, loader, ...)

A harness yields facts as plain data (the run's folder, say); the checker gets them with the answer.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def wandb_run(args: tuple, project: str, config: dict, watch: bool = False):
    """A W&B run the grader started, as after `wandb.init` in a script; `watch` also watches the
    call's first argument as after a training loop (histograms on every forward pass)."""
    import wandb

    with wandb.init(project=project, config=config) as run:
        if watch:
            wandb.watch(args[0], log="all", log_freq=1)
        yield {"run_dir": str(run.dir)}


HARNESSES = {"wandb_run": wandb_run}


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
