"""Lesson 04: tracking a training run. Running loss, prediction figures and accuracy per epoch.

Each function below states a contract: what must exist when it returns. The lesson's README.md
teaches the API with the tutorial's loop and with other figures and metrics; your job is to apply
it here. The autograder never looks at your code. It trains your loop with a loss function that
records every loss it computes, recomputes from them the running averages and their steps, and
compares them, point by point, with what your event file holds.

    watchtrain check 04     grade this lesson: points per exercise, and the first problem of each
    watchtrain hint 04      stuck? one more hint each time: the idea, the API, an example, the code
    watchtrain watch        re-check every time you save this file
    pytest autograder/test_04_training_run.py     the same checks, as plain pytest

Leave the function names and arguments as they are.
"""
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from watchtrain.data import CLASS_NAMES


def plot_classes_preds(net, images, labels):
    """Draw a "predictions vs. actuals" figure: each picture with the network's guess and the truth.

    `images` is a batch of B pictures, shape (B, 1, 28, 28), normalised by `normalize_transform()`
    (values in [-1, 1]) and on the same device as `net`. Entry k of `labels` (shape (B,)) is the
    true class of picture k.

    Return a matplotlib Figure, still open (TensorBoard closes it after drawing it), with B
    subplots in one row, subplot k for picture k in batch order. Subplot k:
    - shows exactly one image: picture k as a (28, 28) array on the CPU, with the normalisation
      undone, so its values are back in [0, 1];
    - has the title "<guess>, <confidence>%" and, on a second line, "(label: <truth>)", where
      <guess> and <truth> are class names as `CLASS_NAMES` spells them, the guess is the class
      the network finds most probable, and <confidence> is the network's probability for that
      guess, in percent, with one decimal. For example:
          Sneaker, 87.3%
          (label: Sandal)
    - has its title in the matplotlib colour "green" when the guess is right, and "red" when it
      is wrong.
    Computing the guesses needs no gradients: do not build an autograd graph for them.

    Why: the loss says how much the model errs, this picture says how. Fixed pictures, watched
    over training, turn from red to green as the network learns.
    """
    with torch.no_grad():
        probs = F.softmax(net(images), dim=1)
    confidences, preds = probs.max(dim=1)
    fig = plt.figure(figsize=(12, 3))
    for i in range(len(images)):
        ax = fig.add_subplot(1, len(images), i + 1, xticks=[], yticks=[])
        ax.imshow((images[i] * 0.5 + 0.5).squeeze().cpu().numpy(), cmap="gray")
        pred, label = preds[i].item(), labels[i].item()
        ax.set_title(f"{CLASS_NAMES[pred]}, {confidences[i].item() * 100:.1f}%\n(label: {CLASS_NAMES[label]})",
                     color="green" if pred == label else "red")
    return fig


def accuracy(net, loader, device="cpu"):
    """Return the fraction of the pictures in `loader` that `net` classifies right, as a Python float.

    A picture counts as right when the class with the largest output of `net` is its true class.
    Count over every batch of `loader`, moved to `device`, and divide once at the end: the last
    batch may be smaller, and it must not weigh more than its pictures.

    - The result is a plain Python number between 0 and 1: not a percentage, not a tensor.
    - Every forward pass runs in evaluation mode, and without autograd.
    - When the function returns, `net` is back in training mode, so training can go on.

    Why: the loss is what the optimiser sees; accuracy is what you report. Layers such as dropout
    and batch norm behave differently in evaluation mode, and a graph nobody uses wastes memory.
    """
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (net(images).argmax(dim=1) == labels).sum().item()
            total += labels.numel()
    net.train()
    return correct / total


def train_and_log(log_dir, net, train_loader, test_loader, criterion, optimizer, epochs=1, log_every=1000,
                  figure_every=5000, device="cpu"):
    """Train `net` for `epochs` epochs and record the run in one TensorBoard run, `log_dir`.

    Train on `device`: the network and every batch go there. Each mini-batch of `train_loader` is
    one step of `optimizer` on the loss from `criterion`. Call `criterion` exactly once per
    mini-batch, and for nothing else (the grader's `criterion` records every loss it computes).
    Show a progress bar while an epoch runs.

    Below, a mini-batch's "global step" is the number of mini-batches trained before it since
    training began: the very first mini-batch has global step 0. It never restarts at a new epoch.

    When this function returns, `log_dir` holds, in closed event files:
    - "training loss": count the mini-batches of each epoch from 1. After mini-batch number
      `log_every`, 2 x `log_every`, 3 x `log_every`, ..., one point at the global step of that
      mini-batch. Its value is the mean of the losses of the last `log_every` mini-batches.
    - "predictions vs. actuals": the figure your `plot_classes_preds` draws for four test pictures
      chosen before training (the first four of `test_loader`'s first batch, on `device`). One
      figure at each of the loss's points whose mini-batch number is a multiple of `figure_every`
      (itself a multiple of `log_every`), at the same step, and no figure anywhere else.
    - "test accuracy": after each epoch, the fraction of `test_loader` the network now classifies
      right, at the step given by the epoch's number, counted from zero.

    Return a list: the values you logged under "test accuracy", one per epoch, in order.

    Why: a running mean draws a readable curve out of noisy mini-batch losses, and a step that
    counts mini-batches puts every epoch after the one before. A figure costs about as much as
    40 training steps and a scalar almost nothing, so the figures come less often than the loss.
    """
    net.to(device)
    images, labels = next(iter(test_loader))
    images, labels = images[:4].to(device), labels[:4].to(device)
    accuracies = []
    with SummaryWriter(log_dir) as writer:
        for epoch in range(epochs):
            running_loss = 0.0
            for i, (inputs, targets) in enumerate(tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}")):
                inputs, targets = inputs.to(device), targets.to(device)
                optimizer.zero_grad()
                loss = criterion(net(inputs), targets)
                loss.backward()
                optimizer.step()
                running_loss += loss.item()
                if (i + 1) % log_every == 0:
                    step = epoch * len(train_loader) + i
                    writer.add_scalar("training loss", running_loss / log_every, step)
                    if (i + 1) % figure_every == 0:  # a figure costs ~40 steps: less often than the loss
                        writer.add_figure("predictions vs. actuals", plot_classes_preds(net, images, labels),
                                          global_step=step)
                    running_loss = 0.0
            accuracies.append(accuracy(net, test_loader, device))
            writer.add_scalar("test accuracy", accuracies[-1], epoch)
    return accuracies
