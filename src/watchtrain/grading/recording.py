"""A loss that remembers every value it returns, so a grader can compare logged losses exactly.

    criterion = RecordingLoss(nn.CrossEntropyLoss())
    learner_train(model, loader, criterion, optimizer, ...)
    criterion.values   # [loss of call 1, loss of call 2, ...] as Python floats, in call order

It is an `nn.Module`, so it goes wherever the learner's code expects a criterion (also into
`wandb.watch(model, criterion)`), and it returns the wrapped loss's tensor untouched, so training
is exactly what it would have been.
"""
from __future__ import annotations

from torch import Tensor, nn


class RecordingLoss(nn.Module):
    """Wraps a loss module; `values[i]` is `float()` of what the i-th call returned."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss
        self.values: list[float] = []

    def forward(self, *args, **kwargs) -> Tensor:
        value = self.loss(*args, **kwargs)
        self.values.append(float(value.detach()))
        return value
