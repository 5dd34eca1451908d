"""Lesson 01: TensorBoard basics. Scalars, steps, runs and flushing.

Fill in each function below. Its docstring says exactly what to write and where; the autograder
opens the event files your code leaves behind with TensorBoard's own reader and checks tags,
steps and values. Check your work with:

    pytest autograder/test_01_tensorboard_basics.py
"""
import os

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def log_batch_losses(log_dir, epoch_losses):
    """Log the loss of every training batch as one continuous curve.

    `epoch_losses[e][b]` is the loss (a float) of batch `b` in epoch `e`; every epoch has the same
    number of batches, `batches_per_epoch = len(epoch_losses[0])`.

    - Write to an event file in `log_dir` itself: `SummaryWriter(log_dir)`.
    - For every batch call `add_scalar` with the tag "Loss/train", the loss as the value, and
      `global_step = e * batches_per_epoch + b`, so the steps run 0, 1, 2, ... without restarting
      when a new epoch begins.
    - Close the writer before returning (or use `with SummaryWriter(log_dir) as writer:`).
    """
    raise NotImplementedError


def log_train_and_test(log_dir, history):
    """Log training and test metrics once per epoch, with train and test loss on one chart.

    `history` is a list with one dict per epoch, with the keys "train_loss", "test_loss",
    "train_accuracy" and "test_accuracy" (floats). For epoch `e` (counting from 0), with
    `global_step = e`:

    - `add_scalars("Loss", {"train": train_loss, "test": test_loss}, e)`: both losses on one chart.
      (TensorBoard stores them as two runs next to yours: `log_dir/Loss_train` and `log_dir/Loss_test`.)
    - `add_scalar("Accuracy/train", train_accuracy, e)` and `add_scalar("Accuracy/test", test_accuracy, e)`:
      two charts in one "Accuracy" section.

    Write with one `SummaryWriter(log_dir)` and close it before returning (closing it also closes
    the writers that add_scalars opened).
    """
    raise NotImplementedError


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    """Fit the same linear model once per learning rate, one TensorBoard run per rate.

    `x` and `y` are float tensors of shape (N, 1): the data of a straight-line regression.
    For each `lr` in `learning_rates`:

    1. `torch.manual_seed(0)`, then build `nn.Linear(1, 1)` and move it to `device`
       (seeding right before building the model gives every run the same starting weights).
    2. Use `torch.optim.SGD(model.parameters(), lr=lr)` and `nn.MSELoss()`; `x` and `y` go to `device` too.
    3. Open `SummaryWriter(os.path.join(log_root, f"lr_{lr}"))`: runs lr_0.1, lr_0.01, ... side by side.
    4. For each epoch `e` in `range(epochs)`: compute the loss on all of `x`, log it with
       `add_scalar("Loss/train", loss.item(), e)`, then `zero_grad()`, `backward()`, `step()`.
    5. Close that run's writer.
    """
    raise NotImplementedError
