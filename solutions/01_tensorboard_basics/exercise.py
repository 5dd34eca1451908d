"""Lesson 01: TensorBoard basics. Scalars, steps, runs and flushing.

Each function below is one exercise. Its docstring is a contract: it says what must be on disk
when the function returns (the run folders, the tags, the steps and what they count, the values)
and why that matters. It does not say how to write it: README.md in this folder teaches the API,
with examples on other data. Keep the names and the arguments as they are, and replace
`raise NotImplementedError` with your code.

The autograder opens the event files your code leaves behind with TensorBoard's own reader and
compares them with the contract, exactly. Four commands help, run from the course folder:

    watchtrain check 01      grade this lesson: points, and what was expected versus found
    watchtrain hint 01       one more hint each time you ask: the idea, the API, an example, the code
    watchtrain watch         re-check the lesson every time you save this file (Ctrl-C stops it)
    pytest autograder/test_01_tensorboard_basics.py      the same checks, through pytest
"""
import os

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def log_batch_losses(log_dir, epoch_losses):
    """Draw the loss of every training batch as one unbroken curve.

    Input: `epoch_losses[e][b]` is the loss (a float) of batch `b` in epoch `e`. Every epoch has
    the same number of batches.

    When the function returns, `log_dir` itself (not a folder inside it) holds a closed event file
    with one tag, "Loss/train", and nothing else:

    - one point per batch, written in training order: every batch of the first epoch, then every
      batch of the second, and so on. The value of a point is that batch's loss.
    - the step of a point counts the batches trained before it since training began. The first
      batch of all is at step 0, and the steps go up by one without restarting when a new epoch
      begins: 3 epochs of 5 batches give the steps 0, 1, 2, ..., 14.

    Why it matters: the step is the chart's x axis. Steps that restart with each epoch draw every
    epoch on top of the one before. And points still queued in memory when the program ends never
    reach the disk.
    """
    batches_per_epoch = len(epoch_losses[0])
    with SummaryWriter(log_dir) as writer:
        for epoch, batch_losses in enumerate(epoch_losses):
            for batch_index, loss in enumerate(batch_losses):
                writer.add_scalar("Loss/train", loss, epoch * batches_per_epoch + batch_index)


def log_train_and_test(log_dir, history):
    """Put the train and test loss on one chart, and the two accuracies side by side.

    Input: `history[i]` is a dict of four floats, measured after pass i over the training data.
    Its keys are `<split>_loss` and `<split>_accuracy`, where split is "train" or "test".

    When the function returns, four curves exist. Each has one point per dict of `history`, in
    order, at the steps 0, 1, 2, ... (the dict's index). All files are closed.

    - One chart, "Loss", holds two curves: the train loss and the test loss. TensorBoard stores
      such a chart as one extra run per curve, in sub-folders of `log_dir` named `Loss_train` and
      `Loss_test`, each with the tag "Loss".
    - `log_dir` itself (your own run) holds two charts in one "Accuracy" section: the tags
      "Accuracy/train" and "Accuracy/test", with the accuracies. They are not drawn on one chart.

    Why it matters: over-fitting shows as a test loss that turns up while the train loss keeps
    falling. You see that at a glance only when both curves share one chart.
    """
    with SummaryWriter(log_dir) as writer:
        for epoch, metrics in enumerate(history):
            writer.add_scalars("Loss", {"train": metrics["train_loss"], "test": metrics["test_loss"]}, epoch)
            writer.add_scalar("Accuracy/train", metrics["train_accuracy"], epoch)
            writer.add_scalar("Accuracy/test", metrics["test_accuracy"], epoch)


def compare_learning_rates(log_root, x, y, learning_rates, epochs, device="cpu"):
    """Fit the same straight line once per learning rate, and put the runs side by side.

    Input: `x` and `y` are float tensors of shape (N, 1), the data of a straight-line regression.
    `learning_rates` is a list of floats such as [0.1, 0.01, 0.001]. `epochs` is how many updates
    each run makes, and `device` is where the training happens ("cpu" or "cuda").

    Train one fresh network per rate, on `device` (the network and the data both go there):

    - a linear layer with one input and one output (with a bias), built right after you seed
      PyTorch's global random generator with 0. So every run starts from the same weights;
    - plain stochastic gradient descent at that rate, with no momentum;
    - the loss is the mean squared error over all of `x` at once (one full batch per epoch);
    - in each epoch: compute the loss, log it, then make one update. So the first point is the
      loss of the untrained network.

    When the function returns, each rate has its own run: a folder directly under `log_root`,
    named "lr_" followed by the rate as Python prints it (`lr_0.1`, `lr_0.01`, `lr_0.001`).
    There are no other runs under `log_root`. Each run has the tag "Loss/train" with one point per
    epoch: the epoch's index (0, 1, ..., epochs - 1) as the step, and that epoch's loss, a Python
    float, as the value. Every file is closed.

    Why it matters: TensorBoard draws the curves of runs that share a tag on one chart. The
    comparison is fair only when the runs differ in the learning rate and nothing else.
    """
    x, y = x.to(device), y.to(device)
    loss_fn = nn.MSELoss()
    for lr in learning_rates:
        torch.manual_seed(0)
        model = nn.Linear(1, 1).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        with SummaryWriter(os.path.join(log_root, f"lr_{lr}")) as writer:
            for epoch in range(epochs):
                loss = loss_fn(model(x), y)
                writer.add_scalar("Loss/train", loss.item(), epoch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
