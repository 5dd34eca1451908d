"""Lesson 01's demo: batch losses, train/test curves and a learning-rate comparison from real runs."""
from __future__ import annotations

from pathlib import Path

import torch

LEARNING_RATES = (1.0, 0.3, 0.1, 0.01)  # 1.0 diverges: lesson 09 reads that curve


def run(solution, out: Path) -> str:
    from watchtrain.demos.quick_training import train_quickly

    quick = train_quickly()
    solution.log_batch_losses(str(out / "batch_losses"), quick.epoch_losses)
    solution.log_train_and_test(str(out / "train_and_test"), quick.history)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, generator=generator) * 4 - 2
    y = 3 * x + 1 + 0.1 * torch.randn(64, 1, generator=generator)
    solution.compare_learning_rates(str(out / "learning_rates"), x, y, list(LEARNING_RATES), epochs=40)
    batches = sum(len(losses) for losses in quick.epoch_losses)
    return (f"{batches} batch losses over {len(quick.epoch_losses)} epochs; test accuracy "
            f"{quick.history[-1]['test_accuracy']:.1%}; runs lr_{'/'.join(map(str, LEARNING_RATES))} side by side "
            f"(lr_{LEARNING_RATES[0]} diverges)")
