"""The classic tutorial's training run, with its known bugs fixed, watched through TensorBoard.

Used by the demo. It follows "Visualizing Models, Data, and Training with TensorBoard" (PyTorch
tutorials): the tutorial CNN, SGD with momentum, batch size 4, the running loss logged every
`log_every` mini-batches. Fixed here: the running loss really accumulates (`+= loss.item()`),
steps never restart (`epoch * len(loader) + i`), and `next(iter(loader))` replaces `dataiter.next()`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import fashion_mnist, normalize_transform
from watchtrain.models import Net


@dataclass(frozen=True)
class TrainingSummary:
    log_dir: Path
    steps: int
    first_running_loss: float
    last_running_loss: float
    test_accuracy: float


def train_tutorial_cnn(log_dir: Path, *, epochs: int = 1, log_every: int = 250, device: str = "cpu",
                       seed: int = 0) -> TrainingSummary:
    torch.manual_seed(seed)
    train_loader = DataLoader(fashion_mnist(train=True, transform=normalize_transform()), batch_size=4, shuffle=True)
    test_loader = DataLoader(fashion_mnist(train=False, transform=normalize_transform()), batch_size=256)
    net = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    losses = []
    with SummaryWriter(log_dir) as writer:
        images, _ = next(iter(train_loader))
        writer.add_image("four_fashion_mnist_images", torchvision.utils.make_grid(images * 0.5 + 0.5))
        writer.add_graph(net, images.to(device))
        for epoch in range(epochs):
            running_loss = 0.0
            for i, (inputs, labels) in enumerate(train_loader):
                inputs, labels = inputs.to(device), labels.to(device)
                optimizer.zero_grad()
                loss = criterion(net(inputs), labels)
                loss.backward()
                optimizer.step()
                running_loss += loss.item()
                if i % log_every == log_every - 1:
                    losses.append(running_loss / log_every)
                    writer.add_scalar("training loss", losses[-1], epoch * len(train_loader) + i)
                    running_loss = 0.0
            accuracy = _accuracy(net, test_loader, device)
            writer.add_scalar("test accuracy", accuracy, epoch)
            for name, parameter in net.named_parameters():
                writer.add_histogram(name, parameter.detach().cpu(), epoch)
    return TrainingSummary(Path(log_dir), epochs * len(train_loader), losses[0], losses[-1], accuracy)


@torch.no_grad()
def _accuracy(net: nn.Module, loader: DataLoader, device: str) -> float:
    net.eval()
    correct = total = 0
    for inputs, labels in loader:
        predictions = net(inputs.to(device)).argmax(dim=1).cpu()
        correct += (predictions == labels).sum().item()
        total += labels.numel()
    net.train()
    return correct / total
