"""Lesson 08 autograder: summaries, autograd graphs and ONNX exports.

Every expected number is recomputed here on its own (parameter sums, forward hooks, the autograd
graph walked by hand, NumPy arithmetic); the learner's artifacts are read with torchinfo's objects,
graphviz, Pillow, onnx and onnxruntime.
"""
import io
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import torch
from torch import nn

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.onnx import read_onnx, run_onnx
from watchtrain.grading import (Described, LearnerCrash, call_once, exercise, expect, expect_equal, fail,
                                printed_by_last_call, run_once, type_name)
from watchtrain.models import DropoutNet, Net

IMAGE_SHAPE = (1, 28, 28)
INSTALL_GRAPHVIZ = ("Install Graphviz, which provides `dot`: `sudo apt-get install graphviz` (Debian/Ubuntu; "
                    "`make setup` does it when run as root), `brew install graphviz` (macOS) or "
                    "`conda install -c conda-forge graphviz`; then `dot -V` prints its version. "
                    "(pip's `graphviz` package is only the Python side; it runs the `dot` program.)")
EXAMPLE_BATCH = 3  # the batch export_onnx traces with
ONNX_TOLERANCE = 1e-4

# A crash whose message holds one of these clues fails with the advice (the lesson fixture).
CRASH_ADVICE = {
    "its top-level keys must be the arg names": (
        "A dict of dynamic_shapes is keyed by the names of forward()'s own parameters (x for the course's Net), "
        "not by the input_names you give the ONNX graph. Give one entry per input in a tuple, in forward's "
        "order, dynamic_shapes=({0: torch.export.Dim(\"batch\")},), or key the dict by forward's parameter name."),
}


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


def _net_summary(lesson, tmp_path_factory, device):
    """The one call of summarize_model on the tutorial's Net (a batch of 4, on `device`) that most
    of the exercise's checks read: (stats, path, the model after the call, what the call printed)."""
    def call(folder):
        model, out = _model(Net, device), folder / "summary"
        out.mkdir()  # where the file goes, alone: the checks list this folder
        stats, path = _summarize(lesson, out, model, 4, device)
        return stats, path, model, printed_by_last_call()
    return call_once((lesson.summarize_model.key, "Net", device), tmp_path_factory, "summarize_model", call)


def _summarize(lesson, folder, model, batch, device):
    path = folder / "summary.txt"
    stats = lesson.summarize_model(model, IMAGE_SHAPE, batch, str(path), device)
    if not (isinstance(stats, Described) and stats.kind == "torchinfo"):
        advice = "Return the object torchinfo.summary(...) returns."
        if stats is None:
            advice = ("It returned None. Either the function has no `return`, or it calls torchsummary: "
                      "torchsummary.summary only prints and returns None; torchinfo.summary returns the statistics: "
                      "return them.")
        elif isinstance(stats, str):
            advice = ("It returned text. The table goes into the file; return the statistics object itself, which "
                      "holds the numbers (str(stats) is its table).")
        fail("summarize_model must return torchinfo's statistics.", expected="a torchinfo.ModelStatistics",
             found=stats.type_name if isinstance(stats, Described) else type(stats).__name__, advice=advice)
    return stats, path


def _summary_shapes(stats) -> list[tuple[str, list[int]]]:
    return [(layer["class_name"], list(layer["output_size"])) for layer in stats.summary_list if layer["is_leaf_layer"]]


def _batch_advice(found: list[tuple[str, list[int]]], expected: list[tuple[str, list[int]]], batch: int) -> str | None:
    """What a summary's layer output shapes say about its batch, when it is not `batch`."""
    if found and len(found[0][1]) == len(expected[0][1]) - 1:
        return (f"The shapes have no batch dimension: torchinfo's input_size is the whole input, "
                f"(batch_size, *image_shape) = {(batch, *IMAGE_SHAPE)}; torchsummary's {IMAGE_SHAPE} leaves the batch out.")
    if found and found[0][1][:1] != [batch]:
        return f"The batch dimension is {found[0][1][0]}, not batch_size ({batch}): input_size=(batch_size, *image_shape)."
    return None


@exercise("summarize_model")
def test_summarize_model_layer_output_shapes(lesson, tmp_path_factory, device):
    batch = 4
    expected = _leaf_output_shapes(_model(Net, device), batch, device)
    stats, _, model, _ = _net_summary(lesson, tmp_path_factory, device)
    where = sorted({p.device.type for p in model.parameters()})
    advice = f"Leave the model on {device}: summarising it must not move it."
    if device == "cpu" and "cuda" in where:
        advice = ("Without device=..., torchinfo 1.8 moves a model on the CPU to the GPU whenever one is visible: "
                  "pass device=device to torchinfo.summary.")
    expect(where == [torch.device(device).type], "summarize_model moved the model to another device.",
           expected=[torch.device(device).type], found=where, advice=advice)
    found = _summary_shapes(stats)
    expect_equal(found, expected, f"The output shape of every layer call for a batch of {batch} (Net)",
                 advice=_batch_advice(found, expected, batch))


@exercise("summarize_model")
def test_summarize_model_parameter_counts(lesson, tmp_path):
    model = _model(DropoutNet, "cpu")
    model.conv1.requires_grad_(False)  # frozen, so trainable and total differ
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    expected = _leaf_output_shapes(model, 2, "cpu")
    stats, _ = _summarize(lesson, tmp_path, model, 2, "cpu")  # its own call: another model, another batch
    advice = None
    if stats.total_params == total and stats.trainable_params == total:
        advice = ("Every parameter was counted as trainable, but conv1's are frozen in the model you were given: "
                  "summarise that `model` as it is, not a new one or a copy with every parameter trainable.")
    expect_equal((stats.total_params, stats.trainable_params), (total, trainable),
                 "(total, trainable) parameters of DropoutNet with conv1 frozen", advice=advice)
    expect_equal(_summary_shapes(stats), expected, "The output shape of every layer call for a batch of 2 (DropoutNet)")


@exercise("summarize_model")
def test_summarize_model_saves_the_table(lesson, tmp_path_factory):
    batch = 4
    model = _model(Net, "cpu")
    total = sum(p.numel() for p in model.parameters())
    param_megabytes = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    expected_shapes = _leaf_output_shapes(model, batch, "cpu")
    stats, path, _, _ = _net_summary(lesson, tmp_path_factory, "cpu")
    listing = _listing(path.parent)
    elsewhere = [name for name in listing if name.startswith(path.stem) and name != path.name]
    expect(path.is_file(), "summarize_model wrote no file at `path`.", expected=path.name, found=listing,
           advice=f"It wrote {elsewhere[0]} instead: write to `path` itself, as given." if elsewhere else
                  "Write str(stats) to the file: open(path, 'w', encoding='utf-8').write(str(stats)).")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        advice = "Open the file with encoding='utf-8' when you write it."
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            advice = "The file is UTF-16 (it starts with a UTF-16 byte-order mark): write it with encoding='utf-8'."
        fail(f"The saved summary is not UTF-8 text: {err}.", expected="UTF-8 text", found=repr(data[:40]),
             advice=advice)
    advice = "Write str(stats), torchinfo's whole table, to the file."
    if "[-1, " in text:
        advice = "This is torchsummary's table (its shapes start with -1): write torchinfo's, str(stats)."
    elif text.strip() == stats.text.strip():
        advice = ("The file holds the table of the statistics you returned, str(stats): what it lacks, your "
                  "summary lacks. " + _own_table_advice(stats, expected_shapes, batch))
    for line in (*(str(shape) for _, shape in expected_shapes), f"Total params: {total:,}",
                 f"Params size (MB): {param_megabytes:.2f}", "Estimated Total Size (MB)"):
        expect(line in text, f"The saved summary lacks {line!r}.", expected=line,
               found=text.strip()[:400] or "an empty file", advice=advice)


def _own_table_advice(stats, expected_shapes: list[tuple[str, list[int]]], batch: int) -> str:
    """What torchinfo was told that leaves the contract's lines out of the table it made."""
    if "Output Shape" not in stats.text:
        return ("Its table has no Output Shape column: leave torchinfo.summary's col_names at its default, or "
                "include \"output_size\" in it.")
    return (_batch_advice(_summary_shapes(stats), expected_shapes, batch) or
            "Writing it is right; the summary itself differs from the contract's.")


@exercise("summarize_model")
def test_summarize_model_prints_nothing(lesson, tmp_path_factory):
    _, _, _, printed = _net_summary(lesson, tmp_path_factory, "cpu")
    advice = "Remove what prints: the table goes into the file, and the numbers come back in the statistics."
    if "[-1, " in printed.stdout:
        advice = ("That is torchsummary's printout, which cannot be turned off: use torchinfo.summary(..., "
                  "verbose=0), which returns the statistics and prints nothing.")
    elif "Total params" in printed.stdout:
        advice = ("torchinfo prints its table unless told not to (verbose=1 by default): pass verbose=0 to "
                  "torchinfo.summary. str(stats) still gives the whole table for the file.")
    expect(printed.nothing, "summarize_model printed on the screen.", expected="nothing printed",
           found=(printed.stdout or printed.stderr).strip()[:300], advice=advice)


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
    return {label for label, _ in _nodes(source)}


def _nodes(source: str) -> list[tuple[str, str]]:
    """(first line of its label, fill colour) of every node in DOT source."""
    found = re.findall(r'^\s*\d+ \[label=(?:"((?:[^"\\]|\\.)*)"|([^\s\]]+))([^\]]*)\]', source, flags=re.MULTILINE)
    nodes = []
    for quoted, bare, rest in found:
        colour = re.search(r"fillcolor=(\S+)", rest)
        nodes.append(((quoted or bare).split("\n")[0].strip(), colour.group(1) if colour else ""))
    return nodes


def _output_shapes(source: str) -> list[str]:
    """The shapes torchviz prints in the boxes of the tensors it was given (filled darkolivegreen1)."""
    return re.findall(r'^\s*\d+ \[label="[^"]*?(\([\d, ]*\))"\s+fillcolor=darkolivegreen1', source,
                      flags=re.MULTILINE)


_FUNCTION_NODE = re.compile(r"\w+Backward\d*|AccumulateGrad")
_LOSS_NODES = ("Loss", "LogSoftmax")


def _draw(lesson, tmp_path_factory, device):
    """The one call of draw_autograd_graph (per device) that the exercise's checks read."""
    _require_dot()
    return call_once((lesson.draw_autograd_graph.key, device), tmp_path_factory, "draw_autograd_graph",
                     lambda folder: _drawn(lesson, folder, device))


def _drawn(lesson, folder, device):
    model = _model(Net, device)
    images = _images(2, device, seed=1)
    out_dir = folder / "graph"
    out_dir.mkdir()
    graph = lesson.draw_autograd_graph(model, images, str(out_dir))
    expect(isinstance(graph, Described) and graph.is_a("graphviz.graphs.Digraph"),
           "draw_autograd_graph must return the graph make_dot built.", expected="a graphviz.Digraph",
           found=graph.type_name if isinstance(graph, Described) else type(graph).__name__,
           advice="Return the graph object torchviz built, not the path it rendered to.")
    return model, images, out_dir, graph


def _graph_advice(missing: list[str], extra: list[str], drawn: set[str], outputs: list[str]) -> str:
    """What the drawn graph shows about the tensor it was drawn for."""
    if not drawn:
        shown = f" of shape {outputs[0]}" if outputs else ""
        return (f"The graph holds only the tensor{shown}, with no backward node: that tensor carries no autograd "
                f"history. Its forward pass ran under torch.no_grad() or torch.inference_mode(), or it was detached "
                f"(.detach(), .data): run model(images) with autograd on, and draw that output as it is.")
    if extra and "()" in outputs and any(marker in name for name in extra for marker in _LOSS_NODES):
        return (f"The graph goes on past the model's output, through {', '.join(extra)}: that is a loss (a single "
                f"number, shape ()). Draw the model's raw class scores, model(images), without a loss.")
    if extra and "()" in outputs:
        return (f"The graph goes on past the model's output, through {', '.join(extra)}, to a single number (shape "
                f"()) computed from it. Draw the model's raw class scores, model(images), as they are.")
    if extra and any("Softmax" in name for name in extra):
        shown = f" (shape {outputs[0]})" if outputs else ""
        return (f"The graph goes on past the model's output, through {', '.join(extra)}: it was drawn for the "
                f"probabilities computed from the class scores{shown}, not for the scores. Draw model(images) "
                f"itself, before any softmax.")
    if extra:
        return (f"The graph holds nodes that model(images) does not make ({', '.join(extra)}): it was drawn for "
                f"something computed from the output. Draw model(images) itself.")
    return (f"The graph stops short of the whole forward pass (it lacks {', '.join(missing)}): it was drawn for an "
            f"intermediate tensor. Draw the model's final output, model(images).")


@exercise("draw_autograd_graph")
def test_draw_autograd_graph_nodes_and_parameter_names(lesson, tmp_path_factory, device):
    model, images, _, graph = _draw(lesson, tmp_path_factory, device)
    nodes = _nodes(graph.source)
    backward = _backward_node_names(model(images))
    drawn = {label for label, _ in nodes if _FUNCTION_NODE.fullmatch(label)}
    missing, extra = sorted(backward - drawn), sorted(drawn - backward)
    advice = _graph_advice(missing, extra, drawn, _output_shapes(graph.source)) if missing or extra else None
    expect(not missing, "The graph lacks backward nodes of the forward pass model(images).",
           expected=sorted(backward), found=sorted(drawn) or "no backward node", advice=advice)
    expect(not extra, "The graph holds more than the forward pass model(images).",
           expected=sorted(backward), found=sorted(drawn), advice=advice)
    names = [name for name, _ in model.named_parameters()]
    boxes = [label for label, colour in nodes if colour == "lightblue"]
    missing = [name for name in names if name not in boxes]
    advice = None
    if not any(boxes):
        advice = ("The weights' boxes carry no names: either make_dot was given no `params`, or params that are "
                  "not the model's own tensors (a state_dict() holds copies, which match no box). Pass "
                  "params=dict(model.named_parameters()) to make_dot.")
    elif all(any(name.endswith("." + box) for name in names) for box in boxes if box):
        advice = ("The names are a sub-module's own (such as 'weight'), not the model's: give make_dot the whole "
                  "model's model.named_parameters().")
    elif all(any(box.endswith("." + name) for name in names) for box in boxes if box):
        advice = "The names carry a prefix the model does not use: give make_dot model.named_parameters() as it is."
    expect(not missing, "The graph does not name the model's parameters.", expected=names,
           found=[box for box in boxes if box] or "no parameter names", advice=advice)


_IMAGE_FORMATS = ("pdf", "svg", "png", "jpg", "jpeg", "gif", "ps", "eps")


def _render_advice(path: Path, listing: list[str], graph) -> str:
    """Why out_dir lacks `path`, from what is there and where the graph says it rendered."""
    stem, kind = path.stem, path.suffix[1:]
    call = f"graph.render(os.path.join(out_dir, '{stem}'), format='{kind}') writes {path.name}"
    if f"{path.name}.{kind}" in listing:
        return f"out_dir holds {path.name}.{kind}: render() adds the format's extension itself. {call}."
    if f"{stem}.pdf" in listing:
        return (f"out_dir holds {stem}.pdf: render() draws a PDF, Graphviz's default, unless told another format. "
                f"Render once per format: {call}.")
    others = [name for name in listing if name.startswith(stem + ".") and name.rsplit(".", 1)[-1] in _IMAGE_FORMATS]
    if others:
        return f"out_dir holds {', '.join(others)}, but no {path.name}: {call}."
    sources = [name for name in listing
               if (path.parent / name).is_file() and _head(path.parent / name).startswith(DOT_START)]
    if sources and sources == listing:
        return (f"out_dir holds only the graph's DOT source ({', '.join(sources)}): saving a graph writes its text, "
                f"and Graphviz draws it when the graph is rendered. {call}.")
    rendered = str(getattr(graph, "filename", "") or "")
    if not listing and rendered and not rendered.startswith(str(path.parent)):
        return f"The graph was rendered to {rendered!r}, outside out_dir: {call}."
    return f"{call}."


def _dot_proportions(source: str) -> float:
    """Width / height of the drawing that `dot` makes of this DOT source, here in the checker."""
    import graphviz
    from PIL import Image

    with Image.open(io.BytesIO(graphviz.Source(source, engine="dot").pipe(format="png"))) as image:
        return image.size[0] / image.size[1]


def _svg_proportions(root) -> float | None:
    sizes = [re.match(r"([\d.]+)", root.get(key) or "") for key in ("width", "height")]
    return float(sizes[0].group(1)) / float(sizes[1].group(1)) if all(sizes) and float(sizes[1].group(1)) else None


def _expect_dot_drawing(path: Path, proportions: float | None, expected: float) -> None:
    expect(proportions is not None and abs(proportions - expected) <= 0.05 * expected,
           f"{path.name} is not dot's drawing of the graph that was returned.",
           expected=f"width / height = {expected:.2f} (dot's layout of that graph, at any scale)",
           found=f"width / height = {proportions:.2f}" if proportions else "no size",
           advice="Its proportions differ from the layout that Graphviz's dot gives the returned graph: either it "
                  "was drawn by another layout engine (neato, circo, ...), or it is a drawing of another graph. "
                  "Render the graph you return, with the default engine, dot.")


DOT_START = (b"digraph", b"graph", b"strict")  # how a DOT source file begins


def _head(path: Path) -> bytes:
    """The first bytes of a file, without the whitespace before them."""
    with path.open("rb") as file:
        return file.read(200).lstrip()


def _not_a_drawing(path: Path) -> str | None:
    head = _head(path)
    if head.startswith(DOT_START):
        return (f"{path.name} holds the DOT source, not a drawing: render(name, format=...) writes the source at "
                f"`name` and the drawing at name + '.' + format, so give it os.path.join(out_dir, 'autograd_graph').")
    if head.startswith((b"<?xml", b"<svg")) and path.suffix == ".png":
        return f"{path.name} holds an SVG under a .png name: render it with format='png'."
    return None


@exercise("draw_autograd_graph")
def test_draw_autograd_graph_renders_svg_and_png(lesson, tmp_path_factory):
    from PIL import Image

    _, _, out_dir, graph = _draw(lesson, tmp_path_factory, "cpu")
    svg, png = out_dir / "autograd_graph.svg", out_dir / "autograd_graph.png"
    listing = _listing(out_dir)
    for path in (svg, png):
        expect(path.is_file(), f"{path.name} was not rendered in out_dir.", expected=path.name,
               found=listing, advice=_render_advice(path, listing, graph))
    # Distinct ids: with show_saved, torchviz writes a saved parameter's node twice, and Graphviz draws it once.
    nodes = len(set(re.findall(r"^\s*(\d+) \[label=", graph.source, flags=re.MULTILINE)))
    try:
        root = ElementTree.parse(svg).getroot()
    except ElementTree.ParseError as err:
        fail(f"{svg.name} is not an SVG file (not even XML): {err}.",
             advice=_not_a_drawing(svg) or "Render it with format='svg'.")
    drawn = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    expect(root.tag == "{http://www.w3.org/2000/svg}svg" and len(drawn) >= nodes,
           f"{svg.name} does not draw the graph's {nodes} nodes.", expected=nodes, found=len(drawn),
           advice="It draws another graph than the one returned: render the graph that make_dot returned, and "
                  "return that graph.")
    proportions = _dot_proportions(graph.source)
    _expect_dot_drawing(svg, _svg_proportions(root), proportions)
    try:
        with Image.open(png) as image:
            kind, size = image.format, image.size
    except OSError as err:
        fail(f"{png.name} is not an image: {err}.", advice=_not_a_drawing(png) or "Render it with format='png'.")
    expect(kind == "PNG", f"{png.name} is not a PNG.", expected="PNG", found=kind,
           advice=f"It is a {kind} image under a .png name: render with format='png' (renaming a file does not "
                  f"convert it).")
    _expect_dot_drawing(png, size[0] / size[1] if size[1] else None, proportions)


# export_onnx

# The export takes seconds, so each submission exports once per device; the tests read the same files.
def _export(lesson, tmp_path_factory, device):
    """Export a DropoutNet left in train mode; return the file, a CPU copy of the model in eval mode,
    and what export_onnx returned."""
    path, reference, returned = run_once((lesson.export_onnx.key, device),
                                         lambda: _export_once(lesson, tmp_path_factory, device))
    listing = _listing(path.parent)
    expect(path.is_file(), "export_onnx wrote no file at `path`.", expected=path.name, found=listing or "nothing",
           advice=f"It wrote {', '.join(listing)} in that folder, but not {path.name}: export to `path` itself."
                  if listing else "torch.onnx.export(model, (example_images,), path, ...) writes it.")
    return path, reference, returned


def _export_once(lesson, tmp_path_factory, device):
    model = _model(DropoutNet, device).train()
    reference = DropoutNet()
    reference.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    path = tmp_path_factory.mktemp(f"export_{device}") / "net.onnx"
    returned = lesson.export_onnx(model, _images(EXAMPLE_BATCH, device, seed=2), str(path))
    return path, reference.eval(), returned


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
    # One file with the weights inside, or the graph plus its external data beside it: both are whole.
    path, _, returned = _export(lesson, tmp_path_factory, "cpu")
    _read(path)  # parses, every weights file it names is beside it, and onnx.checker accepts it
    advice = "export_onnx gives back nothing: its result is the file at `path`. End it without a return value."
    if returned == str(path):
        advice = "It returned `path`: export_onnx gives back nothing (its result is the file). Drop the return."
    elif isinstance(returned, Described) and returned.is_a("ONNXProgram"):
        advice = ("It returned what torch.onnx.export returns (an ONNXProgram): export_onnx gives back nothing. "
                  "Drop the return.")
    expect(returned is None, "export_onnx returned a value.", expected=None,
           found=returned.type_name if isinstance(returned, Described) else returned, advice=advice)


def _dynamic_batch_advice(tensor, only_the_output_fixed: bool) -> str:
    advice = ("With dynamo=True (the default), dynamic_shapes=({0: torch.export.Dim('batch')},) makes dimension 0 "
              "of the input symbolic; with dynamo=False, dynamic_axes={'images': {0: 'batch'}, 'logits': {0: 'batch'}} "
              "does it for both.")
    if only_the_output_fixed:  # the legacy exporter, given dynamic_axes for the input alone
        return ("The input's batch is symbolic, but the output's is not: dynamic_axes must name the output too, "
                "{'logits': {0: 'batch'}}.")
    if tensor.shape[:1] == (EXAMPLE_BATCH,):
        return (f"The batch dimension is fixed at {EXAMPLE_BATCH}, the size of example_images, so the file accepts "
                f"no other batch size. {advice}")
    return advice


@exercise("export_onnx")
def test_export_onnx_names_and_dynamic_batch(lesson, tmp_path_factory):
    path, _, _ = _export(lesson, tmp_path_factory, "cpu")
    info = _read(path)
    for found, name, kind in ((info.input_names, "images", "inputs"), (info.output_names, "logits", "outputs")):
        advice = f"Pass {kind[:-1]}_names=['{name}'] to torch.onnx.export."
        if len(found) > 1:
            advice = f"The graph should have one of them; it has {len(found)}: export model(example_images) only."
        expect_equal(found, (name,), f"The names of the graph's {kind}", advice=advice)
    for tensor, rest in ((info.inputs[0], IMAGE_SHAPE), (info.outputs[0], (10,))):
        if tensor.shape and tensor.is_dynamic(0):
            advice = f"The dimensions after the batch should be {rest}: export the model you were given, as it is."
        else:
            advice = _dynamic_batch_advice(tensor, tensor is info.outputs[0] and info.inputs[0].is_dynamic(0))
        expect(len(tensor.shape) == 1 + len(rest) and tensor.is_dynamic(0) and tensor.shape[1:] == rest,
               f"The shape of {tensor.name!r} must have a dynamic batch dimension.", expected=("batch", *rest),
               found=tensor.shape, advice=advice)
    for batch in (1, 5):
        logits = _run(path, _images(batch, "cpu", seed=3))
        expect_equal(list(logits.shape), [batch, 10], f"The shape of onnxruntime's output for a batch of {batch}")


@exercise("export_onnx")
def test_export_onnx_matches_torch_in_eval_mode(lesson, tmp_path_factory, device):
    path, reference, _ = _export(lesson, tmp_path_factory, device)
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
           advice=train_mode or "The file computes something else than the model it was given: export `model` "
                                "itself, with its weights as they are.")
    expect(train_mode is None, "The export runs in training mode.", advice=train_mode)


# onnx_predict

def _linear_classifier_onnx(path: Path, external: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A Flatten + Gemm classifier written with onnx.helper, its weights in external data (or inside
    the file); returns (W, b)."""
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
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return weight, bias


def _predict(lesson, path: Path, images: torch.Tensor):
    try:
        return lesson.onnx_predict(str(path), images)
    except LearnerCrash as crash:
        if crash.raised("ValueError") and "are missing from input feed" in str(crash):
            fail(f"Your code crashed: {str(crash).splitlines()[0][:300]}",
                 advice="This model's input is called 'pixels', not the name your code fed: read the name from the "
                        "file, session.get_inputs()[0].name, and feed the images under it.")
        if "Invalid output name" in str(crash):
            fail(f"Your code crashed: {str(crash).splitlines()[0][:300]}",
                 advice="This model's output is called 'scores', not the name your code asked for: ask for every "
                        "output, session.run(None, feeds), and return the first, outputs[0].")
        raise


@exercise("onnx_predict")
def test_onnx_predict_returns_onnxruntime_output(lesson, tmp_path, device):
    images = _images(6, device, seed=5)
    for external in (True, False):
        path = (tmp_path if external else tmp_path / "one_file") / "classifier.onnx"
        path.parent.mkdir(exist_ok=True)
        weight, bias = _linear_classifier_onnx(path, external)
        what = "" if external else " (weights inside the .onnx file)"
        found = _predict(lesson, path, images)
        if isinstance(found, (list, tuple)):
            fail(f"onnx_predict returned a list, not an array{what}.", expected="a numpy.ndarray of shape (6, 10)",
                 found=f"a {type(found).__name__} of {len(found)}",
                 advice="session.run(None, feeds) returns one array per output: return outputs[0].")
        advice = f"It returned a {type_name(found)}: return the array session.run gives you, as it is."
        if isinstance(found, torch.Tensor):
            advice = "It returned a torch tensor: return the NumPy array session.run gives you, without converting it."
        expect(isinstance(found, np.ndarray), f"onnx_predict must return a NumPy array{what}.",
               expected="numpy.ndarray", found=type_name(found), advice=advice)
        expected = images.cpu().numpy().reshape(6, -1) @ weight.T + bias
        shape_advice = None
        if list(found.shape) == [6]:
            shape_advice = ("One number per image, not ten: that is a predicted class (an argmax of the scores), "
                            "or one score per image. Return the model's whole output, outputs[0], one row of "
                            "10 class scores per image.")
        expect_equal(list(found.shape), [6, 10], f"The shape of the returned scores{what}", advice=shape_advice)
        difference = float(np.abs(found - expected).max())
        advice = "Feed images.detach().cpu().numpy() as they are, under the model's input name, and return outputs[0]."
        softmax = np.exp(expected - expected.max(axis=1, keepdims=True))
        if np.allclose(found, softmax / softmax.sum(axis=1, keepdims=True), atol=ONNX_TOLERANCE):
            advice = "These are probabilities (a softmax of the scores): return the model's output as it is."
        expect(difference <= ONNX_TOLERANCE,
               f"The returned scores differ from the model's by up to {difference:.3g}{what}.",
               expected=[round(float(v), 5) for v in expected[0]], found=[round(float(v), 5) for v in found[0]],
               advice=advice)
