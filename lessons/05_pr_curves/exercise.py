"""Lesson 05: precision-recall curves, one per class.

Write the two functions below. Each docstring is a contract: it says what must be true when the
function returns (the values, the tags, the steps, the files), not how to get there. The lesson's
README.md teaches the tools you need.

The autograder runs your functions on a briefly trained network and 200 test images. It recomputes
every curve from the definition (true and false positives and negatives, precision and recall at
each threshold) and compares the numbers with what your event file holds. Four commands help:

    watchtrain check 05                      grade this lesson: points, and the first problem of each
    watchtrain hint 05 [FUNCTION]            one more hint each time: the idea, the API, an example, the code
    watchtrain watch                         re-check every time you save this file
    pytest autograder/test_05_pr_curves.py   the same checks, as plain pytest
"""
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import CLASS_NAMES


def class_probabilities(net, loader, device="cpu"):
    """How sure `net` is of each class, for every image of `loader`, with the true labels.

    Return a pair of tensors, (probabilities, labels):

    - probabilities: floats, shape (N, 10), where N is the number of images in `loader`. Row i
      belongs with the i-th image in the loader's order, and column c is the network's probability
      that this image shows class c: its outputs (logits) turned into probabilities across the ten
      classes. Every value lies in [0, 1], and every row adds up to 1.
      The tensor lives on the CPU, whatever `device` is.
    - labels: int64, shape (N,), the true class of each image, in the same order.

    Each batch's images go onto `device` before the forward pass (`net` is already there). The
    network must run in evaluation mode, and with autograd switched off: the autograder watches
    every forward pass.

    Why: a PR curve needs a score between 0 and 1 for each image and class, and the scores must
    line up with the truth image by image. Logits are not such scores, and a network left in
    training mode, or recording a graph, gives other numbers or wastes memory.
    """
    raise NotImplementedError


def log_pr_curves(log_dir, net, loader, num_thresholds=127, device="cpu"):
    """Write one precision-recall curve per class into `log_dir`, for TensorBoard's PR Curves tab.

    When the function returns, the event files in `log_dir` hold exactly ten PR curves, written
    out completely (nothing left open):

    - Tags: the class names of `CLASS_NAMES`, exactly as spelled there ("T-shirt/top",
      "Trouser", ..., "Ankle boot"). One curve per tag.
    - Step: each curve is written once, at global step 0.
    - Thresholds: each curve has `num_thresholds` points. The autograder passes a number other
      than the default, so it can see whether you passed yours on.
    - Values: the curve of class c compares the truth "is this image of class c?" (a boolean per
      image, from the true labels) with the score "how sure is the network that it is?" (column c
      of the probabilities from `class_probabilities`, your function above). Use the same `net`,
      `loader` and `device`.

    Why: one curve per class shows what one accuracy number hides: which classes the network
    finds easily and which it confuses. A curve built from predicted classes instead of the truth,
    or from logits instead of probabilities, draws a wrong picture without any error message.
    """
    raise NotImplementedError
