"""One reader per TensorBoard plugin for the events of one run, returning plain Python and numpy."""
from __future__ import annotations

import io
import math
import os
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.mesh import metadata as mesh_metadata
from tensorboard.plugins.mesh.plugin_data_pb2 import MeshPluginData
from tensorboard.plugins.pr_curve import metadata as pr_curve_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.text import metadata as text_metadata
from tensorboard.util import tensor_util

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.images import open_image
from watchtrain.artifacts.tensorboard.runs import find_runs, load_run

Points = list[tuple[int, float]]

_TEXT_TAG_SUFFIX = "/text_summary"  # torch's add_text appends it to the learner's tag
# A tensor may store one value for all its elements, so a few bytes can claim billions of them. The
# lessons' largest, a mesh or a PR curve, holds thousands.
MAX_TENSOR_ELEMENTS = 10_000_000
_SUMMARY_FIX = "log with the SummaryWriter's add_* methods, and run the exercise again"


def plugin_tags(accumulator: EventAccumulator, plugin_name: str) -> dict[str, bytes]:
    """Tag -> the plugin's metadata content, for every tag a plugin owns ({} when none)."""
    try:
        return accumulator.PluginTagToContent(plugin_name)
    except KeyError:
        return {}


# Scalars

def read_scalars(run_dir: str | os.PathLike[str]) -> dict[str, Points]:
    """Tag -> [(step, value)] in the order written. Values are float32 in the file."""
    return scalar_points(load_run(run_dir))


def read_scalars_tree(log_root: str | os.PathLike[str]) -> dict[str, dict[str, Points]]:
    """Run (relative path, "." for log_root) -> tag -> points, for every run under log_root.

    `add_scalars("Loss", {"train": ...})` lands here as run "Loss_train", tag "Loss".
    """
    runs = find_runs(log_root)
    if not runs:
        load_run(log_root)  # raises the error that says what log_root holds instead
    return {run: read_scalars(os.path.join(log_root, run)) for run in runs}


def scalar_points(accumulator: EventAccumulator) -> dict[str, Points]:
    points = {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
              for tag in accumulator.Tags()["scalars"]}
    # add_scalar(..., new_style=True) stores a tensor owned by the scalars plugin instead.
    for tag in plugin_tags(accumulator, scalar_metadata.PLUGIN_NAME):
        points[tag] = [(event.step, float(_tensor(event, tag, accumulator.path, "one value",
                                                            lambda shape: math.prod(shape) == 1)))
                       for event in accumulator.Tensors(tag)]
    return points


def _plugin_metadata(parse, content: bytes, tag: str, run_dir: str | os.PathLike[str]):
    """`parse(content)`, a plugin's own parser of its metadata; ArtifactError when that fails."""
    try:
        return parse(content)
    except (DecodeError, ValueError) as error:
        raise ArtifactError(f"The plugin metadata of tag {tag!r} cannot be decoded ({error}).", run_dir,
                            _SUMMARY_FIX) from None


def _tensor(event, tag: str, run_dir: str | os.PathLike[str], expected: str, shape_fits) -> np.ndarray:
    """The tensor an event holds, as an array; ArtifactError unless `shape_fits` its shape (`expected`
    says which shapes do), or when it claims more than MAX_TENSOR_ELEMENTS elements."""
    proto = event.tensor_proto
    shape = tuple(dim.size for dim in proto.tensor_shape.dim)
    where = f"The tensor logged under tag {tag!r} at step {event.step}"
    if math.prod(shape) > MAX_TENSOR_ELEMENTS:
        raise ArtifactError(f"{where} claims shape {shape}, {math.prod(shape)} elements: more than the "
                            f"{MAX_TENSOR_ELEMENTS} a lesson's tensor may have.", run_dir, _SUMMARY_FIX)
    if not shape_fits(shape):
        raise ArtifactError(f"{where} has shape {shape}; the SummaryWriter writes {expected} there.",
                            run_dir, _SUMMARY_FIX)
    try:
        return tensor_util.make_ndarray(proto)
    except (KeyError, TypeError, ValueError) as error:  # an unknown dtype, values that do not fill the shape
        raise ArtifactError(f"{where} cannot be read ({type(error).__name__}: {error}).", run_dir,
                            _SUMMARY_FIX) from None


# Images

@dataclass(frozen=True, eq=False)
class ImageEvent:
    step: int
    height: int
    width: int
    pixels: np.ndarray  # uint8, height x width x channels, decoded from the stored PNG


def read_images(run_dir: str | os.PathLike[str]) -> dict[str, list[ImageEvent]]:
    """Tag -> images in the order written. add_images stores its batch as one grid image."""
    accumulator = load_run(run_dir)
    return {tag: [ImageEvent(event.step, event.height, event.width,
                             _decode_png(event.encoded_image_string, run_dir, tag))
                  for event in accumulator.Images(tag)]
            for tag in accumulator.Tags()["images"]}


def _decode_png(encoded: bytes, run_dir: str | os.PathLike[str], tag: str) -> np.ndarray:
    try:
        with open_image(io.BytesIO(encoded), ("PNG",)) as image:
            pixels = np.array(image)
    except OSError as error:
        raise ArtifactError(f"The image logged under tag {tag!r} cannot be decoded ({error}).",
                            run_dir, _SUMMARY_FIX) from None  # its record's checksum held: written this way
    return pixels[:, :, np.newaxis] if pixels.ndim == 2 else pixels


# Histograms

@dataclass(frozen=True, eq=False)
class HistogramEvent:
    step: int
    min: float
    max: float
    num: float
    sum: float
    sum_squares: float
    bucket_limits: np.ndarray  # right edge of each bucket
    bucket_counts: np.ndarray


def read_histograms(run_dir: str | os.PathLike[str]) -> dict[str, list[HistogramEvent]]:
    """Tag -> histograms in the order written (add_histogram carries no plugin metadata)."""
    accumulator = load_run(run_dir)
    histograms = {}
    for tag in accumulator.Tags()["histograms"]:
        histograms[tag] = []
        for event in accumulator.Histograms(tag):
            value = event.histogram_value
            histograms[tag].append(HistogramEvent(
                event.step, value.min, value.max, value.num, value.sum, value.sum_squares,
                np.array(value.bucket_limit, dtype=np.float64), np.array(value.bucket, dtype=np.float64)))
    return histograms


# Text

def read_text(run_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, str]]]:
    """The learner's tag (without "/text_summary") -> [(step, text)]. A tensor of several
    strings (a table) is joined with newlines."""
    accumulator = load_run(run_dir)
    return {tag.removesuffix(_TEXT_TAG_SUFFIX): [
                (event.step, "\n".join(s.decode("utf-8", errors="replace") for s in event.tensor_proto.string_val))
                for event in accumulator.Tensors(tag)]
            for tag in plugin_tags(accumulator, text_metadata.PLUGIN_NAME)}


# Mesh

@dataclass(frozen=True, eq=False)
class MeshEvent:
    step: int
    sample: int  # add_mesh takes a batch of meshes, shape (B, N, 3); this is the index in it
    vertices: np.ndarray  # (N, 3) float32
    faces: np.ndarray | None  # (M, 3) int64 vertex indices
    colors: np.ndarray | None  # (N, 3) uint8


def read_mesh(run_dir: str | os.PathLike[str]) -> dict[str, list[MeshEvent]]:
    """Mesh name (the tag given to add_mesh) -> one event per call and sample, in the order written."""
    accumulator = load_run(run_dir)
    # mesh name -> content type -> (wall_time, step) of the add_mesh call -> (B, N, 3) array
    parts: dict[str, dict[int, dict[tuple[float, int], np.ndarray]]] = defaultdict(lambda: defaultdict(dict))
    for tag, content in plugin_tags(accumulator, mesh_metadata.PLUGIN_NAME).items():
        data = _plugin_metadata(mesh_metadata.parse_plugin_metadata, content, tag, run_dir)
        for event in accumulator.Tensors(tag):
            # One add_mesh call writes its parts into one event, so they share wall time and step.
            call = (event.wall_time, event.step)
            parts[data.name][data.content_type][call] = _tensor(
                event, tag, run_dir, "(meshes, points, 3)", lambda shape: len(shape) == 3 and shape[2] == 3)
    meshes = {}
    for name, by_type in parts.items():
        faces, colors = by_type[MeshPluginData.FACE], by_type[MeshPluginData.COLOR]
        meshes[name] = []
        for call, vertices in by_type[MeshPluginData.VERTEX].items():
            _, step = call
            if any(call in part and len(part[call]) != len(vertices) for part in (faces, colors)):
                raise ArtifactError(f"The mesh {name!r} at step {step} has faces or colours for another number of "
                                    f"meshes than it has vertices for.", run_dir, _SUMMARY_FIX)
            for sample in range(vertices.shape[0]):
                meshes[name].append(MeshEvent(
                    step, sample, vertices[sample].astype(np.float32),
                    np.rint(faces[call][sample]).astype(np.int64) if call in faces else None,
                    np.rint(colors[call][sample]).astype(np.uint8) if call in colors else None))
    return meshes


# PR curves

@dataclass(frozen=True, eq=False)
class PRCurveEvent:
    step: int
    num_thresholds: int
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @property
    def thresholds(self) -> np.ndarray:
        """Threshold i is i / (num_thresholds - 1): a prediction >= it counts as positive."""
        return np.linspace(0.0, 1.0, self.num_thresholds)


def read_pr_curves(run_dir: str | os.PathLike[str]) -> dict[str, list[PRCurveEvent]]:
    """Tag -> curves in the order written; the stored (6, num_thresholds) tensor's rows are
    TP, FP, TN, FN, precision, recall."""
    accumulator = load_run(run_dir)
    curves = {}
    for tag, content in plugin_tags(accumulator, pr_curve_metadata.PLUGIN_NAME).items():
        num_thresholds = _plugin_metadata(pr_curve_metadata.parse_plugin_metadata, content, tag, run_dir).num_thresholds
        curves[tag] = [PRCurveEvent(event.step, num_thresholds,
                                    *_tensor(event, tag, run_dir, f"(6, {num_thresholds}): 6 rows of num_thresholds",
                                             lambda shape: shape == (6, num_thresholds)))
                       for event in accumulator.Tensors(tag)]
    return curves


# Graph

@dataclass(frozen=True)
class GraphNode:
    name: str  # torch scopes it by module, e.g. "Net/Conv2d[conv1]/input.1"
    op: str  # e.g. "aten::_convolution", "prim::Constant", "IO Node"
    inputs: tuple[str, ...]
    output_shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class GraphSummary:
    nodes: tuple[GraphNode, ...]

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    @property
    def op_types(self) -> frozenset[str]:
        return frozenset(node.op for node in self.nodes)

    def count(self, op: str) -> int:
        return sum(node.op == op for node in self.nodes)


def read_graph(run_dir: str | os.PathLike[str]) -> GraphSummary:
    """The model graph written by add_graph (the last one, when there are several)."""
    accumulator = load_run(run_dir)
    if not accumulator.Tags()["graph"]:
        raise ArtifactError("No model graph was logged in this run.", run_dir,
                            "call writer.add_graph(model, example_input) once, then close the writer")
    try:
        graph = accumulator.Graph()
    except DecodeError as error:
        raise ArtifactError(f"The model graph in this run cannot be decoded ({error}).", run_dir, _SUMMARY_FIX) from None
    return GraphSummary(tuple(GraphNode(node.name, node.op, tuple(node.input), _output_shapes(node))
                              for node in graph.node))


def _output_shapes(node) -> tuple[tuple[int, ...], ...]:
    if "_output_shapes" not in node.attr:
        return ()
    return tuple(tuple(dim.size for dim in shape.dim) for shape in node.attr["_output_shapes"].list.shape)
