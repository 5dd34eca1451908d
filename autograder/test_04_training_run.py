"""Lesson 04 autograder: a real training run on the bundled Fashion-MNIST, checked exactly.

The training loop gets a criterion that records every loss it computes (RecordingLoss). From
those losses the grader recomputes the running averages the loop should have logged, and their
steps, and compares them with the event file, point by point. It also replays the contract's
training itself, from the same weights on the same mini-batches: the losses must agree, and the
replay's network at each figure's step is what the logged figure must show.
"""
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb, to_rgba
from matplotlib.figure import Figure
from torch.utils.data import DataLoader, TensorDataset

from watchtrain.artifacts.tensorboard import read_images, read_scalars
from watchtrain.data import CLASS_NAMES, first_images
from watchtrain.grading import (FLOAT32_TOL, Described, LearnerCrash, NotStarted, Printed, RecordingLoss, StepMistake,
                                WatchedNet, call_once, exercise, expect, expect_close, expect_equal, expect_list,
                                expect_writers_closed, fail, figures_left_open, printed_by_last_call, read_run,
                                run_once, step_mistake, type_name)
from watchtrain.models import Net

# train_and_log: a few hundred real images, the tutorial's batch size, two epochs. 75 mini-batches an
# epoch is no multiple of 20, so an interval counted since training began, or a running loss that
# carries an epoch's last 15 losses into the next, shows.
TRAIN_IMAGES, TEST_IMAGES = 300, 100
BATCH_SIZE, EPOCHS, LOG_EVERY, FIGURE_EVERY = 4, 2, 20, 40
BATCHES = TRAIN_IMAGES // BATCH_SIZE  # 3 running losses an epoch (mini-batches 20, 40, 60), 1 figure (the 40th)
TEST_BATCH = 10  # test_loader's batches hold more than the four watched pictures, so "the first four" shows
LR, MOMENTUM = 0.01, 0.9
LOSS_TAG, FIGURE_TAG, ACCURACY_TAG = "training loss", "predictions vs. actuals", "test accuracy"
WATCHED = 4  # images in the "predictions vs. actuals" figure
LOSS_TOLERANCE = 1e-4  # the learner's losses against the grader's replay of the same training

# accuracy: 100 test images in batches of 8, so the last batch holds only 4.
ACCURACY_BATCH = 8

CRASH_ADVICE = {  # a crash whose message holds a key fails with its advice (the lesson fixture)
    "has no attribute 'next'": ("The classic tutorial's `dataiter.next()` no longer exists: DataLoader "
                                "iterators only work with the built-in, `images, labels = next(iter(test_loader))`."),
    "unexpected keyword argument 'figure_every'": (
        "train_and_log takes the figures' own interval: keep the signature of the stub, "
        "train_and_log(log_dir, net, train_loader, test_loader, criterion, optimizer, epochs=1, log_every=1000, "
        "figure_every=5000, device=\"cpu\"), and draw the figure only when (i + 1) % figure_every == 0."),
    # accuracy's batches hold 8 pictures and the network gives 10 outputs per picture
    "The size of tensor a (10) must match the size of tensor b (8) at non-singleton dimension 0": (
        "The guesses have 10 entries, one per class, where the labels have 8, one per picture of the batch: the "
        "argmax (or max) ran over the batch, dim=0. Take it across the classes of each picture, "
        "net(images).argmax(dim=1)."),
    "'bool' object has no attribute 'sum'": (
        "A comparison gave one Python bool instead of a tensor with one entry per picture, so one side of the == "
        "is not a tensor. torch.max(outputs, 1) and outputs.max(1) return a pair (values, indices): unpack it, "
        "_, predicted = torch.max(outputs, 1), or use outputs.argmax(dim=1)."),
}


@functools.lru_cache(maxsize=None)
def _images(train: bool, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` images of the bundled set, normalised as in the lessons, and their labels."""
    return first_images(train, count)


def _dataset(train: bool, count: int) -> TensorDataset:
    images, labels = _images(train, count)
    return TensorDataset(images.clone(), labels.clone())


def _one_of(explanations: list[str]) -> str | None:
    """The advice when the evidence fits one explanation, or all of them when it fits several."""
    if len(explanations) > 1:
        return "What was found fits more than one mistake: " + " Or: ".join(explanations)
    return explanations[0] if explanations else None


# plot_classes_preds

@dataclass
class Plotted:
    axes: list[dict]
    images: torch.Tensor  # the pictures, normalised, on the CPU
    logits: torch.Tensor
    probs: torch.Tensor
    preds: torch.Tensor
    labels: torch.Tensor
    passes: list[tuple[bool, bool]]  # (training, autograd) of each forward pass the call made
    open_figures: int  # matplotlib figures still open in the learner's process when it returned


def _plotted(lesson, device) -> Plotted:
    """The one call of plot_classes_preds that the exercise's checks read."""
    return run_once((lesson.plot_classes_preds.key, device), lambda: _plot(lesson, device))


# The guesses (class: confidence) of the network that plot_classes_preds is called with, one per watched
# picture: four different classes with four different confidences, none near a rounding boundary, so that a
# title drawn from another picture's numbers (the first guess, the batch's largest confidence) shows. An
# untrained network guesses one class for all four pictures, each at about 11.2 %.
CHOSEN_GUESSES = {3: 0.873, 7: 0.642, 0: 0.416, 5: 0.958}


def _net_with_chosen_guesses(images: torch.Tensor) -> WatchedNet:
    """The tutorial CNN (seed 0) whose last layer is solved for, so that it makes CHOSEN_GUESSES on `images`."""
    torch.manual_seed(0)
    net = WatchedNet()
    features = {}
    hook = net.fc3.register_forward_hook(lambda module, inputs, output: features.update(last=inputs[0]))
    with torch.no_grad():
        net(images)
    hook.remove()
    logits = torch.zeros(len(images), len(CLASS_NAMES), dtype=torch.float64)
    for k, (guess, confidence) in enumerate(CHOSEN_GUESSES.items()):
        logits[k, guess] = math.log(confidence / (1 - confidence) * (len(CLASS_NAMES) - 1))
    weight = torch.linalg.lstsq(features["last"].double(), logits).solution.T
    with torch.no_grad():
        net.fc3.weight.copy_(weight)
        net.fc3.bias.zero_()
    net.passes.clear()
    return net


def _plot(lesson, device) -> Plotted:
    images, _ = _images(False, WATCHED)
    net = _net_with_chosen_guesses(images).to(device)
    images = images.clone().to(device)
    with torch.no_grad():
        logits = net(images).cpu()
    net.passes.clear()
    probs = F.softmax(logits, dim=1)
    preds = probs.argmax(dim=1)
    # Right, wrong, right, wrong, so that both colours must appear.
    labels = torch.tensor([int(p) if i % 2 == 0 else (int(p) + 1) % len(CLASS_NAMES) for i, p in enumerate(preds)])
    figure = lesson.plot_classes_preds(net, images, labels.to(device))
    open_figures = figures_left_open()
    if not (isinstance(figure, Described) and figure.kind == "figure"):
        advice = "Create the figure with pyplot, draw into it, and return it."
        if figure is None:
            advice = "plot_classes_preds returned None: end it with `return fig`, the figure it drew into."
        elif isinstance(figure, tuple) and any(isinstance(i, Described) and i.kind == "figure" for i in figure):
            advice = "Return the figure alone, not a tuple such as (fig, axes)."
        elif isinstance(figure, Described) and figure.is_a("Axes"):
            advice = "That is a subplot (an Axes): return the figure the subplots belong to, fig."
        fail("plot_classes_preds must return the matplotlib figure it drew.", expected="a matplotlib Figure",
             found=figure.type_name if isinstance(figure, Described) else type(figure).__name__, advice=advice)
    axes = figure.axes
    count = len(axes)
    advice = "Add one subplot per image: fig.add_subplot(1, B, i + 1, xticks=[], yticks=[])."
    if count == 1:
        advice = "Every picture went into one subplot: add one subplot per picture, fig.add_subplot(1, B, i + 1)."
    elif count > WATCHED:
        advice = (f"{count - WATCHED} subplot(s) more than pictures: one subplot per picture and no other (a colour "
                  f"bar is a subplot too).")
    expect_equal(count, WATCHED, "The number of subplots in the figure (one per image)", advice=advice)
    return Plotted(axes, images.cpu(), logits, probs, preds, labels, list(net.passes), open_figures)


def _title(pred: int, percent: str, label: int) -> str:
    return f"{CLASS_NAMES[pred]}, {percent}%\n(label: {CLASS_NAMES[label]})"


_TITLE = re.compile(r"(?P<guess>.*), (?P<percent>[-+0-9.eE]+)%\n\(label: (?P<truth>.*)\)")


@exercise("plot_classes_preds")
def test_plot_classes_preds_titles_and_colours(lesson, device):
    plotted = _plotted(lesson, device)
    for index, (ax, pred, label) in enumerate(zip(plotted.axes, plotted.preds.tolist(), plotted.labels.tolist())):
        found = ax["title"]
        confidence, percent = plotted.probs[index, pred].item() * 100, _percent(found)
        # A float32 and a float64 confidence may round differently at the last decimal: both are right.
        close = percent is not None and abs(percent - confidence) <= 0.05 + 1e-4
        expected = _title(pred, f"{percent:.1f}" if close else f"{confidence:.1f}", label)
        expect_equal(found, expected, f"The title of subplot {index}",
                     advice=_title_advice(found, index, plotted) or f"Use exactly the title of the docstring: "
                                                                    f"{expected!r}.")
        right = pred == label
        # Compared as drawn, in 8-bit RGB: matplotlib's 'g', (0, 0.5, 0), and 'green', (0, 0.502, 0), are one colour.
        colour = to_hex(ax["title_color"], keep_alpha=True)
        if colour != to_hex("green" if right else "red", keep_alpha=True):
            advice = "Pass color='green' when the prediction is right and color='red' when it is wrong."
            if colour == to_hex("red" if right else "green", keep_alpha=True):
                advice = "The colours are swapped: green when pred == label, red otherwise."
            elif colour == to_hex(plt.rcParams["axes.titlecolor"] if plt.rcParams["axes.titlecolor"] != "auto"
                                  else plt.rcParams["text.color"], keep_alpha=True):
                advice = ("The title has matplotlib's default colour: pass color='green' when the prediction is "
                          "right and color='red' when it is wrong, to set_title.")
            fail(f"The title colour of subplot {index}, whose prediction is {'right' if right else 'wrong'}.",
                 expected=f"{'green' if right else 'red'} ({to_hex('green' if right else 'red')})", found=colour,
                 advice=advice)


def _percent(title: str) -> float | None:
    try:
        return float(title.split("%")[0].rsplit(", ", 1)[1])
    except (IndexError, ValueError):
        return None


def _title_advice(found: str, index: int, plotted: Plotted) -> str | None:
    """What the title shows instead, from the candidates the network's numbers give."""
    pred, label = int(plotted.preds[index]), int(plotted.labels[index])
    parsed = _TITLE.fullmatch(found)
    if parsed is None:
        if found.count("\n") != 1:
            return ("The title has two lines, '<guess>, <confidence>%' and '(label: <truth>)', joined by a newline "
                    "(\\n) in one string.")
        number = re.fullmatch(r".+, (-?\d+(?:\.\d+)?)", found.split("\n")[0])
        if number and math.isclose(float(number[1]), plotted.probs[index, pred].item(), abs_tol=0.006):
            return (f"The confidence is shown as a fraction, {number[1]}: show it as a percentage with one decimal "
                    f"and a % sign, f'{{confidence * 100:.1f}}%'.")
        return "Write each line exactly as the docstring does: '<guess>, <confidence>%', then '(label: <truth>)'."
    guess, percent_text, truth = parsed["guess"], parsed["percent"], parsed["truth"]
    if guess != CLASS_NAMES[pred]:
        if guess == str(pred):
            return "The guess is a class index: show its name, CLASS_NAMES[pred]."
        if guess == CLASS_NAMES[label] and truth == CLASS_NAMES[pred]:
            return "The guess and the label are swapped: the guess comes first, the true label on the second line."
        if guess == CLASS_NAMES[label]:
            return "The guess shows the true label: the guess is the class the network finds most probable."
        others = [k for k, other in enumerate(plotted.preds.tolist()) if k != index and guess == CLASS_NAMES[other]]
        if others:
            return (f"That is the guess for picture {others[0]}, not for picture {index}: each subplot shows the "
                    f"guess of its own picture, preds[i] in the loop over i.")
        return (f"The guess is the class with the largest probability, here {CLASS_NAMES[pred]!r}: "
                f"probs.argmax(dim=1), then its name from CLASS_NAMES.")
    if truth != CLASS_NAMES[label]:
        if truth == str(label):
            return "The label is a class index: show its name, CLASS_NAMES[label]."
        if truth == CLASS_NAMES[pred]:
            return "The second line shows the guess again: it shows the true label, labels[i]."
        return None
    if not re.fullmatch(r"-?\d+\.\d", percent_text):
        return f"The confidence has one decimal, as in f'{{confidence * 100:.1f}}': {percent_text!r} has not."
    percent = float(percent_text)
    logits = plotted.logits
    candidates = (
        (plotted.probs[index, label].item() * 100 if pred != label else None,
         "The percentage is the confidence in the true label: show probs[i, pred], the predicted class's."),
        (logits[index, pred].item() * 100,
         "The percentage is the raw output (logit) times 100: the network gives logits, which are no probabilities. "
         "Turn them into probabilities first, F.softmax(net(images), dim=1)."),
        (logits[index, pred].item(),
         "The percentage is the raw output (logit) of the network: turn the outputs into probabilities, "
         "F.softmax(net(images), dim=1), and show the predicted class's times 100."),
        (plotted.probs[index, pred].item(),
         "The percentage is the probability itself, a fraction between 0 and 1: multiply it by 100."),
        (F.softmax(logits, dim=0)[index, pred].item() * 100,
         "The softmax ran over the batch (dim=0), so each class's column sums to 1: use dim=1, across the classes "
         "of each picture."),
        (F.log_softmax(logits, dim=1)[index, pred].item() * 100,
         "The percentage is a log-probability (log_softmax): use F.softmax(net(images), dim=1)."),
    )
    others = [(k, plotted.probs[k, other].item() * 100) for k, other in enumerate(plotted.preds.tolist()) if k != index]
    candidates += tuple((value, f"That is the confidence of picture {k}'s guess, not of picture {index}'s: each "
                                f"subplot shows its own picture's, probs[i, preds[i]] in the loop over i.")
                        for k, value in others)
    matches = [advice for value, advice in candidates if value is not None and abs(percent - value) <= 0.05 + 1e-4]
    return _one_of(matches)


@exercise("plot_classes_preds")
def test_plot_classes_preds_shows_each_image(lesson, device):
    plotted = _plotted(lesson, device)
    pictures = [(image * 0.5 + 0.5).squeeze().numpy().astype(np.float64) for image in plotted.images]
    for index, ax in enumerate(plotted.axes):
        shown = ax["images"]
        expect_equal(len(shown), 1, f"The number of images drawn in subplot {index}",
                     advice="Draw each image in its own subplot with ax.imshow(...)." if not shown else
                     "Draw one image per subplot: each imshow adds one more.")
        found = shown[0].numpy().astype(np.float64)
        expected = pictures[index]
        advice = "Show the picture alone as a (28, 28) array: (images[i] * 0.5 + 0.5).squeeze()."
        if found.size == expected.size:
            advice = "Squeeze the channel away: a (28, 28) array, (images[i] * 0.5 + 0.5).squeeze()."
            if found.shape == (28, 28, 1):
                advice = "Drop the channel axis: a (28, 28) array, (images[i] * 0.5 + 0.5).squeeze()."
        expect_equal(found.shape, expected.shape, f"The shape of the image in subplot {index}", advice=advice)
        if not np.allclose(found, expected, atol=1e-6):
            advice = "Show image i in subplot i, with its normalisation undone: images[i] * 0.5 + 0.5."
            others = [other for other, picture in enumerate(pictures)
                      if other != index and np.allclose(found, picture, atol=1e-6)]
            if np.allclose(found, expected * 2 - 1, atol=1e-6):
                advice = "The image is still normalised to [-1, 1]: undo it with images[i] * 0.5 + 0.5."
            elif others:
                advice = (f"Subplot {index} shows picture {others[0]}: subplot i shows picture i, in the batch's "
                          f"order.")
            elif np.allclose(found, expected.T, atol=1e-6):
                advice = "The picture is transposed: show images[i] * 0.5 + 0.5 as it is, without .T."
            fail(f"Subplot {index} does not show image {index}.",
                 expected=f"pixels {expected.min():.3g} to {expected.max():.3g}",
                 found=f"pixels {found.min():.3g} to {found.max():.3g}", advice=advice)


def _rows(boxes: list[list[float]]) -> list[list[int]]:
    """The figure's rows, top first: subplots whose heights overlap lie in one row, each row's from the left.
    A box is a subplot's [left, bottom, width, height] in fractions of the figure."""
    rows: list[tuple[float, list[int]]] = []  # (the row's bottom, its subplots)
    for index in sorted(range(len(boxes)), key=lambda i: -(boxes[i][1] + boxes[i][3])):
        top = boxes[index][1] + boxes[index][3]
        if rows and top > rows[-1][0] + 1e-6:
            rows[-1] = (min(rows[-1][0], boxes[index][1]), rows[-1][1] + [index])
        else:
            rows.append((boxes[index][1], [index]))
    return [sorted(members, key=lambda i: boxes[i][0] + boxes[i][2] / 2) for _, members in rows]


@exercise("plot_classes_preds")
def test_plot_classes_preds_draws_one_row_in_batch_order(lesson, device):
    plotted = _plotted(lesson, device)
    boxes = [ax["position"] for ax in plotted.axes]
    rows = _rows(boxes)
    count = len(boxes)
    if len(rows) != 1:
        if len(rows) == count:
            found = f"the {count} subplots are in {count} rows, one above the other"
            advice = ("add_subplot(rows, columns, index) and plt.subplots(rows, columns) take the number of rows "
                      "first: one row of B columns, not B rows of one column.")
        else:
            found = (f"the {count} subplots are in {len(rows)} rows (of "
                     f"{', '.join(str(len(row)) for row in rows[:-1])} and {len(rows[-1])} subplots, from the top)")
            advice = "The docstring's figure is a single row, one column per picture: 1 row and B columns."
            if len(rows) == 2:
                advice += " The README's plot_guesses lays its pictures out in two rows; this figure does not."
        fail(f"The {count} subplots must lie side by side in one row, picture k in place k from the left.",
             expected=f"1 row of {count} subplots", found=found, advice=advice)
    row = rows[0]
    for left, right in zip(row, row[1:]):
        expect(boxes[right][0] >= boxes[left][0] + boxes[left][2] - 1e-6,
               "The subplots must lie side by side, each beside the last, not on top of each other.",
               expected="subplots that do not overlap",
               found=f"subplots {left} and {right} overlap: subplot {left} spans {boxes[left][0]:.3f} to "
                     f"{boxes[left][0] + boxes[left][2]:.3f} of the figure's width, subplot {right} starts at "
                     f"{boxes[right][0]:.3f}",
               advice="Give each picture its own place in the row: subplot k + 1 of 1 row and B columns.")
    advice = None
    if row == list(reversed(range(count))):
        advice = ("The pictures run from right to left: subplots are numbered from 1 at the left, so picture k "
                  "goes to subplot k + 1.")
    expect_equal(row, list(range(count)), "The pictures' subplots from left to right (picture k at place k)",
                 advice=advice)


@exercise("plot_classes_preds")
def test_plot_classes_preds_guesses_without_autograd_and_leaves_the_figure_open(lesson, device):
    plotted = _plotted(lesson, device)
    expect(bool(plotted.passes), "plot_classes_preds never ran the network on the pictures.",
           expected="at least one forward pass", found="none",
           advice="The guesses come from the network: net(images), then the softmax of its outputs.")
    with_graph = sum(grad for _, grad in plotted.passes)
    expect(not with_graph, "Computing the guesses must not build an autograd graph.",
           expected="every forward pass with torch.is_grad_enabled() == False",
           found=f"{with_graph} of {len(plotted.passes)} forward passes with autograd on",
           advice="Run the network inside `with torch.no_grad():`: the guesses need no gradients, and a graph "
                  "nobody uses costs memory.")
    expect(plotted.open_figures >= 1, "The figure must still be open when plot_classes_preds returns.",
           expected="the returned figure open in pyplot", found="no figure open",
           advice="No pyplot figure was open when the function returned: either it was closed (plt.close) before "
                  "the return, or it was never opened through pyplot. Create it with plt.figure(...) and leave "
                  "closing it to whoever logs it: add_figure closes it once it has drawn it.")


# accuracy

def _test_loader(batch_size: int) -> DataLoader:
    return DataLoader(_dataset(False, TEST_IMAGES), batch_size=batch_size)


def _accuracy_loader(net, device: str) -> DataLoader:
    """The test images in batches of ACCURACY_BATCH, ordered so that the last, smaller batch holds pictures the
    network gets right and pictures it gets wrong: then a total of full batches, a mean of per-batch
    accuracies and the last batch's accuracy alone all differ from the true fraction."""
    images, labels = _images(False, TEST_IMAGES)
    with torch.no_grad():
        right = (net(images.to(device)).argmax(dim=1).cpu() == labels).tolist()
    hits = [i for i, ok in enumerate(right) if ok]
    misses = [i for i, ok in enumerate(right) if not ok]
    last = (hits[:2] + misses[:2]) if len(hits) >= 2 and len(misses) >= 2 else []
    order = [i for i in range(TEST_IMAGES) if i not in last] + last
    return DataLoader(TensorDataset(images[order].clone(), labels[order].clone()), batch_size=ACCURACY_BATCH)


def _expected_accuracy(net, loader: DataLoader, device: str) -> float:
    correct = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += int((net(images.to(device)).argmax(dim=1).cpu() == labels).sum())
    return correct / len(loader.dataset)


def _accuracy_explanations(found: float, net, loader: DataLoader, device: str) -> list[str]:
    """Every usual mistake whose number is the one found."""
    with torch.no_grad():
        counts = [(int((net(x.to(device)).argmax(dim=1).cpu() == y).sum()), len(y)) for x, y in loader]
    correct, total = sum(c for c, _ in counts), sum(n for _, n in counts)
    candidates = (
        (100 * correct / total, "That is a percentage: return the fraction correct / total, between 0 and 1."),
        (sum(c / n for c, n in counts) / len(counts),
         "That is the mean of the per-batch accuracies; the last batch is smaller, so each of its pictures counts "
         "too much. Add up correct and total over all batches, then divide once."),
        (correct / (len(counts) * loader.batch_size),
         "The total counts loader.batch_size pictures for every batch, but the last batch holds fewer: count the "
         "pictures themselves, total += labels.size(0)."),
        (correct / len(counts), "That divides by the number of batches: divide by the number of pictures."),
        (counts[-1][0] / counts[-1][1],
         "That is the last batch's accuracy alone: set correct and total to 0 once, before the loop, and add "
         "every batch's counts to them."),
    )
    return [advice for value, advice in candidates if math.isclose(found, value, rel_tol=FLOAT32_TOL)]


@exercise("accuracy")
def test_accuracy_is_the_fraction_correct(lesson, device):
    torch.manual_seed(0)
    net = WatchedNet().to(device)
    loader = _accuracy_loader(net, device)
    net.passes.clear()
    found = lesson.accuracy(net, loader, device)
    expected = _expected_accuracy(net, loader, device)
    if isinstance(found, torch.Tensor):
        fail("accuracy must return a Python float.", expected=expected, found=f"a tensor: {found!r}",
             advice="Count with .item(), (predictions == labels).sum().item(), so the result is a plain number.")
    expect(isinstance(found, (float, int)), "accuracy must return a Python float.", expected="float",
           found=type_name(found),
           advice="Convert the result to a Python number: float(...), or count with .item()."
           if type(found).__module__ == "numpy" or isinstance(found, np.generic) else None)
    # Divided as float32 tensors, then .item(): 0.57 comes back as 0.5699999928. The same fraction,
    # a Python float: right (lesson 06, which writes it into a run's summary, asks for every digit).
    advice = None
    if not math.isclose(found, expected, rel_tol=FLOAT32_TOL):
        advice = _one_of(_accuracy_explanations(found, net, loader, device))
    expect_close(found, expected, f"The accuracy of the network on {TEST_IMAGES} test images", tol=FLOAT32_TOL,
                 advice=advice)


@exercise("accuracy")
def test_accuracy_evaluates_without_autograd_then_trains_again(lesson, device):
    torch.manual_seed(0)
    net = WatchedNet().to(device)
    lesson.accuracy(net, _test_loader(ACCURACY_BATCH), device)
    passes = net.passes
    expect(bool(passes), "accuracy never ran the network.", expected="one forward pass per batch", found=0)
    training = sum(mode for mode, _ in passes)
    expect(not training, "The network must run in evaluation mode.",
           expected="net.training == False in every forward pass",
           found=f"{training} of {len(passes)} forward passes in training mode",
           advice="Call net.eval() before the loop (layers such as dropout and batch norm behave differently).")
    with_graph = sum(grad for _, grad in passes)
    expect(not with_graph, "The forward passes must run without autograd.",
           expected="torch.is_grad_enabled() == False in every forward pass",
           found=f"{with_graph} of {len(passes)} forward passes with autograd on",
           advice="Wrap the loop in `with torch.no_grad():`; otherwise every batch builds a graph nobody uses.")
    expect(net.training, "accuracy must leave the network in training mode.", expected="net.training == True",
           found="net.training == False", advice="Call net.train() before returning, so training can go on.")


# train_and_log

@dataclass
class Replay:
    """The contract's training, run by the grader: the same weights, mini-batches, optimizer and loss."""
    losses: list[float]
    states: dict[int, dict[str, torch.Tensor]]  # the weights once global step s's update is done (-1: before any)
    accuracies: list[float]  # the test accuracy after each epoch
    accuracies_before: list[float]  # ... before each epoch's training
    train_accuracies: list[float]  # the accuracy on the training images after each epoch


@dataclass
class TrainingRun:
    log_dir: Path
    device: str
    losses: list[float]  # every loss the criterion computed, in order
    returned: Any  # what train_and_log returned
    final_accuracy: float  # the grader's own accuracy of the trained network
    final_train_accuracy: float  # ... on the training images
    loss_before: float  # the grader's loss on the training images, before and after training
    loss_after: float
    summed_with_graph: bool  # the loop added the loss tensors up with autograd on
    initial: dict[str, torch.Tensor]  # the network's weights before training
    replay: Replay
    trained_like_the_contract: bool  # the learner's losses are the replay's, mini-batch by mini-batch
    printed: Printed  # what the call showed on the screen


def _train_loader() -> DataLoader:
    return DataLoader(_dataset(True, TRAIN_IMAGES), batch_size=BATCH_SIZE)


def _training_run(lesson, tmp_path_factory, device: str) -> TrainingRun:
    """Train once per submission and device; every train_and_log test reads the same run (or crash)."""
    return call_once((lesson.train_and_log.key, device), tmp_path_factory, "train_and_log",
                     lambda folder: _train(lesson, folder, device))


def _train(lesson, folder: Path, device: str) -> TrainingRun:
    train_set = _dataset(True, TRAIN_IMAGES)
    test_loader = _test_loader(TEST_BATCH)
    torch.manual_seed(0)
    net = Net()
    initial = {name: value.clone() for name, value in net.state_dict().items()}
    loss_before = _mean_loss(net, train_set, "cpu")
    criterion = RecordingLoss(torch.nn.CrossEntropyLoss())
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    log_dir = folder / "logs"
    returned = lesson.train_and_log(str(log_dir), net, _train_loader(), test_loader, criterion, optimizer,
                                    epochs=EPOCHS, log_every=LOG_EVERY, figure_every=FIGURE_EVERY, device=device)
    printed = printed_by_last_call()
    net.to(device)
    replay = _replay(initial, device, keep={-1} | {s for step in _figure_steps() for s in (step - 1, step)})
    losses = list(criterion.values)
    return TrainingRun(log_dir, device, losses, returned, _expected_accuracy(net, test_loader, device),
                       _expected_accuracy(net, _train_loader(), device), loss_before,
                       _mean_loss(net, train_set, device), criterion.summed_with_graph, initial, replay,
                       _same_losses(losses, replay.losses), printed)


def _replay(initial: dict, device: str, *, keep: set[int] = frozenset(), zero_grad: bool = True) -> Replay:
    net = Net().to(device)
    net.load_state_dict(initial)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    test_loader, train_loader = _test_loader(TEST_BATCH), _train_loader()
    replay = Replay([], {}, [], [], [])
    if -1 in keep:
        replay.states[-1] = {name: value.detach().clone() for name, value in net.state_dict().items()}
    for epoch in range(EPOCHS):
        replay.accuracies_before.append(_expected_accuracy(net, test_loader, device))
        for i, (inputs, targets) in enumerate(train_loader):
            if zero_grad:
                optimizer.zero_grad()
            loss = F.cross_entropy(net(inputs.to(device)), targets.to(device))
            loss.backward()
            optimizer.step()
            replay.losses.append(loss.item())
            if epoch * BATCHES + i in keep:
                replay.states[epoch * BATCHES + i] = {name: value.detach().clone()
                                                      for name, value in net.state_dict().items()}
        replay.accuracies.append(_expected_accuracy(net, test_loader, device))
        replay.train_accuracies.append(_expected_accuracy(net, train_loader, device))
    return replay


def _same_losses(found: list[float], expected: list[float]) -> bool:
    return len(found) == len(expected) and all(
        math.isclose(f, e, rel_tol=LOSS_TOLERANCE, abs_tol=1e-6) for f, e in zip(found, expected))


def _mean_loss(net, dataset: TensorDataset, device: str) -> float:
    images, labels = dataset.tensors
    with torch.no_grad():
        return F.cross_entropy(net(images.to(device)), labels.to(device)).item()


def _logging_points() -> list[tuple[int, int]]:
    """(epoch, i) of every mini-batch after which a running loss is logged: i + 1 = log_every, 2 x log_every, ..."""
    return [(epoch, i) for epoch in range(EPOCHS) for i in range(BATCHES) if (i + 1) % LOG_EVERY == 0]


def _figure_steps() -> list[int]:
    return [epoch * BATCHES + i for epoch, i in _logging_points() if (i + 1) % FIGURE_EVERY == 0]


def _expected_running_losses(losses: list[float]) -> list[tuple[int, float]]:
    """(step, mean of the last LOG_EVERY losses) after every LOG_EVERY-th mini-batch of each epoch."""
    points = []
    for epoch, i in _logging_points():
        end = epoch * BATCHES + i + 1
        points.append((end - 1, sum(losses[end - LOG_EVERY:end]) / LOG_EVERY))
    return points


def _scalar_points(run: TrainingRun, tag: str) -> list[tuple[int, float]]:
    scalars = read_run(read_scalars, run.log_dir, what="Reading the scalars your training run wrote to log_dir.")
    if tag not in scalars:
        others = sorted(name for name in scalars if name not in (LOSS_TAG, ACCURACY_TAG))
        wanted = [step for step, _ in _expected_running_losses([0.0] * EPOCHS * BATCHES)] if tag == LOSS_TAG \
            else list(range(EPOCHS))
        same_steps = [name for name in others if [step for step, _ in scalars[name]] == wanted]
        if same_steps:
            advice = (f"The points of {tag!r} are there, under the tag {same_steps[0]!r}: tags are matched exactly, "
                      f"case and spaces included.")
        elif others:
            advice = f"Tags are matched exactly, case and spaces included; your run holds {others}."
        elif tag == LOSS_TAG:
            advice = (f"Your loop logged no running loss at all. With log_every = {LOG_EVERY} and {BATCHES} "
                      f"mini-batches an epoch, {len(wanted)} points were expected, after mini-batches "
                      f"{', '.join(str(i + 1) for _, i in _logging_points()[:len(_logging_points()) // EPOCHS])} of "
                      f"each epoch. An interval larger than an epoch never comes round (the classic tutorial's fixed "
                      f"1000, say): log when (i + 1) % log_every == 0, with the log_every you were given.")
        else:
            advice = (f"Your loop logged no {tag!r} at all: after each epoch's last mini-batch, "
                      f"writer.add_scalar({tag!r}, accuracy(net, test_loader, device), epoch).")
        fail(f"No scalars with the tag {tag!r} in log_dir.", expected=tag, found=sorted(scalars) or "no scalar tags",
             advice=advice)
    return scalars[tag]


def _recorded_losses(run: TrainingRun) -> list[float]:
    """The losses the criterion computed: exactly one per training mini-batch."""
    count = len(run.losses)
    advice = f"Call criterion once per mini-batch ({BATCHES} an epoch, {EPOCHS} epochs), and for nothing else."
    test_batches = -(-TEST_IMAGES // TEST_BATCH)
    values = run.losses
    if count == 2 * EPOCHS * BATCHES and all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
                                             for a, b in zip(values[::2], values[1::2])):
        advice = ("The criterion ran twice on every mini-batch, with the same loss both times: compute it once, "
                  "loss = criterion(outputs, labels), and reuse it, loss.backward() and running_loss += "
                  "loss.item().")
    elif count > EPOCHS * BATCHES and (count - EPOCHS * BATCHES) % test_batches == 0:
        advice = ("The criterion ran more often than there are training mini-batches, by a whole number of passes "
                  f"over the {test_batches} test batches: compute the test accuracy (or any test loss) without it, "
                  "and call it once per training mini-batch.")
    elif count > EPOCHS * BATCHES:
        advice = (f"The criterion ran {count} times for {EPOCHS * BATCHES} training mini-batches: call it once per "
                  f"mini-batch, and for nothing else.")
    elif count == 0:
        advice = "criterion was never called: compute each mini-batch's loss with the criterion you were given."
    elif count % BATCHES == 0:
        advice = (f"That is {count // BATCHES} epoch(s) of {BATCHES} mini-batches: train for `epochs` epochs "
                  f"(here {EPOCHS}), for epoch in range(epochs).")
    expect_equal(count, EPOCHS * BATCHES, "How many losses your loop computed with criterion", advice=advice)
    return run.losses


@exercise("train_and_log")
def test_train_and_log_one_optimizer_step_per_mini_batch(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    losses = _recorded_losses(run)
    if run.trained_like_the_contract:
        return
    step = next(k for k, (f, e) in enumerate(zip(losses, run.replay.losses))
                if not math.isclose(f, e, rel_tol=LOSS_TOLERANCE, abs_tol=1e-6))
    advice = _training_advice(run, step) or (
        f"Your losses are the replay's up to mini-batch {step - 1} and differ from there: each mini-batch is one "
        f"optimizer step on that mini-batch's loss, and nothing else changes the weights (watchtrain hint 04).")
    expect_close(losses[step], run.replay.losses[step],
                 f"The loss your criterion computed at global step {step}, against the grader's replay of the "
                 f"contract's training (the same network, weights, mini-batches and optimizer)",
                 tol=LOSS_TOLERANCE, advice=advice)


def _training_advice(run: TrainingRun, step: int) -> str | None:
    """Why the learner's losses leave the replay's at `step`, when one usual mistake explains all of them."""
    if math.isclose(run.loss_after, run.loss_before, rel_tol=1e-7):
        return ("The network's weights never changed: either optimizer.step() never ran (call optimizer.step() "
                "after loss.backward()), or it ran on gradients just cleared (optimizer.zero_grad() between "
                "loss.backward() and optimizer.step()).")
    if _same_losses(run.losses, _replay(run.initial, run.device, zero_grad=False).losses):
        return ("The gradients pile up from one mini-batch to the next: loss.backward() adds to what .grad holds. "
                "Call optimizer.zero_grad() before each loss.backward().")
    if step == 0:
        return ("The very first loss differs already: train the network you were given, from its weights as they "
                "are, on train_loader's mini-batches in order.")
    return None


@exercise("train_and_log")
def test_train_and_log_running_loss_steps(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    expected = [step for step, _ in _expected_running_losses(_recorded_losses(run))]
    steps = [step for step, _ in _scalar_points(run, LOSS_TAG)]
    expect_equal(steps, expected, f"The steps of the {LOSS_TAG!r} points (every {LOG_EVERY} mini-batches of each "
                                  f"epoch, {BATCHES} mini-batches an epoch)", advice=_log_every_advice(steps, expected))


def _every(interval: int) -> list[int]:
    """The global steps of the mini-batches i with (i + 1) % interval == 0, i counted from 0 in each epoch."""
    return [epoch * BATCHES + i for epoch in range(EPOCHS) for i in range(BATCHES) if (i + 1) % interval == 0]


def _log_every_advice(steps: list[int], expected: list[int], every: int = LOG_EVERY, name: str = "log_every",
                      what: str = "points") -> str | None:
    """What went wrong with the steps of something logged every `every` (the argument `name`) mini-batches."""
    mistake = step_mistake(steps, expected, BATCHES)
    if mistake is StepMistake.ALL_AT_ZERO:
        return "Every point is at step 0: pass step = epoch * len(train_loader) + i as the third argument."
    window_starts = [epoch * BATCHES + i for epoch in range(EPOCHS) for i in range(BATCHES) if i % every == 0]
    if steps == window_starts:
        too_early = "after a single loss" if name == "log_every" else "not at its last"
        return (f"You log at the first mini-batch of each window (i % {name} == 0), {too_early}: "
                f"log when (i + 1) % {name} == 0.")
    if steps == [step for step in range(EPOCHS * BATCHES) if (step + 1) % every == 0]:
        return (f"You count the mini-batches since training began, so the count runs on across epochs. The "
                f"contract counts each epoch's mini-batches from 1: log when (i + 1) % {name} == 0, with i from "
                f"enumerate(train_loader) (the step itself still counts from the start).")
    if mistake is StepMistake.ONE_TOO_SMALL:
        return "Every step is one too small: step = epoch * len(train_loader) + i, logged after mini-batch i."
    if len(steps) > len(expected) and set(expected) < set(steps):
        extra = sorted(set(steps) - set(expected))
        return (f"Every expected {what[:-1]} is there, plus {len(extra)} more, at steps {extra[:6]}: log only after "
                f"mini-batches with (i + 1) % {name} == 0.")
    if steps and len(steps) < len(expected) and set(steps) < set(expected):
        missing = sorted(set(expected) - set(steps))
        return (f"The {what} at steps {missing[:6]} are missing, the others are there: log one after every "
                f"mini-batch with (i + 1) % {name} == 0, in every epoch.")
    if len(steps) != len(expected):
        interval = next((k for k in range(1, 2 * EPOCHS * BATCHES) if k != every and steps == _every(k)), None)
        if interval is not None:
            return (f"Your {what} come every {interval} mini-batches, not every {name} = {every}: use the "
                    f"argument, (i + 1) % {name} == 0.")
        return (f"{len(expected)} {what} were expected, one every {every} mini-batches for {EPOCHS} epochs; "
                f"log when (i + 1) % {name} == 0.")
    if mistake is StepMistake.RESTARTS_EVERY_EPOCH:
        return ("The step restarts at every epoch, so each epoch is drawn over the last: "
                "use step = epoch * len(train_loader) + i.")
    if mistake is StepMistake.ONE_TOO_FAR:
        return (f"Every step is one too far (off by one). Either the step adds 1 to epoch * len(train_loader) + i "
                f"(i from enumerate), or you log one mini-batch late, when i % {name} == 0 (and i > 0), after "
                f"mini-batch {every + 1}, not {every}: log when (i + 1) % {name} == 0.")
    if steps == [(step // BATCHES) * TRAIN_IMAGES + step % BATCHES for step in expected]:
        return ("len(train_loader.dataset) counts images; len(train_loader) counts mini-batches, "
                "which is what the step counts.")
    return None


@exercise("train_and_log")
def test_train_and_log_running_loss_values(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    losses = _recorded_losses(run)
    expected = [value for _, value in _expected_running_losses(losses)]
    values = [value for _, value in _scalar_points(run, LOSS_TAG)]
    expect_close(values, expected, f"The running losses logged under {LOSS_TAG!r}, recomputed from the "
                                   f"losses your criterion returned", tol=1e-6,
                 advice=_value_advice(values, expected, losses))
    expect(not run.summed_with_graph, "The running loss adds up the loss tensors themselves, with autograd on. The "
           "numbers come out the same, but each sum keeps the autograd graph of every loss in it, so memory grows "
           "with every mini-batch until the sum is reset (or for ever, on a long run).",
           expected="a Python float: the sum of each loss's number", found="a tensor carrying the losses' graphs",
           advice="Add the loss's value, not the tensor: Tensor.item() gives the number.")


def _value_advice(values: list[float], expected: list[float], losses: list[float]) -> str | None:
    if values and all(value == 0 for value in values):
        return ("Every running loss is 0 when it is logged: running_loss never accumulates (the classic tutorial "
                "forgets running_loss += loss.item()), or it is set back to 0 before it is logged, not after.")
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
    if all_close(values, [e * BATCH_SIZE for e in expected]):
        return (f"Each running loss is {BATCH_SIZE} times the mean, the batch size: the loss of a mini-batch is "
                f"already the mean over its pictures, so add loss.item() itself, not loss.item() * inputs.size(0).")
    if all_close(values, [losses[step] for step in steps]):
        return "These are single mini-batch losses: log the running average, running_loss / log_every."
    by_index = [e * LOG_EVERY / (i + 1) for e, (_, i) in zip(expected, _logging_points())]
    if all_close(values, by_index):
        return (f"You divide by i + 1, the number of mini-batches so far this epoch, but running_loss holds only "
                f"the last log_every = {LOG_EVERY} losses (it is set back to 0 at each point): divide by log_every.")
    epoch_means = [sum(losses[(step // BATCHES) * BATCHES:step + 1]) / (step % BATCHES + 1) for step in steps]
    if all_close(values, epoch_means):
        return ("These are the mean losses of the epoch so far (the sum since the epoch began, over i + 1): the "
                "exercise logs the mean of the last log_every losses, so set running_loss back to 0.0 after each "
                "point and divide by log_every.")
    never_reset = [sum(losses[(step // BATCHES) * BATCHES:step + 1]) / LOG_EVERY for step in steps]
    if all_close(values, never_reset):
        return "running_loss keeps growing: set it back to 0.0 right after you log it."
    carried, previous = [], -1  # reset after each point, never at an epoch's start
    for step in steps:
        carried.append(sum(losses[previous + 1:step + 1]) / LOG_EVERY)
        previous = step
    if all_close(values, carried):
        return ("The first point of each epoch after the first also holds the losses of the previous epoch's last "
                "mini-batches (those after its last point): set running_loss to 0.0 at the start of every epoch too.")
    late = []  # logged one mini-batch late (i % log_every == 0, i > 0): each epoch's first sum holds one loss more
    for step in steps:
        first_of_epoch = step % BATCHES == LOG_EVERY - 1
        start = (step // BATCHES) * BATCHES if first_of_epoch else step + 2 - LOG_EVERY
        late.append(sum(losses[start:step + 2]) / LOG_EVERY)
    if all_close(values, late):
        return (f"You log one mini-batch late, when i % log_every == 0 (and i > 0), after mini-batch "
                f"{LOG_EVERY + 1}, so the first point of each epoch sums {LOG_EVERY + 1} losses: log when "
                f"(i + 1) % log_every == 0.")
    return None


@exercise("train_and_log")
def test_train_and_log_figures_at_logging_steps(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    expect_writers_closed(run.log_dir)
    logging_steps = [step for step, _ in _expected_running_losses(_recorded_losses(run))]
    expected = _figure_steps()
    images = read_run(read_images, run.log_dir, what="Reading the figures your training run wrote to log_dir.")
    if FIGURE_TAG not in images:
        advice = (f"Your loop logged no figure at all: with figure_every = {FIGURE_EVERY}, one was expected after "
                  f"mini-batch {FIGURE_EVERY} of each epoch. Log plot_classes_preds(net, images, labels) with "
                  f"add_figure at the logging steps where (i + 1) % figure_every == 0 (an interval larger than an "
                  f"epoch never comes round).")
        if images:
            advice = f"Tags are matched exactly, case and spaces included; your run holds the images {sorted(images)}."
        fail(f"No figure with the tag {FIGURE_TAG!r} in log_dir.", expected=FIGURE_TAG,
             found=sorted(images) or "no image tags at all", advice=advice)
    steps = [event.step for event in images[FIGURE_TAG]]
    if steps == logging_steps:
        advice = (f"You draw a figure every time you log the loss (every {LOG_EVERY} mini-batches), as the classic "
                  f"tutorial does. A figure costs about as much as 40 training steps: draw it only every "
                  f"figure_every = {FIGURE_EVERY} mini-batches, when (i + 1) % figure_every == 0.")
    else:
        advice = _log_every_advice(steps, expected, FIGURE_EVERY, "figure_every", "figures")
    expect_equal(steps, expected, f"The steps of the {FIGURE_TAG!r} figures (every {FIGURE_EVERY} mini-batches, at "
                                  f"the running loss's step)",
                 advice=advice or "Log the figure right after the loss, with the same step.")


# What a logged figure is compared with: the learner's own plot_classes_preds, called for the watched pictures
# with the replay's network at the figure's step, as the worker's matplotlib drew it (the way add_figure draws:
# the learner's fonts, sizes and spacing included), pixel for pixel. When they differ, the usual mistakes (other
# pictures, other labels, another network) are redrawn here in the docstring's layout (one row of subplots
# without ticks) and compared, whole and area by area. A figure laid out otherwise is read for its titles'
# colours only.

@dataclass
class Drawing:
    pixels: np.ndarray  # height x width x 3
    boxes: list[tuple[int, int, int, int]]  # each subplot's (top, bottom, left, right), in pixels


def _draw(size_inches: list[float], dpi: float, axes: list[dict]) -> Drawing:
    figure = Figure(figsize=tuple(size_inches), dpi=dpi)
    for k, ax in enumerate(axes):
        sub = figure.add_subplot(1, len(axes), k + 1)
        for image, cmap in zip(ax["images"], ax.get("image_cmaps") or ["gray"] * len(ax["images"])):
            sub.imshow(np.asarray(image, dtype=np.float64), cmap=cmap)
        if not ax.get("xticks"):
            sub.set_xticks([])
        if not ax.get("yticks"):
            sub.set_yticks([])
        sub.set_title(ax["title"], color=tuple(ax["title_color"]))
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    return _drawing(pixels, [sub.get_window_extent().extents for sub in figure.axes])


def _drawing(pixels: np.ndarray, extents) -> Drawing:
    """A drawing from its pixels and its subplots' boxes as matplotlib gives them (x0, y0, x1, y1 from the
    bottom left), turned into (top, bottom, left, right) rows and columns, with a margin of 2 pixels."""
    height = pixels.shape[0]
    return Drawing(pixels, [(max(0, math.floor(height - y1) - 2), math.ceil(height - y0) + 2,
                             max(0, math.floor(x0) - 2), math.ceil(x1) + 2) for x0, y0, x1, y1 in extents])


def _as_drawn(drawn: Described, dpi: float) -> Drawing:
    """The learner's figure as their own matplotlib drew it (as add_figure does: fonts, spacing and all),
    or, where that could not be done, redrawn here from its description in the docstring's layout."""
    pixels = getattr(drawn, "pixels", None)
    if pixels is not None and pixels.shape[1] == round(drawn.size_inches[0] * dpi):
        return _drawing(pixels.numpy(), drawn.boxes)
    return _draw(drawn.size_inches, dpi, drawn.axes)


def _same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and (a.size == 0 or int(np.abs(a.astype(int) - b.astype(int)).max()) <= 16)


def _regions(drawing: Drawing) -> tuple[list[tuple[slice, slice]], list[tuple[slice, slice]], np.ndarray]:
    """Each subplot's picture and title areas, and a mask of the rest (the layout's own pixels)."""
    height, width = drawing.pixels.shape[:2]
    boxes = drawing.boxes
    pictures, titles = [], []
    rest = np.ones((height, width), dtype=bool)
    for k, (top, bottom, left, right) in enumerate(boxes):
        band_left = 0 if k == 0 else (boxes[k - 1][3] + left) // 2
        band_right = width if k == len(boxes) - 1 else (right + boxes[k + 1][2]) // 2
        pictures.append((slice(top, bottom), slice(left, right)))
        titles.append((slice(0, top), slice(band_left, band_right)))
        rest[top:bottom, left:right] = False
        rest[0:top, band_left:band_right] = False
    return pictures, titles, rest


def _contract_axes(state: dict, pictures: torch.Tensor, labels: torch.Tensor, device: str,
                   like: list[dict]) -> list[dict]:
    """The docstring's figure of `pictures` and `labels` for the network with weights `state`, in the learner's
    colour map and ticks."""
    net = Net().to(device)
    net.load_state_dict(state)
    with torch.no_grad():
        probs = F.softmax(net(pictures.to(device)), dim=1).cpu()
    confidences, preds = probs.max(dim=1)
    style = like[0] if like else {}
    axes = []
    for k in range(len(pictures)):
        pred, label = int(preds[k]), int(labels[k])
        axes.append({"title": _title(pred, f"{confidences[k].item() * 100:.1f}", label),
                     "title_color": list(to_rgba("green" if pred == label else "red")),
                     "images": [(pictures[k] * 0.5 + 0.5).squeeze().double()],
                     "image_cmaps": style.get("image_cmaps") or ["gray"],
                     "xticks": style.get("xticks", []), "yticks": style.get("yticks", [])})
    return axes


def _watched() -> tuple[torch.Tensor, torch.Tensor]:
    """The first four pictures of test_loader's first batch, and their labels."""
    images, labels = _images(False, TEST_BATCH)
    return images[:WATCHED], labels[:WATCHED]


def _learners_drawing(lesson, state: dict, device: str) -> Described | None:
    """What the learner's plot_classes_preds draws for the watched pictures with the network at `state`."""
    net = Net().to(device)
    net.load_state_dict(state)
    images, labels = _watched()
    try:
        drawn = lesson.plot_classes_preds(net, images.clone().to(device), labels.clone().to(device))
    except (LearnerCrash, NotStarted):
        return None
    return drawn if isinstance(drawn, Described) and drawn.kind == "figure" and drawn.axes else None


@exercise("train_and_log")
def test_train_and_log_figures_show_the_watched_test_pictures(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    _recorded_losses(run)
    images = read_run(read_images, run.log_dir, what="Reading the figures your training run wrote to log_dir.")
    events = {event.step: event for event in images.get(FIGURE_TAG, [])}
    steps = [step for step in _figure_steps() if step in events]
    if not steps:
        fail(f"No {FIGURE_TAG!r} figure at the steps where one belongs, so what the figures show cannot be checked.",
             expected=_figure_steps(), found=sorted(events) or "no figure",
             advice="The check of the figures' steps says what went wrong there; fix that first.")
    if not run.trained_like_the_contract:
        fail("What the figures show can be checked only once the training follows the contract: only then is the "
             "network at each figure's step known.", expected="your losses equal to the grader's replay",
             found="losses that differ", advice="The check of the training's losses says where they differ.")
    for step in steps:
        _expect_figure(lesson, run, step, events[step].pixels[..., :3], device)


def _expect_figure(lesson, run: TrainingRun, step: int, pixels: np.ndarray, device: str) -> None:
    epoch, i = divmod(step, BATCHES)
    where = f"The figure at step {step} (after mini-batch {i + 1} of epoch {epoch})"
    drawn = _learners_drawing(lesson, run.replay.states[step], device)
    if drawn is None:  # their plot_classes_preds fails on its own: its checks say so; read the colours only
        _expect_title_colours(where, pixels, _contract_axes(run.replay.states[step], *_watched(), device, []))
        return
    dpi = pixels.shape[1] / drawn.size_inches[0]
    expected = _as_drawn(drawn, dpi)
    if _same_pixels(expected.pixels, pixels):
        return
    before = _learners_drawing(lesson, run.replay.states[step - 1], device)  # drawn before the step's update: fine
    if before is not None and _same_pixels(_as_drawn(before, dpi).pixels, pixels):
        return
    state, watched, labels = run.replay.states[step], *_watched()
    batch_images, batch_labels = _images(True, TRAIN_IMAGES)
    batch = slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE)
    test_images, test_labels = _images(False, TEST_BATCH)
    mistakes = (
        (_contract_axes(state, batch_images[batch], batch_labels[batch], device, drawn.axes),
         "the pictures, labels and guesses of the mini-batch just trained",
         "shows the mini-batch just trained instead of the watched test pictures",
         "Choose the four test pictures once, before training: images, labels = next(iter(test_loader)), then "
         "images[:4] and labels[:4], on device. Draw plot_classes_preds(net, images, labels) with those at every "
         "figure step, not with the training mini-batch's inputs and targets."),
        (_contract_axes(state, watched, batch_labels[batch], device, drawn.axes),
         "the watched test pictures with the labels of the mini-batch just trained",
         "shows the watched test pictures, but with the labels of the mini-batch just trained: the titles' "
         "'(label: ...)' and their colours belong to other pictures",
         "Pass the watched pictures' own labels, labels[:4] of test_loader's first batch, with them: not the "
         "training mini-batch's targets."),
        (_contract_axes(run.replay.states[-1], watched, labels, device, drawn.axes),
         "the guesses of the network before any training",
         "shows the network's guesses before any training: the figure was drawn once, before the loop",
         "Draw a new figure at every figure step, plot_classes_preds(net, images, labels) inside the loop: a figure "
         "drawn once keeps the guesses of the moment it was drawn."),
        (_contract_axes(state, batch_images[:WATCHED], batch_labels[:WATCHED], device, drawn.axes),
         "the first four pictures of train_loader", "shows the first four pictures of train_loader, not of test_loader",
         "The watched pictures come from the test set: images, labels = next(iter(test_loader))."),
        (_contract_axes(state, test_images, test_labels, device, drawn.axes),
         f"all {TEST_BATCH} pictures of test_loader's first batch",
         f"shows the whole first batch of test_loader ({TEST_BATCH} pictures), not its first four",
         "Keep the first four pictures and labels only: images[:4], labels[:4]."),
    )
    wanted = f"the first {WATCHED} pictures of test_loader's first batch, their labels, and the network's guesses now"
    drawings = [(_draw(drawn.size_inches, dpi, axes), found, what, advice) for axes, found, what, advice in mistakes]
    for drawing, found, what, advice in drawings:
        if _same_pixels(drawing.pixels, pixels):
            fail(f"{where} {what}.", expected=wanted, found=found, advice=advice)
    pictures, titles, rest = _regions(expected)
    if expected.pixels.shape != pixels.shape or not _same_pixels(expected.pixels[rest], pixels[rest]):
        _expect_title_colours(where, pixels, drawn.axes)  # laid out otherwise: read what can be read
        return
    same_layout = [(drawing, found, advice) for drawing, found, _, advice in drawings
                   if drawing.pixels.shape == pixels.shape and len(drawing.boxes) == len(expected.boxes)]
    for k in range(len(expected.boxes)):
        for area, name in ((pictures[k], "picture"), (titles[k], "title")):
            if _same_pixels(expected.pixels[area], pixels[area]):
                continue
            for drawing, found, advice in same_layout:
                if _same_pixels(drawing.pixels[area], pixels[area]):
                    fail(f"{where}: the {name} of subplot {k} is that of {found}.",
                         expected=f"the {name} of test picture {k} ({CLASS_NAMES[int(labels[k])]}) at this step",
                         found=f"the {name} of subplot {k} of {found}", advice=advice)
            fail(f"{where}: the {name} of subplot {k} is not what your plot_classes_preds draws for the watched test "
                 f"picture {k} with the network at this step.",
                 expected=drawn.axes[k]["title"] if name == "title" else f"test picture {k}",
                 found=f"another {name}",
                 advice="Draw plot_classes_preds(net, images, labels) at the step, with the first four pictures and "
                        "labels of test_loader's first batch, chosen before training, and the network as it is "
                        "then (watchtrain hint 04).")


def _title_inks(pixels: np.ndarray) -> list[str]:
    """The colour ('green' or 'red') of each title, left to right, read from the text drawn in those colours."""
    inks = {name: _ink(pixels, name) for name in ("green", "red")}
    columns = (inks["green"] | inks["red"]).any(axis=0).nonzero()[0]
    if not len(columns):
        return []
    breaks = np.nonzero(np.diff(columns) > 12)[0]
    starts, ends = [columns[0], *columns[breaks + 1]], [*columns[breaks], columns[-1]]
    return ["green" if inks["green"][:, a:b + 1].sum() > inks["red"][:, a:b + 1].sum() else "red"
            for a, b in zip(starts, ends)]


def _ink(pixels: np.ndarray, colour: str) -> np.ndarray:
    """Where text in `colour` was drawn over white, anti-aliasing included."""
    ink = np.array(to_rgb(colour)) * 255
    channel = int(np.argmax(np.abs(ink - 255)))
    values = pixels.astype(float)
    coverage = (255 - values[..., channel]) / (255 - ink[channel])
    blend = 255 + coverage[..., np.newaxis] * (ink - 255)
    return (np.abs(values - blend) <= 3).all(axis=-1) & (coverage >= 0.3)


def _expect_title_colours(where: str, pixels: np.ndarray, axes: list[dict]) -> None:
    found = _title_inks(pixels)
    wanted = ["green" if to_hex(ax["title_color"]) == to_hex("green") else "red" for ax in axes]
    if len(found) != len(wanted):
        return  # the titles cannot be told apart in this layout: nothing more to read
    for k, (colour, expected) in enumerate(zip(found, wanted)):
        if colour != expected:
            fail(f"{where}: the title of subplot {k} is {colour}, so its guess and label do not belong to the watched "
                 f"test picture {k} and the network at this step.",
                 expected=f"{expected}: {axes[k]['title']!r}", found=colour,
                 advice="Draw plot_classes_preds(net, images, labels) at the step, with the first four pictures and "
                        "labels of test_loader's first batch, chosen before training, and the network as it is "
                        "then.")


@exercise("train_and_log")
def test_train_and_log_accuracy_once_per_epoch(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    points = _scalar_points(run, ACCURACY_TAG)
    steps = [step for step, _ in points]
    advice = "Log the accuracy after each epoch's last mini-batch, with global_step = epoch."
    if steps == list(range(1, EPOCHS + 1)):
        advice = "The epochs are counted from zero: global_step = epoch, not epoch + 1."
    elif steps == [(epoch + 1) * BATCHES - 1 for epoch in range(EPOCHS)]:
        advice = ("The step of the accuracy is the epoch's number (0, 1, ...), not the global step of its last "
                  "mini-batch.")
    elif len(steps) == EPOCHS:
        advice = "Use the epoch (0, 1, ...) as the step."
    expect_equal(steps, list(range(EPOCHS)), f"The steps of {ACCURACY_TAG!r} (once per epoch, the epoch as step)",
                 advice=advice)
    values = [value for _, value in points]
    advice = None
    if values and math.isclose(values[-1], 100 * run.final_accuracy, rel_tol=1e-5):
        advice = "These are percentages: log correct / total, a fraction between 0 and 1, not a percentage."
    elif any(value > 1 for value in values):
        advice = ("Log correct / total: the number of pictures classified right over the number of pictures "
                  "counted, so that it lies between 0 and 1.")
    expect(all(0.0 <= value <= 1.0 for value in values), f"The {ACCURACY_TAG!r} values must be fractions.",
           expected="values between 0 and 1", found=values, advice=advice)
    if run.trained_like_the_contract:
        replay = run.replay
        advice = None
        if _close_all(values, replay.accuracies_before):
            advice = ("These are the accuracies before each epoch's training: measure it after the epoch's last "
                      "mini-batch.")
        elif _close_all(values, replay.train_accuracies):
            advice = "These are accuracies on train_loader: the contract measures the test pictures, test_loader."
        expect_close(values, replay.accuracies, f"The {ACCURACY_TAG!r} after each epoch, against the grader's replay "
                                                f"of the same training", tol=1e-6, advice=advice)
    expect_close(values[-1], run.final_accuracy, f"The last {ACCURACY_TAG!r}, against the trained network's "
                                                 f"accuracy on test_loader", tol=1e-6,
                 advice="That is the trained network's accuracy on train_loader: measure it on test_loader."
                 if math.isclose(values[-1], run.final_train_accuracy, rel_tol=1e-6) else
                 "Measure it with accuracy(net, test_loader, device) after the epoch's training.")
    returned = expect_list(run.returned, "train_and_log", "accuracies", "the per-epoch accuracies it logged")
    expect_close(returned, values, "What train_and_log returned (the per-epoch accuracies it logged)",
                 tol=1e-6, advice="Return the list of the accuracies you logged, one per epoch.")


def _close_all(found: list[float], wanted: list[float]) -> bool:
    return len(found) == len(wanted) and all(math.isclose(f, w, rel_tol=1e-6, abs_tol=1e-6)
                                             for f, w in zip(found, wanted))


@exercise("train_and_log")
def test_train_and_log_shows_a_progress_bar(lesson, tmp_path_factory, device):
    printed = _training_run(lesson, tmp_path_factory, device).printed
    expect(not printed.nothing, "train_and_log showed nothing on the screen while it trained.",
           expected="a progress bar while each epoch runs", found="nothing printed",
           advice="Wrap the epoch's loader in tqdm: for i, (inputs, labels) in enumerate(tqdm(train_loader)). "
                  "It draws the bar on the standard error, and its rate tells you how long an epoch takes.")

@exercise("train_and_log")
def test_train_and_log_lowers_the_loss(lesson, tmp_path_factory, device):
    run = _training_run(lesson, tmp_path_factory, device)
    values = [value for _, value in _scalar_points(run, LOSS_TAG)]
    advice = None
    if not run.trained_like_the_contract and len(run.losses) == len(run.replay.losses):
        step = next(k for k, (f, e) in enumerate(zip(run.losses, run.replay.losses))
                    if not math.isclose(f, e, rel_tol=LOSS_TOLERANCE, abs_tol=1e-6))
        advice = _training_advice(run, step)
    expect(run.loss_after < 0.9 * run.loss_before,
           f"Training must lower the loss on the {TRAIN_IMAGES} training images (the grader measures it before "
           f"and after your run).", expected=f"below {0.9 * run.loss_before:.4f}", found=round(run.loss_after, 4),
           advice=advice)
    expect(len(values) >= 2 and values[-1] < values[0], f"The logged {LOSS_TAG!r} must fall during training.",
           expected="the last running loss below the first", found=values, advice=advice)
