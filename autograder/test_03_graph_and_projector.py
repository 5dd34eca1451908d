"""Lesson 03 autograder: the model graph (read from the event file) and the embedding projector
(projector_config.pbtxt, tensors.tsv, metadata.tsv and sprite.png, read as the projector reads them)."""
import functools
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from watchtrain.artifacts.tensorboard import read_graph, read_projector
from watchtrain.data import CLASS_NAMES, fashion_mnist, normalize_transform
from watchtrain.grading.crashes import call_with_advice
from watchtrain.grading import exercise, expect, expect_equal, fail
from watchtrain.models import Net
from watchtrain.tensorboard_checks import expect_writers_closed, read_run

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning")  # add_graph traces with it

# log_model_graph: the tutorial CNN traced on the first batch of a real Fashion-MNIST loader.
BATCH_SIZE = 4
BATCH_SHAPE = (BATCH_SIZE, 1, 28, 28)
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

CRASHES = {
    "has no attribute 'next'": ("The classic tutorial's `dataiter.next()` no longer exists: DataLoader "
                                "iterators only work with the built-in, `images, labels = next(iter(loader))`."),
    "No module named 'tensorflow'": ("The old tutorials' `import tensorflow as tf; tf.io.gfile = ...` hack is "
                                     "obsolete: add_embedding works without TensorFlow. Delete those lines."),
}


def call(function, *args, **kwargs):
    return call_with_advice(function, *args, crashes=CRASHES, **kwargs)


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

def _logged_graph(lesson, tmp_path):
    log_dir = tmp_path / "logs"
    call(lesson.log_model_graph, str(log_dir), Net(), DataLoader(_normalised_batches(), batch_size=BATCH_SIZE))
    return log_dir, read_run(read_graph, log_dir, what="Reading the model graph your code wrote to log_dir.")


@exercise("log_model_graph")
def test_log_model_graph_is_written(lesson, tmp_path):
    log_dir, graph = _logged_graph(lesson, tmp_path)
    expect_writers_closed(log_dir)
    expect(len(graph.nodes) > 0, "The model graph in log_dir is empty.", expected="the operations of Net",
           found="no nodes", advice="Call writer.add_graph(net, images) with the network and a batch of images.")


@exercise("log_model_graph")
def test_log_model_graph_holds_the_network_operations(lesson, tmp_path):
    _, graph = _logged_graph(lesson, tmp_path)
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
def test_log_model_graph_traced_on_a_real_batch(lesson, tmp_path):
    _, graph = _logged_graph(lesson, tmp_path)
    inputs = [node for node in graph.nodes if node.op == "IO Node" and node.name.startswith("input/")]
    found = inputs[0].output_shapes[0] if inputs and inputs[0].output_shapes else None
    advice = None
    if found == BATCH_SHAPE[1:]:
        advice = "The graph was traced on a single image (images[0]): pass the whole batch, add_graph(net, images)."
    elif found is not None and tuple(found[1:]) == BATCH_SHAPE[1:] and found[0] != BATCH_SIZE:
        advice = (f"The graph was traced on a batch of {found[0]}, not on the loader's first batch of "
                  f"{BATCH_SIZE}: use images, labels = next(iter(loader)).")
    expect_equal(found, BATCH_SHAPE, "The shape of the graph's input (the batch add_graph ran the network on)",
                 advice=advice)


# select_n_random

def _chosen_indices(images, what: str) -> list[int]:
    """The index in the pool of every chosen image, or a failure naming the first unknown one."""
    index_of = _index_of_image()
    indices = []
    for row, image in enumerate(images):
        key = image.detach().cpu().contiguous().numpy().tobytes() if image.dtype == torch.uint8 else None
        if key not in index_of:
            fail(f"{what}: row {row} is not one of the images you were given.",
                 expected=f"rows of data, unchanged ({tuple(images.shape[1:])} uint8)",
                 found=f"{image.dtype}, values {float(image.min()):g} to {float(image.max()):g}",
                 advice="Index the images you were given, data[perm][:n], without converting or scaling them.")
        indices.append(index_of[key])
    return indices


def _expect_distinct_and_random(indices: list[int], what: str) -> None:
    repeated = sorted(index for index, count in Counter(indices).items() if count > 1)
    expect(not repeated, f"{what}: the same image was chosen more than once.",
           expected=f"{N} different images", found=f"{len(set(indices))} different, repeated: {repeated[:8]}",
           advice="Draw without replacement: one torch.randperm(len(data)) and its first n entries "
                  "(torch.randint draws with replacement).")
    first = indices[0]
    expect(indices != list(range(first, first + len(indices))),
           f"{what}: the images are consecutive ({first} to {first + len(indices) - 1}), not a random choice.",
           advice="Shuffle first: perm = torch.randperm(len(data)), then data[perm][:n].")


@exercise("select_n_random")
def test_select_n_random_returns_n_different_images(lesson):
    data, labels = _pool()
    chosen = call(lesson.select_n_random, data, labels, N)
    expect(isinstance(chosen, tuple) and len(chosen) == 2, "select_n_random must return a pair (images, labels).",
           expected="(images, labels)", found=type(chosen).__name__)
    images, chosen_labels = chosen
    expect(isinstance(images, torch.Tensor) and isinstance(chosen_labels, torch.Tensor),
           "select_n_random must return two tensors, indexed from the ones you were given.",
           expected="(Tensor, Tensor)", found=f"({type(images).__name__}, {type(chosen_labels).__name__})")
    expect_equal((tuple(images.shape), tuple(chosen_labels.shape)), ((N, SIDE, SIDE), (N,)),
                 "The shapes of the chosen images and labels")
    _expect_distinct_and_random(_chosen_indices(images, "The chosen images"), "The chosen images")


@exercise("select_n_random")
def test_select_n_random_keeps_each_label_with_its_image(lesson):
    data, labels = _pool()
    images, chosen_labels = call(lesson.select_n_random, data, labels, N)
    indices = _chosen_indices(images, "The chosen images")
    expected = labels[indices].tolist()
    found = torch.as_tensor(chosen_labels).tolist()
    advice = None
    if found == labels[:N].tolist():
        advice = "These are the first n labels: index the labels with the same permutation, labels[perm][:n]."
    elif sorted(found) == sorted(expected):
        advice = "The labels were shuffled separately: use the same permutation for both, labels[perm][:n]."
    expect_equal(found, expected, "The label returned with each chosen image (the image's own label)",
                 advice=advice or "Index both with one permutation: data[perm][:n], labels[perm][:n].")


# log_embedding

def _embedding(lesson, tmp_path):
    log_dir = tmp_path / "logs"
    data, labels = _pool()
    call(lesson.log_embedding, str(log_dir), data, labels, N)
    embeddings = read_run(read_projector, log_dir, what="Reading the projector files your code wrote in log_dir.")
    if not embeddings:
        fail("There is no projector_config.pbtxt under log_dir, so the projector has nothing to show.",
             expected="log_dir/projector_config.pbtxt", found="none",
             advice="Call writer.add_embedding(...) on a SummaryWriter(log_dir), once.")
    expect(len(embeddings) == 1, "add_embedding must be called once.", expected=1, found=len(embeddings),
           advice="Each call adds an embedding to projector_config.pbtxt; call it once, with all n images.")
    embedding = embeddings[0]
    expect_equal(embedding.run, ".", "Where projector_config.pbtxt was written, relative to log_dir",
                 advice="Write with SummaryWriter(log_dir) itself: add_embedding puts the config in the "
                        "writer's directory, and TensorBoard looks for it in the run's directory.")
    return log_dir, embedding


def _embedded_indices(embedding) -> list[int]:
    """The pool index of each embedded point, recognised from its row of 784 features."""
    tensor = embedding.tensor
    expect_equal(tuple(tensor.shape), (N, FEATURES), "The shape of tensors.tsv (points, features)",
                 advice=f"Flatten each image to one row: pixels.view(-1, 28 * 28), {N} rows of {FEATURES}.")
    if tensor.max() > 1.0:
        fail("The features in tensors.tsv go above 1.", expected="pixels scaled to [0, 1]",
             found=f"values {tensor.min():g} to {tensor.max():g}",
             advice="Scale the uint8 pixels first: pixels = images.float() / 255.")
    rows = np.rint(tensor.astype(np.float64) * 255)
    index_of = _index_of_image()
    indices = []
    for row, features in enumerate(rows):
        key = features.clip(0, 255).astype(np.uint8).tobytes()
        if key not in index_of:
            fail(f"Row {row} of tensors.tsv is not one of the images you were given, scaled to [0, 1].",
                 advice="Use the chosen images themselves: pixels = images.float() / 255, then pixels.view(-1, 784).")
        indices.append(index_of[key])
    return indices


@exercise("log_embedding")
def test_log_embedding_writes_the_projector_files(lesson, tmp_path):
    log_dir, embedding = _embedding(lesson, tmp_path)
    expect_writers_closed(log_dir)
    missing = [name for name, path in (("metadata.tsv", embedding.metadata_path), ("sprite.png", embedding.sprite_path))
               if path is None]
    expect(not missing, "The embedding must come with its labels (metadata.tsv) and thumbnails (sprite.png).",
           expected=["tensors.tsv", "metadata.tsv", "sprite.png"], found=f"missing: {', '.join(missing)}",
           advice="Pass metadata=[class names] and label_img=pixels.unsqueeze(1) to add_embedding.")


@exercise("log_embedding")
def test_log_embedding_rows_are_the_chosen_images(lesson, tmp_path):
    _, embedding = _embedding(lesson, tmp_path)
    _expect_distinct_and_random(_embedded_indices(embedding), "The points in tensors.tsv")


@exercise("log_embedding")
def test_log_embedding_labels_name_each_image_class(lesson, tmp_path):
    _, embedding = _embedding(lesson, tmp_path)
    indices = _embedded_indices(embedding)
    expect(not embedding.metadata_header,
           "metadata.tsv must hold one class name per line, without a header.",
           expected="single-column metadata", found=f"a header: {list(embedding.metadata_header)}",
           advice="Pass metadata as a plain list of names, without metadata_header.")
    found = embedding.metadata_column(0) if embedding.metadata else []
    _, labels = _raw_training_set()
    expected = [CLASS_NAMES[labels[index]] for index in indices]
    advice = "Use one permutation for the images and the labels, and CLASS_NAMES[label] for each label."
    if found and all(name.isdigit() for name in found):
        advice = "These are class indices: the projector should show names, [CLASS_NAMES[label] for label in chosen]."
    elif sorted(found) == sorted(expected):
        advice = "The names are shuffled against the points: the labels must be chosen with the images' permutation."
    expect_equal(found, expected, "The class name in metadata.tsv for each point, in the order of tensors.tsv",
                 advice=advice)


@exercise("log_embedding")
def test_log_embedding_sprite_shows_each_image(lesson, tmp_path):
    _, embedding = _embedding(lesson, tmp_path)
    indices = _embedded_indices(embedding)
    expect_equal(embedding.single_image_dim, (SIDE, SIDE), "The size of one thumbnail in the sprite (width, height)",
                 advice="label_img must have shape (n, 1, 28, 28): pixels.unsqueeze(1).")
    sprite = embedding.sprite
    expect_equal(sprite.shape[:2], SPRITE_SHAPE, f"The size of sprite.png (a square of {TILES_PER_ROW} x "
                                                 f"{TILES_PER_ROW} thumbnails of {SIDE} x {SIDE} pixels)")
    data, _ = _raw_training_set()
    for point, index in enumerate(indices):
        top, left = SIDE * (point // TILES_PER_ROW), SIDE * (point % TILES_PER_ROW)
        tile = sprite[top:top + SIDE, left:left + SIDE, :3].astype(int)
        # add_embedding writes uint8(x * 255) for x = pixel / 255, computed in float32.
        expected = ((data[index].numpy().astype(np.float32) / 255) * 255).astype(np.uint8).astype(int)
        if np.abs(tile - expected[:, :, np.newaxis]).max() <= GREY_LEVELS:
            continue
        advice = "label_img must be the chosen images as floats in [0, 1], in the order of the points."
        if set(np.unique(tile)) <= {0, 255} and len(np.unique(expected)) > 2:
            advice = ("The thumbnails are pure black and white: label_img was uint8 (0 to 255), and add_embedding "
                      "multiplies by 255, so every non-black pixel saturates. Pass pixels = images.float() / 255.")
        fail(f"Thumbnail {point} of sprite.png does not show the image of point {point}.",
             expected=_describe_pixels(expected), found=_describe_pixels(tile), advice=advice)


def _describe_pixels(pixels: np.ndarray) -> str:
    return (f"{len(np.unique(pixels))} grey levels from {pixels.min()} to {pixels.max()}, "
            f"mean {pixels.mean():.1f}")
