"""Lesson 07: Visdom. Live plots, images and text, sent to a server while the model trains.

Each function below states a contract: which windows must be on the Visdom server when it
returns (their type, title, points, legend, picture or text) and why that matters. It does not
say how to send them: README.md teaches that, with examples on other data.

Every function except `connect` receives `viz`, a `visdom.Visdom` client that is already
connected to a running server. Its default env, `viz.env`, belongs to the test alone: send
everything there, so leave `env=` out of your calls. The autograder reads your windows back from
the server. Keep each function's name and arguments, and replace `raise NotImplementedError`
with your code.

    watchtrain check 07                   grade this lesson: points, and what was expected and found
    watchtrain hint 07                    one more hint each time: the idea, the API, an example, the code
    watchtrain watch                      check again every time you save this file
    pytest autograder/test_07_visdom.py   the same checks, with pytest's full output
"""
import numpy as np
import torch
from torch import nn
from visdom import Visdom

from watchtrain.data import CLASS_NAMES


def connect(port, env):
    """Give back a client for the Visdom server on this machine, or fail loudly when none answers.

    When it returns:
    - the result is a `visdom.Visdom` client of the server at 127.0.0.1 (this machine), on `port`;
    - its default env is `env`, so every call that names no env goes there;
    - it raises an error when a request fails, instead of printing a traceback and going on;
    - it opens no incoming websocket: a script that only sends plots does not need one.

    When no Visdom server answers on `port` (nothing listens there, or a program that is not
    Visdom does), `connect` raises `ConnectionError`, and a `ConnectionError` your own code raises
    names the port and says how to start a server: `watchtrain visdom`. If creating the client
    already raises a `ConnectionError`, let that one through.

    Why: with Visdom's defaults, a training run whose server is down prints an error and goes
    on, and you find out an hour later that nothing was plotted.
    """
    viz = Visdom(server="http://127.0.0.1", port=port, env=env, use_incoming_socket=False, raise_exceptions=True)
    if not viz.check_connection():
        raise ConnectionError(f"no Visdom server answers on port {port}; start one with `watchtrain visdom`")
    return viz


def show_samples(viz, images, labels):
    """Show a batch of Fashion-MNIST images in three windows: one of text and two pictures.

    `images` is a float tensor of shape (N, 1, 28, 28), made by the tutorial's
    `normalize_transform()`, so its values lie in [-1, 1]. `labels` is an integer tensor (N,).

    When it returns, the env holds these three windows:
    1. A text window titled "labels". Its text is the class name of each entry of `labels`, in
       order, separated by a comma and a space, for example "Ankle boot, T-shirt/top, Dress".
       Each class name comes from the course's list, imported at the top of this file.
    2. An image window titled "first image": the first image of the batch, 28 x 28, with the
       class name of the first entry of `labels` as its caption.
    3. An image window titled "batch": all N images in one grid, four per row, with Visdom's
       usual 2-pixel padding around each. For N = 10 that is a picture of 3 rows, 128 wide and
       96 high, and its first cell shows the first image.

    In both pictures, each gray level must match the original image: Visdom reads float values
    as [0, 1], so they must lie in [0, 1] when you send them. (The grader allows one gray level
    of rounding.)

    Why: a look at the data before training catches wrong labels and broken preprocessing. Sent
    with values in [-1, 1], half of every picture is below 0, and you see noise, not clothes.
    """
    pixels = images * 0.5 + 0.5
    names = [CLASS_NAMES[int(label)] for label in labels]
    viz.text(", ".join(names), opts=dict(title="labels"))
    viz.image(pixels[0], opts=dict(title="first image", caption=names[0]))
    viz.images(pixels, nrow=4, opts=dict(title="batch"))


def plot_live_loss(viz, losses):
    """Draw `losses` as one curve that grows point by point, the way a training loop sends it.

    `losses` is a list of floats: the loss of training steps 0, 1, 2, ... in order.

    When it returns:
    - the env holds exactly one plot window, titled "live loss", with "step" on its x axis and
      "loss" on its y axis;
    - that window holds one curve with a point per loss: x is the step number (0, 1, 2, ...),
      y is that step's loss, in that order;
    - the points were sent one request at a time, each new point added to the end of the same
      curve (as a training loop does it: it knows only the latest loss);
    - the function gives back the id of that window (a string), which the first request returned.

    Why: a live curve shows a diverging or stalled run after a few steps, not at the end. One
    window per point, or a curve that keeps only its latest point, shows nothing.
    """
    win = viz.line(X=[0], Y=[losses[0]], opts=dict(title="live loss", xlabel="step", ylabel="loss"))
    for step in range(1, len(losses)):
        viz.line(X=[step], Y=[losses[step]], win=win, update="append")
    return win


def plot_learning_curves(viz, curves):
    """Draw several curves on one chart, with a legend that says which is which.

    `curves` is a dict: each key labels a curve, and its value holds the curve's values, one
    per epoch, for example {"train": ..., "test": ...}. The values are NumPy float32 arrays, all of the same length n,
    as metrics often are.

    When it returns:
    - the env holds one plot window titled "learning curves", with "epoch" on its x axis;
    - it holds one curve per entry of `curves`, in the dict's order. The x values of each are the
      epochs 1, 2, ..., n (counting from 1), and its y values are that entry's values;
    - the legend shows the dict's keys, in the same order;
    - the y axis is fixed: it runs from 0 up to the largest value found in any of the curves;
    - all of this was sent in a single request, and the function gives back the window's id.

    Careful: the window's options travel to the server as JSON, and JSON knows Python's float but
    not NumPy's float32. A number taken from these arrays must become a plain Python number
    before it goes into the options.

    Why: train and test loss on one chart, with a legend, show overfitting at a glance. Two
    windows, or curves named "1" and "2", do not.
    """
    names = list(curves)
    y = np.column_stack([curves[name] for name in names])
    top = float(y.max())
    return viz.line(Y=y, X=np.arange(1, len(y) + 1),
                    opts=dict(title="learning curves", legend=names, xlabel="epoch", ytickmin=0.0, ytickmax=top))


def monitor_training(viz, images, labels, epochs, batch_size, device="cpu"):
    """Train a small classifier and watch it live: the loss of every step, the accuracy of every epoch.

    `images` is a float tensor (N, 1, 28, 28) and `labels` an integer tensor (N,). N is a multiple
    of `batch_size`, so each epoch has N / batch_size steps. `device` is "cpu" or "cuda".

    The training (the grader recomputes it and compares every number):
    - seed PyTorch's random generator with 0, then build the model: a flatten layer followed by
      one linear layer from 28 * 28 inputs to 10 outputs. The model and the data live on `device`;
    - plain SGD with learning rate 0.1 on the average cross-entropy loss;
    - `epochs` epochs. Each epoch takes the batches of `batch_size` images in their order in
      `images` (the first `batch_size` images, then the next, ...), without shuffling;
    - for each batch: compute its loss, then clear the old gradients, backpropagate, and update.

    When it returns, the env holds two plot windows:
    - "loss": one curve with a point per training step. x counts the mini-batches since training
      began (0, 1, 2, ...; epoch 2 goes on where epoch 1 ended, it never starts again at 0), and
      y is that batch's loss as a float, computed before its update;
    - "accuracy": one curve with a point per epoch. x is the epoch number, counting from 1, and y
      is the share of all N images that the model classifies correctly after the epoch's last
      update (the class with the highest score equals the label), a float in [0, 1]. Measure it
      without tracking gradients;
    - each window was opened by its first point, and every later point was added to its end, one
      request per point, as the training produced it.

    Last of all, the env is saved on the server: the server's env folder then holds
    `<env>.json`, with exactly the windows above, which stays after the server stops. The
    function gives back nothing.

    Why: this is the whole pattern of a monitored run. You see the loss fall while the model
    trains, and the saved env keeps the run when the server is gone.
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    images, labels = images.to(device), labels.to(device)
    batches = len(images) // batch_size
    loss_win = accuracy_win = None
    for epoch in range(epochs):
        for batch in range(batches):
            window = slice(batch * batch_size, (batch + 1) * batch_size)
            loss = loss_fn(model(images[window]), labels[window])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step = epoch * batches + batch
            if loss_win is None:
                loss_win = viz.line(X=[step], Y=[loss.item()], opts=dict(title="loss", xlabel="step"))
            else:
                viz.line(X=[step], Y=[loss.item()], win=loss_win, update="append")
        with torch.no_grad():
            accuracy = (model(images).argmax(dim=1) == labels).float().mean().item()
        if accuracy_win is None:
            accuracy_win = viz.line(X=[epoch + 1], Y=[accuracy], opts=dict(title="accuracy", xlabel="epoch"))
        else:
            viz.line(X=[epoch + 1], Y=[accuracy], win=accuracy_win, update="append")
    viz.save([viz.env])
