"""Lesson 05's demo: one precision-recall curve per class for the network lesson 04's demo trained,
over the bundled test set."""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

NUM_THRESHOLDS = 127
TRAINING_RUN = "04_training_run"  # the sibling folder lesson 04's demo writes to


def run(solution, out: Path) -> str:
    from watchtrain.data import CLASS_NAMES, fashion_mnist, normalize_transform
    from watchtrain.demos.lesson_04_training_run import trained_net

    net = trained_net(out.parent / TRAINING_RUN)
    loader = DataLoader(fashion_mnist(train=False, transform=normalize_transform()), batch_size=256)
    solution.log_pr_curves(str(out), net, loader, num_thresholds=NUM_THRESHOLDS)
    probs, labels = solution.class_probabilities(net, loader)
    recall = {name: float((probs.argmax(dim=1)[labels == k] == k).float().mean())
              for k, name in enumerate(CLASS_NAMES)}
    best, worst = max(recall, key=recall.get), min(recall, key=recall.get)
    return (f"{len(CLASS_NAMES)} PR curves ({NUM_THRESHOLDS} thresholds) on {len(labels):,} test images, "
            f"PR Curves tab; recall at the top guess: {best} {recall[best]:.0%}, {worst} {recall[worst]:.0%}")
