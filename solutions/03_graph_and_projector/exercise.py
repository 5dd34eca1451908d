"""Lesson 03: the model graph and the embedding projector.

Fill in each function below. Its docstring says exactly what to write and where; the autograder
opens what your code leaves behind (the graph in the event file, and the projector's
projector_config.pbtxt, tensors.tsv, metadata.tsv and sprite.png) and checks it. Check your work with:

    pytest autograder/test_03_graph_and_projector.py
"""
import torch
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import CLASS_NAMES


def log_model_graph(log_dir, net, loader):
    """Draw the network's graph in TensorBoard's Graphs tab, traced on one real batch.

    1. Take the first batch of `loader`: `images, labels = next(iter(loader))`. (The classic
       tutorial's `dataiter.next()` no longer exists: DataLoader iterators only have the
       built-in `next(...)`.)
    2. With a `SummaryWriter(log_dir)`, call `add_graph(net, images)`: TensorBoard runs `net` once
       on the whole batch and records every operation it performs, with the shapes it saw.
    3. Close the writer.
    """
    images, _ = next(iter(loader))
    with SummaryWriter(log_dir) as writer:
        writer.add_graph(net, images)


def select_n_random(data, labels, n=100):
    """Pick `n` different images at random, each with its own label.

    `data` holds one image per row of its first dimension (such as `dataset.data`, shape
    (N, 28, 28), uint8) and `labels` is the matching 1-D tensor of class indices
    (`dataset.targets`). Draw ONE random permutation, `perm = torch.randperm(len(data))`, and
    return `(data[perm][:n], labels[perm][:n])`: the same permutation for both, so every label
    still belongs to its image, and no image is drawn twice.
    """
    perm = torch.randperm(len(data))
    return data[perm][:n], labels[perm][:n]


def log_embedding(log_dir, data, labels, n=100):
    """Show `n` random images in the embedding projector: points named by class, drawn as thumbnails.

    `data` is `dataset.data`, the raw images: shape (N, 28, 28), uint8, values 0 to 255.
    `labels` is `dataset.targets`, their class indices (0 to 9).

    1. `images, chosen = select_n_random(data, labels, n)` (your function above).
    2. Scale the pixels to floats in [0, 1]: `pixels = images.float() / 255`.
    3. With a `SummaryWriter(log_dir)`, call `add_embedding` once, with the default tag and step:
       - `mat`: one row of 28 * 28 = 784 features per image, `pixels.view(-1, 28 * 28)`;
       - `metadata`: the class NAME of each chosen image, `[CLASS_NAMES[label] for label in chosen]`;
       - `label_img`: the thumbnails, `pixels.unsqueeze(1)`, shape (n, 1, 28, 28), in [0, 1].
         add_embedding multiplies them by 255 to build its 8-bit sprite, so uint8 images
         (0 to 255) would come out white.
    4. Close the writer. No TensorFlow is needed (the old `tf.io.gfile` hack is obsolete).
    """
    images, chosen = select_n_random(data, labels, n)
    pixels = images.float() / 255
    with SummaryWriter(log_dir) as writer:
        writer.add_embedding(pixels.view(-1, 28 * 28), metadata=[CLASS_NAMES[label] for label in chosen],
                             label_img=pixels.unsqueeze(1))
