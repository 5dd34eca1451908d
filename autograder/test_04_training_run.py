"""Lesson 04 autograder: a real training run on the bundled Fashion-MNIST, checked exactly.

The training loop gets a criterion that records every loss it computes (RecordingLoss). From
those losses the grader recomputes the running averages the loop should have logged, and their
steps, and compares them with the event file, point by point.
"""
import contextlib
import functools
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import to_hex, to_rgba
from torch.utils.data import DataLoader, TensorDataset

from watchtrain.artifacts.tensorboard import read_images, read_scalars
from watchtrain.data import CLASS_NAMES, fashion_mnist, normalize_transform
from watchtrain.grading.crashes import call_with_advice
from watchtrain.grading import Described, exercise, expect, expect_close, expect_equal, fail, run_once
from watchtrain.grading.recording import RecordingLoss, WatchedNet
from watchtrain.models import Net
from watchtrain.tensorboard_checks import expect_writers_closed, read_run

# train_and_log: a few hundred real images, the tutorial's batch size, two epochs.
TRAIN_IMAGES, TEST_IMAGES = 300, 100
BATCH_SIZE, EPOCHS, LOG_EVERY, FIGURE_EVERY = 4, 2, 25, 50
BATCHES = TRAIN_IMAGES // BATCH_SIZE  # 75 mini-batches an epoch: 3 running losses, 1 figure (the 2nd loss's step)
LR, MOMENTUM = 0.01, 0.9
LOSS_TAG, FIGURE_TAG, ACCURACY_TAG = "training loss", "predictions vs. actuals", "test accuracy"
WATCHED = 4  # images in the "predictions vs. actuals" figure

# accuracy: 100 test images in batches of 8, so the last batch holds only 4.
ACCURACY_BATCH = 8

CRASHES = {
    "has no attribute 'next'": ("The classic tutorial's `dataiter.next()` no longer exists: DataLoader "
                                "iterators only work with the built-in, `images, labels = next(iter(test_loader))`."),
    "unexpected keyword argument 'figure_every'": (
        "train_and_log takes the figures' own interval: keep the signature of the stub, "
        "train_and_log(log_dir, net, train_loader, test_loader, criterion, optimizer, epochs=1, log_every=1000, "
        "figure_every=5000, device=\"cpu\"), and draw the figure only when (i + 1) % figure_every == 0."),
}


def call(function, *args, **kwargs):
    return call_with_advice(function, *args, crashes=CRASHES, **kwargs)


@functools.lru_cache(maxsize=None)
def _images(train: bool, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` images of the bundled set, normalised as in the lessons, and their labels."""
    dataset = fashion_mnist(train=train, transform=normalize_transform())
    return torch.stack([dataset[i][0] for i in range(count)]), dataset.targets[:count].clone()


def _dataset(train: bool, count: int) -> TensorDataset:
    images, labels = _images(train, count)
    return TensorDataset(images.clone(), labels.clone())


# plot_classes_preds

def _plotted(lesson, device):
    torch.manual_seed(0)
    net = WatchedNet().to(device)
    images, _ = _images(False, WATCHED)
    images = images.clone().to(device)
    with torch.no_grad():
        probs = F.softmax(net(images), dim=1).cpu()
    preds = probs.argmax(dim=1)
    # Right, wrong, right, wrong, so that both colours must appear.
    labels = torch.tensor([int(p) if i % 2 == 0 else (int(p) + 1) % len(CLASS_NAMES) for i, p in enumerate(preds)])
    figure = call(lesson.plot_classes_preds, net, images, labels.to(device))
    if not (isinstance(figure, Described) and figure.kind == "figure"):
        fail("plot_classes_preds must return the matplotlib figure it drew.", expected="a matplotlib Figure",
             found=figure.type_name if isinstance(figure, Described) else type(figure).__name__,
             advice="Create the figure with pyplot, draw into it, and return it.")
    axes = figure.axes
    expect_equal(len(axes), WATCHED, "The number of subplots in the figure (one per image)",
                 advice="Add one subplot per image: fig.add_subplot(1, B, i + 1, xticks=[], yticks=[]).")
    return axes, images.cpu(), probs, preds, labels


def _title(pred: int, percent: str, label: int) -> str:
    return f"{CLASS_NAMES[pred]}, {percent}%\n(label: {CLASS_NAMES[label]})"


@exercise("plot_classes_preds")
def test_plot_classes_preds_titles_and_colours(lesson, device):
    axes, _, probs, preds, labels = _plotted(lesson, device)
    for index, (ax, pred, label) in enumerate(zip(axes, preds.tolist(), labels.tolist())):
        found = ax["title"]
        confidence, percent = probs[index, pred].item() * 100, _percent(found)
        # A float32 and a float64 confidence may round differently at the last decimal: both are right.
        close = percent is not None and abs(percent - confidence) <= 0.05 + 1e-4
        expected = _title(pred, f"{percent:.1f}" if close else f"{confidence:.1f}", label)
        advice = "Use exactly the title of the docstring."
        if pred != label and found == _title(pred, f"{probs[index, label].item() * 100:.1f}", label):
            advice = "The percentage is the confidence in the true label: show probs[i, pred], the predicted class's."
        elif percent is not None and not 0 <= percent <= 100:
            advice = "The percentage is not a probability: apply F.softmax(net(images), dim=1) to the logits first."
        expect_equal(found, expected, f"The title of subplot {index}", advice=advice)
        right = pred == label
        colour = tuple(ax["title_color"])
        if colour != to_rgba("green" if right else "red"):
            swapped = colour == to_rgba("red" if right else "green")
            fail(f"The title colour of subplot {index}, whose prediction is {'right' if right else 'wrong'}.",
                 expected="green" if right else "red", found=to_hex(colour),
                 advice="The colours are swapped: green when pred == label, red otherwise." if swapped else
                        "Pass color='green' when the prediction is right and color='red' when it is wrong.")


def _percent(title: str) -> float | None:
    try:
        return float(title.split("%")[0].rsplit(", ", 1)[1])
    except (IndexError, ValueError):
        return None


@exercise("plot_classes_preds")
def test_plot_classes_preds_shows_each_image(lesson, device):
    axes, images, _, _, _ = _plotted(lesson, device)
    for index, ax in enumerate(axes):
        shown = ax["images"]
        expect_equal(len(shown), 1, f"The number of images drawn in subplot {index}",
                     advice="Draw each image in its own subplot with ax.imshow(...).")
        found = shown[0].numpy().astype(np.float64)
        expected = (images[index] * 0.5 + 0.5).squeeze().numpy().astype(np.float64)
        expect_equal(found.shape, expected.shape, f"The shape of the image in subplot {index}",
                     advice="Squeeze the channel away: a (28, 28) array, (images[i] * 0.5 + 0.5).squeeze().")
        if not np.allclose(found, expected, atol=1e-6):
            advice = "Show image i in subplot i, with its normalisation undone: images[i] * 0.5 + 0.5."
            if np.allclose(found, expected * 2 - 1, atol=1e-6):
                advice = "The image is still normalised to [-1, 1]: undo it with images[i] * 0.5 + 0.5."
            fail(f"Subplot {index} does not show image {index}.",
                 expected=f"pixels {expected.min():.3g} to {expected.max():.3g}",
                 found=f"pixels {found.min():.3g} to {found.max():.3g}", advice=advice)


# accuracy

def _test_loader(batch_size: int) -> DataLoader:
    return DataLoader(_dataset(False, TEST_IMAGES), batch_size=batch_size)


def _expected_accuracy(net, loader: DataLoader, device: str) -> float:
    correct = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += int((net(images.to(device)).argmax(dim=1).cpu() == labels).sum())
    return correct / len(loader.dataset)


@exercise("accuracy")
def test_accuracy_is_the_fraction_correct(lesson, device):
    torch.manual_seed(0)
    net = WatchedNet().to(device)
    loader = _test_loader(ACCURACY_BATCH)
    found = call(lesson.accuracy, net, loader, device)
    expected = _expected_accuracy(net, loader, device)
    if isinstance(found, torch.Tensor):
        fail("accuracy must return a Python float.", expected=expected, found=f"a tensor: {found!r}",
             advice="Count with .item(), (predictions == labels).sum().item(), so the result is a plain number.")
    expect(isinstance(found, (float, int)), "accuracy must return a Python float.", expected="float",
           found=type(found).__name__)
    advice = None
    if math.isclose(found, expected * 100, rel_tol=1e-9):
        advice = "That is a percentage: return the fraction correct / total, between 0 and 1."
    elif math.isclose(found, _mean_of_batch_accuracies(net, loader, device), rel_tol=1e-9):
        advice = ("That is the mean of the per-batch accuracies; the last batch is smaller, so it counts too "
                  "much. Add up correct and total over all batches, then divide once.")
    elif math.isclose(found, expected * len(loader.dataset) / (len(loader) * ACCURACY_BATCH), rel_tol=1e-9):
        advice = "The total assumes full batches: count the images, total += labels.numel()."
    expect_close(found, expected, f"The accuracy of the network on {TEST_IMAGES} test images", tol=1e-9,
                 advice=advice)


def _mean_of_batch_accuracies(net, loader: DataLoader, device: str) -> float:
    with torch.no_grad():
        accuracies = [float((net(x.to(device)).argmax(dim=1).cpu() == y).float().mean()) for x, y in loader]
    return sum(accuracies) / len(accuracies)


@exercise("accuracy")
def test_accuracy_evaluates_without_autograd_then_trains_again(lesson, device):
    torch.manual_seed(0)
    net = WatchedNet().to(device)
    call(lesson.accuracy, net, _test_loader(ACCURACY_BATCH), device)
    expect(bool(net.passes), "accuracy never ran the network.", expected="one forward pass per batch", found=0)
    expect(all(not training for training, _ in net.passes), "The network must run in evaluation mode.",
           expected="net.training == False in every forward pass", found="training mode",
           advice="Call net.eval() before the loop (layers such as dropout and batch norm behave differently).")
    expect(all(not grad for _, grad in net.passes), "The forward passes must run without autograd.",
           expected="torch.is_grad_enabled() == False", found="autograd on",
           advice="Wrap the loop in `with torch.no_grad():`; otherwise every batch builds a graph nobody uses.")
    expect(net.training, "accuracy must leave the network in training mode.", expected="net.training == True",
           found="net.training == False", advice="Call net.train() before returning, so training can go on.")


# train_and_log

@dataclass
class TrainingRun:
    log_dir: Path
    losses: list[float]  # every loss the criterion computed, in order
    returned: Any  # what train_and_log returned
    final_accuracy: float  # the grader's own accuracy of the trained network
    loss_before: float  # the grader's loss on the training images, before and after training
    loss_after: float
    summed_with_graph: bool  # the loop added the loss tensors up with autograd on



def _training_run(lesson, tmp_path: Path, device: str) -> TrainingRun:
    """Train once per submission and device; every train_and_log test reads the same run (or crash)."""
    return run_once((lesson.train_and_log.key, device), lambda: _train(lesson, tmp_path, device))


def _train(lesson, tmp_path: Path, device: str) -> TrainingRun:
    train_set = _dataset(True, TRAIN_IMAGES)
    train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True,
                              generator=torch.Generator().manual_seed(0))
    test_loader = _test_loader(BATCH_SIZE)
    torch.manual_seed(0)
    net = Net()
    loss_before = _mean_loss(net, train_set, "cpu")
    criterion = RecordingLoss(torch.nn.CrossEntropyLoss())
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    log_dir = tmp_path / "logs"
    with contextlib.redirect_stderr(io.StringIO()):  # the progress bar would bury a failure's message
        returned = call(lesson.train_and_log, str(log_dir), net, train_loader, test_loader, criterion, optimizer,
                        epochs=EPOCHS, log_every=LOG_EVERY, figure_every=FIGURE_EVERY, device=device)
    net.to(device)
    return TrainingRun(log_dir, list(criterion.values), returned, _expected_accuracy(net, test_loader, device),
                       loss_before, _mean_loss(net, train_set, device), criterion.summed_with_graph)


def _mean_loss(net, dataset: TensorDataset, device: str) -> float:
    images, labels = dataset.tensors
    with torch.no_grad():
        return F.cross_entropy(net(images.to(device)), labels.to(device)).item()


def _expected_running_losses(losses: list[float]) -> list[tuple[int, float]]:
    """(step, mean of the last LOG_EVERY losses) after every LOG_EVERY-th mini-batch of each epoch."""
    points = []
    for epoch in range(EPOCHS):
        for i in range(BATCHES):
            if (i + 1) % LOG_EVERY == 0:
                end = epoch * BATCHES + i + 1
                points.append((epoch * BATCHES + i, sum(losses[end - LOG_EVERY:end]) / LOG_EVERY))
    return points


def _scalar_points(run: TrainingRun, tag: str) -> list[tuple[int, float]]:
    scalars = read_run(read_scalars, run.log_dir, what="Reading the scalars your training run wrote to log_dir.")
    if tag not in scalars:
        fail(f"No scalars with the tag {tag!r} in log_dir.", expected=tag, found=sorted(scalars) or "no scalar tags",
             advice="Tags are matched exactly, case and spaces included.")
    return scalars[tag]


def _recorded_losses(run: TrainingRun) -> list[float]:
    """The losses the criterion computed: exactly one per training mini-batch."""
    count = len(run.losses)
    advice = f"Call criterion once per mini-batch ({BATCHES} an epoch, {EPOCHS} epochs), and for nothing else."
    if count > EPOCHS * BATCHES:
        advice = ("The criterion ran more often than there are training mini-batches: compute the test accuracy "
                  "(or any test loss) without it, and call it once per mini-batch.")
    expect_equal(count, EPOCHS * BATCHES, "How many losses your loop computed with criterion", advice=advice)
    return run.losses


@exercise("train_and_log")
def test_train_and_log_running_loss_steps(lesson, tmp_path, device):
    run = _training_run(lesson, tmp_path, device)
    expected = [step for step, _ in _expected_running_losses(_recorded_losses(run))]
    steps = [step for step, _ in _scalar_points(run, LOSS_TAG)]
    expect_equal(steps, expected, f"The steps of the {LOSS_TAG!r} points (every {LOG_EVERY} mini-batches, "
                                  f"{BATCHES} mini-batches an epoch)", advice=_step_advice(steps, expected))


def _step_advice(steps: list[int], expected: list[int], every: int = LOG_EVERY, name: str = "log_every",
                 what: str = "points") -> str | None:
    """What went wrong with the steps of something logged every `every` (the argument `name`) mini-batches."""
    if steps and all(step == 0 for step in steps):
        return "Every point is at step 0: pass step = epoch * len(train_loader) + i as the third argument."
    window_starts = [epoch * BATCHES + i for epoch in range(EPOCHS) for i in range(BATCHES) if i % every == 0]
    if steps == window_starts:
        too_early = "after a single loss" if name == "log_every" else "not at its last"
        return (f"You log at the first mini-batch of each window (i % {name} == 0), {too_early}: "
                f"log when (i + 1) % {name} == 0.")
    if len(steps) != len(expected):
        return (f"{len(expected)} {what} were expected, one every {every} mini-batches for {EPOCHS} epochs; "
                f"log when (i + 1) % {name} == 0.")
    if steps == [step % BATCHES for step in expected]:
        return ("The step restarts at every epoch, so each epoch is drawn over the last: "
                "use step = epoch * len(train_loader) + i.")
    if steps == [step + 1 for step in expected]:
        return "Every step is one too far (off by one): step = epoch * len(train_loader) + i, with i from enumerate."
    if steps == [(step // BATCHES) * TRAIN_IMAGES + step % BATCHES for step in expected]:
        return ("len(train_loader.dataset) counts images; len(train_loader) counts mini-batches, "
                "which is what the step counts.")
    return None


@exercise("train_and_log")
def test_train_and_log_running_loss_values(lesson, tmp_path, device):
    run = _training_run(lesson, tmp_path, device)
    losses = _recorded_losses(run)
    expected = [value for _, value in _expected_running_losses(losses)]
    values = [value for _, value in _scalar_points(run, LOSS_TAG)]
    expect_close(values, expected, f"The running losses logged under {LOSS_TAG!r}, recomputed from the "
                                   f"losses your criterion returned", tol=1e-6,
                 advice=_value_advice(values, expected, losses))
    expect(not run.summed_with_graph, "The running loss adds up the loss tensors themselves, with autograd on. The "
           "numbers come out the same, but each sum keeps the autograd graph of every loss in it, so memory grows "
           f"with every mini-batch until the sum is reset (or for ever, on a long run).",
           expected="a Python float: the sum of each loss's number", found="a tensor carrying the losses' graphs",
           advice="Add the loss's value, not the tensor: Tensor.item() gives the number.")


def _value_advice(values: list[float], expected: list[float], losses: list[float]) -> str | None:
    if values and all(value == 0 for value in values):
        return ("Every running loss is 0: running_loss never accumulates (the classic tutorial's bug). "
                "Add running_loss += loss.item() after optimizer.step().")
    if len(values) != len(expected):
        return None

    def all_close(found: list[float], wanted: list[float]) -> bool:
        return all(math.isclose(f, w, rel_tol=1e-5, abs_tol=1e-7) for f, w in zip(found, wanted))

    steps = [step for step, _ in _expected_running_losses(losses)]
    if all_close(values, [e * LOG_EVERY / 1000 for e in expected]):
        return (f"You divide by 1000, the classic tutorial's logging interval; here you log every log_every = "
                f"{LOG_EVERY} mini-batches, so divide by log_every.")
    if all_close(values, [e * LOG_EVERY for e in expected]):
        return "These are sums of log_every losses: divide running_loss by log_every."
    if all_close(values, [e * LOG_EVERY / BATCH_SIZE for e in expected]):
        return "You divide by the batch size: running_loss adds one loss per mini-batch, so divide by log_every."
    if all_close(values, [losses[step] for step in steps]):
        return "These are single mini-batch losses: log the running average, running_loss / log_every."
    never_reset = [sum(losses[(step // BATCHES) * BATCHES:step + 1]) / LOG_EVERY for step in steps]
    if all_close(values, never_reset):
        return "running_loss keeps growing: set it back to 0.0 right after you log it."
    return None


@exercise("train_and_log")
def test_train_and_log_figures_at_logging_steps(lesson, tmp_path, device):
    run = _training_run(lesson, tmp_path, device)
    expect_writers_closed(run.log_dir)
    logging_steps = [step for step, _ in _expected_running_losses(_recorded_losses(run))]
    expected = [step for step in logging_steps if (step % BATCHES + 1) % FIGURE_EVERY == 0]
    images = read_run(read_images, run.log_dir, what="Reading the figures your training run wrote to log_dir.")
    if FIGURE_TAG not in images:
        fail(f"No figure with the tag {FIGURE_TAG!r} in log_dir.", expected=FIGURE_TAG,
             found=sorted(images) or "no image tags at all",
             advice="Log plot_classes_preds(net, images, labels) with add_figure at the logging steps where "
                    "(i + 1) % figure_every == 0.")
    steps = [event.step for event in images[FIGURE_TAG]]
    if steps == logging_steps:
        advice = (f"You draw a figure every time you log the loss (every {LOG_EVERY} mini-batches), as the classic "
                  f"tutorial does. A figure costs about as much as 40 training steps: draw it only every "
                  f"figure_every = {FIGURE_EVERY} mini-batches, when (i + 1) % figure_every == 0.")
    else:
        advice = _step_advice(steps, expected, FIGURE_EVERY, "figure_every", "figures")
    expect_equal(steps, expected, f"The steps of the {FIGURE_TAG!r} figures (every {FIGURE_EVERY} mini-batches, at "
                                  f"the running loss's step)",
                 advice=advice or "Log the figure right after the loss, with the same step.")


@exercise("train_and_log")
def test_train_and_log_accuracy_once_per_epoch(lesson, tmp_path, device):
    run = _training_run(lesson, tmp_path, device)
    points = _scalar_points(run, ACCURACY_TAG)
    steps = [step for step, _ in points]
    expect_equal(steps, list(range(EPOCHS)), f"The steps of {ACCURACY_TAG!r} (once per epoch, the epoch as step)",
                 advice="Log the accuracy after each epoch's last mini-batch, with global_step = epoch."
                 if len(steps) != EPOCHS else "Use the epoch (0, 1, ...) as the step.")
    values = [value for _, value in points]
    expect(all(0.0 <= value <= 1.0 for value in values), f"The {ACCURACY_TAG!r} values must be fractions.",
           expected="values between 0 and 1", found=values,
           advice="Log correct / total, not a percentage." if any(value > 1 for value in values) else None)
    expect_close(values[-1], run.final_accuracy, f"The last {ACCURACY_TAG!r}, against the trained network's "
                                                 f"accuracy on test_loader", tol=1e-6,
                 advice="Measure it with accuracy(net, test_loader, device) after the epoch's training.")
    expect(isinstance(run.returned, (list, tuple)), "train_and_log must return the list of per-epoch accuracies.",
           expected="a list", found=type(run.returned).__name__,
           advice="Collect each epoch's accuracy and return the list.")
    expect_close(list(run.returned), values, "What train_and_log returned (the per-epoch accuracies it logged)",
                 tol=1e-6, advice="Return the list of the accuracies you logged, one per epoch.")


@exercise("train_and_log")
def test_train_and_log_lowers_the_loss(lesson, tmp_path, device):
    run = _training_run(lesson, tmp_path, device)
    values = [value for _, value in _scalar_points(run, LOSS_TAG)]
    advice = ("Each mini-batch: optimizer.zero_grad(), loss = criterion(net(inputs), targets), loss.backward(), "
              "optimizer.step().")
    if run.loss_after == run.loss_before:
        advice = "The weights never changed: call optimizer.step() after loss.backward(). " + advice
    expect(run.loss_after < 0.9 * run.loss_before,
           f"Training must lower the loss on the {TRAIN_IMAGES} training images (the grader measures it before "
           f"and after your run).", expected=f"below {0.9 * run.loss_before:.4f}", found=round(run.loss_after, 4),
           advice=advice)
    expect(len(values) >= 2 and values[-1] < values[0], f"The logged {LOSS_TAG!r} must fall during training.",
           expected="the last running loss below the first", found=values, advice=advice)
