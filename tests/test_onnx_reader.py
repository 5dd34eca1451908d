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
