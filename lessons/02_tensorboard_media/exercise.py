"""Lesson 02: TensorBoard media. Images, figures, histograms, text, meshes and hparams.

Each function below is one exercise. Its docstring is a contract: it says what must be on disk
when the function returns (the tags, the steps, the image sizes and pixel values, the histograms,
the runs) and why that matters. It does not say how to write it: README.md in this folder teaches
the API, with examples on other data. Keep the names and the arguments as they are, and replace
`raise NotImplementedError` with your code.

The autograder reads the event files your code leaves behind with TensorBoard's own reader. It
rebuilds the expected images and compares them pixel by pixel (within one grey level), and it
compares each histogram's count, minimum, maximum and sum. Four commands help, run from the
course folder:

    watchtrain check 02      grade this lesson: points, and what was expected versus found
    watchtrain hint 02       one more hint each time you ask: the idea, the API, an example, the code
    watchtrain watch         re-check the lesson every time you save this file (Ctrl-C stops it)
    pytest autograder/test_02_tensorboard_media.py       the same checks, through pytest
"""
import matplotlib.pyplot as plt
import torch
import torchvision
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import CLASS_NAMES


def log_image_grid(log_dir, images):
    """Show a batch of Fashion-MNIST images the way the clothes really look.

    Input: `images` is a float tensor of shape (N, 1, 28, 28) made with `normalize_transform()`.
    So its pixels lie in [-1, 1], not in the [0, 1] they had before normalisation.

    When the function returns, `log_dir` holds a closed event file with one image, under the tag
    "fashion_mnist_images", at step 0:

    - the picture tiles all N images in their order, 8 to a row, with 2 pixels of padding around
      each one (the standard tiling). It is stored in RGB, the grey repeated in each channel:
      16 images give a (3, 62, 242) picture, 62 pixels high and 242 wide;
    - inside each tile, the pixel values are the image's values from before normalisation, in
      [0, 1]. The colour of the padding does not matter.

    Why it matters: TensorBoard stores images as 8-bit PNGs and clips every value below 0 to black.
    An image left in [-1, 1] loses its whole dark half, and you judge your data by a wrong picture.
    """
    raise NotImplementedError


def log_channels_last_batch(log_dir, batch):
    """Log colour pictures stored channels-last, the layout of PIL, OpenCV and matplotlib.

    Input: a float32 NumPy array of shape (N, H, W, 3): N pictures, H pixels high, W wide, with
    the three colours (RGB) on the last axis. The values lie in [0, 1].

    When the function returns, `log_dir` holds a closed event file with one image, under the tag
    "channels_last_batch", at step 0. It shows the N pictures side by side, in order (up to 8 to a
    row, no padding), each H high and W wide, with their colours unchanged. An input of shape
    (4, 12, 20, 3) gives one RGB image 12 pixels high and 80 wide.

    Leave the array as it is: do not move, reshape or copy its axes yourself. The exercise is to
    tell TensorBoard which layout you hand it (README.md, section 2).

    Why it matters: TensorBoard assumes channels come first. Told nothing, it takes the height for
    the channels and fails, and a reshape that "fixes" the shape scrambles the pixels.
    """
    raise NotImplementedError


def log_class_histogram_figure(log_dir, labels):
    """Draw how many images each class has, as a bar chart, and log the figure.

    Input: `labels` is a 1-D integer tensor of class indices, from 0 to 9.

    When the function returns:

    - `log_dir` holds a closed event file with one image, under the tag "class_counts", at step
      0: the rendered figure, 1000 pixels wide and 400 high (10 by 4 inches at matplotlib's
      default of 100 dots per inch);
    - the figure is a bar chart with one bar per class, labelled with the names in `CLASS_NAMES`.
      A bar's height is how often that class occurs in `labels`; a class that never occurs gets a
      bar of height 0. Other labels give another figure. A title and labels on the axes are up to you;
    - no matplotlib figure is left open.

    Why it matters: a class with few training images is a class the model rarely predicts. One
    look at this chart shows it, before any training. And figures left open pile up in memory
    when you log one every epoch.
    """
    raise NotImplementedError


def log_weight_histograms(log_dir, snapshots):
    """Show how the numbers in every parameter are spread, snapshot after snapshot.

    Input: `snapshots` is a list of dicts. Each dict is a copy of a model's `state_dict()` taken
    during training: it maps keys such as "conv1.weight" to tensors.

    When the function returns, `log_dir` holds a closed event file with one histogram tag per key
    of the dicts and no other tags. The tag is the key exactly as given ("conv1.weight", with
    nothing added). Each tag has one histogram per snapshot: the histogram of snapshot i's tensor
    sits at step i (0, 1, 2, ...).

    Why it matters: a stack of histograms over steps shows what no loss curve can: weights that
    stop moving, drift away or blow up.
    """
    raise NotImplementedError


def log_text_and_mesh(log_dir, notes, vertices, faces, colors):
    """Log a Markdown note and a small coloured 3-D mesh.

    Input: `notes` is a Markdown string. The last three arguments, in order, describe one mesh:
    the corner points, a float32 tensor of shape (V, 3); the triangles, an int32 tensor of shape
    (F, 3) holding three corner indices each; and one RGB colour per corner, a uint8 tensor of
    shape (V, 3).

    When the function returns, `log_dir` holds a closed event file with:

    - the note, exactly as given, as text under the tag "notes", at step 0;
    - one mesh under the tag "shape", at step 0, with exactly those corners, triangles and
      colours. TensorBoard's mesh record holds a batch of meshes, so this one is a batch of one.

    Why it matters: a note of what a run is (its settings, its purpose) sits next to what it did,
    and the Mesh tab shows 3-D data you can turn around.
    """
    raise NotImplementedError


def log_hparam_sweep(log_root, trials):
    """Record a small hyper-parameter sweep for TensorBoard's HParams tab.

    Input: a list of (settings, results) pairs, one per trial. `settings` maps names such as "lr",
    "batch_size" and "optimizer" to numbers or strings. `results` has two floats, under the keys
    "accuracy" and "loss".

    When the function returns, `log_root` holds one run per trial, directly under it (not nested
    deeper): the run of trial i (counting from 0) is the folder `trial_<i>`, so `trial_0`,
    `trial_1`, ... Each run records:

    - the trial's settings, exactly as given, as its hyper-parameters;
    - its results as exactly two values, named "hparam/accuracy" and "hparam/loss".

    Every file is closed.

    Why it matters: the HParams table (one row per run, sorted and filtered by any column) is only
    useful when you can tell the runs apart. A run named after a timestamp cannot be matched with
    its trial or with its training curves.
    """
    raise NotImplementedError
