"""Lesson 09: read the dashboard. Instrument a training loop so that problems show, then tell
what went wrong in a run from its curves and histograms.

Each function below is one exercise. Its docstring is a contract: what must be true when it
returns, and why that matters. It does not say how to write it: README.md in this folder teaches
the API and the signals, with examples on other data. Keep the names and the arguments as they
are, and replace `raise NotImplementedError` with your code.

The autograder replays your training loop exactly and compares every logged number with what it
should be. For `diagnose`, it trains fresh runs with seeds it picks while it grades, healthy and
failing, and asks your function what went wrong in each.

    watchtrain check 09      grade this lesson: points, and what was expected versus found
    watchtrain hint 09       one more hint each time you ask: the idea, the API, an example, the code
    watchtrain watch         re-check the lesson every time you save this file (Ctrl-C stops it)
    pytest autograder/test_09_read_the_dashboard.py      the same checks, through pytest
"""
import math
import os
import statistics

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

LABELS = ("healthy", "lr_too_high", "lr_too_low", "overfitting", "vanishing_gradients", "exploding_gradients",
          "dead_relus", "shuffled_labels")


def train_and_instrument(log_dir, model, train_loader, val_loader, criterion, optimizer, epochs=3, lr_decay=0.5,
                         histogram_every=50, device="cpu"):
    """Train `model` and log, in one TensorBoard run, what makes training problems visible.

    Training: `epochs` passes over `train_loader`, on `device` (the model and every batch go
    there). Each mini-batch is one step of `optimizer` on the loss that `criterion` gives for the
    model's outputs and the batch's labels. After each epoch's last mini-batch, the learning rate
    is multiplied by `lr_decay`, by a learning-rate scheduler that you attach to `optimizer`.
    A mini-batch's "step" counts the mini-batches trained before it since training began: the
    first is step 0, and the count never restarts.

    "The layers" below are the parameters whose name, as `model.named_parameters()` gives it,
    ends in "weight" (for example "fc1.weight"). When the function returns, `log_dir` holds in
    closed event files, for every step s:
    - "lr": the learning rate that the step used, as the optimizer itself holds it (its first
      parameter group) at that moment.
    - "grad_norm/total": the L2 norm of all the model's gradients of that step taken together,
      as if every parameter's gradient were one long vector.
    - "grad_norm/<layer>": the L2 norm of that layer's gradient, for every layer.
    - "update_ratio/<layer>": for every layer, how far the step moved it, relative to its size:
      the L2 norm of (the layer after the optimizer's step minus the layer before it), divided
      by the L2 norm of the layer before it.
    - one chart "loss" with two curves, "train" and "val" (TensorBoard keeps them in the runs
      loss_train and loss_val inside `log_dir`, each with the tag "loss"): "train" holds, at
      every step, that mini-batch's loss; "val" holds, after each epoch, at the step of the
      epoch's last mini-batch, the mean loss per picture over all of `val_loader`, computed
      with `criterion` without autograd, after that epoch's training.
    - at the steps 0, `histogram_every`, 2 x `histogram_every`, ...: a histogram
      "weights/<name>" of every parameter's values and "grads/<name>" of its gradient, for every
      parameter (biases too), taken once that step's update is done.

    Return the list of the validation losses you logged, one per epoch, in order.

    Why: the loss says that something is wrong; these say what. A learning rate read from the
    optimizer shows what the scheduler really did, per-layer gradient norms show where the
    signal dies or blows up, and an update ratio far from about 1e-3 shows steps that are too
    big or too small. Two curves on one chart show when validation stops following training.
    """
    raise NotImplementedError


def diagnose(run_dir):
    """Read one training run and say what went wrong in it: return one of `LABELS`.

    `run_dir` holds a run logged as `train_and_instrument` logs its own (the same tags, the runs
    loss_train and loss_val, histograms every few steps), of a fully connected classifier of
    Fashion-MNIST pictures into 10 classes, whose layers are named fc1, fc2, ... from the input.
    It also holds "activations/<layer>" histograms: what each hidden layer outputs (after its
    activation function) for that step's mini-batch. Every histogram has 64 equal buckets
    between its smallest and its largest value. A scalar may be NaN or infinite.

    Read it with TensorBoard's own reader, keeping every event: by default the reader keeps only
    the last histogram of each tag, and samples long scalar series.

    Return exactly one label, the one that explains the run:
    - "healthy": nothing is wrong;
    - "lr_too_high": the steps are so big that training diverges;
    - "lr_too_low": the steps are so small that the network barely changes;
    - "overfitting": the network learns the training pictures by heart and generalises worse;
    - "vanishing_gradients": the gradients die out before they reach the first layers;
    - "exploding_gradients": the gradients are enormous from the very start;
    - "dead_relus": a ReLU layer's units output 0 for every input, so they stop learning;
    - "shuffled_labels": a data-pipeline bug separated the labels from their pictures, so there
      is nothing to learn.

    Why: a dashboard is only useful to someone who can read it. Each of these failures leaves
    its own mark on the curves and histograms, often long before the final accuracy says
    anything, and often where the loss curve alone looks unremarkable.
    """
    raise NotImplementedError
