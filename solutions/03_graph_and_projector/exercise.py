"""Lesson 03: the model graph and the embedding projector.

Each function below states a contract: what must exist when it returns. The lesson's README.md
teaches the API with other models and other data; your job is to apply it here. The autograder
never looks at your code. It opens what your code leaves behind (the graph in the event file, and
the projector's projector_config.pbtxt, tensors.tsv, metadata.tsv and sprite.png), reads it with
TensorBoard's own readers, and says what it expected and what it found.

    watchtrain check 03     grade this lesson: points per exercise, and the first problem of each
    watchtrain hint 03      stuck? one more hint each time: the idea, the API, an example, the code
    watchtrain watch        re-check every time you save this file
    pytest autograder/test_03_graph_and_projector.py     the same checks, as plain pytest

Leave the function names and arguments as they are.
"""
import torch
from torch.utils.tensorboard import SummaryWriter

from watchtrain.data import CLASS_NAMES


def log_model_graph(log_dir, net, loader):
    """Record the network's graph in `log_dir`, traced on the first batch of `loader`.

    When this function returns:
    - `log_dir` holds one TensorBoard run, and its event file holds the graph of `net`'s whole
      forward pass: for the tutorial CNN, 2 convolutions, 2 max-poolings, 3 linear layers and
      4 ReLUs, each exactly once;
    - the graph's input has the shape of that first batch, the whole batch: (4, 1, 28, 28) when
      the grader's loader gives batches of 4;
    - every writer you opened is closed, so every event is on disk.

    Why: the Graphs tab is the quickest proof that the model you built is the model you meant,
    and the shapes it shows are those of the example it was traced on.
    """
    images, _ = next(iter(loader))
    with SummaryWriter(log_dir) as writer:
        writer.add_graph(net, images)


def select_n_random(data, labels, n=100):
    """Choose `n` different items at random, each with its own class.

    `data` holds one item per row of its first dimension (for example the (N, 28, 28) uint8
    pixels of a dataset), and row k of the 1-D tensor `labels` is the class of row k of `data`.

    Return a tuple of two tensors, `(chosen_rows, chosen_classes)`:
    - `chosen_rows` has shape (n, ...): n rows of `data`, unchanged (same dtype, same values);
    - no row is chosen twice, and the choice is random, not the first n or any other fixed run:
      it comes from the random generator as the caller left it (do not seed it here), so a call
      made in another random state chooses other rows;
    - `chosen_classes` has shape (n,), and its entry k is the class of row k of `chosen_rows`.

    Why: the projector shows each point with a class name. A class that has drifted away from its
    picture does not crash anything; it makes the picture lie.
    """
    perm = torch.randperm(len(data))
    return data[perm][:n], labels[perm][:n]


def log_embedding(log_dir, data, labels, n=100):
    """Show `n` random pictures in the embedding projector, each named by its class and drawn as a thumbnail.

    `data` holds a dataset's raw pictures: shape (N, 28, 28), uint8, grey values 0 to 255. `labels`
    holds their class indices (0 to 9). Pick the `n` pictures with your `select_n_random`.

    Make exactly one call to `add_embedding`, with the default tag and step, and let it write into
    `log_dir` itself. The exercise is about its arguments. When this function returns, `log_dir`
    holds projector_config.pbtxt, and the three files it names, in its sub-folder 00000/default:
    - tensors.tsv: n rows of 784 features, one row per picked picture: its grey values, row by
      row, divided by 255 (floats between 0 and 1);
    - metadata.tsv: n lines, line k holding the class name of row k as `CLASS_NAMES` spells it
      (such as "Sneaker", not 7), with no header line;
    - sprite.png: the n thumbnails, thumbnail k showing the picture of row k in its true grey
      levels. Give them as an (n, 1, 28, 28) tensor of the same floats between 0 and 1: the
      sprite is built by multiplying each value by 255, so values that are already 0 to 255
      turn white.
    Close everything you opened, so every file is complete. TensorFlow is not needed, and not
    installed.

    Why: row k, line k and thumbnail k describe one point. If any of the three is in another
    order, or scaled differently, the projector shows a cloud that looks right and is wrong.
    """
    images, chosen = select_n_random(data, labels, n)
    pixels = images.float() / 255
    with SummaryWriter(log_dir) as writer:
        writer.add_embedding(pixels.view(-1, 28 * 28), metadata=[CLASS_NAMES[label] for label in chosen],
                             label_img=pixels.unsqueeze(1))
