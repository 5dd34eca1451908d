"""Lesson 07's demo: one Visdom env filled by the reference exercises on real data, saved to disk.

A server is started for the demo only (127.0.0.1, a free port, envs under `out`) and stopped at the
end; the saved env stays, and `watchtrain visdom --env-path <out>` shows it again.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

ENV = "watch_it_train"
SAMPLES = 12
MONITOR_IMAGES, MONITOR_BATCH, MONITOR_EPOCHS = 960, 32, 3
RUNNING_MEAN_OVER = 15  # batches per point of the live loss, as the classic tutorial's running loss
FIRST_IMAGE_PX = 280  # Visdom sizes an image window to its picture: 28 px would be a thumbnail


def run(solution, out: Path) -> str:
    from watchtrain.data import fashion_mnist, normalize_transform
    from watchtrain.demos.quick_training import train_quickly
    from watchtrain.servers.visdom import DEFAULT_PORT, start_visdom

    dataset = fashion_mnist(train=True, transform=normalize_transform())
    pairs = [dataset[i] for i in range(MONITOR_IMAGES)]
    images, labels = torch.stack([image for image, _ in pairs]), torch.tensor([label for _, label in pairs])
    quick = train_quickly()
    with start_visdom(out) as server:
        viz = solution.connect(server.port, ENV)
        viz.close(env=ENV)  # a rerun starts from an empty env
        solution.show_samples(viz, images[:SAMPLES], labels[:SAMPLES])
        _enlarge_first_image(viz, images[0])
        solution.plot_live_loss(viz, _running_means([loss for losses in quick.epoch_losses for loss in losses]))
        solution.plot_learning_curves(viz, {
            "train loss": np.array([epoch["train_loss"] for epoch in quick.history], dtype=np.float32),
            "test loss": np.array([epoch["test_loss"] for epoch in quick.history], dtype=np.float32),
        })
        # Trains a linear classifier with live plots, then saves the env (the windows above included).
        solution.monitor_training(viz, images, labels, MONITOR_EPOCHS, MONITOR_BATCH)
        saved = server.env_file(ENV)
    return (f"Visdom env {ENV!r} (samples, live loss, learning curves, a monitored run) saved as {saved.name}; "
            f"view it: `watchtrain visdom --env-path {out}`, then open http://127.0.0.1:{DEFAULT_PORT}/env/{ENV}")


def _enlarge_first_image(viz, image: torch.Tensor) -> None:
    """Show the "first image" window at FIRST_IMAGE_PX: the same picture and caption, in the same window."""
    windows = json.loads(viz.get_window_data(env=ENV))
    win, window = next((win, window) for win, window in windows.items() if window.get("title") == "first image")
    viz.image(image * 0.5 + 0.5, win=win, env=ENV, opts=dict(title="first image", caption=window["content"]["caption"],
                                                             width=FIRST_IMAGE_PX, height=FIRST_IMAGE_PX))


def _running_means(losses: list[float]) -> list[float]:
    """The mean of every RUNNING_MEAN_OVER losses: fewer, smoother points (and fewer HTTP requests)."""
    return [sum(chunk) / len(chunk) for chunk in
            (losses[i:i + RUNNING_MEAN_OVER] for i in range(0, len(losses), RUNNING_MEAN_OVER))]
