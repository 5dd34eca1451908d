"""Lesson 02 autograder: images, figures, histograms, text, meshes and hparams, read back with
TensorBoard's own reader and compared with what the exercise asked for, pixel by pixel.

The checks of one exercise read one call of the learner's function (run_once) where they ask the
same question; a check that needs other inputs (other labels for the figure) makes its own calls."""
import re

import numpy as np
import torch
import torchvision
from PIL import Image

from watchtrain.artifacts.tensorboard import read_histograms, read_hparams, read_images, read_mesh, read_text
from watchtrain.data import CLASS_NAMES, fashion_mnist, normalize_transform
from watchtrain.grading import (GradingFailure, call_explaining, exercise, expect, expect_close, expect_equal,
                                expect_writers_closed, fail, figures_left_open, image_layout_crash, read_run, call_once)
from watchtrain.models import Net

GREY_LEVELS = 1  # TensorBoard truncates x * 255 to uint8; allow one level for rounding instead

GRID_TAG, GRID_IMAGES = "fashion_mnist_images", 16
GRID_SHAPE = (62, 242)  # make_grid: 2 rows x 8 columns of 28 px images, 2 px of padding around each
GRID_DIMMING = 0.8  # the grid's pictures are this much darker than the data set's: see _grid_images

BATCH_TAG, BATCH_SHAPE = "channels_last_batch", (4, 12, 20, 3)  # N, H, W, C; H != W so a swap shows

FIGURE_TAG, FIGURE_SHAPE = "class_counts", (400, 1000)  # figsize=(10, 4) at 100 dpi
CLASS_COUNTS = [5, 12, 3, 20, 8, 0, 15, 7, 10, 2]
# The bar check: labels in which the last classes never occur, then the same with one class's count
# raised (never above the largest, 20, so that the y axis keeps its scale). Only that class's bar may change.
BAR_BASE = [5, 12, 3, 20, 8, 0, 15, 7, 10, 0]
BAR_CHANGES = {0: 11, 5: 9, 9: 7}  # class -> its new count

NOTES = ("## Run notes\n\n**lr** = 0.01, *batch size* = 64\n\n"
         "- optimizer: SGD with momentum 0.9\n- data: Fashion-MNIST (mini set)")
MESH_NAME = "shape"
# A square pyramid: four base corners and an apex; two triangles for the base, four for the sides.
VERTICES = torch.tensor([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1], [0, 1.5, 0]], dtype=torch.float32)
FACES = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]], dtype=torch.int32)
COLORS = torch.tensor([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]],
                      dtype=torch.uint8)

TRIALS = [
    ({"lr": 0.1, "batch_size": 32, "optimizer": "sgd"}, {"accuracy": 0.71, "loss": 0.84}),
    ({"lr": 0.01, "batch_size": 64, "optimizer": "sgd"}, {"accuracy": 0.78, "loss": 0.62}),
    ({"lr": 0.001, "batch_size": 64, "optimizer": "adam"}, {"accuracy": 0.83, "loss": 0.49}),
]
TRIAL_RUNS = [f"trial_{index}" for index in range(len(TRIALS))]
METRIC_NAMES = {"accuracy": "hparam/accuracy", "loss": "hparam/loss"}

# No CRASH_ADVICE: TensorBoard's crashes (an image's layout, a mesh's shape) get advice per exercise, from
# what the message reports (call_explaining).


def quantise(chw: torch.Tensor) -> np.ndarray:
    """What TensorBoard stores for a float (C, H, W) image: (x * 255) clipped and cast, as H x W x C."""
    return (chw.permute(1, 2, 0).numpy().astype(np.float32) * 255).clip(0, 255).astype(np.uint8)


def pixel_differences(found: np.ndarray, expected: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """|found - expected| per pixel (largest over channels), where mask is true; a grey image is
    compared with every channel of a colour one."""
    channels = min(found.shape[2], expected.shape[2])
    difference = np.abs(found[..., :channels].astype(int) - expected[..., :channels].astype(int)).max(axis=2)
    return difference[mask] if mask is not None else difference.ravel()


def matches(found: np.ndarray, expected: np.ndarray, mask: np.ndarray | None = None) -> bool:
    return found.shape[:2] == expected.shape[:2] and pixel_differences(found, expected, mask).max() <= GREY_LEVELS


def the_only_image(images: dict, tag: str, what: str, *, alone: bool = False, in_one_call: str = ""):
    """The single image logged at step 0 under tag, or a failure that says what was logged instead.
    `alone`: also insist that it is the only image in log_dir (one check per exercise does).
    `in_one_call`: the call that logs it all at once, named when it was logged a piece per step."""
    if tag not in images:
        found = sorted(images)
        advice = None
        if any(name.lower() == tag.lower() for name in found):
            advice = f"Only the case differs: tags are matched exactly, so the tag must be {tag!r}."
        elif len(found) == 1:
            advice = (f"One image was logged, under {found[0]!r}: tags are matched exactly, and the exercise's is "
                      f"{tag!r}.")
        fail(f"No image with the tag {tag!r} in log_dir.", expected=tag, found=found or "no image tags at all",
             advice=advice)
    events = images[tag]
    steps = [event.step for event in events]
    advice = None
    if len(steps) > 1 and steps == list(range(len(steps))):
        advice = (f"Logged at steps 0 to {len(steps) - 1}, one image per step, as a loop that logs a picture at a "
                  f"time does: TensorBoard then shows one picture at a time on a slider. Log {what} once, at "
                  f"global_step 0{', in one call: ' + in_one_call if in_one_call else ''}.")
    elif len(steps) > 1:
        advice = "Log it once, at global_step 0."
    expect_equal(steps, [0], f"The steps at which {what} was logged under {tag!r}", advice=advice)
    others = sorted(name for name in images if name != tag)
    if alone and others:
        fail(f"log_dir holds other images besides {what}: the exercise asks for one image.",
             expected=[tag], found=sorted(images),
             advice=f"Log {what} alone; the images under {', '.join(map(repr, others))} are not asked for.")
    return events[0]


# log_image_grid

def _grid_images() -> torch.Tensor:
    """16 Fashion-MNIST pictures made with normalize_transform(), as the contract says, from pictures a
    little darker than the data set's (every one of those reaches white): the batch lies in [-1, 0.6],
    so that make_grid(normalize=True) without value_range, which stretches the batch's own minimum and
    maximum to [0, 1], shows."""
    dataset, transform = fashion_mnist(train=True), normalize_transform()
    darker = [Image.fromarray((np.asarray(dataset[index][0]) * GRID_DIMMING).astype(np.uint8))
              for index in range(GRID_IMAGES)]
    return torch.stack([transform(picture) for picture in darker])


def _grid_crash_advice(message: str) -> str | None:
    """The course's diagnosis of TensorBoard refusing the grid's layout, from what its message reports."""
    crash = image_layout_crash(message)
    if crash is None:
        return None
    if crash.kind == "axes" and len(crash.shape) == 4 and len(crash.dataformats) == 3:
        return (f"add_image logs one picture, and it was given the whole batch, shape {crash.shape}. Tile the batch "
                f"into one picture first: torchvision.utils.make_grid(images) returns it as (C, H, W), which "
                f"add_image takes as it is.")
    if crash.kind == "axes" and len(crash.shape) == 3 and len(crash.dataformats) == 4:
        return (f"add_images logs a batch, and it was given one picture, shape {crash.shape}: the grid from "
                f"make_grid is one picture, which add_image logs.")
    if crash.kind == "picture" and crash.channels in GRID_SHAPE and crash.passed_dataformats in (None, "CHW"):
        told = "by default" if crash.passed_dataformats is None else "as your dataformats='CHW' says"
        return (f"TensorBoard read the picture as (C, H, W), {told}, and found {crash.channels} colour channels: the "
                f"array was laid out (H, W, C), as after permute(1, 2, 0) for matplotlib. make_grid returns "
                f"(C, H, W): pass its result to add_image as it is.")
    return f"TensorBoard refused the array's layout: it {crash.found()}. `watchtrain hint 02` shows the calls."


def _grid_log_dir(lesson, tmp_path_factory):
    """The log_dir of the one call of log_image_grid that the exercise's checks read."""
    def call(folder):
        log_dir = folder / "logs"
        call_explaining(lesson.log_image_grid, str(log_dir), _grid_images(), explain=_grid_crash_advice)
        return log_dir
    return call_once((lesson.log_image_grid.key,), tmp_path_factory, "log_image_grid", call)


def _logged_grid(lesson, tmp_path_factory, *, alone=False):
    log_dir = _grid_log_dir(lesson, tmp_path_factory)
    images_logged = read_run(read_images, log_dir, what="Reading the images your code wrote to log_dir.")
    return the_only_image(images_logged, GRID_TAG, "the grid", alone=alone)


def _tile_mask() -> np.ndarray:
    """Where make_grid puts the images, leaving out the padding (its colour depends on whether the
    images were un-normalised before or after make_grid, and both are fine)."""
    mask = np.zeros(GRID_SHAPE, dtype=bool)
    for index in range(GRID_IMAGES):
        top, left = 2 + 30 * (index // 8), 2 + 30 * (index % 8)
        mask[top:top + 28, left:left + 28] = True
    return mask


@exercise("log_image_grid")
def test_log_image_grid_is_one_make_grid_image(lesson, tmp_path_factory):
    event = _logged_grid(lesson, tmp_path_factory, alone=True)
    found = (event.height, event.width)
    advice = None
    if found == GRID_SHAPE[::-1]:
        advice = "Height and width are swapped: make_grid returns (C, H, W), which add_image takes as it is."
    elif found == (56, 224):
        advice = ("The tiles have no padding between them: that is add_images' own grid, or make_grid with "
                  "padding=0. make_grid's default padding of 2 pixels is asked for, logged with add_image.")
    elif found == (28, 28):
        advice = "This is a single image: log the make_grid of the whole batch."
    expect_equal(found, GRID_SHAPE, f"The (height, width) of the {GRID_TAG!r} image (16 images, 8 per row, "
                                    f"2 px padding)", advice=advice)
    channels = event.pixels.shape[2]
    advice = {1: "The picture was stored with a single grey channel: the exercise asks for RGB, the grey repeated "
                 "in each channel, as make_grid returns it for grey images.",
              4: "The picture was stored with a fourth, alpha channel (RGBA), as PNG files and plt.imread give it: "
                 "the exercise asks for RGB, the grid that make_grid returns."}.get(channels)
    expect_equal(channels, 3, f"The colour channels stored in the {GRID_TAG!r} image (RGB)", advice=advice)


@exercise("log_image_grid")
def test_log_image_grid_pixels_are_unnormalised(lesson, tmp_path_factory):
    images = _grid_images()
    event = _logged_grid(lesson, tmp_path_factory)
    expected = quantise(torchvision.utils.make_grid(images * 0.5 + 0.5))
    # Another tiling (add_images' own grid, another padding or row length) is the layout check's to judge:
    # here its tiles are laid out again as make_grid lays them, and only their pixels are judged.
    pixels = _tiles_laid_out_as_make_grid(event.pixels)
    expect(pixels is not None, f"The (height, width) of the {GRID_TAG!r} image fits no tiling of the "
           f"{GRID_IMAGES} 28 x 28 images, so their pixels cannot be found in it.",
           expected=f"{GRID_SHAPE} (8 per row, 2 px padding)", found=(event.height, event.width))
    mask = _tile_mask()
    if matches(pixels, expected, mask):
        return
    if matches(event.pixels.transpose(1, 0, 2), expected, mask):
        advice = ("The picture was stored with its height and width swapped, so every image lies on its side: "
                  "make_grid returns (C, H, W), which add_image takes as it is.")
    else:
        advice = _grid_pixels_advice(pixels, images, mask, expected)
    differences = pixel_differences(pixels, expected, mask)
    fail(f"The pixels of the {GRID_TAG!r} image are not the un-normalised Fashion-MNIST images "
         f"(compared within {GREY_LEVELS} grey level, padding left out).",
         expected="every image pixel within 1 grey level",
         found=f"{int((differences > GREY_LEVELS).sum())} of {differences.size} pixels differ, "
               f"by up to {int(differences.max())} grey levels",
         advice=advice)


def _tiles_laid_out_as_make_grid(pixels: np.ndarray) -> np.ndarray | None:
    """The 28 x 28 tiles of a grid of GRID_IMAGES tiles, in order, laid out as make_grid's default
    (8 to a row, 2 px padding, black between); None when no tiling of up to 4 px padding fits its size."""
    height, width = pixels.shape[:2]
    for per_row in range(1, GRID_IMAGES + 1):
        rows = -(-GRID_IMAGES // per_row)
        for padding in range(5):
            step = 28 + padding
            if (height, width) != (rows * step + padding, per_row * step + padding):
                continue
            standard = np.zeros((*GRID_SHAPE, pixels.shape[2]), dtype=pixels.dtype)
            for index in range(GRID_IMAGES):
                top, left = padding + step * (index // per_row), padding + step * (index % per_row)
                into_top, into_left = 2 + 30 * (index // 8), 2 + 30 * (index % 8)
                standard[into_top:into_top + 28, into_left:into_left + 28] = pixels[top:top + 28, left:left + 28]
            return standard
    return None


def _grid_pixels_advice(pixels: np.ndarray, images: torch.Tensor, mask: np.ndarray, expected: np.ndarray) -> str:
    """The usual un-normalising mistake whose picture these pixels are, else what was found."""
    wrong_scalings = {
        "The pixels are still normalised to [-1, 1]: TensorBoard clips everything below 0, so the dark half of "
        "every image turns black. Undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5 first.": images,
        "The pixels were un-normalised, then multiplied by 255: float images must lie in [0, 1] (TensorBoard "
        "multiplies by 255 itself), so everything above 1 turns white.": (images * 0.5 + 0.5) * 255,
        "The pixels lie in [0, 2]: 1 was added, but the result was not halved, so the bright half of every image "
        "is clipped to white. Undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5.": images + 1,
        "The batch's own darkest and brightest pixels were stretched to 0 and 1, as make_grid(normalize=True) does "
        "without value_range: the pictures you were given are darker than that, and stretching changes them. "
        "Undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5, or pass value_range=(-1, 1).":
            (images - images.min()) / (images.max() - images.min()),
        "Each image's own darkest and brightest pixels were stretched to 0 and 1, as make_grid(normalize=True, "
        "scale_each=True) does: the pictures you were given are darker than that, and stretching changes them. "
        "Undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5, or pass value_range=(-1, 1) without scale_each.":
            torch.stack([(image - image.min()) / (image.max() - image.min()) for image in images]),
    }
    for advice, scaled in wrong_scalings.items():
        if matches(pixels, quantise(torchvision.utils.make_grid(scaled)), mask):
            return advice
    order = _tile_order(pixels, images)
    if order is not None and order != list(range(GRID_IMAGES)):
        return (f"Every tile is one of the images, un-normalised, but in another order (the tiles show the images "
                f"{order}): pass the batch in the order given.")
    white, expected_white = (pixels[mask] == 255).mean(), (expected[mask] == 255).mean()
    if white > 2 * expected_white + 0.05:
        return (f"{white:.0%} of the image pixels are pure white, where {expected_white:.0%} should be: float images "
                f"must lie in [0, 1], and TensorBoard clips everything above 1. `watchtrain hint 02` shows the steps.")
    return "`watchtrain hint 02` shows, step by step, how the grid is built and un-normalised."


def _tile_order(pixels: np.ndarray, images: torch.Tensor) -> list[int] | None:
    """Which image (un-normalised) each tile of the logged grid shows, or None when one shows none."""
    tiles = [quantise(image * 0.5 + 0.5) for image in images]
    order = []
    for index in range(GRID_IMAGES):
        top, left = 2 + 30 * (index // 8), 2 + 30 * (index % 8)
        tile = pixels[top:top + 28, left:left + 28]
        shown = next((k for k, expected in enumerate(tiles) if matches(tile, expected)), None)
        if shown is None:
            return None
        order.append(shown)
    return order


@exercise("log_image_grid")
def test_log_image_grid_closes_the_writer(lesson, tmp_path_factory):
    expect_writers_closed(_grid_log_dir(lesson, tmp_path_factory))


# log_channels_last_batch

def _channels_last_batch() -> np.ndarray:
    return np.random.default_rng(0).random(BATCH_SHAPE, dtype=np.float32)


def _tensorboard_grid(batch_nhwc: np.ndarray) -> np.ndarray:
    """add_images' own grid for at most 8 images: side by side, no padding, as H x W x C uint8."""
    return (np.concatenate(list(batch_nhwc), axis=1) * 255).clip(0, 255).astype(np.uint8)


def _batch_crash_advice(message: str) -> str | None:
    """The course's diagnosis of TensorBoard refusing the channels-last batch, from what its message reports."""
    crash = image_layout_crash(message)
    if crash is None:
        return None
    given = "(N, H, W, C) = (4, 12, 20, 3)"
    if crash.kind == "channels" and crash.passed_dataformats == "NHWC":
        return (f"You pass dataformats='NHWC', yet TensorBoard {crash.found()}: the array handed over was no "
                f"longer the batch you were given, {given}. Pass the batch itself, without permute, reshape or "
                f"transpose.")
    if crash.kind == "channels" and crash.passed_dataformats in (None, "NCHW"):
        return (f"Your batch is channels-last, {given}, but add_images reads (N, C, H, W) unless told otherwise "
                f"(TensorBoard {crash.found()}): pass dataformats='NHWC'.")
    if crash.kind == "axes" and crash.shape == BATCH_SHAPE:
        return (f"The batch has 4 axes, {given}, and dataformats={crash.dataformats!r} names {len(crash.dataformats)}"
                f"{' (the default of add_image, which logs one picture)' if crash.passed_dataformats is None else ''}: "
                f"log the batch with add_images(tag, batch, 0, dataformats='NHWC').")
    if crash.kind == "picture" and crash.channels in BATCH_SHAPE[1:3]:
        return (f"TensorBoard read one channels-last picture as (C, H, W) and found {crash.channels} colour channels. "
                f"The exercise logs the whole batch, as it is: add_images(tag, batch, 0, dataformats='NHWC').")
    return f"TensorBoard refused the array's layout: it {crash.found()}. `watchtrain hint 02` shows the calls."


def _batch_log_dir(lesson, tmp_path_factory):
    """The log_dir of the one call of log_channels_last_batch that the exercise's checks read."""
    def call(folder):
        log_dir = folder / "logs"
        call_explaining(lesson.log_channels_last_batch, str(log_dir), _channels_last_batch(),
                        explain=_batch_crash_advice)
        return log_dir
    return call_once((lesson.log_channels_last_batch.key,), tmp_path_factory, "log_channels_last_batch",
                     call)


def _logged_batch(lesson, tmp_path_factory, *, alone=False):
    log_dir = _batch_log_dir(lesson, tmp_path_factory)
    images = read_run(read_images, log_dir, what="Reading the images your code wrote to log_dir.")
    return the_only_image(images, BATCH_TAG, "the batch", alone=alone,
                          in_one_call="add_images(tag, batch, 0, dataformats='NHWC') lays its pictures side by side")


@exercise("log_channels_last_batch")
def test_log_channels_last_batch_grid_shape(lesson, tmp_path_factory):
    event = _logged_batch(lesson, tmp_path_factory, alone=True)
    count, height, width, _ = BATCH_SHAPE
    found, expected = (event.height, event.width), (height, count * width)
    advice = None
    if found == (width, count * height):
        advice = ("Height and width are swapped in every image: the axes reached TensorBoard as width before "
                  "height, through a permute or transpose that exchanged them (NHWC -> NCHW is permute(0, 3, 1, 2), "
                  "not (0, 3, 2, 1)) or a dataformats that names them the wrong way round ('NWHC'). Leave the array "
                  "as it is and pass dataformats='NHWC'.")
    expect_equal(found, expected, "The (height, width) of the stored grid (4 images of 12 x 20 side by side)",
                 advice=advice)


@exercise("log_channels_last_batch")
def test_log_channels_last_batch_pixels(lesson, tmp_path_factory):
    batch = _channels_last_batch()
    event = _logged_batch(lesson, tmp_path_factory)
    expected = _tensorboard_grid(batch)
    expect_equal((event.height, event.width), expected.shape[:2], "The (height, width) of the stored grid")
    expect(event.pixels.shape[2] >= 3, "The stored grid is in colour.", expected="3 channels (RGB)",
           found=f"{event.pixels.shape[2]} channel(s)")
    if matches(event.pixels, expected):
        return
    count, height, width, channels = BATCH_SHAPE
    scrambled = torch.from_numpy(batch).reshape(count, channels, height, width).permute(0, 2, 3, 1).numpy()
    if matches(event.pixels, _tensorboard_grid(scrambled)):
        advice = ("The pixels are scrambled: reshape() and view() keep the memory order and only relabel the axes. "
                  "Moving channels needs permute(0, 3, 1, 2); simpler still, pass dataformats='NHWC'.")
    elif matches(event.pixels, _tensorboard_grid(batch[..., ::-1])):
        advice = "Red and blue are swapped: the channels are in the order given, RGB; do not reverse them."
    elif matches(event.pixels, _tensorboard_grid(batch[::-1])):
        advice = "The pictures are in reverse order: log the batch in the order given."
    else:
        advice = "`watchtrain hint 02` shows how to hand TensorBoard the batch as it is."
    differences = pixel_differences(event.pixels, expected)
    fail("The stored grid's pixels are not the batch's images side by side.",
         expected="every pixel within 1 grey level",
         found=f"{int((differences > GREY_LEVELS).sum())} of {differences.size} pixels differ",
         advice=advice)


@exercise("log_channels_last_batch")
def test_log_channels_last_batch_closes_the_writer(lesson, tmp_path_factory):
    expect_writers_closed(_batch_log_dir(lesson, tmp_path_factory))


# log_class_histogram_figure

def _labels(counts: list[int]) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))


def _figure_crash_advice(message: str) -> str | None:
    mismatch = re.search(r"Mismatch is between '(\w+)' with shape \((\d+),\) and '(\w+)' with shape \((\d+),\)",
                         message)
    if mismatch and "shape mismatch" in message:
        sizes = {mismatch.group(1): int(mismatch.group(2)), mismatch.group(3): int(mismatch.group(4))}
        names, counts = sizes.get("x"), sizes.get("height", sizes.get("width"))
        if names == len(CLASS_NAMES) and counts is not None and counts < names:
            return (f"The bar chart got {names} class names and only {counts} counts: a class that never occurs in "
                    f"the labels got no count. Count every class, 0 included: torch.bincount(labels, minlength=10).")
    crash = image_layout_crash(message)
    if crash is not None and crash.kind == "picture" and crash.channels in FIGURE_SHAPE:
        return (f"TensorBoard read a picture of the figure as (C, H, W) and found {crash.channels} colour channels: "
                f"a figure turned into an array by hand is (H, W, C). add_figure(tag, fig, 0) renders the figure "
                f"itself, and closes it.")
    if crash is not None:
        return f"TensorBoard refused the array's layout: it {crash.found()}. `watchtrain hint 02` shows the calls."
    return None


def _logged_figure(lesson, log_dir, counts, *, alone=False):
    call_explaining(lesson.log_class_histogram_figure, str(log_dir), _labels(counts), explain=_figure_crash_advice)
    return _figure_in(log_dir, alone=alone)


def _figure_in(log_dir, *, alone=False):
    images = read_run(read_images, log_dir, what="Reading the figure your code logged in log_dir.")
    return the_only_image(images, FIGURE_TAG, "the figure", alone=alone)


def _class_counts_figure(lesson, tmp_path_factory):
    """The one call with CLASS_COUNTS's labels that most of the exercise's checks read: its log_dir,
    and how many figures it left open."""
    def call(folder):
        log_dir = folder / "logs"
        call_explaining(lesson.log_class_histogram_figure, str(log_dir), _labels(CLASS_COUNTS),
                        explain=_figure_crash_advice)
        return log_dir, figures_left_open()
    return call_once((lesson.log_class_histogram_figure.key, "class counts"), tmp_path_factory,
                     "log_class_histogram_figure", call)


@exercise("log_class_histogram_figure")
def test_log_class_histogram_figure_size(lesson, tmp_path_factory):
    event = _figure_in(_class_counts_figure(lesson, tmp_path_factory)[0], alone=True)
    found = (event.height, event.width)
    advice = None
    if found == (480, 640):
        advice = "That is matplotlib's default 6.4 x 4.8 inches: create the figure with plt.subplots(figsize=(10, 4))."
    elif found == FIGURE_SHAPE[::-1]:
        advice = "figsize is (width, height) in inches: figsize=(10, 4)."
    expect_equal(found, FIGURE_SHAPE, "The (height, width) in pixels of the rendered figure", advice=advice)


@exercise("log_class_histogram_figure")
def test_log_class_histogram_figure_draws_the_counts_and_closes(lesson, tmp_path, tmp_path_factory):
    log_dir, open_figures = _class_counts_figure(lesson, tmp_path_factory)
    first = _figure_in(log_dir)
    expect(not open_figures, "Every matplotlib figure is closed once the figure is logged.",
           expected="no open figure", found=f"{open_figures} open",
           advice="add_figure(tag, fig, step) closes the figure for you (unless close=False); a figure you create "
                  "but never log stays open and keeps its memory.")
    background = np.all(first.pixels[..., :3] >= 250, axis=2)
    expect(background.mean() < 0.995, "The figure holds a drawing, not a blank canvas.",
           expected="bars, ticks and labels", found=f"{background.mean():.1%} of the pixels are white",
           advice="Draw into the figure you log: ax.bar(CLASS_NAMES, counts), then add_figure(tag, fig, 0).")
    second = _logged_figure(lesson, tmp_path / "second", CLASS_COUNTS[::-1])
    same = first.pixels.shape == second.pixels.shape and np.array_equal(first.pixels, second.pixels)
    expect(not same, "The figure shows the labels' class counts: other labels must give another figure.",
           expected="a different figure for different labels", found="the same pixels both times",
           advice="Count the labels you are given (torch.bincount(labels, minlength=10)) and draw those counts.")


@exercise("log_class_histogram_figure")
def test_log_class_histogram_figure_closes_the_writer(lesson, tmp_path_factory):
    expect_writers_closed(_class_counts_figure(lesson, tmp_path_factory)[0])


def _changed_band(before: np.ndarray, after: np.ndarray, axis: int) -> dict | None:
    """Where two renderings differ, seen along one axis of the picture (0: columns, for upright bars;
    1: rows, for horizontal ones): the band of lines with the most changed pixels, its centre, width
    and length, and how much changed outside it. None when nothing changed."""
    changed = np.any(before[..., :3] != after[..., :3], axis=2)
    per_line = changed.sum(axis=axis)
    if per_line.max() == 0:
        return None
    strong = np.flatnonzero(per_line >= 0.5 * per_line.max())
    runs = np.split(strong, np.flatnonzero(np.diff(strong) > 1) + 1)
    band = max(runs, key=len)
    noticeable = per_line >= 0.25 * per_line.max()
    outside = int(noticeable.sum() - noticeable[band[0]:band[-1] + 1].sum())
    return {"centre": (band[0] + band[-1]) / 2, "width": len(band), "length": float(np.median(per_line[band])),
            "bands": len(runs), "outside": outside}


def _bars_problem(base: np.ndarray, changed: dict[int, np.ndarray], axis: int) -> str | None:
    """What contradicts 'one bar per class, in one row, its length proportional to the count' in the
    changes between the renderings, along one axis; None when nothing does."""
    def name(klass: int) -> str:
        return f"class {klass} ({CLASS_NAMES[klass]}) from {BAR_BASE[klass]} to {BAR_CHANGES[klass]}"

    bands = {}
    for klass, picture in changed.items():
        if picture.shape != base.shape:
            return f"raising the count of {name(klass)} changed the figure's size"
        bands[klass] = _changed_band(base, picture, axis)
        if bands[klass] is None:
            return f"raising the count of {name(klass)} left the figure unchanged"
    scattered = [klass for klass, band in bands.items() if band["bands"] > 1 or band["outside"] > band["width"] // 2]
    if scattered:
        if all(BAR_BASE[klass] == 0 for klass in scattered):
            why = ("a class that never occurs has no bar of its own (height 0): its first image adds a bar and "
                   "moves the others")
        else:
            why = "the bars change places when one count changes, as when they are sorted by count"
        return f"raising the count of {name(scattered[0])} changed the figure in several places, not one bar: {why}"
    first, middle, last = (bands[klass] for klass in BAR_CHANGES)
    slot = (last["centre"] - first["centre"]) / (len(CLASS_NAMES) - 1)
    if abs(slot) < 5 or abs(middle["centre"] - (first["centre"] + 5 * slot)) > 0.25 * abs(slot):
        return ("the bars of classes 0, 5 and 9 are not where ten evenly spaced bars, in class order, put them "
                f"(their changes are centred at {first['centre']:.0f}, {middle['centre']:.0f} and "
                f"{last['centre']:.0f} pixels)")
    if any(band["width"] > 1.2 * abs(slot) for band in bands.values()):
        return "a change to one class's count changed more than that class's bar"
    scales = [bands[klass]["length"] / (BAR_CHANGES[klass] - BAR_BASE[klass]) for klass in BAR_CHANGES]
    if max(scales) > 1.2 * min(scales):
        return ("the bars' lengths do not grow in proportion to the counts (pixels per image: "
                + ", ".join(f"{scale:.1f}" for scale in scales) + ")")
    return None


@exercise("log_class_histogram_figure")
def test_log_class_histogram_figure_one_bar_per_class(lesson, tmp_path):
    _, words = call_explaining(lesson.log_class_histogram_figure.inside("figure_texts"), str(tmp_path / "base"),
                               _labels(BAR_BASE), explain=_figure_crash_advice)
    base = _figure_in(tmp_path / "base").pixels
    changed = {}
    for klass, count in BAR_CHANGES.items():
        counts = list(BAR_BASE)
        counts[klass] = count
        changed[klass] = _logged_figure(lesson, tmp_path / f"class_{klass}", counts).pixels
    problems = [_bars_problem(base, changed, axis) for axis in (0, 1)]
    if all(problems):
        fail("The figure must be a bar chart with one bar per class, in class order, each as long as the class's "
             "count: raising one class's count must change that class's bar alone.",
             expected=f"one bar per class, {len(CLASS_NAMES)} in all, a class without images at height 0",
             found=problems[0],
             advice="`watchtrain hint 02` shows how the counts and the bars are made.")
    _expect_class_names(words)


def _is_number(text: str) -> bool:
    try:
        float(text.replace("\u2212", "-"))  # matplotlib writes negative ticks with a minus sign, not a hyphen
    except ValueError:
        return False
    return True


def _expect_class_names(words: dict) -> None:
    """Every class's name is written on the figure: its tick labels, a legend or a note on a bar."""
    texts = words.get("figure_texts", "").splitlines()
    if not texts:  # no figure went through add_figure (an image drawn by hand, say): nothing to read
        return
    missing = [name for name in CLASS_NAMES if not any(name in text for text in texts)]
    if missing:
        ticks = words.get("figure_tick_labels", "").splitlines()
        advice = ("Every tick label is a number: the bars stand at the class indices with no names. Label each bar "
                  "with its class's name, CLASS_NAMES[k], in place of its index."
                  if ticks and all(_is_number(tick) for tick in ticks) else
                  "Label each bar with its class's name from CLASS_NAMES, as it is spelled there.")
        fail(f"The bars must be labelled with the class names: {len(missing)} of them appear nowhere on the figure.",
             expected=list(CLASS_NAMES), found=ticks or "no tick labels", advice=advice)


# log_weight_histograms

def _snapshots() -> list[dict[str, torch.Tensor]]:
    """Three snapshots of the tutorial CNN's parameters, each a small random step from the last."""
    generator = torch.Generator().manual_seed(1)
    snapshots = [{name: value.detach().clone() for name, value in Net().state_dict().items()}]
    for _ in range(2):
        snapshots.append({name: value + 0.05 * torch.randn(value.shape, generator=generator)
                          for name, value in snapshots[-1].items()})
    return snapshots


def _histograms_logged(lesson, tmp_path_factory):
    """The one call of log_weight_histograms that the exercise's checks read: (its log_dir, the
    snapshots it was given)."""
    def call(folder):
        log_dir, snapshots = folder / "logs", _snapshots()
        lesson.log_weight_histograms(str(log_dir), [dict(snapshot) for snapshot in snapshots])
        return log_dir, snapshots
    return call_once((lesson.log_weight_histograms.key,), tmp_path_factory, "log_weight_histograms", call)


def _logged_histograms(lesson, tmp_path_factory):
    """(what the learner logged, read back; the snapshots it was given)."""
    log_dir, snapshots = _histograms_logged(lesson, tmp_path_factory)
    return read_run(read_histograms, log_dir, what="Reading the histograms your code wrote to log_dir."), snapshots


def _tag_for(histograms: dict, name: str) -> str | None:
    """The learner's tag for parameter `name`: exact, else the only tag ending in it."""
    if name in histograms:
        return name
    candidates = [tag for tag in histograms if tag.endswith("/" + name) or tag.endswith(name)]
    return candidates[0] if len(candidates) == 1 else None


@exercise("log_weight_histograms")
def test_log_weight_histograms_tags_and_steps(lesson, tmp_path_factory):
    histograms, snapshots = _logged_histograms(lesson, tmp_path_factory)
    names = sorted(snapshots[0])
    advice = None
    if all(_tag_for(histograms, name) for name in names) and set(names) != set(histograms):
        advice = f"Use each parameter's name as given, as the tag, with nothing added: e.g. {names[0]!r}."
    expect_equal(sorted(histograms), names, "The histogram tags (one per parameter)", advice=advice)
    expected_steps = list(range(len(snapshots)))
    for name in names:
        steps = [event.step for event in histograms[name]]
        advice = None
        if steps and all(step == 0 for step in steps):
            advice = "Every snapshot went to step 0: pass the snapshot's index as global_step."
        elif steps == [step + 1 for step in expected_steps]:
            advice = ("The steps start at 1: a histogram's step is its snapshot's index, from 0 (where enumerate "
                      "starts by default).")
        else:
            advice = _one_counter_advice(steps, len(names), len(snapshots))
        expect_equal(steps, expected_steps, f"The steps of the {name!r} histograms (one per snapshot)", advice=advice)


def _one_counter_advice(steps: list[int], parameters: int, snapshots: int) -> str | None:
    """When one counter numbered every histogram added, across the parameters, what it looks like."""
    if len(steps) != snapshots or snapshots < 2 or parameters < 2:
        return None
    if all(later - earlier == parameters for earlier, later in zip(steps, steps[1:])):
        return (f"These steps go up by {parameters} from one snapshot to the next: one counter numbers every "
                f"histogram added, across all {parameters} parameters. A histogram's step is its snapshot's index "
                f"(0, 1, 2, ...), the same for every parameter of that snapshot.")
    if steps[0] > 1 and all(later - earlier == 1 for earlier, later in zip(steps, steps[1:])):
        return (f"These steps go on from {steps[0]}, where the parameter before ended: one counter numbers every "
                f"histogram added, parameter after parameter. A histogram's step is its snapshot's index "
                f"(0, 1, 2, ...), the same for every parameter.")
    return None


@exercise("log_weight_histograms")
def test_log_weight_histograms_closes_the_writer(lesson, tmp_path_factory):
    expect_writers_closed(_histograms_logged(lesson, tmp_path_factory)[0])


def _statistics(tensor: torch.Tensor) -> tuple[float, float, float, float]:
    values = tensor.detach().double()
    return float(values.numel()), float(values.min()), float(values.max()), float(values.sum())


@exercise("log_weight_histograms")
def test_log_weight_histograms_statistics(lesson, tmp_path_factory):
    histograms, snapshots = _logged_histograms(lesson, tmp_path_factory)
    for name in sorted(snapshots[0]):
        tag = _tag_for(histograms, name)
        expect(tag is not None, f"A histogram for the parameter {name!r}.", expected=name, found=sorted(histograms))
        events = histograms[tag]
        expect_equal(len(events), len(snapshots), f"The number of {name!r} histograms (one per snapshot)")
        expected = [_statistics(snapshot[name]) for snapshot in snapshots]
        for index, event in enumerate(events):
            found = (event.num, event.min, event.max, event.sum)
            advice = None
            twin = next((other for other, stats in enumerate(expected)
                         if other != index and all(abs(a - b) <= 1e-5 * max(1.0, abs(b)) for a, b in zip(found, stats))),
                        None)
            if twin is not None:
                advice = f"This is snapshot {twin}'s data: log snapshot i's tensor at step i."
            expect_close(found, expected[index],
                         f"The (count, min, max, sum) of the {name!r} histogram of snapshot {index}",
                         tol=1e-5, advice=advice)


# log_text_and_mesh

def _mesh_crash_advice(message: str) -> str | None:
    """Which array add_mesh refused for its shape, as far as its message tells. add_mesh checks vertices,
    faces and colors, in that order, stops at the first that is not (B, N, 3) and reports that one's
    shape only; vertices and colors have the same shape, (V, 3), so the message cannot tell them apart."""
    refused = re.search(r"should be of shape BxNx3, but got (?:torch\.Size\(\[|\()([\d, ]*)", message)
    if refused is None:
        return None
    shape = tuple(int(size) for size in refused.group(1).split(",") if size.strip())
    batched = ("vertices.unsqueeze(0) and colors.unsqueeze(0), of shape (1, V, 3), and faces.unsqueeze(0), of "
               "shape (1, F, 3)")
    if shape == tuple(FACES.shape):
        return (f"add_mesh refused faces: the array it reports, of shape {shape}, is the (F, 3) triangles without the "
                f"leading batch dimension that a mesh record needs. Pass faces.unsqueeze(0), of shape (1, F, 3). "
                f"(add_mesh checks vertices, faces and colors in that order and stops at the first it refuses: "
                f"vertices passed, and colors has not been checked.)")
    if shape == tuple(VERTICES.shape):
        return (f"add_mesh refused an array of shape {shape}: that is vertices or colors, both (V, 3), without the "
                f"leading batch dimension that a mesh record needs. add_mesh checks vertices, faces and colors in "
                f"that order and stops at the first it refuses, so either vertices lacks it, or vertices and faces "
                f"have it and colors lacks it. Add a leading batch dimension to each array that lacks one: "
                f"{batched}.")
    return (f"add_mesh wants vertices, faces and colors each as (B, N, 3), a batch of meshes, and refused an array of "
            f"shape {shape}. For one mesh: {batched}.")


def _text_and_mesh(lesson, tmp_path_factory, *, mesh_may_crash=False):
    """The log_dir of the learner's one call. For the text check, add_mesh crashing after add_text is
    the mesh check's business."""
    def call(folder):
        log_dir = folder / "logs"
        try:
            call_explaining(lesson.log_text_and_mesh, str(log_dir), NOTES, VERTICES.clone(), FACES.clone(),
                            COLORS.clone(), explain=_mesh_crash_advice)
        except GradingFailure as crash:  # add_mesh refused an array's shape: the mesh check reports it
            return log_dir, crash
        return log_dir, None
    log_dir, mesh_crash = call_once((lesson.log_text_and_mesh.key,), tmp_path_factory, "log_text_and_mesh", call)
    if mesh_crash is not None and not mesh_may_crash:
        raise mesh_crash
    return log_dir


@exercise("log_text_and_mesh")
def test_log_text_and_mesh_notes(lesson, tmp_path_factory):
    log_dir = _text_and_mesh(lesson, tmp_path_factory, mesh_may_crash=True)
    texts = read_run(read_text, log_dir, what="Reading the text your code wrote to log_dir.")
    expect("notes" in texts, "A text logged with the tag 'notes'.", expected="notes",
           found=sorted(texts) or "no text tags at all")
    found = texts["notes"]
    advice = None
    if len(found) > 1:
        advice = f"The note was logged {len(found)} times: log it once, at global_step 0."
    elif found and found[0][1] == NOTES:
        advice = "The text is right; log it at global_step 0."
    elif found and found[0][1].strip() == NOTES.strip():
        advice = "The text differs only in the white space around it: pass the Markdown string as it is."
    elif found:
        advice = "The text differs from the note you were given: pass the Markdown string as it is, unchanged."
    expect_equal(found, [(0, NOTES)], "The (step, Markdown text) logged under 'notes'", advice=advice)
    expect_writers_closed(log_dir)


@exercise("log_text_and_mesh")
def test_log_text_and_mesh_mesh_arrays(lesson, tmp_path_factory):
    log_dir = _text_and_mesh(lesson, tmp_path_factory)
    meshes = read_run(read_mesh, log_dir, what="Reading the mesh your code wrote to log_dir.")
    expect(MESH_NAME in meshes, f"A mesh logged with the tag {MESH_NAME!r}.", expected=MESH_NAME,
           found=sorted(meshes) or "no mesh at all")
    events = meshes[MESH_NAME]
    logged = [(event.step, event.sample) for event in events]
    advice = None
    if len({sample for _, sample in logged}) > 1:
        advice = (f"The mesh record holds a batch of {len({sample for _, sample in logged})} meshes: the batch holds "
                  f"one, vertices.unsqueeze(0) of shape (1, V, 3), and the same for faces and colors.")
    elif len({step for step, _ in logged}) > 1:
        advice = "The mesh was logged more than once: log it once, at global_step 0."
    elif logged and logged[0][0] != 0:
        advice = "Log the mesh at global_step 0."
    expect_equal(logged, [(0, 0)], "The (step, sample in the batch) of each logged mesh", advice=advice)
    mesh = events[0]
    expect_equal(mesh.vertices.shape, tuple(VERTICES.shape), "The shape of the stored vertices")
    expect(np.allclose(mesh.vertices, VERTICES.numpy()), "The stored vertices are the ones given.",
           expected=VERTICES.tolist(), found=mesh.vertices.tolist())
    expect(mesh.faces is not None, "The mesh has faces (triangles).", advice="Pass faces=... to add_mesh.")
    expect_equal(mesh.faces.tolist(), FACES.tolist(), "The stored faces (vertex indices per triangle)")
    expect(mesh.colors is not None, "The mesh has per-vertex colours.", advice="Pass colors=... to add_mesh.")
    expect_equal(mesh.colors.tolist(), COLORS.tolist(), "The stored per-vertex colours (uint8 RGB)")


# log_hparam_sweep

def _sweep_log_root(lesson, tmp_path_factory):
    """The log_root of the one call of log_hparam_sweep that the exercise's checks read."""
    def call(folder):
        log_root = folder / "sweep"
        lesson.log_hparam_sweep(str(log_root), [(dict(hparams), dict(metrics)) for hparams, metrics in TRIALS])
        return log_root
    return call_once((lesson.log_hparam_sweep.key,), tmp_path_factory, "log_hparam_sweep", call)


def _sessions(lesson, tmp_path_factory):
    log_root = _sweep_log_root(lesson, tmp_path_factory)
    sessions = read_run(read_hparams, log_root, what="Reading the hparams runs your code wrote under log_root.")
    expect(bool(sessions), "add_hparams records under log_root.", expected=f"{len(TRIALS)} sessions", found="none",
           advice="Call writer.add_hparams(hparams, metrics, run_name=...) once per trial.")
    return log_root, sessions


def _sessions_by_trial(sessions) -> list:
    """The session of each trial: by run name when those are right, else in the order written
    (add_hparams' default run names are timestamps, which sort in that order)."""
    by_run = {session.run: session for session in sessions}
    if all(run in by_run for run in TRIAL_RUNS):
        return [by_run[run] for run in TRIAL_RUNS]
    expect_equal(len(sessions), len(TRIALS), "The number of hparams sessions (one add_hparams call per trial)")
    return sorted(sessions, key=lambda session: session.run)


def _looks_like_a_timestamp(run: str) -> bool:
    try:
        return float(run.rsplit("/", 1)[-1]) > 1e9
    except ValueError:
        return False


@exercise("log_hparam_sweep")
def test_log_hparam_sweep_one_run_per_trial(lesson, tmp_path_factory):
    log_root, sessions = _sessions(lesson, tmp_path_factory)
    runs = [session.run for session in sessions]
    advice = None
    if any(_looks_like_a_timestamp(run) for run in runs):
        advice = ("Runs named after the time are add_hparams' default: pass run_name=f'trial_{i}', so that each "
                  "trial's run can be found (and matched with its training curves).")
    elif len(runs) == len(TRIAL_RUNS) and all(run.endswith("/" + name) for run, name in zip(runs, TRIAL_RUNS)):
        advice = ("add_hparams writes its run inside the writer's own directory, so the runs are nested: "
                  "use one SummaryWriter(log_root) for the whole sweep.")
    expect_equal(runs, TRIAL_RUNS, "The hparams runs under log_root", advice=advice)
    expect_writers_closed(log_root)


@exercise("log_hparam_sweep")
def test_log_hparam_sweep_hparams(lesson, tmp_path_factory):
    _, sessions = _sessions(lesson, tmp_path_factory)
    for index, session in enumerate(_sessions_by_trial(sessions)):
        # torch stores numbers as floats (32 -> 32.0), and 32 == 32.0 in Python.
        expected = TRIALS[index][0]
        advice = None
        other = next((k for k, (settings, _) in enumerate(TRIALS) if k != index and session.hparams == settings), None)
        if other is not None:
            advice = f"These are trial {other}'s settings: record each trial's own settings in its run trial_{index}."
        elif set(session.hparams) < set(expected):
            missing = sorted(set(expected) - set(session.hparams))
            advice = f"Settings are missing: {', '.join(map(repr, missing))}. Pass the trial's whole dict, as it is."
        elif set(session.hparams) > set(expected):
            extra = sorted(set(session.hparams) - set(expected))
            advice = f"Settings that are not the trial's were added: {', '.join(map(repr, extra))}."
        expect_equal(session.hparams, expected, f"The hyper-parameters recorded for trial {index}", advice=advice)


@exercise("log_hparam_sweep")
def test_log_hparam_sweep_metrics(lesson, tmp_path_factory):
    _, sessions = _sessions(lesson, tmp_path_factory)
    for index, session in enumerate(_sessions_by_trial(sessions)):
        expected = {METRIC_NAMES[key]: value for key, value in TRIALS[index][1].items()}
        advice = None
        if set(session.metrics) == set(TRIALS[index][1]):
            advice = ("Name the metrics 'hparam/accuracy' and 'hparam/loss': add_hparams also logs each metric "
                      "as a scalar in the trial's run, and the prefix keeps them apart from your training curves.")
        expect_equal(sorted(session.metrics), sorted(expected), f"The metric names recorded for trial {index}",
                     advice=advice)
        for name, value in expected.items():
            swapped = name.replace("accuracy", "@").replace("loss", "accuracy").replace("@", "loss")
            advice = "The accuracy and loss values are swapped." if abs(session.metrics[name] - expected[swapped]) < 1e-6 else None
            expect_close(session.metrics[name], value, f"The {name!r} of trial {index}", tol=1e-6, advice=advice)
