"""Lesson 08: model visualisation. Summaries, autograd graphs, and a saved graph for Netron.

Each function below states a contract: what must exist when it returns (a returned object, the
files it wrote and what they hold) and why that matters. It does not say which calls to make:
README.md teaches the tools, with examples on other models and other names. The autograder
recomputes every number on its own, and opens what you made with torchinfo's own objects,
graphviz, onnx and onnxruntime. Keep each function's name and arguments, and replace
`raise NotImplementedError` with your code.

    watchtrain check 08                                 grade this lesson: points, expected and found
    watchtrain hint 08                                  one more hint each time: idea, API, example, code
    watchtrain watch                                    check again every time you save this file
    pytest autograder/test_08_model_visualisation.py    the same checks, with pytest's full output
"""
import os

import onnxruntime
import torch
import torchinfo
from torchviz import make_dot


def summarize_model(model, image_shape, batch_size, path, device):
    """Summarise `model` for a batch of `batch_size` images, save the table, and give back the statistics.

    `image_shape` is the shape of ONE image, (channels, height, width), such as (1, 28, 28): the
    input size that torchsummary wants. `device` ("cpu" or "cuda") is where the model already is.

    When it returns:
    - the result is torchinfo's statistics object, a `torchinfo.ModelStatistics`, for one forward
      pass on a batch of `batch_size` images of `image_shape`. So every layer's output shape
      starts with `batch_size`: for the course's `Net` and a batch of 4, the first convolution
      puts out [4, 6, 24, 24];
    - its parameter counts are those of `model` itself: all parameters, and the trainable ones
      (a frozen tensor, with requires_grad off, is not trainable);
    - the model is still on `device`. (Told nothing, torchinfo 1.8 moves a CPU model to the GPU
      whenever one is visible.)
    - `path` holds, as UTF-8 text, torchinfo's whole table, as printing the statistics shows it:
      the layers with their output shapes and parameter counts, "Total params: ...", and the
      memory estimate down to "Estimated Total Size (MB)";
    - nothing was printed on the screen.

    Why: the table tells you, before any training, whether the shapes fit together, how many
    weights the model has, and about how much memory it needs. Returned as an object, the
    numbers can also be checked by a script, which torchsummary's printout cannot.
    """
    raise NotImplementedError


def draw_autograd_graph(model, images, out_dir):
    """Draw the autograd graph of one forward pass, save it as SVG and PNG, and give it back.

    `images` is a batch on the model's device; `out_dir` is an existing folder.

    When it returns:
    - the result is the `graphviz.Digraph` that torchviz drew for the model's output on
      `images` (its raw class scores, not a loss). It holds every backward node of that forward pass, such
      as ConvolutionBackward0 and AddmmBackward0;
    - the box of each parameter of the model carries the parameter's name, as the model names
      it: conv1.weight, conv1.bias, ..., fc3.bias;
    - `out_dir` holds that drawing twice, rendered by Graphviz's `dot` program:
      "autograd_graph.svg" (an SVG with every node of the graph) and "autograd_graph.png" (a PNG
      of the whole graph). The DOT source file that Graphviz leaves beside them may stay.

    Graphviz's `dot` must be installed to draw the files (README section 2 says how).

    Why: the graph shows what backward() walks through, layer by layer, and where each gradient
    lands. Without the parameter names, the weight boxes are blank and you cannot tell fc1 from fc2.
    """
    raise NotImplementedError


def export_onnx(model, example_images, path):
    """Save `model`, graph and weights, as ONNX at `path`, for batches of any size.

    `model` may still be in train mode (it has just trained) and may be on any device;
    `example_images` is a batch on the same device, used only to trace the forward pass.

    When it returns:
    - `path` holds the whole model: Netron and onnxruntime open it from `path`, weights
      included. The weights may be inside the file, or in a second file beside it that the
      exporter wrote (its "external data", named like `path` with ".data" added). Either way is
      right; with a second file, the two are one model: leave both where they are;
    - the ONNX checker accepts the file;
    - the graph's only input is called "images" and its only output "logits";
    - their first dimension, the batch, is symbolic: the input is (batch, 1, 28, 28) and the
      output (batch, 10), so the file accepts batches of 1, of 5, of any size, and not only the
      size of `example_images`;
    - run exactly as written, the graph computes what the model computes in evaluation mode:
      its logits match the model's to 1e-4, and no node drops values at random;
    - the function gives back nothing.

    Why: a .pth file holds weights only. ONNX holds the computation itself, so Netron can show
    it and onnxruntime can run it without your Python class. A file frozen to one batch size, or
    with training-time Dropout inside, is a trap for whoever uses it next.
    """
    raise NotImplementedError


def onnx_predict(path, images):
    """Compute the ONNX model at `path` on `images` with onnxruntime, and give back its first output.

    `path` is an ONNX file such as `export_onnx` writes: its weights inside it, or in the ".data"
    file beside it. `images` is a float32 torch tensor, maybe on the GPU.

    When it returns, the result is a NumPy array (not a list, not a tensor): the model's first
    output for `images`, computed by onnxruntime on the CPU. For a classifier and 6 images,
    that is an array of shape (6, 10).

    The file decides what its input is called: look the name up in the file, and do not assume
    the one your own export uses.

    Why: this is how a model is used once it has left PyTorch, in a server, a phone app or a
    browser. It is also the check that an export computes what the model computed.
    """
    raise NotImplementedError
