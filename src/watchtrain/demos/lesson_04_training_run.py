"""Lesson 04's demo, the course's main training job: the reference loop trains the tutorial CNN
for one epoch on the bundled training set (mini-batches of 4, SGD as in the tutorial), logging the
running loss every 250 mini-batches, a "predictions vs. actuals" figure every 500 and the test
accuracy. The trained weights are kept for lesson 05's PR curves."""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader

LESSON = "04_training_run"
WEIGHTS = "net.pt"  # the trained state_dict, next to the run
EPOCHS, LOG_EVERY, FIGURE_EVERY, LR, MOMENTUM = 1, 250, 500, 0.001, 0.9


def run(solution, out: Path, *, device: str = "cpu", train_images: int | None = None) -> str:
    """Train and log into `out`; `train_images` trains on only the first that many images (for tests)."""
    from torch.utils.data import Subset

    from watchtrain.data import fashion_mnist, normalize_transform
    from watchtrain.grading.recording import RecordingLoss
    from watchtrain.models import Net

    transform = normalize_transform()
    torch.manual_seed(0)
    train_set = fashion_mnist(train=True, transform=transform)
    if train_images is not None:
        train_set = Subset(train_set, range(train_images))
    train_loader = DataLoader(train_set, batch_size=4, shuffle=True)
    test_loader = DataLoader(fashion_mnist(train=False, transform=transform), batch_size=4)
    net = Net()
    criterion = RecordingLoss(torch.nn.CrossEntropyLoss())  # only to report the first and last running loss
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    accuracies = solution.train_and_log(str(out), net, train_loader, test_loader, criterion, optimizer,
                                        epochs=EPOCHS, log_every=LOG_EVERY,
                                        figure_every=FIGURE_EVERY, device=device)
    torch.save({name: value.cpu() for name, value in net.state_dict().items()}, out / WEIGHTS)
    losses = criterion.values
    first, last = sum(losses[:LOG_EVERY]) / LOG_EVERY, sum(losses[-LOG_EVERY:]) / LOG_EVERY
    return (f"{len(losses)} mini-batches; running loss {first:.3f} -> {last:.3f}; test accuracy "
            f"{accuracies[-1]:.1%}; figures every {FIGURE_EVERY} mini-batches; weights in {WEIGHTS}")


def trained_net(out: Path):
    """The network this demo trained into `out`, training it first when its weights are not there."""
    from watchtrain.course import load_course
    from watchtrain.reference import load_reference
    from watchtrain.models import Net

    if not (out / WEIGHTS).is_file():
        run(load_reference(load_course().root / "solutions", LESSON), out)
    net = Net()
    net.load_state_dict(torch.load(out / WEIGHTS, weights_only=True))
    return net
