"""Lesson 07: Visdom. Live plots, images and text, sent to a server while the model trains.

Fill in each function below. Its docstring says exactly what to send. Every function except
`connect` receives `viz`, a `visdom.Visdom` client already connected to a running server, whose
default env is `viz.env`: every call goes to that env unless you pass `env=...`. The autograder
reads your windows back from the server and checks their types, titles, points, legends, images
and text. Check your work with:

    pytest autograder/test_07_visdom.py
"""
import numpy as np
import torch
from torch import nn
from visdom import Visdom

from watchtrain.data import CLASS_NAMES


def connect(port, env):
    """Return a Visdom client for the server on this machine at `port`, with `env` as its default env.

    1. `Visdom(server="http://127.0.0.1", port=port, env=env, use_incoming_socket=False,
       raise_exceptions=True)`: the server runs on this machine (127.0.0.1); a script that only
       sends plots needs no websocket back-channel (`use_incoming_socket=False`); and connection
       errors are raised instead of printed (`raise_exceptions=True`).
    2. `viz.check_connection()` says whether a server answers. When none does, raise
       `ConnectionError` with a message that names the port and says how to start one
       (`watchtrain visdom`). (With `raise_exceptions=True`, `Visdom(...)` itself may already
       raise ConnectionError when nothing listens; let that one through.)
    3. Return the client.
    """
    raise NotImplementedError


def show_samples(viz, images, labels):
    """Show a batch of Fashion-MNIST images in three windows: a text, one image and a grid.

    `images` is a float tensor (N, 1, 28, 28) made by the tutorial's `normalize_transform()`, so
    its pixels lie in [-1, 1]; `labels` is an integer tensor (N,). Visdom reads float pixels as
    [0, 1], so first undo the normalisation: `pixels = images * 0.5 + 0.5`.

    1. `viz.text(names, opts=dict(title="labels"))`, where `names` is the class name of every
       label, in order, joined by ", " (`CLASS_NAMES[label]`), e.g. "Ankle boot, T-shirt/top, Dress".
    2. `viz.image(pixels[0], opts=dict(title="first image", caption=<the class name of labels[0]>))`.
    3. `viz.images(pixels, nrow=4, opts=dict(title="batch"))`: all N images in one grid, 4 per
       row (Visdom's default padding, 2 pixels, stays).
    """
    raise NotImplementedError


def plot_live_loss(viz, losses):
    """Draw `losses` (a list of floats, one per training step) as one line that grows point by point.

    1. Open the window with the first point and keep its id (`viz.line` returns it):
       `win = viz.line(X=[0], Y=[losses[0]], opts=dict(title="live loss", xlabel="step", ylabel="loss"))`.
    2. For every later step `i` (1, 2, ...), one call per point, as a training loop would make it:
       `viz.line(X=[i], Y=[losses[i]], win=win, update="append")`.
    3. Return `win`.
    """
    raise NotImplementedError


def plot_learning_curves(viz, curves):
    """Draw several curves on one chart, with a legend that names them.

    `curves` maps a name to its values, one per epoch, e.g. {"train": ..., "test": ...}: NumPy
    float32 arrays of the same length n, as metrics often are.

    Make ONE `viz.line` call and return the window id it returns:
    - `Y`: the curves as columns, in the dict's order: `np.column_stack(list(curves.values()))`;
    - `X`: the epochs 1, 2, ..., n: `np.arange(1, n + 1)`;
    - `opts=dict(title="learning curves", legend=list(curves), xlabel="epoch", ytickmin=0.0,
      ytickmax=top)`, where `top` is the largest value of all the curves as a Python float
      (`float(...)`): opts travel to the server as JSON, which has no NumPy float32.
    """
    raise NotImplementedError


def monitor_training(viz, images, labels, epochs, batch_size, device="cpu"):
    """Train a small classifier and watch it live: the loss of every step, the accuracy of every epoch.

    `images` is a float tensor (N, 1, 28, 28), `labels` an integer tensor (N,); N is a multiple
    of `batch_size`, so every epoch has `batches = N // batch_size` steps.

    1. `torch.manual_seed(0)`, then `model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))`
       moved to `device`, `torch.optim.SGD(model.parameters(), lr=0.1)` and `nn.CrossEntropyLoss()`.
       Move `images` and `labels` to `device` too.
    2. For each epoch `e` in `range(epochs)` and each batch `b` in `range(batches)`, in order
       (`images[b * batch_size:(b + 1) * batch_size]`, no shuffling): compute the loss, then
       `zero_grad()`, `backward()`, `step()`, and add the point (x = `e * batches + b`,
       y = `loss.item()`) to the window titled "loss". The steps run 0, 1, 2, ... across
       epochs: they never start again at 0.
    3. After each epoch, compute the accuracy on all of `images` under `torch.no_grad()` (the
       share of `model(images).argmax(dim=1)` equal to `labels`, a float in [0, 1]) and add the
       point (x = `e + 1`, y = accuracy) to the window titled "accuracy".
    4. A window's first point opens it: `win = viz.line(X=[x], Y=[y], opts=dict(title=...))`;
       every later point goes to it with `viz.line(X=[x], Y=[y], win=win, update="append")`.
    5. At the end, `viz.save([viz.env])`: the server writes the env to `<its env_path>/<env>.json`,
       where it stays after the server stops.
    """
    raise NotImplementedError
