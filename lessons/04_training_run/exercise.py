"""Lesson 04: tracking a training run. Running loss, prediction figures and accuracy per epoch.

Fill in each function below. Its docstring says exactly what to compute and log; the autograder
records every loss your training loop computes, recomputes the running averages and their steps
from them, and compares them with what your event file holds. Check your work with:

    pytest autograder/test_04_training_run.py
"""
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from watchtrain.data import CLASS_NAMES


def plot_classes_preds(net, images, labels):
    """Draw a "predictions vs. actuals" figure: each image with the network's guess and the truth.

    `images` is a batch (B, 1, 28, 28) normalised by `normalize_transform()` (pixels in [-1, 1]),
    on the same device as `net`; `labels` holds their true classes, shape (B,).

    1. Under `torch.no_grad()`: `probs = F.softmax(net(images), dim=1)`. The prediction for
       image i is `pred = probs[i].argmax()`, and the network's confidence in it is `probs[i, pred]`.
    2. `fig = plt.figure(figsize=(12, 3))`, then for each image i (in batch order):
       - `ax = fig.add_subplot(1, B, i + 1, xticks=[], yticks=[])`;
       - `ax.imshow(img, cmap="gray")` with `img = (images[i] * 0.5 + 0.5).squeeze().cpu().numpy()`,
         the (28, 28) image with its normalisation undone;
       - `ax.set_title(title, color=...)` with exactly this title (the confidence in percent, one
         decimal):
             f"{CLASS_NAMES[pred]}, {confidence * 100:.1f}%\\n(label: {CLASS_NAMES[label]})"
         and `color="green"` when the prediction is right, `color="red"` when it is wrong.
    3. Return `fig` without closing it (add_figure closes it after drawing it).
    """
    raise NotImplementedError


def accuracy(net, loader, device="cpu"):
    """The fraction of the images in `loader` that `net` classifies correctly, as a Python float.

    Switch to evaluation mode with `net.eval()`, and under `torch.no_grad()` count, batch by batch
    (moved to `device`), the images whose largest output is their label: `net(images).argmax(dim=1)
    == labels`. Switch back with `net.train()` before returning `correct / total`, a float in
    [0, 1] (not a percentage, not a tensor: use `.item()` on the counts).
    """
    raise NotImplementedError


def train_and_log(log_dir, net, train_loader, test_loader, criterion, optimizer, epochs=1, log_every=1000,
                  figure_every=5000, device="cpu"):
    """Train `net` and watch it in TensorBoard: running loss, prediction figures, accuracy per epoch.

    Use one `SummaryWriter(log_dir)`, closed before returning. Move `net` to `device`
    (`net.to(device)`) and every batch too.

    1. Before training, take four test images to watch: `images, labels = next(iter(test_loader))`,
       then keep `images[:4]` and `labels[:4]` (on `device`). The classic tutorial's
       `dataiter.next()` no longer exists; `next(...)` is the built-in.
    2. For each epoch (counting from 0), start with `running_loss = 0.0`, then for each mini-batch
       `i, (inputs, targets)` of `enumerate(tqdm(train_loader))` (tqdm draws a progress bar):
       - `optimizer.zero_grad()`, `loss = criterion(net(inputs), targets)`, `loss.backward()`,
         `optimizer.step()`. Call `criterion` exactly once per mini-batch and for nothing else;
       - `running_loss += loss.item()` (the classic tutorial forgot this line, and logged zeros);
       - every `log_every` mini-batches, that is when `(i + 1) % log_every == 0`, with
         `step = epoch * len(train_loader) + i` (mini-batches since the start: it never restarts):
         `add_scalar("training loss", running_loss / log_every, step)`, then `running_loss = 0.0`;
       - and at those logging steps where also `(i + 1) % figure_every == 0` (`figure_every` is a
         multiple of `log_every`), before the reset:
         `add_figure("predictions vs. actuals", plot_classes_preds(net, images, labels), global_step=step)`
         for the four watched images. A figure costs as much as about 40 training steps, a scalar
         next to nothing, so the figures come less often than the loss.
    3. After each epoch: `add_scalar("test accuracy", accuracy(net, test_loader, device), epoch)`.

    Return the list of the per-epoch test accuracies.
    """
    raise NotImplementedError
