"""A loss that remembers every value it returns, so a grader can compare logged losses exactly.

    criterion = RecordingLoss(nn.CrossEntropyLoss())
    learner_train(model, loader, criterion, optimizer, ...)
    criterion.values   # [loss of call 1, loss of call 2, ...] as Python floats, in call order

It is an `nn.Module`, so it goes wherever the learner's code expects a criterion (also into
`wandb.watch(model, criterion)`), and it returns the wrapped loss's tensor untouched, so training
is exactly what it would have been.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from watchtrain.models import Net


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

    # Across the worker boundary (the criterion runs in the learner worker; the checks read `values`).
    def worker_record(self) -> dict:
        return {"values": list(self.values)}

    def restore_worker_record(self, record: dict) -> None:
        self.values = [float(value) for value in record.get("values", [])]


class WatchedNet(Net):
    """The tutorial CNN, noting for every forward pass whether it ran in training mode and with autograd."""

    def __init__(self):
        super().__init__()
        self.passes: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.passes.append((self.training, torch.is_grad_enabled()))
        return super().forward(x)

    def worker_record(self) -> dict:
        return {"passes": [[training, grad] for training, grad in self.passes]}

    def restore_worker_record(self, record: dict) -> None:
        self.passes = [(bool(training), bool(grad)) for training, grad in record.get("passes", [])]
