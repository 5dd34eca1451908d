"""Reading an exported ONNX model: is it valid, what goes in and out, where are its weights, what
does onnxruntime compute with it.

`torch.onnx.export` (the dynamo exporter, torch 2.9 and later) writes two files: `model.onnx`, the
graph, and `model.onnx.data`, the weights it refers to by name. The model is only whole while both
sit in the same folder, so `read_onnx` checks that before anything else.

    info = read_onnx("model.onnx")          # raises ArtifactError when broken or incomplete
    info.input_names, info.inputs[0].shape  # ("images",), ("batch", 1, 28, 28)
    logits, = run_onnx("model.onnx", images)
"""
from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import refuse_oversized, stays_inside

# A symbolic dimension keeps its name (str); a fixed one is an int; an unknown one is None.
Dim = int | str | None
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
_FIX_EXPORT = ("export it again with torch.onnx.export(model.eval(), (example_images,), path, ...) "
               "and keep every file it writes together")
# A lesson's model runs in milliseconds and a few megabytes; a graph may ask for terabytes, or loop for ever.
MAX_RUN_BYTES = 1 << 30
MAX_RUN_SECONDS = 10


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output."""

    name: str
    dtype: str  # numpy's name for it: "float32", "int64", ...
    shape: tuple[Dim, ...]

    def is_dynamic(self, axis: int) -> bool:
        """True when dimension `axis` may take any size (symbolic or unknown)."""
        return not isinstance(self.shape[axis], int)


@dataclass(frozen=True)
class OnnxModelInfo:
    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    op_types: tuple[str, ...]  # every node's operator, in graph order
    opset: int  # of the default ("") domain
    external_data: tuple[Path, ...]  # the files holding its weights, beside the model
    training_nodes: tuple[str, ...]  # nodes that compute differently in training: "Dropout node_dropout"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)


def read_onnx(path: str | Path) -> OnnxModelInfo:
    """Check an ONNX file completely (parses, weights files present, passes onnx.checker) and describe it."""
    import onnx
    from onnx import numpy_helper
    from onnx.external_data_helper import uses_external_data

    path = Path(path)
    model = _load_graph(path)
    external = external_data_files(path, model)
    missing = [file for file in external if not file.is_file()]
    if missing:
        names = ", ".join(file.name for file in missing)
        raise ArtifactError(
            f"{path.name} keeps its weights in {names}, which is not beside it",
            path,
            f"the .onnx file holds the graph and {names} the weights: copy or move them together, into one "
            f"folder (or {_FIX_EXPORT})")
    try:
        # The path form also checks the external data and works for models over 2 GB.
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, OSError, ValueError) as err:
        raise ArtifactError(f"{path.name} is not a valid ONNX model; onnx.checker says: {_first_line(err)}",
                            path, _FIX_EXPORT) from None
    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    constants.update({node.output[0]: attribute.t for node in model.graph.node if node.op_type == "Constant"
                      for attribute in node.attribute if attribute.name == "value"})

    def is_true(name: str) -> bool:
        # A flag such as training_mode is one value, stored in the .onnx file. The weights files are not
        # read: a thousand tensors may all name the same gigabyte of one file.
        flag = constants.get(name)
        return (flag is not None and math.prod(flag.dims) == 1 and not uses_external_data(flag)
                and bool(numpy_helper.to_array(flag).all()))

    return OnnxModelInfo(
        path=path,
        inputs=tuple(_tensor_info(value) for value in model.graph.input if value.name not in constants),
        outputs=tuple(_tensor_info(value) for value in model.graph.output),
        op_types=tuple(node.op_type for node in model.graph.node),
        opset=next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 0),
        external_data=external,
        training_nodes=tuple(f"{node.op_type} {node.name}" for node in model.graph.node
                             if _runs_in_training_mode(node, is_true)),
    )


def external_data_files(path: str | Path, model=None) -> tuple[Path, ...]:
    """The files (beside `path`) that hold the weights of the ONNX model at `path`, present or not."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    path = Path(path)
    model = model if model is not None else _load_graph(path)
    locations = {ExternalDataInfo(tensor).location for tensor in _tensors(model.graph) if uses_external_data(tensor)}
    for location in locations:
        # onnx and onnxruntime refuse these as well, but the files' existence must not even be looked up.
        if not stays_inside(location):
            raise ArtifactError(f"{path.name} names {location!r} as the file of its weights, which is not a file "
                                f"beside it", path, _FIX_EXPORT)
    return tuple(path.parent / location for location in sorted(locations))


def run_onnx(path: str | Path, inputs: Mapping[str, np.ndarray] | np.ndarray, *, optimize: bool = False
             ) -> list[np.ndarray]:
    """onnxruntime's outputs for `inputs` (one array for the first input, or {name: array}), on the CPU.

    With `optimize=False` (the default) onnxruntime runs the graph exactly as written: its default
    optimisations would delete a training-mode Dropout and hide that the model was exported in train mode.
    A run that needs more than MAX_RUN_BYTES of memory, or MAX_RUN_SECONDS, is stopped.
    """
    import onnxruntime

    path = Path(path)
    # onnxruntime gives each weight tensor memory of its own, even when a thousand of them name the same
    # gigabyte of one file; the arena's ceiling does not cover them.
    values = sum(math.prod(tensor.dims) for tensor in _tensors(_load_graph(path).graph))
    if values > MAX_RUN_BYTES // 4:
        raise ArtifactError(f"{path.name} declares weights of {values:,} values, more than the {MAX_RUN_BYTES >> 20} "
                            f"MiB of memory a lesson's model may use", path, _FIX_EXPORT)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about its own optimiser
    if not optimize:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    _register_capped_allocator()
    options.add_session_config_entry("session.use_env_allocators", "1")
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own, unexported exception types
        raise ArtifactError(f"onnxruntime cannot load {path.name}: {_first_line(err)}", path, _FIX_EXPORT) from None
    if not isinstance(inputs, Mapping):
        inputs = {session.get_inputs()[0].name: inputs}
    feeds = {name: np.ascontiguousarray(array) for name, array in inputs.items()}
    run_options = onnxruntime.RunOptions()
    stop = threading.Timer(MAX_RUN_SECONDS, setattr, (run_options, "terminate", True))
    stop.start()
    try:
        return session.run(None, feeds, run_options)
    except Exception as err:
        if run_options.terminate:
            raise ArtifactError(f"onnxruntime was still running {path.name} after {MAX_RUN_SECONDS} s, so it was "
                                f"stopped; a lesson's model runs in milliseconds", path, _FIX_EXPORT) from None
        if "Available memory of" in str(err):  # the arena's own words when the cap is reached
            raise ArtifactError(f"onnxruntime stopped {path.name}, which asked for more than the {MAX_RUN_BYTES >> 20} "
                                f"MiB of memory a lesson's model may use", path, _FIX_EXPORT) from None
        expected = ", ".join(f"{i.name} {i.shape}" for i in session.get_inputs())
        raise ArtifactError(f"onnxruntime could not run {path.name}: {_first_line(err)}", path,
                            f"the model expects {expected}; check the names and the fixed dimensions") from None
    finally:
        stop.cancel()


@functools.cache
def _register_capped_allocator() -> None:
    """Give onnxruntime's process-wide CPU arena a ceiling, MAX_RUN_BYTES, which a session uses with
    "session.use_env_allocators": an allocation past it fails instead of exhausting the machine."""
    import onnxruntime

    memory = onnxruntime.OrtMemoryInfo("Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                       onnxruntime.OrtMemType.DEFAULT)
    onnxruntime.create_and_register_allocator(memory, onnxruntime.OrtArenaCfg(MAX_RUN_BYTES, -1, -1, -1))


def _load_graph(path: Path):
    """The ModelProto without its external weights; ArtifactError when it is not an ONNX file."""
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise ArtifactError(f"there is no ONNX file at {path}", path,
                            "export the model with torch.onnx.export(model, (example_images,), path, ...)")
    refuse_oversized([path], path.name, path, _FIX_EXPORT, cause="a lesson's network is a few hundred KB; this is "
                     "a far larger model, or not an exported model at all")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError) as err:
        with open(path, "rb") as stream:
            head = stream.read(4)
        problem = (f"{path.name} is a PyTorch checkpoint (torch.save writes a zip archive), not an ONNX model"
                   if head == _ZIP_MAGIC else f"{path.name} is not an ONNX model ({_first_line(err)})")
        raise ArtifactError(problem, path, _FIX_EXPORT) from None
    if not model.graph.node:
        raise ArtifactError(f"{path.name} holds no graph (no nodes): it is not an exported model", path, _FIX_EXPORT)
    return model


def _tensors(graph) -> Iterator:
    """Every TensorProto in a graph: initializers and node attributes, sub-graphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _tensor_info(value) -> TensorInfo:
    from onnx import helper

    tensor_type = value.type.tensor_type
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None)
                  for dim in tensor_type.shape.dim)
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)).name if tensor_type.elem_type else "?"
    return TensorInfo(name=value.name, dtype=dtype, shape=shape)


def _runs_in_training_mode(node, is_true) -> bool:
    if node.op_type == "Dropout":  # opset 12+: the third input is training_mode
        return len(node.input) > 2 and bool(node.input[2]) and is_true(node.input[2])
    if node.op_type == "BatchNormalization":
        return any(a.name == "training_mode" and a.i == 1 for a in node.attribute)
    return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
