"""Lesson 02 autograder: images, figures, histograms, text, meshes and hparams, read back with
TensorBoard's own reader and compared with what the exercise asked for, pixel by pixel."""
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision

from watchtrain.artifacts.tensorboard import read_histograms, read_hparams, read_images, read_mesh, read_text
from watchtrain.data import fashion_mnist, normalize_transform
from watchtrain.grading import exercise, expect, expect_close, expect_equal, fail
from watchtrain.grading.submission import LearnerCrash
from watchtrain.models import Net
from watchtrain.grading.crashes import call_with_advice
from watchtrain.grading import submission
from watchtrain.tensorboard_checks import expect_writers_closed, read_run

GREY_LEVELS = 1  # TensorBoard truncates x * 255 to uint8; allow one level for rounding instead

GRID_TAG, GRID_IMAGES = "fashion_mnist_images", 16
GRID_SHAPE = (62, 242)  # make_grid: 2 rows x 8 columns of 28 px images, 2 px of padding around each

BATCH_TAG, BATCH_SHAPE = "channels_last_batch", (4, 12, 20, 3)  # N, H, W, C; H != W so a swap shows
LAYOUT_CRASHES = {
    clue: ("Your batch is channels-last, (N, H, W, C) = (4, 12, 20, 3), but add_images reads (N, C, H, W) "
           "unless told otherwise: pass dataformats='NHWC'.")
    for clue in ("in make_grid", "in convert_to_HWC", "in make_image")
}

FIGURE_TAG, FIGURE_SHAPE = "class_counts", (400, 1000)  # figsize=(10, 4) at 100 dpi
CLASS_COUNTS = [5, 12, 3, 20, 8, 0, 15, 7, 10, 2]

NOTES = ("## Run notes\n\n**lr** = 0.01, *batch size* = 64\n\n"
         "- optimizer: SGD with momentum 0.9\n- data: Fashion-MNIST (mini set)")
MESH_NAME = "shape"
# A square pyramid: four base corners and an apex; two triangles for the base, four for the sides.
VERTICES = torch.tensor([[-1, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1], [0, 1.5, 0]], dtype=torch.float32)
FACES = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]], dtype=torch.int32)
COLORS = torch.tensor([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]],
                      dtype=torch.uint8)
MESH_CRASHES = {"BxNx3": "add_mesh wants a batch of meshes: add a leading batch dimension, "
                         "vertices.unsqueeze(0) of shape (1, V, 3), and the same for faces and colors."}

TRIALS = [
    ({"lr": 0.1, "batch_size": 32, "optimizer": "sgd"}, {"accuracy": 0.71, "loss": 0.84}),
    ({"lr": 0.01, "batch_size": 64, "optimizer": "sgd"}, {"accuracy": 0.78, "loss": 0.62}),
    ({"lr": 0.001, "batch_size": 64, "optimizer": "adam"}, {"accuracy": 0.83, "loss": 0.49}),
]
TRIAL_RUNS = [f"trial_{index}" for index in range(len(TRIALS))]
METRIC_NAMES = {"accuracy": "hparam/accuracy", "loss": "hparam/loss"}


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


def the_only_image(images: dict, tag: str, what: str):
    """The single image logged at step 0 under tag, or a failure that says what was logged instead."""
    if tag not in images:
        fail(f"No image with the tag {tag!r} in log_dir.", expected=tag,
             found=sorted(images) or "no image tags at all", advice="Tags are matched exactly, case included.")
    events = images[tag]
    steps = [event.step for event in events]
    expect_equal(steps, [0], f"The steps at which {what} was logged under {tag!r}",
                 advice="Log it once, at global_step 0." if len(steps) > 1 else None)
    return events[0]


# log_image_grid

def _grid_images() -> torch.Tensor:
    dataset = fashion_mnist(train=True, transform=normalize_transform())
    return torch.stack([dataset[index][0] for index in range(GRID_IMAGES)])


def _logged_grid(lesson, tmp_path, images):
    log_dir = tmp_path / "logs"
    lesson.log_image_grid(str(log_dir), images.clone())
    images_logged = read_run(read_images, log_dir, what="Reading the images your code wrote to log_dir.")
    return the_only_image(images_logged, GRID_TAG, "the grid")


def _tile_mask() -> np.ndarray:
    """Where make_grid puts the images, leaving out the padding (its colour depends on whether the
    images were un-normalised before or after make_grid, and both are fine)."""
    mask = np.zeros(GRID_SHAPE, dtype=bool)
    for index in range(GRID_IMAGES):
        top, left = 2 + 30 * (index // 8), 2 + 30 * (index % 8)
        mask[top:top + 28, left:left + 28] = True
    return mask


@exercise("log_image_grid")
def test_log_image_grid_is_one_make_grid_image(lesson, tmp_path):
    event = _logged_grid(lesson, tmp_path, _grid_images())
    found = (event.height, event.width)
    advice = None
    if found == GRID_SHAPE[::-1]:
        advice = "Height and width are swapped: make_grid returns (C, H, W), which add_image takes as it is."
    elif found == (56, 224):
        advice = ("This is add_images' own grid, which has no padding: build the grid with "
                  "torchvision.utils.make_grid(images) and log it with add_image.")
    elif found == (28, 28):
        advice = "This is a single image: log the make_grid of the whole batch."
    expect_equal(found, GRID_SHAPE, f"The (height, width) of the {GRID_TAG!r} image (16 images, 8 per row, "
                                    f"2 px padding)", advice=advice)


@exercise("log_image_grid")
def test_log_image_grid_pixels_are_unnormalised(lesson, tmp_path):
    images = _grid_images()
    event = _logged_grid(lesson, tmp_path, images)
    expected = quantise(torchvision.utils.make_grid(images * 0.5 + 0.5))
    expect_equal((event.height, event.width), GRID_SHAPE, f"The (height, width) of the {GRID_TAG!r} image")
    mask = _tile_mask()
    if matches(event.pixels, expected, mask):
        return
    still_normalised = quantise(torchvision.utils.make_grid(images))
    if matches(event.pixels, still_normalised, mask):
        advice = ("The pixels are still normalised to [-1, 1]: TensorBoard clips everything below 0, so the dark "
                  "half of every image turns black. Undo Normalize((0.5,), (0.5,)) with images * 0.5 + 0.5 first.")
    elif (event.pixels[mask] == 255).mean() > 2 * (expected[mask] == 255).mean() + 0.05:
        advice = ("Far too many pixels are pure white: float images must lie in [0, 1], and everything above 1 "
                  "is clipped. Did you multiply by 255, or add 1 without halving?")
    else:
        advice = "Un-normalise with images * 0.5 + 0.5 and pass the images in their original order."
    differences = pixel_differences(event.pixels, expected, mask)
    fail(f"The pixels of the {GRID_TAG!r} image are not the un-normalised Fashion-MNIST images "
         f"(compared within {GREY_LEVELS} grey level, padding left out).",
         expected="every image pixel within 1 grey level",
         found=f"{int((differences > GREY_LEVELS).sum())} of {differences.size} pixels differ, "
               f"by up to {int(differences.max())} grey levels",
         advice=advice)


# log_channels_last_batch

def _channels_last_batch() -> np.ndarray:
    return np.random.default_rng(0).random(BATCH_SHAPE, dtype=np.float32)


def _tensorboard_grid(batch_nhwc: np.ndarray) -> np.ndarray:
    """add_images' own grid for at most 8 images: side by side, no padding, as H x W x C uint8."""
    return (np.concatenate(list(batch_nhwc), axis=1) * 255).clip(0, 255).astype(np.uint8)


def _logged_batch(lesson, tmp_path, batch):
    log_dir = tmp_path / "logs"
    call_with_advice(lesson.log_channels_last_batch, str(log_dir), batch.copy(), crashes=LAYOUT_CRASHES)
    images = read_run(read_images, log_dir, what="Reading the images your code wrote to log_dir.")
    return the_only_image(images, BATCH_TAG, "the batch")


@exercise("log_channels_last_batch")
def test_log_channels_last_batch_grid_shape(lesson, tmp_path):
    event = _logged_batch(lesson, tmp_path, _channels_last_batch())
    count, height, width, _ = BATCH_SHAPE
    found, expected = (event.height, event.width), (height, count * width)
    advice = None
    if found == (width, count * height):
        advice = ("Height and width are swapped in every image: permute(0, 3, 2, 1) is not NHWC -> NCHW. "
                  "Leave the array as it is and pass dataformats='NHWC'.")
    expect_equal(found, expected, "The (height, width) of the stored grid (4 images of 12 x 20 side by side)",
                 advice=advice)


@exercise("log_channels_last_batch")
def test_log_channels_last_batch_pixels(lesson, tmp_path):
    batch = _channels_last_batch()
    event = _logged_batch(lesson, tmp_path, batch)
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
    else:
        advice = "Log the array as it is, with dataformats='NHWC'."
    differences = pixel_differences(event.pixels, expected)
    fail("The stored grid's pixels are not the batch's images side by side.",
         expected="every pixel within 1 grey level",
         found=f"{int((differences > GREY_LEVELS).sum())} of {differences.size} pixels differ",
         advice=advice)


# log_class_histogram_figure

def _labels(counts: list[int]) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))


def _logged_figure(lesson, log_dir, counts):
    lesson.log_class_histogram_figure(str(log_dir), _labels(counts))
    images = read_run(read_images, log_dir, what="Reading the figure your code logged in log_dir.")
    return the_only_image(images, FIGURE_TAG, "the figure")


@exercise("log_class_histogram_figure")
def test_log_class_histogram_figure_size(lesson, tmp_path):
    event = _logged_figure(lesson, tmp_path / "logs", CLASS_COUNTS)
    found = (event.height, event.width)
    advice = None
    if found == (480, 640):
        advice = "That is matplotlib's default 6.4 x 4.8 inches: create the figure with plt.subplots(figsize=(10, 4))."
    elif found == FIGURE_SHAPE[::-1]:
        advice = "figsize is (width, height) in inches: figsize=(10, 4)."
    expect_equal(found, FIGURE_SHAPE, "The (height, width) in pixels of the rendered figure", advice=advice)


@exercise("log_class_histogram_figure")
def test_log_class_histogram_figure_draws_the_counts_and_closes(lesson, tmp_path):
    plt.close("all")
    first = _logged_figure(lesson, tmp_path / "first", CLASS_COUNTS)
    expect(not submission.open_figures, "Every matplotlib figure is closed once the figure is logged.",
           expected="no open figure", found=f"{submission.open_figures} open",
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


# log_weight_histograms

def _snapshots() -> list[dict[str, torch.Tensor]]:
    """Three snapshots of the tutorial CNN's parameters, each a small random step from the last."""
    generator = torch.Generator().manual_seed(1)
    snapshots = [{name: value.detach().clone() for name, value in Net().state_dict().items()}]
    for _ in range(2):
        snapshots.append({name: value + 0.05 * torch.randn(value.shape, generator=generator)
                          for name, value in snapshots[-1].items()})
    return snapshots


def _logged_histograms(lesson, tmp_path, snapshots):
    log_dir = tmp_path / "logs"
    lesson.log_weight_histograms(str(log_dir), [dict(snapshot) for snapshot in snapshots])
    return read_run(read_histograms, log_dir, what="Reading the histograms your code wrote to log_dir.")


def _tag_for(histograms: dict, name: str) -> str | None:
    """The learner's tag for parameter `name`: exact, else the only tag ending in it."""
    if name in histograms:
        return name
    candidates = [tag for tag in histograms if tag.endswith("/" + name) or tag.endswith(name)]
    return candidates[0] if len(candidates) == 1 else None


@exercise("log_weight_histograms")
def test_log_weight_histograms_tags_and_steps(lesson, tmp_path):
    snapshots = _snapshots()
    histograms = _logged_histograms(lesson, tmp_path, snapshots)
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
            advice = "The steps start at 1: use the snapshot's index, from 0, as enumerate() gives it."
        expect_equal(steps, expected_steps, f"The steps of the {name!r} histograms (one per snapshot)", advice=advice)


def _statistics(tensor: torch.Tensor) -> tuple[float, float, float, float]:
    values = tensor.detach().double()
    return float(values.numel()), float(values.min()), float(values.max()), float(values.sum())


@exercise("log_weight_histograms")
def test_log_weight_histograms_statistics(lesson, tmp_path):
    snapshots = _snapshots()
    histograms = _logged_histograms(lesson, tmp_path, snapshots)
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

def _text_and_mesh(lesson, tmp_path, *, mesh_may_crash=False):
    """Call the learner. For the text check, add_mesh crashing after add_text is the mesh check's business."""
    log_dir = tmp_path / "logs"
    arguments = (str(log_dir), NOTES, VERTICES.clone(), FACES.clone(), COLORS.clone())
    if not mesh_may_crash:
        call_with_advice(lesson.log_text_and_mesh, *arguments, crashes=MESH_CRASHES)
        return log_dir
    try:
        lesson.log_text_and_mesh(*arguments)
    except LearnerCrash as crash:
        if not any(clue in str(crash) for clue in MESH_CRASHES):
            raise
    return log_dir


@exercise("log_text_and_mesh")
def test_log_text_and_mesh_notes(lesson, tmp_path):
    log_dir = _text_and_mesh(lesson, tmp_path, mesh_may_crash=True)
    texts = read_run(read_text, log_dir, what="Reading the text your code wrote to log_dir.")
    expect("notes" in texts, "A text logged with the tag 'notes'.", expected="notes",
           found=sorted(texts) or "no text tags at all")
    expect_equal(texts["notes"], [(0, NOTES)], "The (step, Markdown text) logged under 'notes'",
                 advice="Pass the Markdown string as it is, at global_step 0.")
    expect_writers_closed(log_dir)


@exercise("log_text_and_mesh")
def test_log_text_and_mesh_mesh_arrays(lesson, tmp_path):
    log_dir = _text_and_mesh(lesson, tmp_path)
    meshes = read_run(read_mesh, log_dir, what="Reading the mesh your code wrote to log_dir.")
    expect(MESH_NAME in meshes, f"A mesh logged with the tag {MESH_NAME!r}.", expected=MESH_NAME,
           found=sorted(meshes) or "no mesh at all")
    events = meshes[MESH_NAME]
    expect_equal([(event.step, event.sample) for event in events], [(0, 0)],
                 "The (step, sample in the batch) of each logged mesh", advice="Log one mesh, once, at global_step 0.")
    mesh = events[0]
    expect_equal(mesh.vertices.shape, tuple(VERTICES.shape), "The shape of the stored vertices")
    expect(np.allclose(mesh.vertices, VERTICES.numpy()), "The stored vertices are the ones given.",
           expected=VERTICES.tolist(), found=mesh.vertices.tolist())
    expect(mesh.faces is not None, "The mesh has faces (triangles).", advice="Pass faces=... to add_mesh.")
    expect_equal(mesh.faces.tolist(), FACES.tolist(), "The stored faces (vertex indices per triangle)")
    expect(mesh.colors is not None, "The mesh has per-vertex colours.", advice="Pass colors=... to add_mesh.")
    expect_equal(mesh.colors.tolist(), COLORS.tolist(), "The stored per-vertex colours (uint8 RGB)")


# log_hparam_sweep

def _sessions(lesson, tmp_path):
    log_root = tmp_path / "sweep"
    trials = [(dict(hparams), dict(metrics)) for hparams, metrics in TRIALS]
    lesson.log_hparam_sweep(str(log_root), trials)
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
def test_log_hparam_sweep_one_run_per_trial(lesson, tmp_path):
    log_root, sessions = _sessions(lesson, tmp_path)
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
def test_log_hparam_sweep_hparams(lesson, tmp_path):
    _, sessions = _sessions(lesson, tmp_path)
    for index, session in enumerate(_sessions_by_trial(sessions)):
        # torch stores numbers as floats (32 -> 32.0), and 32 == 32.0 in Python.
        expect_equal(session.hparams, TRIALS[index][0], f"The hyper-parameters recorded for trial {index}",
                     advice="Pass the trial's hparams dict to add_hparams as it is.")


@exercise("log_hparam_sweep")
def test_log_hparam_sweep_metrics(lesson, tmp_path):
    _, sessions = _sessions(lesson, tmp_path)
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
