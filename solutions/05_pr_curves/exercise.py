"""Lesson 05: precision-recall curves, one per class.

Fill in each function below. Its docstring says exactly what to compute and log; the autograder
recomputes every curve's true and false positives and negatives, precision and recall from the
same probabilities and labels, and compares them with what your event file holds. Check your work with:

    pytest autograder/test_05_pr_curves.py
"""
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import CLASS_NAMES


def class_probabilities(net, loader, device="cpu"):
    """The network's class probabilities for every image of `loader`, with the true labels.

    Switch to evaluation mode (`net.eval()`), and under `torch.no_grad()`, for each batch
    `(images, labels)` of `loader` (in order; images moved to `device`):
    `probs = F.softmax(net(images), dim=1)`, one row per image, each row summing to 1.
    Collect the batches and return `(probs, labels)`: `probs` a float tensor of shape (N, 10) on
    the CPU, `labels` the int64 tensor of shape (N,) of true classes, in the loader's order.
    """
    net.eval()
    probs, labels = [], []
    with torch.no_grad():
        for images, batch_labels in loader:
            probs.append(F.softmax(net(images.to(device)), dim=1).cpu())
            labels.append(batch_labels)
    return torch.cat(probs), torch.cat(labels)


def log_pr_curves(log_dir, net, loader, num_thresholds=127, device="cpu"):
    """Log one precision-recall curve per class for TensorBoard's PR Curves tab.

    1. `probs, labels = class_probabilities(net, loader, device)` (your function above).
    2. With one `SummaryWriter(log_dir)`, for each class index `k` from 0 to 9:

           writer.add_pr_curve(CLASS_NAMES[k], labels == k, probs[:, k],
                               global_step=0, num_thresholds=num_thresholds)

       The truth is `labels == k` (is this image of class k?) and the prediction is `probs[:, k]`
       (how sure the network is that it is). The classic tutorial passed an undefined
       `test_preds` here, and predicted labels are not the truth either.
    3. Close the writer.
    """
    probs, labels = class_probabilities(net, loader, device)
    with SummaryWriter(log_dir) as writer:
        for k, name in enumerate(CLASS_NAMES):
            writer.add_pr_curve(name, labels == k, probs[:, k], global_step=0, num_thresholds=num_thresholds)
