"""Lesson 08: model visualisation. Summaries, autograd graphs, and a saved graph for Netron.

Fill in each function below. Its docstring says exactly what to write and where; the autograder
recomputes every number on its own, opens your summary with torchinfo's own objects, your graph
with graphviz, and your ONNX file with onnx and onnxruntime. Check your work with:

    pytest autograder/test_08_model_visualisation.py
"""
import os

import onnxruntime
import torch
import torchinfo
from torchviz import make_dot


def summarize_model(model, image_shape, batch_size, path, device):
    """Summarise `model` with torchinfo for a batch of `batch_size` images; save the table; return the stats.

    `image_shape` is the shape of ONE image, (channels, height, width), e.g. (1, 28, 28): the
    input size torchsummary wants. torchinfo wants the whole input, batch dimension first.
    `device` ("cpu" or "cuda") is where the model already is.

    1. `stats = torchinfo.summary(model, input_size=(batch_size, *image_shape), device=device, verbose=0)`
       - verbose=0: compute the summary, print nothing.
       - device=device: without it, torchinfo 1.8 moves a model that is on the CPU to the GPU
         whenever one is visible (and leaves it there).
    2. Write `str(stats)`, the table (layers, output shapes, parameter counts, memory estimate),
       to the text file `path` (UTF-8).
    3. Return `stats` (a torchinfo.ModelStatistics).
    """
    raise NotImplementedError


def draw_autograd_graph(model, images, out_dir):
    """Draw the autograd graph of one forward pass with torchviz, render it as SVG and PNG, return it.

    `images` is a batch on the model's device; `out_dir` is an existing folder.

    1. `logits = model(images)`: the forward pass records the graph that backward() will walk.
    2. `graph = make_dot(logits, params=dict(model.named_parameters()))`. With `params` the blue
       boxes of the weights carry their names (conv1.weight, fc1.bias, ...); without it they are blank.
    3. Render it with Graphviz's `dot` program, twice, into `out_dir` under the name "autograd_graph":
       `graph.render(os.path.join(out_dir, "autograd_graph"), format="svg")` writes
       `autograd_graph.svg`, and the same call with format="png" writes `autograd_graph.png`.
       (Each call also saves the DOT source, the file `autograd_graph`, beside them.)
    4. Return `graph` (a graphviz.Digraph).
    """
    raise NotImplementedError


def export_onnx(model, example_images, path):
    """Save `model` (graph and weights) as ONNX at `path`, for batches of any size.

    `model` may still be in train mode (it has just trained) and on any device; `example_images`
    is a batch on the same device, used only to trace the forward pass.

    1. `model.eval()`: in train mode Dropout is exported as a Dropout node that drops values at
       random, so onnxruntime would not compute what the trained model computes.
    2. Export with the dynamo exporter (the default since torch 2.9; it needs onnx and onnxscript):
       `torch.onnx.export(model, (example_images,), path, dynamo=True, input_names=["images"],
       output_names=["logits"], dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)`
       - input_names / output_names name the graph's input and output: Netron shows these names,
         and onnxruntime is fed by them.
       - dynamic_shapes: dimension 0 of the first input, the batch, may take any size. Without it
         the batch size of example_images is frozen into the file.
       - verbose=False silences the exporter's progress messages.
    It writes `path` (the graph) and `path + ".data"` (the weights, "external data"). The two are
    one model: leave both where they are. Return nothing.
    """
    raise NotImplementedError


def onnx_predict(path, images):
    """Run the ONNX model at `path` on `images` with onnxruntime; return its first output (a NumPy array).

    `images` is a float32 torch tensor, maybe on the GPU. onnxruntime wants NumPy arrays in CPU memory.

    1. `session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])`
       (it reads the weights from the .onnx.data file beside `path` by itself).
    2. Look the input's name up, `session.get_inputs()[0].name`: every model names it differently.
    3. `outputs = session.run(None, {name: images.detach().cpu().numpy()})` (None: every output).
    4. `outputs` is a list with one array per output: return `outputs[0]`.
    """
    raise NotImplementedError
