"""watchtrain.artifacts.onnx on files written by the real exporter (torch.onnx, dynamo) and by onnx itself."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.onnx import external_data_files, read_onnx, run_onnx
from watchtrain.models import DropoutNet

IMAGES = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _export(model: torch.nn.Module, path: Path, **options) -> Path:
    torch.onnx.export(model, (IMAGES[:2],), str(path), dynamo=True, input_names=["images"],
                      output_names=["logits"], verbose=False, **options)
    return path


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Two real exports of one DropoutNet: as the lesson asks (eval, dynamic batch), and the usual mistakes
    together (train mode, fixed batch)."""
    torch.manual_seed(0)
    model = DropoutNet()
    folder = tmp_path_factory.mktemp("onnx")
    good = _export(model.eval(), folder / "good.onnx", dynamic_shapes=({0: torch.export.Dim("batch")},))
    with pytest.warns(UserWarning, match="training mode"):  # the exporter's own warning, often overlooked
        careless = _export(model.train(), folder / "careless.onnx")
    return model.eval(), good, careless


def test_reads_names_shapes_operators_and_weights_file(exports):
    _, good, _ = exports
    info = read_onnx(good)
    assert info.input_names == ("images",) and info.output_names == ("logits",)
    assert info.inputs[0].dtype == "float32"
    assert info.inputs[0].shape == ("batch", 1, 28, 28) and info.outputs[0].shape == ("batch", 10)
    assert info.inputs[0].is_dynamic(0) and not info.inputs[0].is_dynamic(1)
    assert info.op_types.count("Conv") == 2 and info.op_types.count("Gemm") == 3
    assert info.opset >= 18
    assert info.external_data == (good.with_name("good.onnx.data"),) and info.external_data[0].is_file()
    assert info.training_nodes == ()


def test_train_mode_export_shows_dropout_and_a_fixed_batch(exports):
    _, _, careless = exports
    info = read_onnx(careless)
    assert info.inputs[0].shape == (2, 1, 28, 28) and not info.inputs[0].is_dynamic(0)
    assert [node.split()[0] for node in info.training_nodes] == ["Dropout", "Dropout"]


def test_run_onnx_matches_torch_and_runs_training_dropout_as_written(exports):
    model, good, careless = exports
    with torch.no_grad():
        expected = model(IMAGES).numpy()
    assert np.abs(run_onnx(good, IMAGES.numpy())[0] - expected).max() < 1e-4
    assert np.abs(run_onnx(good, {"images": IMAGES.numpy()})[0] - expected).max() < 1e-4
    pair = IMAGES[:2].numpy()
    # onnxruntime's default optimisations delete the Dropout nodes; run_onnx keeps them, as the file says.
    assert np.abs(run_onnx(careless, pair, optimize=True)[0] - expected[:2]).max() < 1e-4
    assert np.abs(run_onnx(careless, pair)[0] - expected[:2]).max() > 1e-3


def test_run_onnx_explains_a_batch_the_file_does_not_accept(exports):
    _, _, careless = exports
    with pytest.raises(ArtifactError) as caught:
        run_onnx(careless, IMAGES.numpy())
    assert "the model expects images [2, 1, 28, 28]" in str(caught.value)


def test_missing_weights_file_is_named(exports, tmp_path):
    _, good, _ = exports
    alone = tmp_path / "good.onnx"
    shutil.copy(good, alone)
    assert [file.name for file in external_data_files(alone)] == ["good.onnx.data"]
    with pytest.raises(ArtifactError) as caught:
        read_onnx(alone)
    assert "keeps its weights in good.onnx.data, which is not beside it" in str(caught.value)
    assert caught.value.path == alone


def test_a_pytorch_checkpoint_is_recognised(exports, tmp_path):
    model, _, _ = exports
    path = tmp_path / "net.onnx"
    torch.save(model.state_dict(), path)
    with pytest.raises(ArtifactError, match="is a PyTorch checkpoint"):
        read_onnx(path)


@pytest.mark.parametrize("content, problem", [(None, "there is no ONNX file"), (b"\xff" * 64, "is not an ONNX model"),
                                              (b"", "holds no graph")])
def test_missing_or_unreadable_files(tmp_path, content, problem):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArtifactError, match=problem):
        read_onnx(path)


def test_checker_failures_are_reported(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"])], "broken",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "broken.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ArtifactError, match="onnx.checker says: .*nowhere"):
        read_onnx(path)


# Hostile files: what a submission can write by hand

def _save(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "hostile", inputs, outputs, list(initializers))
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _vector(name: str):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [4])


@pytest.mark.parametrize("location", ["../secret.bin", "{outside}/secret.bin", "sub/../../secret.bin", "", "."])
def test_weights_named_outside_the_models_folder_are_refused_before_looking_for_them(tmp_path, location):
    """onnx and onnxruntime refuse these too, but whether such a file exists must not even be asked."""
    from onnx import TensorProto, helper, numpy_helper

    (tmp_path / "secret.bin").write_bytes(np.zeros(4, np.float32).tobytes())
    location = location.format(outside=tmp_path)
    weights = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    weights.external_data.add(key="location", value=location)
    (tmp_path / "model").mkdir()
    path = _save(tmp_path / "model" / "m.onnx", [helper.make_node("Add", ["x", "w"], ["y"])], [_vector("x")],
                 [_vector("y")], [weights])
    for reader in (external_data_files, read_onnx):
        with pytest.raises(ArtifactError, match=f"names {location!r} as the file of its weights, which is not a file "
                                                f"beside it"):
            reader(path)


def test_a_run_that_asks_for_more_memory_than_the_cap_is_stopped(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    from watchtrain.artifacts.onnx import MAX_RUN_BYTES

    shape = numpy_helper.from_array(np.array([2, MAX_RUN_BYTES // 4], np.int64), "shape")  # float32: twice the cap
    path = _save(tmp_path / "hungry.onnx", [helper.make_node("ConstantOfShape", ["shape"], ["big"]),
                                            helper.make_node("ReduceSum", ["big"], ["y"], keepdims=0)],
                 [_vector("x")], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], [shape])
    with pytest.raises(ArtifactError, match=f"asked for more than the {MAX_RUN_BYTES >> 20} MiB of memory"):
        run_onnx(path, np.ones(4, np.float32))


def test_a_run_that_loops_for_ever_is_stopped(tmp_path, monkeypatch):
    from onnx import TensorProto, helper, numpy_helper

    from watchtrain.artifacts import onnx as onnx_reader

    monkeypatch.setattr(onnx_reader, "MAX_RUN_SECONDS", 0.2)
    body = helper.make_graph(
        [helper.make_node("Identity", ["go_on"], ["go_on_next"]), helper.make_node("Add", ["v", "one"], ["v_next"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("go_on", TensorProto.BOOL, []), _vector("v")],
        [helper.make_tensor_value_info("go_on_next", TensorProto.BOOL, []), _vector("v_next")],
        [numpy_helper.from_array(np.ones(4, np.float32), "one")])
    path = _save(tmp_path / "endless.onnx", [helper.make_node("Loop", ["trips", "go", "x"], ["y"], body=body)],
                 [_vector("x")], [_vector("y")],
                 [numpy_helper.from_array(np.array(10**12, np.int64), "trips"), numpy_helper.from_array(np.array(True), "go")])
    with pytest.raises(ArtifactError, match="still running endless.onnx after 0.2 s, so it was stopped"):
        run_onnx(path, np.ones(4, np.float32))


def _tensors_sharing_one_weights_file(folder: Path, count: int) -> Path:
    """A model of `count` weight tensors that each name all of one 1 MiB weights file."""
    from onnx import TensorProto, helper

    size = 1 << 20
    (folder / "shared.bin").write_bytes(bytes(size))
    weights, nodes, previous = [], [], "x"
    for index in range(count):
        tensor = TensorProto(name=f"w{index}", data_type=TensorProto.FLOAT, dims=[size // 4],
                             data_location=TensorProto.EXTERNAL)
        tensor.external_data.add(key="location", value="shared.bin")
        weights.append(tensor)
        nodes.append(helper.make_node("Add", [previous, f"w{index}"], [f"y{index}"]))
        previous = f"y{index}"
    vector = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [size // 4]) for name in ("x", previous)]
    return _save(folder / "shared.onnx", nodes, vector[:1], vector[1:], weights)


def test_read_onnx_loads_no_weights_so_shared_bytes_cannot_multiply(tmp_path, monkeypatch):
    """Loading them would take 64 MiB here: a thousand tensors naming one gigabyte would take a terabyte."""
    from onnx import external_data_helper

    def refuse(*args, **kwargs):
        raise AssertionError("read_onnx loaded a weights file")

    monkeypatch.setattr(external_data_helper, "load_external_data_for_tensor", refuse)
    assert len(read_onnx(_tensors_sharing_one_weights_file(tmp_path, 64)).op_types) == 64


def test_run_onnx_refuses_weights_past_the_cap_before_onnxruntime_copies_them(tmp_path):
    from watchtrain.artifacts.onnx import MAX_RUN_BYTES

    path = _tensors_sharing_one_weights_file(tmp_path, (MAX_RUN_BYTES >> 20) + 1)  # 1 MiB each
    with pytest.raises(ArtifactError, match=f"declares weights of {((MAX_RUN_BYTES >> 20) + 1) << 18:,} values"):
        run_onnx(path, np.zeros(1 << 18, np.float32))
