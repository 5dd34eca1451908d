"""Lesson 03 autograder: the model graph (read from the event file) and the embedding projector
(projector_config.pbtxt, tensors.tsv, metadata.tsv and sprite.png, read as the projector reads them)."""
import functools
import os
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from watchtrain.artifacts.tensorboard import read_graph, read_projector
from watchtrain.data import CLASS_NAMES, fashion_mnist, normalize_transform
from watchtrain.grading import (call_once, exercise, expect, expect_equal, expect_tuple, expect_writers_closed, fail,
                                read_run, run_once)
from watchtrain.models import Net

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning")  # add_graph traces with it

# log_model_graph: the tutorial CNN traced on the first batch of a real Fashion-MNIST loader.
BATCH_SIZE = 4
IMAGE_SHAPE = (1, 28, 28)
OTHER_BATCH_SIZE = 6  # a second call's loader: 32 images in batches of 6, 6, 6, 6, 6 and 2, none of 4
NETWORK_OPERATIONS = {  # Net, layer by layer: what its forward pass must leave in the graph
    "aten::_convolution": ("convolutions", 2),  # conv1, conv2
    "aten::max_pool2d": ("max pooling", 2),  # pool, used after each convolution
    "aten::linear": ("linear layers", 3),  # fc1, fc2, fc3
    "aten::relu": ("ReLU activations", 4),  # after conv1, conv2, fc1, fc2
}

# select_n_random and log_embedding: 600 raw training images (all different), 100 of them chosen.
POOL, N = 600, 100
SIDE, FEATURES = 28, 28 * 28
TILES_PER_ROW = 10  # add_embedding tiles the sprite in a square: ceil(sqrt(100)) thumbnails per row
SPRITE_SHAPE = (TILES_PER_ROW * SIDE, TILES_PER_ROW * SIDE)
GREY_LEVELS = 1  # the sprite stores int(x * 255); allow one level for a different float rounding

CRASH_ADVICE = {  # a crash whose message holds a key fails with its advice (the lesson fixture)
    "len of header must be equal to the number of columns": (
        "metadata_header names the columns of a metadata given as one list per point (several columns). One class "
        "name per point is a single column, written without a header line: leave metadata_header out."),
    "has no attribute 'next'": ("The classic tutorial's `dataiter.next()` no longer exists: DataLoader "
                                "iterators only work with the built-in, `images, labels = next(iter(loader))`."),
    "No module named 'tensorflow'": ("The old tutorials' `import tensorflow as tf; tf.io.gfile = ...` hack is "
                                     "obsolete: add_embedding works without TensorFlow. Delete those lines."),
    # add_graph(net, x) runs net(*x) when x is a tuple or a list: the loader's whole batch is (images, labels).
    "forward() takes 2 positional arguments but 3 were given": (
        "The network's forward() got two inputs: add_graph(net, x) unpacks a tuple or list x into the call, and a "
        "loader's batch is the pair (images, labels). Unpack it first, images, labels = next(iter(loader)), and "
        "trace on images alone."),
    # add_graph(net) without input_to_model hands torch.jit.trace no example at all.
    "example_kwarg_inputs should be a dict": (
        "add_graph traces the network by running it on an example input, and it got none: give it the first batch's "
        "images as its second argument, add_graph(net, images)."),
    # add_embedding builds the sprite from label_img with TensorBoard's make_grid, which wants (n, C, H, W).
    "Input should be a 4D numpy array with 3 channels": (
        "add_embedding draws the sprite from label_img, which must be a batch laid out (n, C, H, W) with 1 or 3 "
        "channels: here (n, 1, 28, 28), the pixels with a channel axis after the first, pixels.unsqueeze(1). An "
        "(n, 28, 28), an (n, 28, 28, 1) or a flat (n, 784) label_img stops here."),
    "mat should be 2D": ("add_embedding's first argument, mat, holds one row of features per point: flatten each "
                         "picture, pixels.view(-1, 28 * 28), an (n, 784) tensor."),
    "#labels should equal with #data points": ("metadata needs one entry per row of mat, in the same order: as many "
                                               "class names as chosen pictures."),
    "#images should equal with #data points": ("label_img needs one thumbnail per row of mat, in the same order: the "
                                               "same chosen pictures, pixels.unsqueeze(1)."),
}


@functools.lru_cache(maxsize=None)
def _normalised_batches() -> Subset:
    return Subset(fashion_mnist(train=True, transform=normalize_transform()), range(8 * BATCH_SIZE))


@functools.lru_cache(maxsize=None)
def _raw_training_set() -> tuple[torch.Tensor, torch.Tensor]:
    dataset = fashion_mnist(train=True)
    return dataset.data[:POOL].clone(), dataset.targets[:POOL].clone()


def _pool() -> tuple[torch.Tensor, torch.Tensor]:
    data, labels = _raw_training_set()
    return data.clone(), labels.clone()


@functools.lru_cache(maxsize=None)
def _index_of_image() -> dict[bytes, int]:
    data, _ = _raw_training_set()
    return {data[index].numpy().tobytes(): index for index in range(POOL)}


# log_model_graph

def _logged_graph(lesson, tmp_path_factory, batch_size: int = BATCH_SIZE):
    """The call of log_model_graph that the exercise's checks read, given a loader of `batch_size`
    images a batch: its log_dir, and the graph."""
    def call(folder):
        log_dir = folder / "logs"
        lesson.log_model_graph(str(log_dir), Net(), DataLoader(_normalised_batches(), batch_size=batch_size))
        return log_dir
    log_dir = call_once((lesson.log_model_graph.key, batch_size), tmp_path_factory, "log_model_graph", call)
    return log_dir, read_run(read_graph, log_dir, what="Reading the model graph your code wrote to log_dir.")


@exercise("log_model_graph")
def test_log_model_graph_is_written(lesson, tmp_path_factory):
    log_dir, graph = _logged_graph(lesson, tmp_path_factory)
    expect_writers_closed(log_dir)
    expect(len(graph.nodes) > 0, "The model graph in log_dir is empty.", expected="the operations of Net",
           found="no nodes", advice="Call writer.add_graph(net, images) with the network and a batch of images.")


@exercise("log_model_graph")
def test_log_model_graph_holds_the_network_operations(lesson, tmp_path_factory):
    _, graph = _logged_graph(lesson, tmp_path_factory)
    found = {op: graph.count(op) for op in NETWORK_OPERATIONS}
    expected = {op: count for op, (_, count) in NETWORK_OPERATIONS.items()}
    missing = [name for op, (name, count) in NETWORK_OPERATIONS.items() if found[op] < count]
    expect(found == expected,
           "The graph must hold every operation of the tutorial CNN's forward pass.",
           expected=expected, found=found,
           advice=(f"Missing or short: {', '.join(missing)}. Trace the whole network, add_graph(net, images), "
                   f"not a part of it." if missing else
                   "The graph holds more operations than Net has: trace net itself, once."))


@exercise("log_model_graph")
def test_log_model_graph_traced_on_a_real_batch(lesson, tmp_path_factory):
    # Then again with batches of another size, none of them 4: an input made to the shape of the
    # docstring's example, not taken from the loader, shows there.
    for batch_size in (BATCH_SIZE, OTHER_BATCH_SIZE):
        _, graph = _logged_graph(lesson, tmp_path_factory, batch_size)
        last_batch_size = len(_normalised_batches()) % batch_size
        inputs = [node for node in graph.nodes if node.op == "IO Node" and node.name.startswith("input/")]
        found = inputs[0].output_shapes[0] if inputs and inputs[0].output_shapes else None
        advice = None
        if found == IMAGE_SHAPE:
            advice = "The graph was traced on a single image (images[0]): pass the whole batch, add_graph(net, images)."
        elif found is not None and tuple(found[1:]) == IMAGE_SHAPE and found[0] == BATCH_SIZE != batch_size:
            advice = (f"Given a loader of batches of {batch_size}, the graph's input is still a batch of {BATCH_SIZE}, "
                      f"a size this loader never gives: the input was not taken from the loader. Trace on its first "
                      f"batch, images, labels = next(iter(loader)).")
        elif found is not None and tuple(found[1:]) == IMAGE_SHAPE and found[0] == last_batch_size:
            advice = (f"The graph's input is a batch of {found[0]}: the size of this loader's last batch, or a part "
                      f"of its first. A run shows the last graph logged, so add_graph called for every batch in a "
                      f"loop leaves the last batch's. Call it once, on the whole first batch, "
                      f"images, labels = next(iter(loader)).")
        elif found is not None and tuple(found[1:]) == IMAGE_SHAPE and found[0] < batch_size:
            advice = (f"The graph was traced on {found[0]} of the first batch's {batch_size} images: pass the whole "
                      f"batch as the loader gives it, add_graph(net, images), not a part of it.")
        elif found is not None and tuple(found[1:]) == IMAGE_SHAPE and found[0] > batch_size:
            advice = (f"The graph was traced on {found[0]} images, more than the loader's first batch of "
                      f"{batch_size}: trace on that one batch alone, images, labels = next(iter(loader)).")
        expect_equal(found, (batch_size, *IMAGE_SHAPE), f"The shape of the graph's input (the batch add_graph ran "
                     f"the network on), given a loader of batches of {batch_size}", advice=advice)


# select_n_random

def _chosen_indices(images, what: str) -> list[int]:
    """The index in the pool of every chosen image, or a failure naming the first unknown one."""
    index_of = _index_of_image()
    indices = []
    for row, image in enumerate(images):
        image = torch.as_tensor(image) if isinstance(image, np.ndarray) else image  # the form is judged apart
        key = image.detach().cpu().contiguous().numpy().tobytes() if image.dtype == torch.uint8 else None
        if key not in index_of:
            if image.dtype != torch.uint8:
                advice = (f"The rows come back as {image.dtype}, and data is uint8: return the rows of data as they "
                          f"are, without converting or scaling them.")
            else:
                advice = "Return rows of data as they are: indexing data with positions, data[positions], does that."
            fail(f"{what}: row {row} is not one of the images you were given.",
                 expected=f"rows of data, unchanged ({tuple(images.shape[1:])} uint8)",
                 found=f"{image.dtype}, values {float(image.min()):g} to {float(image.max()):g}", advice=advice)
        indices.append(index_of[key])
    return indices


def _expect_distinct_and_random(indices: list[int], what: str) -> None:
    repeated = sorted(index for index, count in Counter(indices).items() if count > 1)
    expect(not repeated, f"{what}: the same image was chosen more than once.",
           expected=f"{N} different images", found=f"{len(set(indices))} different, repeated: {repeated[:8]}",
           advice="The images were drawn with replacement (as torch.randint, random.choices or np.random.choice "
                  "without replace=False do): draw without, one torch.randperm(len(data)) and its first n entries.")
    first = indices[0]
    expect(indices != list(range(first, first + len(indices))),
           f"{what}: the images are consecutive ({first} to {first + len(indices) - 1}), not a random choice.",
           advice="Shuffle first: perm = torch.randperm(len(data)), then data[perm][:n].")
    expect(sorted(indices) != list(range(len(indices))),
           f"{what}: these are the first {len(indices)} images, in a shuffled order: the choice never reaches "
           f"the other {POOL - len(indices)}.", expected=f"{len(indices)} of all {POOL} images",
           found=f"images 0 to {len(indices) - 1}",
           advice="torch.randperm(n) shuffles the positions 0 to n - 1 only: shuffle all of them, "
                  "torch.randperm(len(data)), and keep the first n.")


def _rows_and_classes(chosen, names: tuple[str, str], *, tensors: bool = False) -> tuple:
    """The two things select_n_random returned, rows first, or a failure that says what came back
    instead. With `tensors`, both must be tensors (the contract's form); the other checks judge the
    choice whatever array type carries it."""
    rows, classes = expect_tuple(chosen, "select_n_random", names, list_ok=not tensors)
    if getattr(rows, "ndim", None) == 1 and (getattr(classes, "ndim", None) or 0) > 1:
        fail(f"select_n_random() returns the {names[1]} first and the {names[0]} second.",
             expected=f"({', '.join(names)})", found=f"({_form(rows)}, {_form(classes)})",
             advice=f"Return the chosen {names[0]} first and their {names[1]} second.")
    if tensors:
        expect(isinstance(rows, torch.Tensor) and isinstance(classes, torch.Tensor),
               "select_n_random() must return two tensors, indexed from the ones you were given.",
               expected="(Tensor, Tensor)", found=f"({_form(rows)}, {_form(classes)})",
               advice=("Index the tensors you were given with the chosen positions, data[positions]: that keeps "
                       "them tensors (NumPy's arrays are another type)." if isinstance(rows, np.ndarray) else None))
    return rows, classes


def _form(value) -> str:
    """A value's type, with its shape when it has one: 'Tensor (100, 28, 28)'."""
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} {tuple(shape)}" if shape is not None else type(value).__name__


def _chosen_from_the_pool(lesson):
    """What select_n_random returns for N of the pool's images: one call for the checks that read it."""
    return run_once((lesson.select_n_random.key, "pool"), lambda: lesson.select_n_random(*_pool(), N))


@exercise("select_n_random")
def test_select_n_random_returns_n_different_images(lesson):
    images, chosen_labels = _rows_and_classes(_chosen_from_the_pool(lesson), ("images", "labels"), tensors=True)
    expect_equal((tuple(images.shape), tuple(chosen_labels.shape)), ((N, SIDE, SIDE), (N,)),
                 "The shapes of the chosen images and labels")
    _expect_distinct_and_random(_chosen_indices(images, "The chosen images"), "The chosen images")


@exercise("select_n_random")
def test_select_n_random_keeps_each_label_with_its_image(lesson):
    _, labels = _pool()
    images, chosen_labels = _rows_and_classes(_chosen_from_the_pool(lesson), ("images", "labels"))
    indices = _chosen_indices(images, "The chosen images")
    expected = labels[indices].tolist()
    found = torch.as_tensor(chosen_labels).tolist()
    advice = None
    if found == labels[:N].tolist():
        advice = "These are the first n labels: index the labels with the same permutation, labels[perm][:n]."
    elif sorted(found) == sorted(expected):
        advice = "The labels were shuffled separately: use the same permutation for both, labels[perm][:n]."
    elif len(found) == len(expected) and set(found) <= set(labels.tolist()):
        wrong = sum(a != b for a, b in zip(found, expected))
        advice = (f"{wrong} of the {N} labels are not their image's class, so they were chosen apart from the images "
                  f"(another permutation or another draw): choose both with one permutation.")
    expect_equal(found, expected, "The label returned with each chosen image (the image's own label)", advice=advice)


def _choice(lesson, data, labels, n, seed: int) -> list[int]:
    """The pool indices select_n_random chooses when the random generators are in the state `seed` gives."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    images, _ = _rows_and_classes(lesson.select_n_random(data.clone(), labels.clone(), n), ("images", "labels"))
    return _chosen_indices(images, f"The images chosen in the random state of seed {seed}")


@exercise("select_n_random")
def test_select_n_random_draws_from_the_random_state(lesson):
    data, labels = _pool()
    first, second = (_choice(lesson, data, labels, N, seed) for seed in (1, 2))
    if first != second:
        again = _choice(lesson, data, labels, N, 1)
        expect(again == first,
               "select_n_random chose other images in the same random state: its choice does not come from the "
               "random generator as the caller left it.",
               expected=f"the images {first[:8]}... again, as in the first call in that state",
               found=f"the images {again[:8]}...",
               advice="A generator of its own that seeds itself from the clock or the operating system "
                      "(np.random.default_rng() or random.SystemRandom() without a seed, say) cannot be set by the "
                      "caller, so a seeded run can never be repeated: draw from the global generator, "
                      "perm = torch.randperm(len(data)).")
        return
    steps = {b - a for a, b in zip(first, first[1:])}
    if len(steps) == 1:
        step = steps.pop()
        rule = f"consecutive images from image {first[0]}" if step == 1 else f"one image in {step}, from image {first[0]}"
        advice = f"The choice follows a fixed rule ({rule}): draw it at random, perm = torch.randperm(len(data))."
    else:
        advice = ("The choice looks random but never changes: a generator seeded inside the function "
                  "(torch.manual_seed, np.random.seed, random.seed or a Generator with a fixed seed) repeats its "
                  "choice on every call. Leave the seeding to the caller.")
    fail("select_n_random chose the same images in two different random states: its choice is fixed, not random.",
         expected="another choice when the random generator is in another state",
         found=f"twice the images {first[:8]}...",
         advice=advice)


@exercise("select_n_random")
def test_select_n_random_takes_n_rows_of_any_data(lesson):
    # Another n, and data that are not pictures: 40 rows of 3 float64 features, each its own class.
    rows, n = 40, 7
    data = torch.arange(rows * 3, dtype=torch.float64).view(rows, 3) / 10
    labels = torch.arange(rows) * 2 + 1
    picked, classes = _rows_and_classes(lesson.select_n_random(data.clone(), labels.clone(), n),
                                        ("rows", "classes"), tensors=True)
    shapes = (tuple(picked.shape), tuple(classes.shape))
    advice = None
    count = shapes[0][0] if shapes[0] else None
    if count == min(N, rows):
        advice = f"{count} rows came back for n = {n}, as for a fixed n of {N}: use the n you are given."
    elif count is not None and count != n:
        advice = f"{count} rows came back for n = {n}: keep n of the shuffled rows."
    expect_equal(shapes, ((n, 3), (n,)), f"The shapes of what select_n_random returns for n = {n} rows of (40, 3) data",
                 advice=advice)
    expect_equal(picked.dtype, data.dtype, "The dtype of the chosen rows (the data's own)",
                 advice="Return the rows of data as they are, without converting them.")
    positions = []
    for row in picked:
        matching = [k for k in range(rows) if torch.equal(data[k], row)]
        expect(bool(matching), "Every chosen row is a row of data, unchanged.", expected="a row of data, as it is",
               found=row.tolist())
        positions.append(matching[0])
    expect(len(set(positions)) == n, "No row of data is chosen twice.", expected=f"{n} different rows",
           found=f"{len(set(positions))} different")
    found, expected = classes.tolist(), labels[positions].tolist()
    advice = None
    if found == labels[:n].tolist():
        advice = "These are the first n classes: index the classes with the rows' permutation, labels[perm][:n]."
    elif sorted(found) != sorted(expected) and set(found) <= set(labels.tolist()):
        advice = "The classes were chosen apart from the rows: choose both with one permutation."
    expect_equal(found, expected, "The class returned with each chosen row (its own)", advice=advice)


# log_embedding

def _embedding(lesson, tmp_path_factory):
    """The learner's one embedding, and what their select_n_random picks from the same random state:
    one call of each for all the exercise's checks."""
    return call_once((lesson.log_embedding.key,), tmp_path_factory, "log_embedding",
                     lambda folder: _embed(lesson, folder))


def _embed(lesson, folder):
    log_dir = folder / "logs"
    data, labels = _pool()
    lesson.log_embedding(str(log_dir), data, labels, N)
    picks = _replayed_picks(lesson)
    embeddings = read_run(read_projector, log_dir, what="Reading the projector files your code wrote in log_dir.")
    if not embeddings:
        fail("There is no projector_config.pbtxt under log_dir, so the projector has nothing to show.",
             expected="log_dir/projector_config.pbtxt", found="none",
             advice="No add_embedding call wrote into log_dir: add_embedding writes into its writer's directory, "
                    "so call it on a SummaryWriter(log_dir).")
    expect(len(embeddings) == 1, "add_embedding must be called once.", expected=1, found=len(embeddings),
           advice="Each call adds an embedding to projector_config.pbtxt; call it once, with all n images.")
    embedding = embeddings[0]
    expect_equal(embedding.run, ".", "Where projector_config.pbtxt was written, relative to log_dir",
                 advice="Write with SummaryWriter(log_dir) itself: add_embedding puts the config in the "
                        "writer's directory, and TensorBoard looks for it in the run's directory.")
    return log_dir, embedding, picks


def _replayed_picks(lesson) -> tuple[list[int | None], list[int]] | None:
    """The pool indices and classes the learner's own select_n_random picks from the random state
    log_embedding was called in. Every call starts from the checker's generators, and nothing draws
    from them between the two calls, so a log_embedding that picks with select_n_random first got
    exactly these. None when they cannot be known (select_n_random crashes or returns another shape)."""
    data, labels = _pool()
    index_of = _index_of_image()
    try:
        images, classes = lesson.select_n_random(data, labels, N)
        indices = [index_of.get(image.detach().cpu().contiguous().numpy().tobytes()) if image.dtype == torch.uint8
                   else None for image in images]
        return indices, [int(label) for label in classes]
    except Exception:  # a crash, a stub, a value of another shape: the checks then judge log_embedding alone
        return None


def _embedded_indices(embedding, *, judge_scale: bool = True) -> list[int]:
    """The pool index of each embedded point, recognised from its row of 784 features. Without
    `judge_scale` (for the checks of metadata.tsv and sprite.png, which only need to know which
    picture each point is), features scaled otherwise than to [0, 1] are stretched from their
    lowest to their highest value back to 0 to 255 and recognised too: the check of tensors.tsv
    judges the scale."""
    tensor = embedding.tensor
    advice = None
    if tensor.shape[0] == N and tensor.shape[1] != FEATURES:
        advice = f"Flatten each image to one row of {FEATURES} features: pixels.view(-1, 28 * 28)."
    elif tensor.shape[0] != N:
        advice = f"tensors.tsv holds {tensor.shape[0]} points: one row per chosen picture, n = {N} of them."
    expect_equal(tuple(tensor.shape), (N, FEATURES), "The shape of tensors.tsv (points, features)", advice=advice)
    unit = tensor  # the features as they should be, between 0 and 1
    if not judge_scale and (tensor.max() > 1.0 or tensor.min() < 0) and tensor.max() > tensor.min():
        unit = (tensor - tensor.min()) / (tensor.max() - tensor.min())
    elif tensor.max() > 1.0:
        raw = bool(np.all(tensor == np.rint(tensor))) and tensor.max() <= 255
        fail("The features in tensors.tsv go above 1.", expected="pixels scaled to [0, 1]",
             found=f"values {tensor.min():g} to {tensor.max():g}",
             advice=("These are the raw pixels, 0 to 255: scale them first, pixels = images.float() / 255." if raw
                     else "Scale the uint8 pixels to [0, 1] by dividing by 255: pixels = images.float() / 255."))
    rows = np.rint(unit.astype(np.float64) * 255)
    index_of = _index_of_image()
    indices = []
    for row, features in enumerate(rows):
        key = features.clip(0, 255).astype(np.uint8).tobytes()
        if key not in index_of:
            advice = "`watchtrain hint 03` shows how the rows are made from the chosen pictures."
            if tensor.min() < 0:
                advice = (f"The features go down to {tensor.min():g}: they were normalised. tensors.tsv holds the "
                          f"grey values divided by 255, between 0 and 1.")
            fail(f"Row {row} of tensors.tsv is not one of the images you were given, scaled to [0, 1].",
                 expected="the chosen picture's 784 grey values, divided by 255", found=_describe_row(tensor[row]),
                 advice=advice)
        indices.append(index_of[key])
    return indices


def _describe_row(row: np.ndarray) -> str:
    return f"{len(np.unique(row))} different values from {row.min():g} to {row.max():g}"


@exercise("log_embedding")
def test_log_embedding_writes_the_projector_files(lesson, tmp_path_factory):
    log_dir, embedding, _ = _embedding(lesson, tmp_path_factory)
    expect_writers_closed(log_dir)
    folder = Path(os.path.relpath(embedding.tensor_path.parent, log_dir)).as_posix()
    tag, _, step = embedding.tensor_name.rpartition(":")
    advice = None
    if tag != "default":
        advice = f"The embedding's tag is {tag!r}: leave tag out, so that add_embedding uses its default, 'default'."
    elif step.isdigit() and int(step) != 0:
        advice = f"The embedding was logged at step {int(step)}: leave global_step out (its default is 0)."
    expect_equal(folder, "00000/default", "The folder of tensors.tsv, relative to log_dir (00000 is the step, "
                 "default the tag)", advice=advice)
    missing = {name: fix for name, path, fix in (
        ("metadata.tsv", embedding.metadata_path, "metadata=[the class names]"),
        ("sprite.png", embedding.sprite_path, "label_img=pixels.unsqueeze(1)")) if path is None}
    expect(not missing, "The embedding must come with its labels (metadata.tsv) and thumbnails (sprite.png).",
           expected=["tensors.tsv", "metadata.tsv", "sprite.png"], found=f"missing: {', '.join(missing)}",
           advice=f"Pass {' and '.join(missing.values())} to add_embedding.")


@exercise("log_embedding")
def test_log_embedding_rows_are_the_chosen_images(lesson, tmp_path_factory):
    _, embedding, picks = _embedding(lesson, tmp_path_factory)
    indices = _embedded_indices(embedding)
    if picks is not None and picks[0] == indices:
        return  # the pictures your select_n_random picked, in its order: its own checks judge the choice
    _expect_distinct_and_random(indices, "The points in tensors.tsv")


@exercise("log_embedding")
def test_log_embedding_labels_name_each_image_class(lesson, tmp_path_factory):
    _, embedding, picks = _embedding(lesson, tmp_path_factory)
    indices = _embedded_indices(embedding, judge_scale=False)
    expect(not embedding.metadata_header,
           "metadata.tsv must hold one class name per line, without a header.",
           expected="single-column metadata", found=f"a header: {list(embedding.metadata_header)}",
           advice="Pass metadata as a plain list of names, without metadata_header.")
    found = embedding.metadata_column(0) if embedding.metadata else []
    _, labels = _raw_training_set()
    expected = [CLASS_NAMES[labels[index]] for index in indices]
    if found != expected and picks is not None and picks[0] == indices:
        # The points are what your select_n_random picked: name each with the class it returned with it
        # (whether that class is right is select_n_random's own check).
        expected = [CLASS_NAMES[label] if 0 <= label < len(CLASS_NAMES) else str(label) for label in picks[1]]
    advice = None
    if found and all(name.isdigit() for name in found):
        advice = "These are class indices: the projector should show names, [CLASS_NAMES[label] for label in chosen]."
    elif found == [CLASS_NAMES[label] for label in labels[:N].tolist()]:
        advice = ("These are the classes of the first n pictures of data, not of the chosen ones: name each point "
                  "with the class select_n_random returned with its picture.")
    elif sorted(found) == sorted(expected):
        advice = "The names are shuffled against the points: the labels must be chosen with the images' permutation."
    expect_equal(found, expected, "The class name in metadata.tsv for each point, in the order of tensors.tsv",
                 advice=advice)


@exercise("log_embedding")
def test_log_embedding_sprite_shows_each_image(lesson, tmp_path_factory):
    _, embedding, _ = _embedding(lesson, tmp_path_factory)
    indices = _embedded_indices(embedding, judge_scale=False)
    expect_equal(embedding.single_image_dim, (SIDE, SIDE), "The size of one thumbnail in the sprite (width, height)",
                 advice="label_img must have shape (n, 1, 28, 28): pixels.unsqueeze(1).")
    sprite = embedding.sprite
    expect_equal(sprite.shape[:2], SPRITE_SHAPE, f"The size of sprite.png (a square of {TILES_PER_ROW} x "
                                                 f"{TILES_PER_ROW} thumbnails of {SIDE} x {SIDE} pixels)")
    data, _ = _raw_training_set()

    def thumbnail(index: int) -> np.ndarray:
        # add_embedding writes uint8(x * 255) for x = pixel / 255, computed in float32.
        return ((data[index].numpy().astype(np.float32) / 255) * 255).astype(np.uint8).astype(int)

    for point, index in enumerate(indices):
        top, left = SIDE * (point // TILES_PER_ROW), SIDE * (point % TILES_PER_ROW)
        tile = sprite[top:top + SIDE, left:left + SIDE, :3].astype(int)
        expected = thumbnail(index)
        if np.abs(tile - expected[:, :, np.newaxis]).max() <= GREY_LEVELS:
            continue
        shown = next((other for other, pool_index in enumerate(indices)
                      if np.abs(tile - thumbnail(pool_index)[:, :, np.newaxis]).max() <= GREY_LEVELS), None)
        advice = "`watchtrain hint 03` shows how label_img is made from the chosen pictures."
        if set(np.unique(tile)) <= {0, 255} and len(np.unique(expected)) > 2:
            advice = ("The thumbnails are pure black and white: label_img held grey values 0 to 255 where values 0 to "
                      "1 are expected, and add_embedding multiplies them by 255, so every non-black pixel saturates. "
                      "Pass pixels = images.float() / 255.")
        elif shown is not None:
            advice = (f"Thumbnail {point} shows the picture of point {shown}: give label_img the chosen pictures in "
                      f"the order of the rows of mat.")
        elif np.abs(tile - expected.T[:, :, np.newaxis]).max() <= GREY_LEVELS:
            advice = ("The thumbnail is the right picture mirrored across its diagonal: its height and width were "
                      "swapped (a transpose or permute of the last two axes). label_img is (n, 1, 28, 28), each "
                      "picture as it is: pixels.unsqueeze(1).")
        fail(f"Thumbnail {point} of sprite.png does not show the image of point {point}.",
             expected=_describe_pixels(expected), found=_describe_pixels(tile), advice=advice)


def _describe_pixels(pixels: np.ndarray) -> str:
    """The grey levels of a picture, and where its ink lies: two pictures with the same levels in
    other places still read differently."""
    grey = pixels if pixels.ndim == 2 else pixels.max(axis=2)
    ink = np.argwhere(grey > grey.min() + (grey.max() - grey.min()) / 2)
    where = (f", ink in rows {ink[:, 0].min()}-{ink[:, 0].max()} and columns {ink[:, 1].min()}-{ink[:, 1].max()}"
             if len(ink) else "")
    return (f"{len(np.unique(pixels))} grey levels from {pixels.min()} to {pixels.max()}, "
            f"mean {pixels.mean():.1f}{where}")
