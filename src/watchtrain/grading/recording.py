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


# Set when code adds up the losses as tensors while autograd is on (`running_loss += loss`): each
# sum then carries the graph of every loss in it, which stays in memory until the sum is dropped.
_graph_kept = {"by_a_sum": False}
_SUMS = {Tensor.__add__, Tensor.__radd__, Tensor.__iadd__, Tensor.add, Tensor.add_, torch.add, torch.sum, Tensor.sum}


class _LossTensor(Tensor):
    """The loss as returned to the learner's loop: an ordinary tensor that notices one thing, being
    summed with its graph; every operation runs and returns exactly as on a plain tensor."""

    # Libraries that know a tensor by its type's name (W&B's wandb.log wants "torch." and "Tensor" in
    # it) must take this one for the torch tensor it is: the learner's code runs as with the plain loss.
    __module__ = "torch"

    # Printed, formatted (f"{loss:.3f}", which torch allows a plain 0-d tensor only), saved or sent, it
    # is the plain tensor it stands for.
    def __repr__(self, **kwargs) -> str:
        return self._as_plain(Tensor.__repr__, **kwargs)

    def __format__(self, spec: str) -> str:
        return self._as_plain(Tensor.__format__, spec)

    def __reduce_ex__(self, protocol):
        return self._as_plain(Tensor.__reduce_ex__, protocol)

    def _as_plain(self, method, *args, **kwargs):
        self.__class__ = Tensor
        try:
            return method(self, *args, **kwargs)
        finally:
            self.__class__ = _LossTensor

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in _SUMS and torch.is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
            _graph_kept["by_a_sum"] = True
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))


class RecordingLoss(nn.Module):
    """Wraps a loss module; `values[i]` is `float()` of what the i-th call returned, and
    `summed_with_graph` says whether the loop added the losses up as tensors with autograd on."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss
        self.values: list[float] = []
        self.summed_with_graph = False

    def __getattr__(self, name: str):
        """What the wrapped loss has (criterion.reduction, .weight, .label_smoothing) reads as on it:
        the learner's code meets the loss it was promised."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "loss":
                raise
            return getattr(super().__getattr__("loss"), name)

    def forward(self, *args, **kwargs) -> Tensor:
        value = self.loss(*args, **kwargs)
        self.values.append(float(value.detach()))
        if value.requires_grad:
            value.__class__ = _LossTensor  # the same tensor, its graph untouched (loss.grad_fn is the loss's own)
        return value

    # Across the worker boundary (the criterion runs in the learner worker; the checks read `values`).
    def worker_record(self) -> dict:
        return {"values": list(self.values), "summed_with_graph": _graph_kept["by_a_sum"]}

    def restore_worker_record(self, record: dict) -> None:
        self.values = [float(value) for value in record.get("values", [])]
        self.summed_with_graph = record.get("summed_with_graph") is True


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
