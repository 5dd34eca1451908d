"""Lesson 07 autograder: the windows your code sent, read back from a real Visdom server.

One server runs for the whole session (bound to 127.0.0.1, on a free port): a fixture of the
plugins that autograder/conftest.py loads. The checks of one exercise read one call of the
learner's function (run_once), sent to an env of that call's own; connect's checks each make their
own, to their own env (`visdom_env`).
"""
import functools
import json
import math
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from torch import nn

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.visdom import read_env, read_env_file
from watchtrain.data import CLASS_NAMES, first_images
from watchtrain.grading import (FLOAT32_TOL, Described, GradingFailure, LearnerCrash, StepMistake, exercise, expect,
                                expect_close, expect_equal, fail, run_once, step_mistake)
from watchtrain.servers.ports import free_port

# show_samples: 10 images, 4 per row -> a grid of 3 rows; Visdom pads each image by 2 pixels.
SAMPLES, PER_ROW, PADDING, SIDE = 10, 4, 2, 28
# plot_live_loss: every value different, so that order and replace mistakes show.
LOSSES = [round(2.3 * 0.8 ** step + 0.03 * (step % 3), 5) for step in range(12)]
# plot_learning_curves: float32 arrays, as metrics often are. The largest value of all is in the
# middle curve, at neither the first epoch nor the last, so that a top taken from one curve, from
# the first or last curve, or from the first or last epoch is another number.
CURVES = {
    "train": np.array([0.92, 0.94, 0.55, 0.47, 0.41, 0.37], dtype=np.float32),
    "validation": np.array([0.90, 0.78, 0.66, 0.81, 1.04, 0.99], dtype=np.float32),
    "test": np.array([0.89, 0.80, 0.69, 0.63, 0.61, 0.96], dtype=np.float32),
}
# monitor_training: 64 images, 4 batches of 16, 3 epochs -> 12 loss points and 3 accuracy points.
TRAIN_IMAGES, BATCH_SIZE, EPOCHS = 64, 16, 3
BATCHES = TRAIN_IMAGES // BATCH_SIZE

# Crashes inside Visdom that have a known cause: a clue in the message -> the advice (the lesson fixture).
CRASH_ADVICE = {
    "Must define a window to update": "update='append' needs win=<the id of the window to grow>: keep the id that "
                                      "the first viz.line call returns and pass win=win with every later point.",
    "largest label should not be greater than size of the legends table": (
        "Visdom checks that opts legend is a list or a tuple with a name for every line: dict.keys(), a NumPy array "
        "or a string fails that check, and so does a list with fewer names than the lines. Pass legend=list(curves)."),
    "is not JSON serializable": "Visdom sends opts to the server as JSON, which knows no NumPy scalar (np.float32, "
                                "np.int64) and no tensor: convert numbers in opts with float(...) or int(...).",
    "envs should be a list": "viz.save takes a list of env names: viz.save([viz.env]).",
    "save() missing 1 required positional argument": "viz.save takes the list of envs to save: viz.save([viz.env]).",
}
# The keys Visdom gives a window when a request opens it; a later request that updates the window
# (update='append', say) also copies its opts there, so any other key shows the window was grown.
OPENING_KEYS = {"command", "id", "title", "inflate", "width", "height", "contentID", "content", "type", "i"}


@functools.lru_cache(maxsize=None)
def _fashion_batch():
    return first_images(False, TRAIN_IMAGES)


def _outcome(function, *args) -> tuple[LearnerCrash | GradingFailure | None, object]:
    """Call the learner's function: (its crash, kept for the window checks to weigh, or None; what it returned)."""
    try:
        return None, function(*args)
    except (LearnerCrash, GradingFailure) as crash:
        return crash, None


def _crash_of(function, *args) -> LearnerCrash | GradingFailure | None:
    return _outcome(function, *args)[0]


def _shared_run(lesson, visdom_server, function: str, send, *key):
    """One call of the learner's `function` for all the checks of its exercise: `send(viz, env)` makes
    it, with a client whose default env is the call's own, and returns what the checks read.
    (env, what send returned); what send raised is raised again for each check (run_once)."""
    env = "_".join((function, *map(str, key)))
    return run_once((getattr(lesson, function).key, *key),
                    lambda: (env, send(visdom_server.client(env=env), env)))


@contextmanager
def _judged_despite(crash):
    """Judge a window the learner's function drew before it crashed. When the window passes, the crash
    is another clause's business (a slip in viz.save costs the save check, not the windows drawn
    before it); when it fails or is missing, the crash is the cause to report."""
    try:
        yield
    except GradingFailure:
        if crash is not None:
            raise crash from None
        raise


def _windows(server, env):
    try:
        windows = read_env(server.client(), env)
    except ArtifactError as error:
        fail("Reading your windows back from the Visdom server failed.", advice=str(error))
    if not windows:
        elsewhere = read_env(server.client(), "main") if env != "main" else []
        advice = "`watchtrain hint 07` shows how a window is sent."
        if elsewhere:
            advice = (f"The env 'main' holds windows ({', '.join(repr(w.title) for w in elsewhere[:4])}): send to "
                      f"the client's default env, viz.env, by leaving env= out of your calls.")
        fail(f"Your env {env!r} on the Visdom server holds no window at all.", advice=advice)
    return windows


def _raw_windows(server, env) -> dict[str, dict]:
    """The server's own record of each window of env, by title (keys and all, unlike read_env)."""
    payload = server.client().get_window_data(env=env)
    records = json.loads(payload) if payload else {}  # read_env has read the same answer: it is JSON
    # Titled as read_env titles them: a title sent as a list, say, is its str() there too.
    return {str(record.get("title") or ""): record for record in records.values() if isinstance(record, dict)}


def _was_grown(record: dict) -> bool:
    """Whether a request after the one that opened the window updated it (append, insert, replace)."""
    return bool(set(record) - OPENING_KEYS)


def _titled(windows, title, kind):
    """The one window titled `title`; fails with what is there instead."""
    matching = [w for w in windows if w.title == title]
    found = [f"{w.type} {w.title!r}" for w in windows]
    if not matching:
        same_kind = [w for w in windows if w.type == kind]
        untitled = [w for w in same_kind if not w.title]
        advice = None
        if len(same_kind) == 1 and same_kind[0].title:
            advice = (f"The {kind} window is titled {same_kind[0].title!r}: titles are matched exactly, so it must "
                      f"be {title!r}.")
        elif untitled:
            advice = (f"A {kind} window has no title. Either the request that opened it gave none (give it "
                      f"opts=dict(title={title!r})), or it was opened by a request sent with win= to a window your "
                      f"env does not hold (one opened in another env, say): Visdom then opens that window with the "
                      f"request's own opts, which had no title.")
        elif not same_kind:
            advice = f"There is no {kind} window at all in your env."
        fail(f"No window titled {title!r} in your env.", expected=f"a {kind} window titled {title!r}",
             found=found, advice=advice)
    if len(matching) > 1:
        advice = None
        if kind == "plot" and all(w.type == "plot" for w in matching):
            advice = ("Every viz.line call without win= opens a new window. Open the window once, keep the id it "
                      "returns, and send later points with win=win, update='append'.")
        fail(f"{len(matching)} windows are titled {title!r}; one was expected.", expected=1, found=found,
             advice=advice)
    window = matching[0]
    expect_equal(window.type, kind, f"The type of the window titled {title!r}")
    return window


def _axis_title(window, axis: str) -> str | None:
    """The title of a plot window's x or y axis, as opts xlabel/ylabel set it."""
    title = (window.layout.get(f"{axis}axis") or {}).get("title")
    return title.get("text") if isinstance(title, dict) else title


def _one_line(window):
    expect_equal(len(window.traces), 1, f"The number of lines in the window {window.title!r}")
    return window.traces[0]


def _points_advice(xs, ys, expected_y):
    if len(xs) == 1 and expected_y and math.isclose(ys[0], expected_y[-1], rel_tol=1e-5):
        return ("Only the last point is left: every request swapped the window's data for its one point. "
                "update='replace' (or any update other than 'append') does that, and so does a request with win= "
                "and no update, which opens the window anew. Send every later point with win=win, update='append'.")
    if len(ys) == len(expected_y) + 1 and _same(ys[1:], expected_y, 1e-5) and _same(ys[:1], ys[1:2], 1e-5):
        return (f"The first value, {ys[0]:g}, was drawn twice: the window was opened with it, and then it was "
                f"appended again with the rest, or the window was opened with two copies of it (X=[x, x], "
                f"Y=[y, y], as the blog posts' VisdomLinePlotter opens its windows). Open the window with that one "
                f"point, then append only the values after it.")
    if len(ys) == len(expected_y) + 1 and _same(ys[1:], expected_y, 1e-5):
        return (f"The first point, ({xs[0]:g}, {ys[0]:g}), is not one of the values: the window was opened with a "
                f"placeholder point, and every value was appended after it. Open the window with the first value "
                f"itself, then append the rest.")
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


class _NotVisdom(BaseHTTPRequestHandler):
    """Another program's web server: it answers every request, and none as Visdom does."""

    def _answer(self):
        body = b"<html><body>another program</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def other_program_port():
    """A port on which a web server that is not Visdom answers."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _NotVisdom)
    # Polled every 50 ms for the shutdown request (the default 0.5 s would be the test's slowest part).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _raised_by_own_code(crash: LearnerCrash) -> bool:
    """Whether the learner's own line raised (not a library call their line made)."""
    return "which failed inside" not in str(crash)


def _expect_error_names_port(crash: LearnerCrash, port: int) -> None:
    """The learner's own ConnectionError must say which port and how to start a server."""
    headline = str(crash).splitlines()[0]
    needed = (("the port", str(port)), ("how to start a server (`watchtrain visdom`)", "watchtrain visdom"))
    missing = [what for what, clue in needed if clue not in headline]
    expect(not missing, "The ConnectionError your connect() raises must name the port and say how to start a server.",
           expected=f"a message with {port} and `watchtrain visdom`", found=headline,
           advice=f"Its message lacks {' and '.join(missing)}: e.g. f\"no Visdom server answers on port {{port}}; "
                  f"start one with `watchtrain visdom`\".")


def _returned_although(client, port: int, what: str) -> None:
    found = client.type_name if isinstance(client, Described) else type(client).__name__
    advice = ("Check viz.check_connection() and raise ConnectionError when it is False: otherwise every plot of a "
              "long training run is silently lost.")
    if isinstance(client, Described) and client.kind == "visdom" and not client.raise_exceptions:
        advice = ("The client was made without raise_exceptions=True, so a failed request only prints a message; "
                  "and nothing checked the connection. " + advice)
    fail(f"connect() returned a client although {what} on port {port}.", expected="ConnectionError", found=found,
         advice=advice)


@exercise("connect")
def test_connect_raises_when_no_server_answers(lesson, visdom_env):
    port = free_port()
    try:
        client = lesson.connect(port, visdom_env)
    except LearnerCrash as crash:
        expect(crash.raised("ConnectionError"), "With no server on the port, connect() must raise ConnectionError.",
               expected="ConnectionError", found=str(crash).splitlines()[0])
        if _raised_by_own_code(crash):
            _expect_error_names_port(crash, port)
        return
    _returned_although(client, port, "no server listens")


@exercise("connect")
def test_connect_error_names_the_port(lesson, visdom_env, other_program_port):
    # A program that is not Visdom holds the port: it answers, so creating the client succeeds, and
    # only checking the connection tells that no Visdom server is there.
    port = other_program_port
    try:
        client = lesson.connect(port, visdom_env)
    except LearnerCrash as crash:
        expect(crash.raised("ConnectionError"),
               "With no Visdom server on the port (another program answers there), connect() must raise "
               "ConnectionError.", expected="ConnectionError", found=str(crash).splitlines()[0])
        _expect_error_names_port(crash, port)
        return
    _returned_although(client, port, "the program answering is not a Visdom server")


# show_samples

def _show_samples(lesson, visdom_server):
    """The learner's call, and what it left: (its env, crash or None, the images and labels sent)."""
    images, labels = (tensor[:SAMPLES] for tensor in _fashion_batch())
    env, crash = _shared_run(lesson, visdom_server, "show_samples",
                             lambda viz, env: _crash_of(lesson.show_samples, viz, images.clone(), labels.clone()))
    return env, crash, images, labels


def _expected_pixels(image: torch.Tensor) -> np.ndarray:
    """What Visdom stores for a [0, 1] float image: its 8-bit gray levels."""
    return np.uint8((image * 0.5 + 0.5).squeeze(0).numpy() * 255.0)


def _as_visdom_stores(pixels: torch.Tensor) -> np.ndarray:
    """What viz.image stores for these float values (scaled by 255 only when none is above 1), as the
    usual mistakes send them."""
    values = pixels.squeeze(0).numpy()
    with np.errstate(invalid="ignore"):
        return np.uint8(values * 255.0 if values.max() <= 1 else values)


def _gray_levels_differ(found: np.ndarray, expected: np.ndarray) -> bool:
    # One gray level of slack: (x + 1) / 2 and x * 0.5 + 0.5 may round differently.
    return found.shape != expected.shape or int(np.abs(found.astype(int) - expected.astype(int)).max()) > 1


_UNNORMALISE = ("The pixels are still normalised to [-1, 1]: undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5 "
                "before sending, so that they lie in [0, 1] as Visdom expects.")


def _picture_advice(found: np.ndarray, index: int, images: torch.Tensor) -> str:
    """Which usual mistake these gray levels (meant to show image `index`) come from, else what to read."""
    image = images[index]
    if not _gray_levels_differ(found, _as_visdom_stores(image)):
        return _UNNORMALISE
    if not _gray_levels_differ(found, _as_visdom_stores((image * 0.5 + 0.5) * 255)):
        return ("The pixels were un-normalised, then multiplied by 255: Visdom multiplies float values in [0, 1] by "
                "255 itself, so send images * 0.5 + 0.5 as it is.")
    other = next((k for k in range(len(images)) if k != index
                  and not _gray_levels_differ(found, _expected_pixels(images[k]))), None)
    if other is not None:
        return f"This is image {other} of the batch, un-normalised: the pictures must keep the batch's order."
    return "`watchtrain hint 07` shows how the pictures are prepared and sent."


@exercise("show_samples")
def test_show_samples_text_names_the_labels(lesson, visdom_server):
    env, crash, _, labels = _show_samples(lesson, visdom_server)
    with _judged_despite(crash):
        text = _titled(_windows(visdom_server, env), "labels", "text").text
        expected = ", ".join(CLASS_NAMES[int(label)] for label in labels)
        advice = None
        if text.replace(" ", "") == ",".join(str(int(label)) for label in labels):
            advice = "These are the label numbers: write their class names, CLASS_NAMES[label]."
        elif text.replace(" ", "") == expected.replace(" ", ""):
            advice = "The names are right; separate them with a comma and a space, ', '.join(names)."
        expect_equal(text, expected, "The text of the 'labels' window", advice=advice)


@exercise("show_samples")
def test_show_samples_first_image(lesson, visdom_server):
    env, crash, images, labels = _show_samples(lesson, visdom_server)
    with _judged_despite(crash):
        window = _titled(_windows(visdom_server, env), "first image", "image")
        expect_equal(window.image_size, (SIDE, SIDE), "The size (width, height) of the 'first image' picture",
                     advice=("That is more than one image: send the first one alone, pixels[0], with viz.image."
                             if window.image_size and window.image_size[0] > SIDE + 2 * PADDING else None))
        caption = CLASS_NAMES[int(labels[0])]
        advice = None
        if window.caption == str(int(labels[0])):
            advice = "This is the label's number: the caption is its class name, CLASS_NAMES[label]."
        elif window.caption is None:
            advice = f"The window has no caption: pass it in opts, caption={caption!r}."
        expect_equal(window.caption, caption, "The caption of the 'first image' window", advice=advice)
        found = window.pixels[:, :, 0]
        if _gray_levels_differ(found, _expected_pixels(images[0])):
            fail("The 'first image' window does not show the first image.", advice=_picture_advice(found, 0, images))


def _grid_size(per_row: int, padding: int, shared: bool) -> tuple[int, int]:
    """(width, height) of a grid of the SAMPLES images: Visdom's viz.images puts `padding` pixels on every side
    of each image; torchvision's make_grid (`shared`) puts `padding` pixels between neighbours and at the edges."""
    rows = math.ceil(SAMPLES / per_row)
    if shared:
        return per_row * (SIDE + padding) + padding, rows * (SIDE + padding) + padding
    return per_row * (SIDE + 2 * padding), rows * (SIDE + 2 * padding)


def _grid_size_advice(size) -> str | None:
    """The usual grid whose (width, height) this is, when the size singles one out."""
    if size == (SIDE, SIDE):
        return "That is one image: viz.images(pixels, nrow=4) lays out the whole batch."
    if size == _grid_size(8, PADDING, shared=False):
        return "That is Visdom's default of 8 images per row: pass nrow=4."
    visdom = (f"The grid asked for is Visdom's own: viz.images(pixels, nrow=4) puts {PADDING} pixels on every side of "
              f"each image, {SIDE + 2 * PADDING} pixels per cell.")
    if size == _grid_size(PER_ROW, PADDING, shared=True):
        return (f"That is the size of torchvision's make_grid(pixels, nrow=4) with its default padding: neighbouring "
                f"images share their {PADDING} pixels, so the cells are {SIDE + PADDING} pixels apart. " + visdom)
    if size == _grid_size(8, PADDING, shared=True):
        return (f"That is the size of torchvision's make_grid(pixels) with its defaults: 8 images per row, and "
                f"neighbouring images share their {PADDING} pixels, so the cells are {SIDE + PADDING} pixels apart. "
                + visdom)
    padding = next((padding for padding in range(1, 9) if padding != PADDING
                    and size == _grid_size(PER_ROW, padding, shared=False)), None)
    if padding is not None:
        return (f"That is viz.images with padding={padding}: the grid asked for has Visdom's usual {PADDING} pixels "
                f"around each image, its default. Leave padding out.")
    return None


@exercise("show_samples")
def test_show_samples_grid_of_all_images(lesson, visdom_server):
    env, crash, images, _ = _show_samples(lesson, visdom_server)
    with _judged_despite(crash):
        window = _titled(_windows(visdom_server, env), "batch", "image")
        expect_equal(window.image_size, _grid_size(PER_ROW, PADDING, shared=False), f"The size (width, height) of "
                     f"the grid of {SAMPLES} images, {PER_ROW} per row", advice=_grid_size_advice(window.image_size))
        # Visdom places the first image `padding` (or, in 0.2.4, padding + 1) pixels from the corner,
        # and the others `cell` pixels apart.
        cell, first = SIDE + 2 * PADDING, _expected_pixels(images[0])
        offset = next((o for o in (PADDING, PADDING + 1)
                       if not _gray_levels_differ(window.pixels[o:o + SIDE, o:o + SIDE, 0], first)), None)
        if offset is None:
            corner = PADDING + 1  # visdom 0.2.4's placement
            fail("The grid's first cell does not show the first image.",
                 advice=_picture_advice(window.pixels[corner:corner + SIDE, corner:corner + SIDE, 0], 0, images))
        for index in range(1, SAMPLES):
            top, left = offset + cell * (index // PER_ROW), offset + cell * (index % PER_ROW)
            found = window.pixels[top:top + SIDE, left:left + SIDE, 0]
            if _gray_levels_differ(found, _expected_pixels(images[index])):
                fail(f"Cell {index} of the grid (row {index // PER_ROW}, column {index % PER_ROW}, counting from 0) "
                     f"does not show image {index} of the batch.", advice=_picture_advice(found, index, images))


# plot_live_loss

def _live_loss(lesson, visdom_server):
    """(its env, the id plot_live_loss returned, its one plot window)."""
    def send(viz, env):
        return lesson.plot_live_loss(viz, list(LOSSES)), _only_plot(_windows(visdom_server, env))
    env, (win, window) = _shared_run(lesson, visdom_server, "plot_live_loss", send)
    return env, win, window


def _only_plot(windows):
    plots = [w for w in windows if w.type == "plot"]
    advice = None
    if len(plots) > 1:
        advice = (f"Every viz.line call without win= opens a new window ({len(plots)} here). Keep the id the "
                  f"first call returns and send every later point with win=win, update='append'.")
    expect_equal(len(plots), 1, "The number of plot windows in your env", advice=advice)
    return plots[0]


def _expect_axis_titles(window, expected: dict[str, str]) -> None:
    """The x and y axis titles (opts xlabel and ylabel) of a plot window."""
    found = {axis: _axis_title(window, axis) for axis in expected}
    missing = [f"{axis}label={title!r}" for axis, title in expected.items() if found[axis] is None]
    expect_equal(found, expected, f"The axis titles of the {window.title!r} window",
                 advice=f"Name the axes in the opts of the request that opens the window: {', '.join(missing)}."
                 if missing else None)


@exercise("plot_live_loss")
def test_plot_live_loss_uses_one_window(lesson, visdom_server):
    _, win, window = _live_loss(lesson, visdom_server)
    expect_equal(window.title, "live loss", "The title of the window")
    expect_equal(win, window.id, "The window id plot_live_loss returned",
                 advice="Return win, the id that the first viz.line call returned.")
    _expect_axis_titles(window, {"x": "step", "y": "loss"})


@exercise("plot_live_loss")
def test_plot_live_loss_appends_every_point_in_order(lesson, visdom_server):
    env, _, window = _live_loss(lesson, visdom_server)
    line = _one_line(window)
    expect_equal(len(line.x), len(LOSSES), "The number of points on the line",
                 advice=_points_advice(line.x, line.y, LOSSES))
    expect_close(line.x, list(range(len(LOSSES))), "The x values (steps 0, 1, 2, ...), in the order appended",
                 tol=0)
    # A point sent as a float32 tensor (2.3 -> 2.2999999523) draws the same curve: float32's precision is enough.
    expect_close(line.y, LOSSES, "The y values (the losses), in the order appended", tol=FLOAT32_TOL)
    record = _raw_windows(visdom_server, env).get(window.title, {})
    expect(_was_grown(record), "The points must be sent one request at a time, as a training loop knows only its "
           "latest loss: the window was opened by its first point and then grown.",
           expected="a window opened with the first point, every later point appended to it",
           found=f"all {len(LOSSES)} points sent in the request that opened the window",
           advice="Open the window with the first point alone, then send each later point with win=win, "
                  "update='append'.")


# plot_learning_curves

def _learning_curves(lesson, visdom_server):
    """(its env, the id plot_learning_curves returned, its 'learning curves' window)."""
    def send(viz, env):
        win = lesson.plot_learning_curves(viz, {name: values.copy() for name, values in CURVES.items()})
        return win, _curves_window(_windows(visdom_server, env))
    env, (win, window) = _shared_run(lesson, visdom_server, "plot_learning_curves", send)
    return env, win, window


def _curves_window(windows):
    window = _titled(windows, "learning curves", "plot")
    count = len(window.traces)
    advice = None
    if count == len(CURVES["train"]):
        advice = (f"There is one line per epoch, {count}: Y holds the curves as rows. Give them as its columns, "
                  f"np.column_stack(list(curves.values())).")
    elif count < len(CURVES):
        advice = f"Only {count} of the {len(CURVES)} curves are drawn: send them all, as the columns of Y."
    expect_equal(count, len(CURVES), "The number of lines in the 'learning curves' window", advice=advice)
    return window


@exercise("plot_learning_curves")
def test_plot_learning_curves_lines(lesson, visdom_server):
    _, _, window = _learning_curves(lesson, visdom_server)
    epochs = list(range(1, len(CURVES["train"]) + 1))
    for (name, values), line in zip(CURVES.items(), window.traces):
        advice = "Epochs count from 1: X = np.arange(1, n + 1)." if line.x == [e - 1 for e in epochs] else None
        expect_close(line.x, epochs, f"The x values of the {name!r} line (the epochs)", tol=0, advice=advice)
        other = next((key for key, curve in CURVES.items() if key != name and len(line.y) == len(curve)
                      and np.allclose(line.y, curve, atol=1e-6)), None)
        advice = (f"This line holds the {other!r} values: stack the curves as columns in the dict's order, "
                  f"np.column_stack(list(curves.values())).") if other else None
        expect_close(line.y, [float(v) for v in values], f"The y values of the {name!r} line", tol=1e-6,
                     advice=advice)
    _expect_axis_titles(window, {"x": "epoch"})


@exercise("plot_learning_curves")
def test_plot_learning_curves_legend(lesson, visdom_server):
    _, _, window = _learning_curves(lesson, visdom_server)
    names = [line.name for line in window.traces]
    advice = None
    if not window.show_legend:
        advice = (f"There is no legend: without opts legend=..., Visdom names the lines {', '.join(names)} and "
                  f"hides the legend. Pass legend=list(curves).")
    expect_equal(window.legend, list(CURVES), "The names in the legend, line by line", advice=advice)


@exercise("plot_learning_curves")
def test_plot_learning_curves_y_axis(lesson, visdom_server):
    _, _, window = _learning_curves(lesson, visdom_server)
    top = float(max(values.max() for values in CURVES.values()))
    y_range = (window.layout.get("yaxis") or {}).get("range")
    expect(y_range is not None, "The y axis has no fixed range.", expected=[0.0, top], found=y_range,
           advice="Set both ytickmin=0.0 and ytickmax=top in opts.")
    advice = None
    if len(y_range) == 2:
        one = next((name for name, values in CURVES.items()
                    if math.isclose(y_range[1], float(values.max()), abs_tol=1e-6)), None)
        epoch = next((which for which, index in (("first", 0), ("last", -1))
                      if math.isclose(y_range[1], max(float(values[index]) for values in CURVES.values()),
                                      abs_tol=1e-6)), None)
        if one is not None:
            advice = f"The top is the largest value of {one!r} alone: take the largest value of all the curves."
        elif epoch is not None:
            advice = (f"The top is the largest value of the {epoch} epoch only (one row of Y): take the largest "
                      f"value of all the curves at every epoch.")
    expect_close(y_range, [0.0, top], "The y axis range [ytickmin, ytickmax]", tol=1e-6, advice=advice)


@exercise("plot_learning_curves")
def test_plot_learning_curves_one_request_gives_its_id(lesson, visdom_server):
    env, win, window = _learning_curves(lesson, visdom_server)
    record = _raw_windows(visdom_server, env).get(window.title, {})
    expect(not _was_grown(record), "The chart must be sent in a single request: every line, the legend and the "
           "axes at once.", expected="one viz.line call that opens the window with everything",
           found="a window that later requests changed (lines appended, or options updated)",
           advice="Give all the curves at once, as the columns of Y, with every option in the opts of that call.")
    advice = None
    if win is None:
        advice = "plot_learning_curves returned nothing: return the id that viz.line gives back."
    expect_equal(win, window.id, "The window id plot_learning_curves returned", advice=advice)


# monitor_training

@functools.lru_cache(maxsize=None)
def _reference_run(device, zero_grad=True, momentum=0.0, batch_stride=BATCH_SIZE):
    """The run the docstring describes (or, to recognise them, one of the usual departures from it:
    `batch_stride` 1 starts batch k at image k), recomputed once per device: (loss per step, accuracy
    per epoch, accuracy on each epoch's last batch, each step's batch loss recomputed after its update)."""
    images, labels = _fashion_batch()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
    images, labels = images.to(device), labels.to(device)
    losses, accuracies, last_batch, after_update = [], [], [], []
    for _ in range(EPOCHS):
        for batch in range(BATCHES):
            window = slice(batch * batch_stride, batch * batch_stride + BATCH_SIZE)
            loss = nn.functional.cross_entropy(model(images[window]), labels[window])
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            with torch.no_grad():
                after_update.append(nn.functional.cross_entropy(model(images[window]), labels[window]).item())
        with torch.no_grad():
            correct = model(images).argmax(dim=1) == labels
            accuracies.append(correct.float().mean().item())
            last_batch.append(correct[-BATCH_SIZE:].float().mean().item())
    return losses, accuracies, last_batch, after_update


def _monitor_call(lesson, visdom_server, device):
    """The learner's one run: its env, its crash (or None), what the function gave back, and the
    envs the server saved while it ran (their names)."""
    images, labels = _fashion_batch()

    def send(viz, env):
        before = _env_files(visdom_server)
        crash, value = _outcome(lesson.monitor_training, viz, images.clone(), labels.clone(), EPOCHS, BATCH_SIZE,
                                device)
        return crash, value, sorted(name for name, stamp in _env_files(visdom_server).items() if before.get(name) != stamp)
    env, (crash, value, saved) = _shared_run(lesson, visdom_server, "monitor_training", send, device)
    return env, crash, value, saved


def _monitor(lesson, visdom_server, device):
    """The learner's run: its env, its crash (or None), the reference run it is compared with, and
    what the function gave back."""
    env, crash, value, _ = _monitor_call(lesson, visdom_server, device)
    return env, crash, _reference_run(device), value


def _env_files(server) -> dict[str, int]:
    """The envs saved in the server's env folder: name -> when their file was last written."""
    return {path.stem: path.stat().st_mtime_ns for path in server.env_path.glob("*.json")}


def _x_advice(xs):
    """The usual mistake in the loss window's x values, in this lesson's words, or None."""
    return {
        StepMistake.RESTARTS_EVERY_EPOCH: "The steps start again at 0 every epoch, so each epoch is drawn over the "
                                          "previous one: use x = epoch * batches + batch.",
        StepMistake.EPOCH_AS_STEP: "You used the epoch as x, so all steps of an epoch share one x: "
                                   "use x = epoch * batches + batch.",
        StepMistake.ONE_TOO_FAR: "The steps start at 1: count from 0.",
    }.get(step_mistake(xs, [float(step) for step in range(EPOCHS * BATCHES)], BATCHES))


def _same(found: list[float], expected: list[float], tol: float = 1e-5) -> bool:
    return len(found) == len(expected) and all(math.isclose(a, b, rel_tol=tol, abs_tol=tol)
                                               for a, b in zip(found, expected))


def _running_means(losses: list[float], restart: int) -> list[float]:
    """The mean of the losses so far, the sum starting again every `restart` steps."""
    return [sum(losses[step - step % restart:step + 1]) / (step % restart + 1) for step in range(len(losses))]


def _loss_advice(found: list[float], expected: list[float], after_update: list[float], accuracies_right: bool,
                 device: str) -> str:
    """What the plotted values are, when they come from the recipe's own training; else the usual departure
    from the recipe that gives exactly these losses; else what the evidence says."""
    plotted = {
        "These are the losses after each update: each batch's loss computed again once optimizer.step() has changed "
        "the weights. Plot the loss the batch gave before its update, loss.item() of the loss you backpropagate.":
            after_update,
        "These are running means, the average of the epoch's losses so far (running_loss / (batch + 1)): plot each "
        "batch's own loss, loss.item().": _running_means(expected, BATCHES),
        "These are running means, the average of every loss since training began: plot each batch's own loss, "
        "loss.item().": _running_means(expected, len(expected)),
    }
    for advice, values in plotted.items():
        if _same(found, values):
            return advice
    departures = {
        "The gradients pile up from step to step: clear them with optimizer.zero_grad() before each backward().":
            {"zero_grad": False},
        "These are the losses of SGD with momentum: the recipe is plain SGD, lr=0.1, without momentum.":
            {"momentum": 0.9},
        "The batches overlap: batch k starts at image k, so each shares all but one image with the one before. "
        "Batch k is images[k * batch_size:(k + 1) * batch_size].": {"batch_stride": 1},
    }
    for advice, change in departures.items():
        if _same(found, _reference_run(device, **change)[0]):
            return advice
    if accuracies_right:
        return ("The 'accuracy' window shows the recipe's accuracies, so look at what is plotted before the training: "
                "each point's y is the loss of that step's batch, computed before its update (loss.item() of the loss "
                "you backpropagate). `watchtrain hint 07` goes through it.")
    if found and not _same(found[:1], expected[:1]):
        return ("The very first loss, before any update, already differs: the starting weights (torch.manual_seed(0) "
                "right before building the model), the first batch (the first images, in order) or the loss (the "
                "mean cross-entropy) are not the recipe's. `watchtrain hint 07` goes through it.")
    first = next((k for k, (a, b) in enumerate(zip(found, expected)) if not _same([a], [b])), None)
    return (f"The first loss matches, so the model starts from the right weights; loss {first} is the first to "
            f"differ, so from there on the training departs from the recipe: its updates (plain SGD at lr=0.1, the "
            f"gradients zeroed before each backward) or its batches (batch k is images k * batch_size to "
            f"(k + 1) * batch_size, in order). `watchtrain hint 07` goes through it.")


def _plotted(windows, title: str) -> list[float] | None:
    """The y values of the one curve of the window titled `title`, or None."""
    found = [w for w in windows if w.title == title and len(w.traces) == 1]
    return found[0].traces[0].y if found else None


@exercise("monitor_training")
def test_monitor_training_loss_per_step(lesson, visdom_server, device):
    env, crash, (losses, accuracies, _, after_update), _ = _monitor(lesson, visdom_server, device)
    with _judged_despite(crash):
        windows = _windows(visdom_server, env)
        line = _one_line(_titled(windows, "loss", "plot"))
        expect_equal(len(line.x), len(losses), f"The number of points in the 'loss' window ({EPOCHS} epochs of "
                     f"{BATCHES} steps)", advice=_points_advice(line.x, line.y, losses))
        expect_equal(line.x, [float(step) for step in range(len(losses))], "The x values (steps) of the 'loss' window",
                     advice=_x_advice(line.x))
        advice = None
        if not _same(line.y, losses):
            accuracies_right = _same(_plotted(windows, "accuracy") or [], accuracies, 1e-6)
            advice = _loss_advice(line.y, losses, after_update, accuracies_right, device)
        expect_close(line.y, losses, "The losses, step by step", tol=1e-5, advice=advice)


def _accuracy_advice(found: list[float], expected: list[float], last_batch: list[float], losses_right: bool) -> str:
    if _same(found, [100 * a for a in expected], 1e-4):
        return "These are percentages: the accuracy is a share in [0, 1], correct / N."
    if _same(found, [TRAIN_IMAGES * a for a in expected], 1e-4):
        return f"These are counts of correct images: divide by N ({TRAIN_IMAGES}) to get the share in [0, 1]."
    if _same(found, last_batch, 1e-6):
        return "This is the accuracy of the epoch's last batch alone: measure it on all N images after the epoch."
    if not losses_right:
        return "The training itself differs from the recipe (the 'loss' window shows it), so its accuracies do too."
    return ("The training matches the recipe but these accuracies do not: measure the share of all N images classified "
            "correctly after the epoch's last update. `watchtrain hint 07` goes through it.")


@exercise("monitor_training")
def test_monitor_training_accuracy_per_epoch(lesson, visdom_server, device):
    env, crash, (losses, accuracies, last_batch, _), _ = _monitor(lesson, visdom_server, device)
    with _judged_despite(crash):
        windows = _windows(visdom_server, env)
        line = _one_line(_titled(windows, "accuracy", "plot"))
        expect_equal(len(line.x), EPOCHS, "The number of points in the 'accuracy' window (one per epoch)",
                     advice=_points_advice(line.x, line.y, accuracies))
        advice = "Epochs count from 1 here: x = epoch + 1." if line.x == [float(e) for e in range(EPOCHS)] else None
        expect_equal(line.x, [float(e) for e in range(1, EPOCHS + 1)], "The x values (epochs) of the 'accuracy' window",
                     advice=advice)
        if not _same(line.y, accuracies, 1e-6):
            losses_right = _same(_plotted(windows, "loss") or [], losses)
            expect_close(line.y, accuracies, "The accuracy after each epoch", tol=1e-6,
                         advice=_accuracy_advice(line.y, accuracies, last_batch, losses_right))


@exercise("monitor_training")
def test_monitor_training_sends_points_as_it_trains(lesson, visdom_server, device):
    env, crash, _, _ = _monitor(lesson, visdom_server, device)
    with _judged_despite(crash):
        windows = _windows(visdom_server, env)
        records = _raw_windows(visdom_server, env)
        for title in ("loss", "accuracy"):
            _titled(windows, title, "plot")
            expect(_was_grown(records.get(title, {})),
                   f"The {title!r} window must grow point by point while the model trains: opened by its first "
                   f"point, then one request per point.",
                   expected="a window opened with its first point, every later point appended to it",
                   found="all its points sent in the request that opened the window, after the training",
                   advice="Send each point as soon as it is computed: the first one opens the window (keep the id "
                          "it returns), every later one goes there with win=..., update='append'.")


@exercise("monitor_training")
def test_monitor_training_saves_the_env(lesson, visdom_server, device):
    env, crash, _, saved = _monitor_call(lesson, visdom_server, device)
    if crash is not None:
        raise crash
    windows = _windows(visdom_server, env)
    path = visdom_server.env_file(env)
    if not path.is_file() and saved:  # viz.save(["main"]), say: it saved, but another env
        fail(f"Your code saved {', '.join(map(repr, saved))}, not the env your windows are in ({env!r}).",
             expected=f"{path.name} in the server's env folder", found=", ".join(f"{name}.json" for name in saved),
             advice="viz.save takes the names of the envs to write, and your windows are in the client's own env: "
                    "viz.save([viz.env]).")
    if not path.is_file():
        fail("Your env was never saved: the server holds it in memory only, and it is lost when the server stops.",
             expected=f"{path.name} in the server's env folder", found="no such file",
             advice="Call viz.save([viz.env]) at the end: the server writes <env>.json into its env folder then.")
    try:
        saved = read_env_file(path)
    except ArtifactError as unreadable:  # saved, but not as viz.save writes it
        fail(f"Your saved env cannot be read: {unreadable.problem}.", expected=f"{path.name} as viz.save writes it",
             found=unreadable.problem, advice=f"Let the server write it: {unreadable.fix}.")
    titles = sorted(w.title for w in saved)
    expect_equal(titles, ["accuracy", "loss"], "The titles of the windows in the saved env (exactly the two plots)",
                 advice=("The env holds windows the exercise does not ask for: send the 'loss' and 'accuracy' "
                         "plots only." if len(titles) > 2 and {"accuracy", "loss"} <= set(titles) else None))
    advice = None
    by_title = {w.title: w for w in windows}
    shorter = [w.title for w in saved if w.title in by_title and w.traces and by_title[w.title].traces
               and len(w.traces[0].x) < len(by_title[w.title].traces[0].x)]
    if shorter:
        advice = (f"The saved {', '.join(map(repr, shorter))} window has fewer points than the server's: the env was "
                  f"saved before the last point. Call viz.save([viz.env]) last of all.")
    expect_equal([(w.type, w.title, w.traces) for w in saved], [(w.type, w.title, w.traces) for w in windows],
                 "The saved env's windows, compared with the server's", advice=advice)


@exercise("monitor_training")
def test_monitor_training_gives_back_nothing(lesson, visdom_server, device):
    _, crash, _, value = _monitor(lesson, visdom_server, device)
    if crash is not None:
        raise crash
    expect(value is None, "monitor_training gives back nothing: the run lives in its windows and the saved env.",
           expected=None, found=value.type_name if isinstance(value, Described) else value,
           advice="Leave out the return statement: the function ends with viz.save([viz.env]).")
