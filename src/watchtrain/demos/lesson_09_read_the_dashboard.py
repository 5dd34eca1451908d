"""Lesson 09's demo: the runs to read, one per failure mode and a healthy one, each with the
reference diagnose's verdict; and the reference's instrumented loop on a small MLP, as a run of
the lesson's layout to compare them with."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

FAILURE_RUNS, INSTRUMENTED = "failure_runs", "instrumented"
TRAIN_IMAGES, VAL_IMAGES, BATCH_SIZE, EPOCHS, HISTOGRAM_EVERY = 1200, 300, 32, 3, 25


def run(solution, out: Path, *, device: str = "cpu") -> str:
    from watchtrain.failure_runs import write_failure_runs

    runs = write_failure_runs(out / FAILURE_RUNS, seed=0)
    right = sum(solution.diagnose(str(failure.path)) == failure.mode for failure in runs)
    val_losses = _instrumented(solution, out / INSTRUMENTED, device)
    return (f"{len(runs)} runs to read in {FAILURE_RUNS}/ (the reference diagnoses {right} of {len(runs)}); "
            f"an instrumented MLP in {INSTRUMENTED}/, validation loss {val_losses[0]:.3f} -> {val_losses[-1]:.3f}")


def _instrumented(solution, out: Path, device: str) -> list[float]:
    from watchtrain.data import first_images
    from watchtrain.models import MLP

    def images(train: bool, count: int) -> TensorDataset:
        return TensorDataset(*first_images(train, count))

    torch.manual_seed(0)
    model = MLP((28 * 28, 64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_loader = DataLoader(images(True, TRAIN_IMAGES), batch_size=BATCH_SIZE, shuffle=True)
    val_loader = DataLoader(images(False, VAL_IMAGES), batch_size=BATCH_SIZE)
    return solution.train_and_instrument(str(out), model, train_loader, val_loader, torch.nn.CrossEntropyLoss(),
                                         optimizer, epochs=EPOCHS, lr_decay=0.5, histogram_every=HISTOGRAM_EVERY,
                                         device=device)
