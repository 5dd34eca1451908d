"""Lesson 08 autograder: summaries, autograd graphs and ONNX exports.

Every expected number is recomputed here on its own (parameter sums, forward hooks, the autograd
graph walked by hand, NumPy arithmetic); the learner's artifacts are read with torchinfo's objects,
graphviz, Pillow, onnx and onnxruntime.
"""
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import torch
from torch import nn

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.onnx import read_onnx, run_onnx
from watchtrain.grading import Described, exercise, expect, expect_equal, fail, run_once
from watchtrain.models import DropoutNet, Net

IMAGE_SHAPE = (1, 28, 28)
INSTALL_GRAPHVIZ = ("Install Graphviz, which provides `dot`: `sudo apt-get install graphviz` (Debian/Ubuntu; "
                    "`make setup` does it when run as root), `brew install graphviz` (macOS) or "
                    "`conda install -c conda-forge graphviz`; then `dot -V` prints its version. "
                    "(pip's `graphviz` package is only the Python side; it runs the `dot` program.)")
EXAMPLE_BATCH = 3  # the batch export_onnx traces with
ONNX_TOLERANCE = 1e-4


def _model(model_class, device: str) -> nn.Module:
    torch.manual_seed(0)
    return model_class().to(device)


def _images(batch: int, device: str, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *IMAGE_SHAPE, generator=generator).to(device)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else [f"({folder} does not exist)"]


# summarize_model

def _leaf_output_shapes(model: nn.Module, batch: int, device: str) -> list[tuple[str, list[int]]]:
    """(layer class, output shape) of every call of a leaf module, in call order, from forward hooks."""
    calls = []
    hooks = [module.register_forward_hook(lambda m, _, out: calls.append((type(m).__name__, list(out.shape))))
             for module in model.modules() if not list(module.children())]
    try:
        with torch.no_grad():
            model(torch.zeros(batch, *IMAGE_SHAPE, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def _summarize(lesson, tmp_path, model, batch, device):
    path = tmp_path / "summary.txt"
    stats = lesson.summarize_model(model, IMAGE_SHAPE, batch, str(path), device)
    if not (isinstance(stats, Described) and stats.kind == "torchinfo"):
        advice = "Return what torchinfo.summary(...) returns."
        if stats is None:
            advice = ("torchsummary.summary only prints and returns None; "
                      "torchinfo.summary returns the statistics: return them.")
        fail("summarize_model must return torchinfo's statistics.", expected="a torchinfo.ModelStatistics",
             found=stats.type_name if isinstance(stats, Described) else type(stats).__name__, advice=advice)
    return stats, path


def _summary_shapes(stats) -> list[tuple[str, list[int]]]:
    return [(layer["class_name"], list(layer["output_size"])) for layer in stats.summary_list if layer["is_leaf_layer"]]


@exercise("summarize_model")
def test_summarize_model_layer_output_shapes(lesson, tmp_path, device):
    batch = 4
    model = _model(Net, device)
    expected = _leaf_output_shapes(model, batch, device)
    stats, _ = _summarize(lesson, tmp_path, model, batch, device)
    where = sorted({p.device.type for p in model.parameters()})
    expect(where == [torch.device(device).type], "summarize_model moved the model to another device.",
           expected=[torch.device(device).type], found=where,
           advice="Without device=..., torchinfo 1.8 moves a model on the CPU to the GPU whenever one is visible: "
                  "pass device=device to torchinfo.summary.")
    found = _summary_shapes(stats)
    advice = None
    if found and len(found[0][1]) == len(expected[0][1]) - 1:
        advice = (f"The shapes have no batch dimension: torchinfo's input_size is the whole input, "
                  f"(batch_size, *image_shape) = {(batch, *IMAGE_SHAPE)}; torchsummary's {IMAGE_SHAPE} leaves the batch out.")
    elif found and found[0][1][:1] != [batch]:
        advice = f"The batch dimension is {found[0][1][0]}, not batch_size ({batch}): input_size=(batch_size, *image_shape)."
    expect_equal(found, expected, f"The output shape of every layer call for a batch of {batch} (Net)", advice=advice)


@exercise("summarize_model")
def test_summarize_model_parameter_counts(lesson, tmp_path):
    model = _model(DropoutNet, "cpu")
    model.conv1.requires_grad_(False)  # frozen, so trainable and total differ
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    expected = _leaf_output_shapes(model, 2, "cpu")
    stats, _ = _summarize(lesson, tmp_path, model, 2, "cpu")
    advice = ("These are the counts of another model: summarise the `model` argument, not a new one."
              if stats.total_params == total and stats.trainable_params != trainable else None)
    expect_equal((stats.total_params, stats.trainable_params), (total, trainable),
                 "(total, trainable) parameters of DropoutNet with conv1 frozen", advice=advice)
    expect_equal(_summary_shapes(stats), expected, "The output shape of every layer call for a batch of 2 (DropoutNet)")


@exercise("summarize_model")
def test_summarize_model_saves_the_table(lesson, tmp_path):
    batch = 4
    model = _model(Net, "cpu")
    total = sum(p.numel() for p in model.parameters())
    param_megabytes = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    first_shape = str(_leaf_output_shapes(model, batch, "cpu")[0][1])
    _, path = _summarize(lesson, tmp_path, model, batch, "cpu")
    expect(path.is_file(), "summarize_model wrote no file at `path`.", expected=path.name, found=_listing(path.parent),
           advice="Write str(stats) to the file: open(path, 'w', encoding='utf-8').write(str(stats)).")
    text = path.read_text(encoding="utf-8", errors="replace")
    advice = "Write str(stats), torchinfo's whole table, to the file."
    if "[-1, " in text:
        advice = "This is torchsummary's table (its shapes start with -1): write torchinfo's, str(stats)."
    for line in (f"Total params: {total:,}", f"Params size (MB): {param_megabytes:.2f}", first_shape,
                 "Estimated Total Size (MB)"):
        expect(line in text, f"The saved summary lacks {line!r}.", expected=line,
               found=text.strip()[:400] or "an empty file", advice=advice)


# draw_autograd_graph

def _require_dot() -> None:
    if shutil.which("dot") is None:
        fail("Graphviz's `dot` program is not installed (or not on PATH), so no graph can be rendered.",
             advice=INSTALL_GRAPHVIZ)


def _backward_node_names(output: torch.Tensor) -> set[str]:
    """The class names of every node of the autograd graph behind `output`, walked by hand."""
    names, seen, stack = set(), set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def _labels(source: str) -> set[str]:
    """The first line of every node label in DOT source."""
    quoted_or_bare = re.findall(r'label=(?:"((?:[^"\\]|\\.)*)"|([^\s\]]+))', source)
    return {(quoted or bare).strip().split("\n")[0].strip() for quoted, bare in quoted_or_bare}


def _draw(lesson, tmp_path, device):
    _require_dot()
    model = _model(Net, device)
    images = _images(2, device, seed=1)
    out_dir = tmp_path / "graph"
    out_dir.mkdir()
    graph = lesson.draw_autograd_graph(model, images, str(out_dir))
    expect(isinstance(graph, Described) and graph.is_a("graphviz.graphs.Digraph"),
           "draw_autograd_graph must return the graph make_dot built.", expected="a graphviz.Digraph",
           found=graph.type_name if isinstance(graph, Described) else type(graph).__name__,
           advice="Return the graph object torchviz built, not the path it rendered to.")
    return model, images, out_dir, graph


@exercise("draw_autograd_graph")
def test_draw_autograd_graph_nodes_and_parameter_names(lesson, tmp_path, device):
    model, images, _, graph = _draw(lesson, tmp_path, device)
    labels = _labels(graph.source)
    backward = _backward_node_names(model(images))
    missing = sorted(backward - labels)
    expect(not missing, "The graph lacks backward nodes of the forward pass model(images).",
           expected=sorted(backward), found=sorted(labels - {""}),
           advice="Draw the output of the forward pass: make_dot(model(images), params=...).")
    names = [name for name, _ in model.named_parameters()]
    missing = [name for name in names if name not in labels]
    advice = None
    if len(missing) == len(names):
        advice = ("The weights' boxes carry no names: pass params=dict(model.named_parameters()) to make_dot, "
                  "so each AccumulateGrad box shows which parameter it feeds.")
    expect(not missing, "The graph does not name the model's parameters.", expected=names,
           found=sorted(label for label in labels if "." in label) or "no parameter names", advice=advice)


@exercise("draw_autograd_graph")
def test_draw_autograd_graph_renders_svg_and_png(lesson, tmp_path):
    from PIL import Image

    _, _, out_dir, graph = _draw(lesson, tmp_path, "cpu")
    svg, png = out_dir / "autograd_graph.svg", out_dir / "autograd_graph.png"
    for path in (svg, png):
        expect(path.is_file(), f"{path.name} was not rendered in out_dir.", expected=path.name,
               found=_listing(out_dir),
               advice=f"graph.render(os.path.join(out_dir, 'autograd_graph'), format='{path.suffix[1:]}') "
                      f"writes {path.name}.")
    nodes = len(re.findall(r"^\s*\d+ \[label=", graph.source, flags=re.MULTILINE))
    try:
        root = ElementTree.parse(svg).getroot()
    except ElementTree.ParseError as err:
        fail(f"{svg.name} is not an SVG file (not even XML): {err}.", advice="Render it with format='svg'.")
    drawn = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    expect(root.tag == "{http://www.w3.org/2000/svg}svg" and len(drawn) >= nodes,
           f"{svg.name} does not draw the graph's {nodes} nodes.", expected=nodes, found=len(drawn),
           advice="Render the graph make_dot returned, with format='svg'.")
    try:
        with Image.open(png) as image:
            kind, size = image.format, image.size
    except OSError as err:
        fail(f"{png.name} is not an image: {err}.", advice="Render it with format='png'.")
    expect(kind == "PNG" and min(size) >= 200 and png.stat().st_size > 5_000,
           f"{png.name} is not a PNG of the whole graph.", expected="a PNG at least 200 x 200 pixels",
           found=f"{kind}, {size[0]} x {size[1]} pixels, {png.stat().st_size} bytes",
           advice="Render the graph make_dot returned, with format='png'.")


# export_onnx

# The export takes seconds, so each submission exports once per device; the tests read the same files.
def _export(lesson, tmp_path_factory, device):
    """Export a DropoutNet left in train mode; return the file and a CPU copy of the model in eval mode."""
    path, reference = run_once((lesson.export_onnx.key, device), lambda: _export_once(lesson, tmp_path_factory, device))
    expect(path.is_file(), "export_onnx wrote no file at `path`.", expected=path.name, found=_listing(path.parent),
           advice="torch.onnx.export(model, (example_images,), path, ...) writes it.")
    return path, reference


def _export_once(lesson, tmp_path_factory, device):
    model = _model(DropoutNet, device).train()
    reference = DropoutNet()
    reference.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    path = tmp_path_factory.mktemp(f"export_{device}") / "net.onnx"
    lesson.export_onnx(model, _images(EXAMPLE_BATCH, device, seed=2), str(path))
    return path, reference.eval()


def _read(path: Path):
    try:
        return read_onnx(path)
    except ArtifactError as err:
        fail(f"Your ONNX export cannot be used: {err.problem}.", advice=f"Fix: {err.fix}.")


def _run(path: Path, images: torch.Tensor) -> np.ndarray:
    try:
        return run_onnx(path, images.cpu().numpy())[0]
    except ArtifactError as err:
        fail(f"onnxruntime cannot run your export: {err.problem}.", advice=f"Fix: {err.fix}.")


@exercise("export_onnx")
def test_export_onnx_is_complete_and_valid(lesson, tmp_path_factory):
    path, _ = _export(lesson, tmp_path_factory, "cpu")
    info = _read(path)
    data = path.with_name(path.name + ".data")
    expect(data in info.external_data and data.is_file(), f"The weights file {data.name} is not beside {path.name}.",
           expected=[data.name], found=[file.name for file in info.external_data] or "weights stored inside the .onnx",
           advice="Keep the exporter's default (external data): the graph in net.onnx, the weights in net.onnx.data.")


@exercise("export_onnx")
def test_export_onnx_names_and_dynamic_batch(lesson, tmp_path_factory):
    path, _ = _export(lesson, tmp_path_factory, "cpu")
    info = _read(path)
    names = "Pass input_names=['images'] and output_names=['logits'] to torch.onnx.export."
    expect_equal(info.input_names, ("images",), "The names of the graph's inputs", advice=names)
    expect_equal(info.output_names, ("logits",), "The names of the graph's outputs", advice=names)
    for tensor, rest in ((info.inputs[0], IMAGE_SHAPE), (info.outputs[0], (10,))):
        advice = "dynamic_shapes=({0: torch.export.Dim('batch')},) makes dimension 0 of the input symbolic."
        if tensor.shape[:1] == (EXAMPLE_BATCH,):
            advice = (f"The batch dimension is fixed at {EXAMPLE_BATCH}, the size of example_images, so the file "
                      f"accepts no other batch size: {advice}")
        expect(len(tensor.shape) == 1 + len(rest) and tensor.is_dynamic(0) and tensor.shape[1:] == rest,
               f"The shape of {tensor.name!r} must have a dynamic batch dimension.",
               expected=("batch", *rest), found=tensor.shape, advice=advice)
    for batch in (1, 5):
        logits = _run(path, _images(batch, "cpu", seed=3))
        expect_equal(list(logits.shape), [batch, 10], f"The shape of onnxruntime's output for a batch of {batch}")


@exercise("export_onnx")
def test_export_onnx_matches_torch_in_eval_mode(lesson, tmp_path_factory, device):
    path, reference = _export(lesson, tmp_path_factory, device)
    info = _read(path)
    images = _images(EXAMPLE_BATCH, "cpu", seed=4)
    found = _run(path, images)
    with torch.no_grad():
        expected = reference(images).numpy()
    train_mode = (f"The graph holds {', '.join(info.training_nodes)}, which drop values at random: the model was "
                  f"exported in train mode. Call model.eval() before torch.onnx.export." if info.training_nodes else None)
    expect_equal(found.shape, expected.shape, "The shape of onnxruntime's output")
    difference = float(np.abs(found - expected).max())
    expect(difference <= ONNX_TOLERANCE,
           f"onnxruntime's logits differ from the model's (in eval mode) by up to {difference:.3g}.",
           expected=[round(float(v), 5) for v in expected[0]], found=[round(float(v), 5) for v in found[0]],
           advice=train_mode)
    expect(train_mode is None, "The export runs in training mode.", advice=train_mode)


# onnx_predict

def _linear_classifier_onnx(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A Flatten + Gemm classifier written with onnx.helper, weights in external data; returns (W, b)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(8)
    weight = (rng.standard_normal((10, 784)) * 0.05).astype(np.float32)
    bias = rng.standard_normal(10).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
         helper.make_node("Gemm", ["flat", "weight", "bias"], ["scores"], transB=1)],
        "linear_classifier",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", *IMAGE_SHAPE])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 10])],
        initializer=[numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=0)
    return weight, bias


@exercise("onnx_predict")
def test_onnx_predict_returns_onnxruntime_output(lesson, tmp_path, device):
    path = tmp_path / "classifier.onnx"
    weight, bias = _linear_classifier_onnx(path)
    images = _images(6, device, seed=5)
    found = lesson.onnx_predict(str(path), images)
    if isinstance(found, (list, tuple)):
        fail("onnx_predict returned a list, not an array.", expected="a numpy.ndarray of shape (6, 10)",
             found=f"a {type(found).__name__} of {len(found)}",
             advice="session.run(None, feeds) returns one array per output: return outputs[0].")
    expect(isinstance(found, np.ndarray), "onnx_predict must return a NumPy array.", expected="numpy.ndarray",
           found=type(found).__name__, advice="Return the array session.run gives you, as it is.")
    expected = images.cpu().numpy().reshape(6, -1) @ weight.T + bias
    expect_equal(list(found.shape), [6, 10], "The shape of the returned scores")
    difference = float(np.abs(found - expected).max())
    expect(difference <= ONNX_TOLERANCE, f"The returned scores differ from the model's by up to {difference:.3g}.",
           expected=[round(float(v), 5) for v in expected[0]], found=[round(float(v), 5) for v in found[0]],
           advice="Feed images.detach().cpu().numpy() under the model's input name and return outputs[0].")
