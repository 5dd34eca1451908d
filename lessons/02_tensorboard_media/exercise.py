"""Lesson 02: TensorBoard media. Images, figures, histograms, text, meshes and hparams.

Fill in each function below. Its docstring says exactly what to write and where; the autograder
opens the event files your code leaves behind with TensorBoard's own reader and checks tags,
steps, pixels, statistics and values. Check your work with:

    pytest autograder/test_02_tensorboard_media.py
"""
import matplotlib.pyplot as plt
import torch
import torchvision
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import CLASS_NAMES


def log_image_grid(log_dir, images):
    """Log a grid of Fashion-MNIST images that looks like the real clothes.

    `images` is a float tensor of shape (N, 1, 28, 28) made by `normalize_transform()`, so its
    pixels lie in [-1, 1] (Normalize((0.5,), (0.5,)) computed (x - 0.5) / 0.5).

    1. Undo the normalisation so the pixels are back in [0, 1]: `images * 0.5 + 0.5`.
    2. Build one grid image with `torchvision.utils.make_grid(...)` and its defaults
       (8 images per row, 2 pixels of padding).
    3. `add_image("fashion_mnist_images", grid, 0)` with a `SummaryWriter(log_dir)`, then close it.
    """
    raise NotImplementedError


def log_channels_last_batch(log_dir, batch):
    """Log a batch of channels-last colour images, the layout of PIL, OpenCV and matplotlib.

    `batch` is a float32 NumPy array of shape (N, H, W, 3) with values in [0, 1].
    Log it as is with `add_images("channels_last_batch", batch, 0, dataformats=...)`, telling
    TensorBoard the layout; do not reorder or reshape the array yourself. Use a
    `SummaryWriter(log_dir)` and close it.
    """
    raise NotImplementedError


def log_class_histogram_figure(log_dir, labels):
    """Draw a bar chart of how many images each class has and log it as a figure.

    `labels` is a 1-D integer tensor of class indices (0 to 9).

    1. Count the images per class (`torch.bincount(labels, minlength=10)`).
    2. `fig, ax = plt.subplots(figsize=(10, 4))` (the default 100 dpi makes it 1000 x 400 pixels),
       then `ax.bar(CLASS_NAMES, counts)`; add a title or axis labels if you like.
    3. `add_figure("class_counts", fig, 0)` with a `SummaryWriter(log_dir)`, then close the writer.
       add_figure renders the figure and closes it, so no figure is left open afterwards.
    """
    raise NotImplementedError


def log_weight_histograms(log_dir, snapshots):
    """Log how every parameter's values are distributed, snapshot after snapshot.

    `snapshots` is a list of dicts, each mapping a parameter name (such as "conv1.weight") to a
    tensor: copies of `model.state_dict()` taken during training. For snapshot `i` and each
    name in it, call `add_histogram(name, tensor, i)`: the tag is the parameter's name as given,
    the step is the snapshot's index. Use a `SummaryWriter(log_dir)` and close it.
    """
    raise NotImplementedError


def log_text_and_mesh(log_dir, notes, vertices, faces, colors):
    """Log a Markdown note and a small coloured 3-D mesh.

    - `notes` is a Markdown string: `add_text("notes", notes, 0)`.
    - `vertices` (V, 3) float32, `faces` (F, 3) int32 (three vertex indices per triangle) and
      `colors` (V, 3) uint8 tensors describe one mesh. add_mesh wants a batch of meshes, so add a
      leading batch dimension to each (shapes (1, V, 3), (1, F, 3), (1, V, 3)), then
      `add_mesh("shape", vertices=..., faces=..., colors=..., global_step=0)`.

    Use one `SummaryWriter(log_dir)` and close it.
    """
    raise NotImplementedError


def log_hparam_sweep(log_root, trials):
    """Record a small hyper-parameter sweep for TensorBoard's HPARAMS tab.

    `trials` is a list of `(hparams, metrics)` pairs: `hparams` maps names such as "lr",
    "batch_size" and "optimizer" to numbers or strings; `metrics` has the keys "accuracy" and
    "loss". With one `SummaryWriter(log_root)`, for trial `i` call

        add_hparams(hparams, {"hparam/accuracy": ..., "hparam/loss": ...}, run_name=f"trial_{i}")

    add_hparams writes its own run, in a sub-directory of the writer's directory named by
    run_name: here `log_root/trial_0`, `log_root/trial_1`, ... Close the writer.
    """
    raise NotImplementedError
