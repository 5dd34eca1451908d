"""Lesson 02's demo: images, a figure, weight histograms, a note, a mesh and a small hparam sweep."""
from __future__ import annotations

from pathlib import Path

import torch

NOTES = "# Lesson 02 demo\nThe tutorial CNN after a **quick** run on the bundled Fashion-MNIST."
# A square pyramid: four base corners and an apex.
VERTICES = [[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1], [0, 1.5, 0]]
FACES = [[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]
COLORS = [[230, 80, 60], [60, 160, 230], [90, 200, 90], [240, 200, 60], [255, 255, 255]]
SWEEP = ({"lr": 0.1, "batch_size": 16}, {"lr": 0.01, "batch_size": 16}, {"lr": 0.01, "batch_size": 64})


def run(solution, out: Path) -> str:
    import numpy as np

    from watchtrain.data import fashion_mnist, first_images
    from watchtrain.demos.quick_training import train_quickly

    images, _ = first_images(False, 32)
    solution.log_image_grid(str(out / "images"), images)
    tinted = (images[:8].permute(0, 2, 3, 1) * 0.5 + 0.5).numpy() * np.array([1.0, 0.8, 0.6], dtype=np.float32)
    solution.log_channels_last_batch(str(out / "images"), tinted.astype(np.float32))
    solution.log_class_histogram_figure(str(out / "figure"), torch.as_tensor(fashion_mnist(train=True).targets))
    quick = train_quickly(epochs=2)
    solution.log_weight_histograms(str(out / "histograms"), quick.snapshots)
    solution.log_text_and_mesh(str(out / "text_and_mesh"), NOTES, torch.tensor(VERTICES, dtype=torch.float32),
                               torch.tensor(FACES, dtype=torch.int32), torch.tensor(COLORS, dtype=torch.uint8))
    trials = []
    for hparams in SWEEP:
        result = train_quickly(epochs=1, images=600, lr=hparams["lr"], batch_size=hparams["batch_size"])
        trials.append((hparams, {"accuracy": result.history[-1]["test_accuracy"],
                                 "loss": result.history[-1]["test_loss"]}))
    solution.log_hparam_sweep(str(out / "hparams"), trials)
    best = max(trials, key=lambda trial: trial[1]["accuracy"])
    return (f"image grid, channels-last batch, class-count figure, {len(quick.snapshots)} weight snapshots, "
            f"note + mesh, {len(trials)}-trial sweep in the HParams tab (best {best[0]}: {best[1]['accuracy']:.1%})")
