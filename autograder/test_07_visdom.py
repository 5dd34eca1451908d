"""Lesson 07 autograder: the windows your code sent, read back from a real Visdom server.

One server runs for the whole session (bound to 127.0.0.1, on a free port); every test sends to
an env of its own (`visdom_env`) through a client connected to it (`viz`), see
watchtrain.grading.visdom_fixtures.
"""
import functools
import math
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from torch import nn

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.visdom import read_env, read_env_file
from watchtrain.data import CLASS_NAMES, fashion_mnist, normalize_transform
from watchtrain.grading.crashes import call_with_advice
from watchtrain.grading import Described, exercise, expect, expect_close, expect_equal, fail
from watchtrain.grading.submission import LearnerCrash
from watchtrain.servers.ports import free_port

# show_samples: 10 images, 4 per row -> a grid of 3 rows; Visdom pads each image by 2 pixels.
SAMPLES, PER_ROW, PADDING, SIDE = 10, 4, 2, 28
# plot_live_loss: every value different, so that order and replace mistakes show.
LOSSES = [round(2.3 * 0.8 ** step + 0.03 * (step % 3), 5) for step in range(12)]
# plot_learning_curves: float32 arrays, as metrics often are; the largest value is in "test".
CURVES = {
    "train": np.array([0.92, 0.71, 0.55, 0.47, 0.41, 0.37], dtype=np.float32),
    "validation": np.array([0.95, 0.78, 0.66, 0.61, 0.60, 0.62], dtype=np.float32),
    "test": np.array([0.97, 0.80, 0.69, 0.63, 0.61, 0.63], dtype=np.float32),
}
# monitor_training: 64 images, 4 batches of 16, 3 epochs -> 12 loss points and 3 accuracy points.
TRAIN_IMAGES, BATCH_SIZE, EPOCHS = 64, 16, 3
BATCHES = TRAIN_IMAGES // BATCH_SIZE

# Crashes inside Visdom that have a known cause: a clue in the message -> the advice.
VISDOM_CRASHES = {
    "Must define a window to update": "update='append' needs win=<the id of the window to grow>: keep the id that "
                                      "the first viz.line call returns and pass win=win with every later point.",
    "is not JSON serializable": "Visdom sends opts to the server as JSON, which knows no NumPy scalar (np.float32, "
                                "np.int64) and no tensor: convert numbers in opts with float(...) or int(...).",
    "envs should be a list": "viz.save takes a list of env names: viz.save([viz.env]).",
}


@functools.lru_cache(maxsize=None)
def _fashion_batch():
    dataset = fashion_mnist(train=False, transform=normalize_transform())
    pairs = [dataset[i] for i in range(TRAIN_IMAGES)]
    return torch.stack([image for image, _ in pairs]), torch.tensor([label for _, label in pairs])


@pytest.fixture
def fashion_batch():
    """The first test images (normalised to [-1, 1]) and their labels; copies, so the learner may change them."""
    images, labels = _fashion_batch()
    return images.clone(), labels.clone()


def _call(function, *args):
    """Call the learner's function; a crash with a known Visdom cause fails with its advice."""
    return call_with_advice(function, *args, crashes=VISDOM_CRASHES)


def _windows(server, env):
    try:
        windows = read_env(server.client(), env)
    except ArtifactError as error:
        fail("Reading your windows back from the Visdom server failed.", advice=str(error))
    expect(bool(windows), f"Your env {env!r} on the Visdom server holds no window at all.",
           advice="Send to the client's default env (viz.env): leave env= out of your calls.")
    return windows


def _titled(windows, title, kind):
    """The one window titled `title`; fails with what is there instead."""
    matching = [w for w in windows if w.title == title]
    found = [f"{w.type} {w.title!r}" for w in windows]
    if not matching:
        same_kind = [w for w in windows if w.type == kind]
        advice = f"Give the window its title with opts=dict(title={title!r})."
        if len(same_kind) == 1 and same_kind[0].title:
            advice = f"The {kind} window is titled {same_kind[0].title!r}: titles are matched exactly. " + advice
        fail(f"No window titled {title!r} in your env.", expected=f"a {kind} window titled {title!r}",
             found=found, advice=advice)
    if len(matching) > 1:
        fail(f"{len(matching)} windows are titled {title!r}; one was expected.", expected=1, found=found,
             advice="Every viz.line call without win= opens a new window. Open the window once, keep the id it "
                    "returns, and send later points with win=win, update='append'.")
    window = matching[0]
    expect_equal(window.type, kind, f"The type of the window titled {title!r}")
    return window


def _one_line(window):
    expect_equal(len(window.traces), 1, f"The number of lines in the window {window.title!r}")
    return window.traces[0]


def _points_advice(xs, ys, expected_y):
    if len(xs) == 1 and expected_y and math.isclose(ys[0], expected_y[-1], rel_tol=1e-5):
        return ("Only the last point is left: update='replace' swaps the window's data for the new point "
                "every time. Use update='append'.")
    return None


# connect

@exercise("connect")
def test_connect_returns_a_client_of_the_local_server(lesson, visdom_server, visdom_env):
    from visdom import Visdom

    client = lesson.connect(visdom_server.port, visdom_env)
    expect(isinstance(client, Described) and client.kind == "visdom", "connect() must return the visdom.Visdom client.",
           expected="a visdom.Visdom", found=client.type_name if isinstance(client, Described) else type(client).__name__)
    expect(urlparse(client.server).hostname in ("127.0.0.1", "localhost"), "The client must talk to this machine.",
           expected="http://127.0.0.1", found=client.server)
    expect_equal(client.port, visdom_server.port, "The client's port")
    expect_equal(client.env, visdom_env, "The client's default env",
                 advice="Pass env=env to Visdom(...): every call without env= then goes there.")
    expect(client.raise_exceptions is True, "The client must raise connection errors, not just print them.",
           expected=True, found=client.raise_exceptions, advice="Pass raise_exceptions=True to Visdom(...).")
    expect(not client.use_socket, "The client opened a websocket back-channel, which a script that only sends "
           "plots does not need.", expected=False, found=client.use_socket,
           advice="Pass use_incoming_socket=False to Visdom(...).")
    # The client, as the learner's settings make it, sends one window from the checker's side.
    Visdom(server=client.server, port=client.port, env=client.env, raise_exceptions=True,
           use_incoming_socket=False).text("connected", opts=dict(title="connect check"))
    _titled(_windows(visdom_server, visdom_env), "connect check", "text")


@exercise("connect")
def test_connect_raises_when_no_server_answers(lesson, visdom_env):
    port = free_port()
    try:
        client = lesson.connect(port, visdom_env)
    except LearnerCrash as crash:
        expect(crash.raised("ConnectionError"), "With no server on the port, connect() must raise ConnectionError.",
               expected="ConnectionError", found=str(crash).splitlines()[0])
        return
    fail(f"connect() returned a client although no server listens on port {port}.",
         expected="ConnectionError", found=client.type_name if isinstance(client, Described) else type(client).__name__,
         advice="Check viz.check_connection() and raise ConnectionError when it is False: otherwise every plot "
                "of a long training run is silently lost.")


# show_samples

def _show_samples(lesson, viz, visdom_server, visdom_env, fashion_batch):
    images, labels = _fashion_batch()
    _call(lesson.show_samples, viz, *(tensor[:SAMPLES].clone() for tensor in fashion_batch))
    return _windows(visdom_server, visdom_env), images[:SAMPLES], labels[:SAMPLES]


def _expected_pixels(image: torch.Tensor) -> np.ndarray:
    """What Visdom stores for a [0, 1] float image: its 8-bit gray levels."""
    return np.uint8((image * 0.5 + 0.5).squeeze(0).numpy() * 255.0)


def _gray_levels_differ(found: np.ndarray, expected: np.ndarray) -> bool:
    # One gray level of slack: (x + 1) / 2 and x * 0.5 + 0.5 may round differently.
    return found.shape != expected.shape or int(np.abs(found.astype(int) - expected.astype(int)).max()) > 1


_UNNORMALISE = ("The pixels differ from the images': undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5 "
                "before sending, so that they lie in [0, 1] as Visdom expects.")


@exercise("show_samples")
def test_show_samples_text_names_the_labels(lesson, viz, visdom_server, visdom_env, fashion_batch):
    windows, _, labels = _show_samples(lesson, viz, visdom_server, visdom_env, fashion_batch)
    text = _titled(windows, "labels", "text").text
    expected = ", ".join(CLASS_NAMES[int(label)] for label in labels)
    advice = None
    if text.replace(" ", "") == ",".join(str(int(label)) for label in labels):
        advice = "These are the label numbers: write their class names, CLASS_NAMES[label]."
    expect_equal(text, expected, "The text of the 'labels' window", advice=advice)


@exercise("show_samples")
def test_show_samples_first_image(lesson, viz, visdom_server, visdom_env, fashion_batch):
    windows, images, labels = _show_samples(lesson, viz, visdom_server, visdom_env, fashion_batch)
    window = _titled(windows, "first image", "image")
    expect_equal(window.image_size, (SIDE, SIDE), "The size (width, height) of the 'first image' picture",
                 advice="Send one image, pixels[0], with viz.image.")
    expect_equal(window.caption, CLASS_NAMES[int(labels[0])], "The caption of the 'first image' window")
    if _gray_levels_differ(window.pixels[:, :, 0], _expected_pixels(images[0])):
        fail("The 'first image' window does not show the first image.", advice=_UNNORMALISE)


@exercise("show_samples")
def test_show_samples_grid_of_all_images(lesson, viz, visdom_server, visdom_env, fashion_batch):
    windows, images, _ = _show_samples(lesson, viz, visdom_server, visdom_env, fashion_batch)
    window = _titled(windows, "batch", "image")
    cell = SIDE + 2 * PADDING
    expected = (PER_ROW * cell, math.ceil(SAMPLES / PER_ROW) * cell)
    advice = None
    if window.image_size == (SIDE, SIDE):
        advice = "That is one image: viz.images(pixels, nrow=4) lays out the whole batch."
    elif window.image_size == (min(SAMPLES, 8) * cell, math.ceil(SAMPLES / 8) * cell):
        advice = "That is Visdom's default of 8 images per row: pass nrow=4."
    expect_equal(window.image_size, expected, f"The size (width, height) of the grid of {SAMPLES} images, "
                 f"{PER_ROW} per row", advice=advice)
    first = _expected_pixels(images[0])
    # Visdom places the first image `padding` (or, in 0.2.4, padding + 1) pixels from the corner.
    placed = any(not _gray_levels_differ(window.pixels[o:o + SIDE, o:o + SIDE, 0], first)
                 for o in (PADDING, PADDING + 1))
    expect(placed, "The grid's first cell does not show the first image.", advice=_UNNORMALISE)


# plot_live_loss

def _live_loss(lesson, viz, visdom_server, visdom_env):
    win = _call(lesson.plot_live_loss, viz, list(LOSSES))
    windows = _windows(visdom_server, visdom_env)
    plots = [w for w in windows if w.type == "plot"]
    advice = None
    if len(plots) > 1:
        advice = (f"Every viz.line call without win= opens a new window ({len(plots)} here). Keep the id the "
                  f"first call returns and send every later point with win=win, update='append'.")
    expect_equal(len(plots), 1, "The number of plot windows in your env", advice=advice)
    return win, plots[0]


@exercise("plot_live_loss")
def test_plot_live_loss_uses_one_window(lesson, viz, visdom_server, visdom_env):
    win, window = _live_loss(lesson, viz, visdom_server, visdom_env)
    expect_equal(window.title, "live loss", "The title of the window")
    expect_equal(win, window.id, "The window id plot_live_loss returned",
                 advice="Return win, the id that the first viz.line call returned.")


@exercise("plot_live_loss")
def test_plot_live_loss_appends_every_point_in_order(lesson, viz, visdom_server, visdom_env):
    _, window = _live_loss(lesson, viz, visdom_server, visdom_env)
    line = _one_line(window)
    expect_equal(len(line.x), len(LOSSES), "The number of points on the line",
                 advice=_points_advice(line.x, line.y, LOSSES))
    expect_close(line.x, list(range(len(LOSSES))), "The x values (steps 0, 1, 2, ...), in the order appended",
                 tol=0)
    expect_close(line.y, LOSSES, "The y values (the losses), in the order appended", tol=1e-9)


# plot_learning_curves

def _learning_curves(lesson, viz, visdom_server, visdom_env):
    _call(lesson.plot_learning_curves, viz, {name: values.copy() for name, values in CURVES.items()})
    windows = _windows(visdom_server, visdom_env)
    window = _titled(windows, "learning curves", "plot")
    expect_equal(len(window.traces), len(CURVES), "The number of lines in the 'learning curves' window",
                 advice="Pass all curves to one viz.line call, as the columns of Y.")
    return window


@exercise("plot_learning_curves")
def test_plot_learning_curves_lines(lesson, viz, visdom_server, visdom_env):
    window = _learning_curves(lesson, viz, visdom_server, visdom_env)
    epochs = list(range(1, len(CURVES["train"]) + 1))
    for (name, values), line in zip(CURVES.items(), window.traces):
        advice = "Epochs count from 1: X = np.arange(1, n + 1)." if line.x == [e - 1 for e in epochs] else None
        expect_close(line.x, epochs, f"The x values of the {name!r} line (the epochs)", tol=0, advice=advice)
        expect_close(line.y, [float(v) for v in values], f"The y values of the {name!r} line", tol=1e-6,
                     advice="Stack the curves as columns in the dict's order: np.column_stack(list(curves.values())).")


@exercise("plot_learning_curves")
def test_plot_learning_curves_legend(lesson, viz, visdom_server, visdom_env):
    window = _learning_curves(lesson, viz, visdom_server, visdom_env)
    names = [line.name for line in window.traces]
    advice = None
    if not window.show_legend:
        advice = (f"There is no legend: without opts legend=..., Visdom names the lines {', '.join(names)} and "
                  f"hides the legend. Pass legend=list(curves).")
    expect_equal(window.legend, list(CURVES), "The names in the legend, line by line", advice=advice)


@exercise("plot_learning_curves")
def test_plot_learning_curves_y_axis(lesson, viz, visdom_server, visdom_env):
    window = _learning_curves(lesson, viz, visdom_server, visdom_env)
    top = float(max(values.max() for values in CURVES.values()))
    y_range = (window.layout.get("yaxis") or {}).get("range")
    expect(y_range is not None, "The y axis has no fixed range.", expected=[0.0, top], found=y_range,
           advice="Set both ytickmin=0.0 and ytickmax=top in opts.")
    expect_close(y_range, [0.0, top], "The y axis range [ytickmin, ytickmax]", tol=1e-6)


# monitor_training

@functools.lru_cache(maxsize=None)
def _reference_run(device):
    """The run the docstring describes, recomputed once per device: (loss per step, accuracy per epoch)."""
    images, labels = _fashion_batch()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = images.to(device), labels.to(device)
    losses, accuracies = [], []
    for _ in range(EPOCHS):
        for batch in range(BATCHES):
            window = slice(batch * BATCH_SIZE, (batch + 1) * BATCH_SIZE)
            loss = nn.functional.cross_entropy(model(images[window]), labels[window])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            accuracies.append((model(images).argmax(dim=1) == labels).float().mean().item())
    return losses, accuracies


def _monitor(lesson, viz, visdom_server, visdom_env, fashion_batch, device):
    images, labels = fashion_batch
    _call(lesson.monitor_training, viz, images, labels, EPOCHS, BATCH_SIZE, device)
    return _windows(visdom_server, visdom_env), _reference_run(device)


def _step_advice(xs):
    if xs == [float(b) for _ in range(EPOCHS) for b in range(BATCHES)]:
        return ("The steps start again at 0 every epoch, so each epoch is drawn over the previous one: "
                "use x = epoch * batches + batch.")
    if xs == [float(e) for e in range(EPOCHS) for _ in range(BATCHES)]:
        return "You used the epoch as x, so all steps of an epoch share one x: use x = epoch * batches + batch."
    if xs == [float(s) for s in range(1, EPOCHS * BATCHES + 1)]:
        return "The steps start at 1: count from 0."
    return None


@exercise("monitor_training")
def test_monitor_training_loss_per_step(lesson, viz, visdom_server, visdom_env, fashion_batch, device):
    windows, (losses, _) = _monitor(lesson, viz, visdom_server, visdom_env, fashion_batch, device)
    line = _one_line(_titled(windows, "loss", "plot"))
    expect_equal(len(line.x), len(losses), f"The number of points in the 'loss' window ({EPOCHS} epochs of "
                 f"{BATCHES} steps)", advice=_points_advice(line.x, line.y, losses))
    expect_equal(line.x, [float(step) for step in range(len(losses))], "The x values (steps) of the 'loss' window",
                 advice=_step_advice(line.x))
    expect_close(line.y, losses, "The losses, step by step", tol=1e-5,
                 advice="Follow the docstring exactly: torch.manual_seed(0) right before building the model, "
                        "SGD with lr=0.1, batches in order, and the loss of each batch before its step().")


@exercise("monitor_training")
def test_monitor_training_accuracy_per_epoch(lesson, viz, visdom_server, visdom_env, fashion_batch, device):
    windows, (_, accuracies) = _monitor(lesson, viz, visdom_server, visdom_env, fashion_batch, device)
    line = _one_line(_titled(windows, "accuracy", "plot"))
    expect_equal(len(line.x), EPOCHS, "The number of points in the 'accuracy' window (one per epoch)",
                 advice=_points_advice(line.x, line.y, accuracies))
    advice = "Epochs count from 1 here: x = epoch + 1." if line.x == [float(e) for e in range(EPOCHS)] else None
    expect_equal(line.x, [float(e) for e in range(1, EPOCHS + 1)], "The x values (epochs) of the 'accuracy' window",
                 advice=advice)
    expect_close(line.y, accuracies, "The accuracy after each epoch", tol=1e-6,
                 advice="Measure on all of `images` after the epoch's last step, as a share in [0, 1].")


@exercise("monitor_training")
def test_monitor_training_saves_the_env(lesson, viz, visdom_server, visdom_env, fashion_batch, device):
    windows, _ = _monitor(lesson, viz, visdom_server, visdom_env, fashion_batch, device)
    path = visdom_server.env_file(visdom_env)
    try:
        saved = read_env_file(path)
    except ArtifactError:
        fail("Your env was never saved: the server holds it in memory only, and it is lost when the server stops.",
             expected=f"{path.name} in the server's env folder", found="no such file",
             advice="Call viz.save([viz.env]) at the end: the server writes <env>.json into its env folder then.")
    expect_equal([(w.type, w.title, w.traces) for w in saved], [(w.type, w.title, w.traces) for w in windows],
                 "The saved env's windows, compared with the server's",
                 advice="Save after the last point: viz.save([viz.env]) as the very last call.")
