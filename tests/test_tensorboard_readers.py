"""The TensorBoard readers (watchtrain.artifacts.tensorboard), on files the real SummaryWriter wrote."""
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.compat.proto import event_pb2, graph_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.mesh import metadata as mesh_metadata
from tensorboard.plugins.mesh.plugin_data_pb2 import MeshPluginData
from tensorboard.plugins.pr_curve import metadata as pr_curve_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.record_writer import RecordWriter
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import compute_curve

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.images import MAX_PIXELS
from watchtrain.artifacts.tensorboard import (
    event_files,
    event_files_still_open,
    find_runs,
    read_graph,
    read_histograms,
    read_hparams,
    read_images,
    read_mesh,
    read_pr_curves,
    read_projector,
    read_scalars,
    read_scalars_tree,
    read_text,
    verify_event_file,
)
from watchtrain.artifacts.tensorboard.records import masked_crc32c

LOSSES = [2.5, 1.75, 1.25, 1.0]  # exact in float32, the type scalars are stored in
IMAGE_CHW = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5) * 4
HISTOGRAM_VALUES = np.array([1.0, 2.0, 3.0, 4.0])
VERTICES = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], dtype=np.float32)
FACES = np.array([[[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]])
COLORS = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [7, 8, 9]]])
PR_LABELS = np.array([1, 0, 1, 0])
PR_PREDICTIONS = np.array([0.9, 0.8, 0.3, 0.1])
EMBEDDING = torch.tensor([[0.5, -1.0, 2.0], [0.25, 0.0, 3.5], [1.5, 2.5, -0.5], [0.0, 0.125, 1.0]])


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * 3 * 3, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.pool(self.conv(x))).flatten(1))


@pytest.fixture(scope="module")
def log_root(tmp_path_factory):
    """One run that uses every plugin, written once for the whole module."""
    root = tmp_path_factory.mktemp("runs")
    with SummaryWriter(root) as writer:
        for step, loss in enumerate(LOSSES):
            writer.add_scalar("loss", loss, step)
        writer.add_scalar("loss", 9.0, 0)  # a step counter that restarts must stay visible
        writer.add_scalars("Loss", {"train": 1.5, "test": 2.5}, 0)
        writer.add_image("sample", IMAGE_CHW, 3)
        writer.add_histogram("weights", HISTOGRAM_VALUES, 1)
        writer.add_text("notes", "lr = **0.1**", 2)
        writer.add_mesh("tetra", vertices=torch.from_numpy(VERTICES), faces=torch.from_numpy(FACES),
                        colors=torch.from_numpy(COLORS), global_step=4)
        writer.add_pr_curve("pr", PR_LABELS, PR_PREDICTIONS, 5, num_thresholds=3)
        writer.add_hparams({"lr": 0.01, "batch_size": 32, "optimizer": "adam"},
                           {"hparam/accuracy": 0.75, "hparam/loss": 0.5}, run_name="trial-1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace is deprecated
            writer.add_graph(TinyCNN(), torch.zeros(1, 1, 8, 8))
        writer.add_embedding(EMBEDDING, metadata=["shirt", "boot", "bag", "coat"],
                             label_img=torch.ones(4, 3, 6, 6), tag="points")
        writer.add_embedding(EMBEDDING, metadata=[["shirt", 0], ["boot", 9], ["bag", 8], ["coat", 4]],
                             metadata_header=["label", "class"], global_step=1, tag="points")
    return root


def record_starts(data: bytes) -> list[int]:
    """Byte offsets of the TFRecord records in an intact event file."""
    starts, offset = [], 0
    while offset < len(data):
        starts.append(offset)
        offset += 8 + 4 + struct.unpack_from("<Q", data, offset)[0] + 4
    return starts


def write_scalars(run_dir: Path) -> Path:
    """A run of five scalars; returns its one event file."""
    with SummaryWriter(run_dir) as writer:
        for step in range(5):
            writer.add_scalar("loss", float(step), step)
    (path,) = event_files(run_dir)
    return path


# Finding runs and reading each plugin

def test_find_runs_lists_every_directory_holding_event_files(log_root):
    assert find_runs(log_root) == [".", "Loss_test", "Loss_train", "trial-1"]


def test_scalars_keep_every_step_and_value_in_file_order(log_root):
    scalars = read_scalars(log_root)
    assert list(scalars) == ["loss"]
    assert scalars["loss"] == [*enumerate(LOSSES), (0, 9.0)]


def test_scalars_tree_reads_add_scalars_subdirectories(log_root):
    tree = read_scalars_tree(log_root)
    assert tree["Loss_train"] == {"Loss": [(0, 1.5)]}
    assert tree["Loss_test"] == {"Loss": [(0, 2.5)]}
    assert tree["."]["loss"][0] == (0, 2.5)


def test_new_style_scalars_are_read_like_classic_ones(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("accuracy", 0.5, 7, new_style=True)
    assert read_scalars(tmp_path) == {"accuracy": [(7, 0.5)]}


def test_images_decode_to_the_pixels_written(log_root):
    (image,) = read_images(log_root)["sample"]
    assert (image.step, image.height, image.width) == (3, 4, 5)
    assert image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels, IMAGE_CHW.transpose(1, 2, 0))


def test_histograms_keep_their_statistics(log_root):
    (histogram,) = read_histograms(log_root)["weights"]
    assert histogram.step == 1
    assert (histogram.min, histogram.max, histogram.num) == (1.0, 4.0, 4)
    assert (histogram.sum, histogram.sum_squares) == (10.0, 30.0)
    assert histogram.bucket_counts.sum() == 4
    assert len(histogram.bucket_limits) == len(histogram.bucket_counts)
    assert histogram.bucket_limits[-1] >= 4.0


def test_text_is_keyed_by_the_tag_the_learner_gave(log_root):
    assert read_text(log_root) == {"notes": [(2, "lr = **0.1**")]}


def test_mesh_arrays_round_trip(log_root):
    (mesh,) = read_mesh(log_root)["tetra"]
    assert (mesh.step, mesh.sample) == (4, 0)
    np.testing.assert_array_equal(mesh.vertices, VERTICES[0])
    np.testing.assert_array_equal(mesh.faces, FACES[0])
    np.testing.assert_array_equal(mesh.colors, COLORS[0])
    assert mesh.faces.dtype == np.int64 and mesh.colors.dtype == np.uint8


def test_hparams_session_has_values_and_metrics(log_root):
    (session,) = read_hparams(log_root)
    assert session.run == "trial-1"
    assert session.hparams == {"lr": 0.01, "batch_size": 32.0, "optimizer": "adam"}
    assert session.metrics == pytest.approx({"hparam/accuracy": 0.75, "hparam/loss": 0.5})


def test_hparams_runs_are_found_under_their_default_time_stamp_names(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": 0.1, "deep": True}, {"hparam/accuracy": 0.5})
        writer.add_hparams({"lr": 0.2, "deep": False}, {"hparam/accuracy": 0.25})
    sessions = read_hparams(tmp_path)
    assert [session.hparams for session in sessions] == [{"lr": 0.1, "deep": 1.0}, {"lr": 0.2, "deep": 0.0}]
    assert [session.metrics for session in sessions] == [{"hparam/accuracy": 0.5}, {"hparam/accuracy": 0.25}]


def test_graph_shows_the_layers_of_a_small_cnn(log_root):
    graph = read_graph(log_root)
    assert {"aten::_convolution", "aten::max_pool2d", "aten::linear", "aten::relu"} <= graph.op_types
    assert graph.count("aten::_convolution") == 1
    (convolution,) = [node for node in graph.nodes if node.op == "aten::_convolution"]
    assert convolution.output_shapes == ((1, 2, 6, 6),)
    assert any(name.startswith("TinyCNN/Conv2d[conv]/") for name in graph.node_names)


def test_pr_curve_counts_match_hand_counts_and_compute_curve(log_root):
    (curve,) = read_pr_curves(log_root)["pr"]
    assert (curve.step, curve.num_thresholds) == (5, 3)
    # Thresholds 0, 0.5, 1: predictions 0.9 (pos) and 0.8 (neg) reach 0.5, none reaches 1.
    np.testing.assert_array_equal(curve.tp, [2, 1, 0])
    np.testing.assert_array_equal(curve.fp, [2, 1, 0])
    np.testing.assert_array_equal(curve.tn, [0, 1, 2])
    np.testing.assert_array_equal(curve.fn, [0, 1, 2])
    np.testing.assert_allclose(curve.precision, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(curve.recall, [1.0, 0.5, 0.0])
    stored = np.stack([curve.tp, curve.fp, curve.tn, curve.fn, curve.precision, curve.recall])
    np.testing.assert_allclose(stored, compute_curve(PR_LABELS, PR_PREDICTIONS, num_thresholds=3), rtol=1e-6)
    np.testing.assert_array_equal(curve.thresholds, [0.0, 0.5, 1.0])


def test_projector_embeddings_round_trip(log_root):
    single, with_header = read_projector(log_root)
    assert (single.run, single.tensor_name, with_header.tensor_name) == (".", "points:00000", "points:00001")
    np.testing.assert_array_equal(single.tensor, EMBEDDING.numpy())
    assert single.metadata_header == ()
    assert single.metadata_column() == ["shirt", "boot", "bag", "coat"]
    assert single.single_image_dim == (6, 6)
    assert single.sprite.shape == (12, 12, 3)  # four 6x6 thumbnails tiled 2 x 2
    assert (single.sprite == 255).all()
    assert with_header.metadata_header == ("label", "class")
    assert with_header.metadata_column("class") == ["0", "9", "8", "4"]
    assert with_header.sprite is None and with_header.sprite_path is None
    assert with_header.tensor_path == log_root / "00001" / "points" / "tensors.tsv"


def test_readers_return_nothing_for_plugins_a_run_did_not_use(tmp_path):
    write_scalars(tmp_path)
    assert read_images(tmp_path) == read_histograms(tmp_path) == read_text(tmp_path) == {}
    assert read_mesh(tmp_path) == read_pr_curves(tmp_path) == {}
    assert read_hparams(tmp_path) == read_projector(tmp_path) == []


def test_no_sampling_every_scalar_and_image_is_read(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(12_000):
            writer.add_scalar("loss", step / 2, step)
        for step in range(10):
            writer.add_image("digits", np.full((1, 2, 2), step, dtype=np.uint8), step)
    assert read_scalars(tmp_path)["loss"] == [(step, step / 2) for step in range(12_000)]
    images = read_images(tmp_path)["digits"]
    assert [image.step for image in images] == list(range(10))
    assert [int(image.pixels[0, 0, 0]) for image in images] == list(range(10))


# Damaged, missing and unclosed files

def test_truncated_event_file_is_reported_with_file_and_offset(tmp_path):
    path = write_scalars(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(ArtifactError) as caught:
        read_scalars(tmp_path)
    message = str(caught.value)
    assert "truncated" in message and path.name in message
    assert f"byte {record_starts(data)[-1]}" in message
    assert "writer is closed" in message


def test_a_trailing_fragment_shorter_than_a_header_is_truncation(tmp_path):
    path = write_scalars(tmp_path)
    with path.open("ab") as file:
        file.write(b"\x01\x02\x03")
    with pytest.raises(ArtifactError, match="truncated"):
        verify_event_file(path)


@pytest.mark.parametrize("where", ["data", "length"])
def test_flipped_byte_is_reported_as_corrupt(tmp_path, where):
    path = write_scalars(tmp_path)
    data = bytearray(path.read_bytes())
    damaged_record = record_starts(bytes(data))[2]
    data[damaged_record + (20 if where == "data" else 1)] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as caught:
        read_scalars(tmp_path)
    message = str(caught.value)
    assert "corrupt" in message and path.name in message
    assert f"byte {damaged_record} " in message


def test_checksums_agree_with_tensorboards_writer_for_many_and_long_records(tmp_path):
    path = tmp_path / "records"
    rng = np.random.default_rng(0)
    payloads = [rng.bytes(40) for _ in range(100)] + [rng.bytes(length) for length in (0, 1, 5000)]
    with path.open("wb") as file:
        writer = RecordWriter(file)
        for payload in payloads:
            writer.write(payload)
    assert verify_event_file(path) == len(payloads)
    data = bytearray(path.read_bytes())
    last_short_record = record_starts(bytes(data))[99]
    data[last_short_record + 12 + 39] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"corrupt: the record starting at byte {last_short_record} "):
        verify_event_file(path)


def test_missing_directory_is_reported_with_what_exists_nearby(tmp_path):
    (tmp_path / "runs" / "exp1").mkdir(parents=True)
    with pytest.raises(ArtifactError) as caught:
        read_scalars(tmp_path / "runs" / "exp2")
    message = str(caught.value)
    assert "does not exist" in message and str(tmp_path / "runs" / "exp2") in message
    assert "exp1/" in message


def test_directory_without_event_files_lists_what_it_holds(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="it is empty"):
        read_scalars(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ArtifactError, match="it holds empty/, notes.txt"):
        read_scalars(tmp_path)
    write_scalars(tmp_path / "Loss_train")
    with pytest.raises(ArtifactError, match="only sub-directories hold event files: Loss_train/"):
        read_scalars(tmp_path)


def test_run_without_a_graph_says_to_call_add_graph(tmp_path):
    write_scalars(tmp_path)
    with pytest.raises(ArtifactError, match="add_graph"):
        read_graph(tmp_path)


def test_unclosed_writer_is_reported_and_a_closed_one_is_not(tmp_path):
    closed_file = write_scalars(tmp_path / "closed")
    writer = SummaryWriter(tmp_path / "open")
    try:
        writer.add_scalar("loss", 1.0, 0)
        (open_file,) = event_files(tmp_path / "open")
        assert event_files_still_open(tmp_path) == [open_file.resolve()]
        assert event_files_still_open(closed_file.parent) == []
    finally:
        writer.close()
    assert event_files_still_open(tmp_path) == []


def test_truncation_in_a_file_an_open_writer_holds_says_it_was_never_closed(tmp_path):
    writer = SummaryWriter(tmp_path)
    try:
        writer.add_scalar("loss", 1.0, 0)
        writer.flush()
        (path,) = event_files(tmp_path)
        with path.open("ab") as file:
            file.write(b"\x05")  # what a half-finished append looks like
        with pytest.raises(ArtifactError, match="never closed"):
            read_scalars(tmp_path)
    finally:
        writer.close()


def test_artifact_error_survives_pickling_for_batch_grading():
    error = ArtifactError("The event file is truncated.", "runs/x", "re-run it")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.path, copy.fix) == (str(error), Path("runs/x"), "re-run it")


def test_a_run_of_more_event_files_than_a_writer_per_batch_makes_is_refused_at_once(tmp_path):
    """TensorBoard's reader lists a run's directory again for each event file it moves on to: 20,000
    files took it minutes, and the check timed out. Past MAX_EVENT_FILES the reader says why instead."""
    from watchtrain.artifacts.tensorboard.runs import MAX_EVENT_FILES

    data = write_scalars(tmp_path).read_bytes()
    for number in range(MAX_EVENT_FILES - 1):
        (tmp_path / f"events.out.tfevents.{number}.copy").write_bytes(data)
    assert len(read_scalars(tmp_path)) == 1  # MAX_EVENT_FILES files, each with the same points
    (tmp_path / "events.out.tfevents.one.more").write_bytes(data)
    with pytest.raises(ArtifactError) as caught:
        read_scalars(tmp_path)
    assert f"{MAX_EVENT_FILES + 1} event files" in str(caught.value) and "one SummaryWriter" in str(caught.value)


def test_folders_nested_past_the_limit_are_the_learners_problem_not_a_recursion_error(tmp_path):
    from watchtrain.artifacts.folders import MAX_FOLDER_DEPTH

    write_scalars(tmp_path / "run")
    deepest = tmp_path.joinpath(*["d"] * MAX_FOLDER_DEPTH)
    deepest.mkdir(parents=True)
    assert find_runs(tmp_path) == ["run"]
    (deepest / "d").mkdir()
    with pytest.raises(ArtifactError, match=f"more than {MAX_FOLDER_DEPTH} levels deep"):
        find_runs(tmp_path)


# Hostile files: what a submission can write by hand, read without leaving log_dir, allocating
# gigabytes or raising from inside a library

def write_events(run_dir: Path, *events) -> Path:
    """A run of one event file that holds `events` (Event protos), framed as the SummaryWriter frames them."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "events.out.tfevents.1.host").open("wb") as file:
        writer = RecordWriter(file)
        for event in (event_pb2.Event(wall_time=1.0, file_version="brain.Event:2"), *events):
            writer.write(event.SerializeToString())
    return run_dir


def png_header(width: int, height: int) -> bytes:
    """The first chunks of a PNG that claims width x height pixels: a few dozen bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def image_event(encoded: bytes):
    image = summary_pb2.Summary.Image(height=1, width=1, colorspace=3, encoded_image_string=encoded)
    return event_pb2.Event(step=0, summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="img", image=image)]))


def tensor_event(tag: str, plugin: str, tensor, content: bytes = b""):
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin, content=content))
    value = summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)
    return event_pb2.Event(step=0, summary=summary_pb2.Summary(value=[value]))


def float_tensor(shape: tuple[int, ...], values=(), **fields):
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in shape]
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims),
                                  float_val=list(values), **fields)


def test_a_record_length_of_two_to_the_sixtieth_is_truncation_not_an_allocation(tmp_path):
    length = struct.pack("<Q", 2**60)
    (tmp_path / "events.out.tfevents.1.host").write_bytes(length + struct.pack("<I", masked_crc32c(length)) + b"x" * 20)
    with pytest.raises(ArtifactError, match="truncated: its last record, starting at byte 0 of 32"):
        read_scalars(tmp_path)


@pytest.mark.parametrize("encoded, problem", [
    (png_header(50_000, 50_000), "claims more than"),  # Pillow's own refusal, as an OSError
    (png_header(MAX_PIXELS + 1, 1), f"{MAX_PIXELS + 1} x 1 pixels, more than the {MAX_PIXELS:,}"),
    (b"GIF87a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",  # 1 x 1 pixel
     "cannot identify image file"),  # the SummaryWriter writes PNG only; Pillow would read any format it knows
], ids=["50000 x 50000", "just past the limit", "a GIF"])
def test_an_image_that_is_too_large_or_not_a_png_is_refused_before_decoding(tmp_path, encoded, problem):
    with pytest.raises(ArtifactError, match=f"The image logged under tag 'img' cannot be decoded .*{problem}"):
        read_images(write_events(tmp_path, image_event(encoded)))


def test_a_tensor_claiming_billions_of_elements_is_refused_before_allocating(tmp_path):
    huge = float_tensor((100_000, 100_000), [1.0])  # one value stored, repeated to fill the shape
    with pytest.raises(ArtifactError, match=r"claims shape \(100000, 100000\), 10000000000 elements"):
        read_scalars(write_events(tmp_path / "scalars", tensor_event("loss", scalar_metadata.PLUGIN_NAME, huge)))
    pr_content = pr_curve_metadata.create_summary_metadata("pr", "", 3).plugin_data.content
    huge_curve = float_tensor((6, 10**10), [1.0])
    with pytest.raises(ArtifactError, match=r"claims shape \(6, 10000000000\)"):
        read_pr_curves(write_events(tmp_path / "pr", tensor_event("pr", pr_curve_metadata.PLUGIN_NAME, huge_curve,
                                                                  pr_content)))


def _mesh_content(content_type: int) -> bytes:
    return mesh_metadata.create_summary_metadata("m", "", content_type, components=1, shape=[1, 1, 3]).plugin_data.content


def _deeply_nested_graph() -> bytes:
    graph = graph_pb2.GraphDef()
    attribute = graph.node.add(name="n", op="Op").attr["a"]
    for _ in range(3000):  # each level an attribute holding a function holding an attribute
        attribute = attribute.func.attr["a"]
    return graph.SerializeToString()


@pytest.mark.parametrize("reader, events, problem", [
    (read_scalars, [tensor_event("loss", "scalars", float_tensor((3,), [1.0, 2.0, 3.0]))],
     r"at step 0 has shape \(3,\); the SummaryWriter writes one value there"),
    (read_scalars, [tensor_event("loss", "scalars", float_tensor((1,), tensor_content=b"abc"))],
     "cannot be read .ValueError: buffer size must be a multiple of element size"),
    (read_scalars, [tensor_event("loss", "scalars", tensor_pb2.TensorProto(dtype=types_pb2.DT_RESOURCE))],
     "cannot be read .KeyError"),
    (read_pr_curves, [tensor_event("pr", "pr_curves", float_tensor((2, 3), [0.0] * 6),
                                   pr_curve_metadata.create_summary_metadata("pr", "", 3).plugin_data.content)],
     r"has shape \(2, 3\); the SummaryWriter writes \(6, 3\)"),
    (read_pr_curves, [tensor_event("pr", "pr_curves", float_tensor((6, 3), [0.0] * 18), b"\xff\xff")],
     "The plugin metadata of tag 'pr' cannot be decoded"),
    (read_mesh, [tensor_event("m_VERTEX", "mesh", float_tensor((), [1.0]), _mesh_content(MeshPluginData.VERTEX))],
     r"has shape \(\); the SummaryWriter writes \(meshes, points, 3\)"),
    (read_mesh, [event_pb2.Event(step=0, wall_time=2.0, summary=summary_pb2.Summary(value=[
        tensor_event(tag, "mesh", float_tensor((samples, 1, 3), [1.0] * 3 * samples), _mesh_content(kind)).summary.value[0]
        for tag, kind, samples in [("m_VERTEX", MeshPluginData.VERTEX, 2), ("m_FACE", MeshPluginData.FACE, 1)]]))],
     "has faces or colours for another number of meshes than it has vertices for"),
    (read_graph, [event_pb2.Event(step=0, graph_def=b"\xff\xff\xff")], "The model graph in this run cannot be decoded"),
    (read_graph, [event_pb2.Event(step=0, graph_def=_deeply_nested_graph())], "cannot be decoded"),
], ids=["scalar of 3 values", "content of the wrong length", "unknown dtype", "pr curve of 2 rows",
        "pr metadata garbage", "mesh of one number", "faces for fewer meshes", "graph garbage", "graph nested 3000 deep"])
def test_plugin_data_the_writer_never_writes_is_an_artifact_error(tmp_path, reader, events, problem):
    with pytest.raises(ArtifactError, match=problem) as caught:
        reader(write_events(tmp_path, *events))
    assert "add_*" in caught.value.fix


def _projector(log_dir: Path, embedding: str) -> Path:
    (log_dir / "00000" / "default").mkdir(parents=True)
    (log_dir / "00000" / "default" / "tensors.tsv").write_text("1\t2\n")
    (log_dir / "projector_config.pbtxt").write_text(f"embeddings {{ tensor_name: \"t\" {embedding} }}")
    return log_dir


@pytest.mark.parametrize("field", ["tensor_path", "metadata_path", "sprite_image_path"])
@pytest.mark.parametrize("named", ["../secret.tsv", "00000/../../secret.tsv", "{outside}/secret.tsv", "/dev/zero",
                                   "00000/default/tensors.tsv\\000"])
def test_projector_files_named_outside_the_log_directory_are_not_read(tmp_path, field, named):
    (tmp_path / "secret.tsv").write_text("4\t2\n")
    named = named.format(outside=tmp_path)
    tensor = "tensor_path: \"00000/default/tensors.tsv\""
    embedding = {"tensor_path": f"tensor_path: \"{named}\"", "metadata_path": f"{tensor} metadata_path: \"{named}\"",
                 "sprite_image_path": f"{tensor} sprite {{ image_path: \"{named}\" }}"}[field]
    log_dir = _projector(tmp_path / "logs", embedding)
    with pytest.raises(ArtifactError, match="which is not a file inside the log directory") as caught:
        read_projector(log_dir)
    assert caught.value.path == log_dir / "projector_config.pbtxt"


def test_a_sprite_claiming_billions_of_pixels_is_refused_before_decoding(tmp_path):
    log_dir = _projector(tmp_path, "tensor_path: \"00000/default/tensors.tsv\" "
                                   "sprite { image_path: \"00000/default/sprite.png\" }")
    (log_dir / "00000" / "default" / "sprite.png").write_bytes(png_header(50_000, 50_000))
    with pytest.raises(ArtifactError, match="The sprite image cannot be read .it claims more than"):
        read_projector(log_dir)
