"""A few hundred steps of the tutorial CNN on the bundled data: real numbers for the lessons'
demos to log (batch losses, per-epoch metrics, parameter snapshots)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Subset


@dataclass
class QuickRun:
    net: torch.nn.Module
    epoch_losses: list[list[float]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    snapshots: list[dict[str, torch.Tensor]] = field(default_factory=list)


def train_quickly(*, images: int = 1200, epochs: int = 3, lr: float = 0.01, batch_size: int = 16,
                  seed: int = 0) -> QuickRun:
    from watchtrain.data import fashion_mnist, normalize_transform
    from watchtrain.models import Net

    torch.manual_seed(seed)
    transform = normalize_transform()
    train = DataLoader(Subset(fashion_mnist(train=True, transform=transform), range(images)),
                       batch_size=batch_size, shuffle=True)
    test = DataLoader(fashion_mnist(train=False, transform=transform), batch_size=500)
    run = QuickRun(Net())
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(run.net.parameters(), lr=lr, momentum=0.9)
    run.snapshots.append(_snapshot(run.net))
    for _ in range(epochs):
        losses, correct, seen = [], 0, 0
        for inputs, labels in train:
            optimizer.zero_grad()
            outputs = run.net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            correct += (outputs.argmax(dim=1) == labels).sum().item()
            seen += len(labels)
        test_loss, test_accuracy = _evaluate(run.net, test, criterion)
        run.epoch_losses.append(losses)
        run.history.append({"train_loss": sum(losses) / len(losses), "test_loss": test_loss,
                            "train_accuracy": correct / seen, "test_accuracy": test_accuracy})
        run.snapshots.append(_snapshot(run.net))
    return run


def _snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in net.state_dict().items()}


@torch.no_grad()
def _evaluate(net: torch.nn.Module, loader: DataLoader, criterion) -> tuple[float, float]:
    total_loss, correct, seen = 0.0, 0, 0
    for inputs, labels in loader:
        outputs = net(inputs)
        total_loss += criterion(outputs, labels).item() * len(labels)
        correct += (outputs.argmax(dim=1) == labels).sum().item()
        seen += len(labels)
    return total_loss / seen, correct / seen
