"""Lesson 06's demo: the W&B walkthrough's pipeline as one offline run, and a learning-rate sweep.

Everything is written offline under `out/wandb/` (no account, no network); the returned line says
how to upload the runs later with `wandb sync`, for anyone who wants them on wandb.ai.
"""
from __future__ import annotations

from pathlib import Path

import torch

PROJECT = "watchtrain-demo"
HYPERPARAMETERS = {"kernels": [16, 32], "classes": 10, "slice": 5, "batch_size": 64, "learning_rate": 0.005,
                   "epochs": 1, "log_interval": 5}
LEARNING_RATES = (0.3, 0.1, 0.01)


def run(solution, out: Path) -> str:
    from watchtrain.artifacts.wandb import find_runs, read_run
    from watchtrain.grading.wandb_fixtures import forced_offline

    with forced_offline(out):
        torch.manual_seed(0)
        solution.model_pipeline(PROJECT, dict(HYPERPARAMETERS))
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(64, 1, generator=generator) * 4 - 2
        y = 3 * x + 1 + 0.1 * torch.randn(64, 1, generator=generator)
        solution.compare_learning_rates(f"{PROJECT}-sweep", x, y, list(LEARNING_RATES), 40, torch.nn.MSELoss())
    # Leaving forced_offline shut wandb's service down, so every run file is complete now.
    runs = [read_run(path) for path in find_runs(out)]
    pipeline = next(run for run in runs if run.project == PROJECT)
    return (f"{len(runs)} offline W&B runs: the pipeline ({len(pipeline.values('loss'))} logged losses, "
            f"test accuracy {pipeline.summary['test_accuracy']:.1%}, model.onnx saved with it) and "
            f"{len(runs) - 1} learning-rate runs; upload them later with "
            f"`wandb sync {out / 'wandb'}/offline-run-*` (needs a W&B account)")
