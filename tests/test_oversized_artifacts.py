"""Every reader that reads a file whole refuses one past MAX_READ_BYTES before reading a byte of it.

A submission may write up to its work folder's 2 GiB: an event file padded with copies of its own
records, say. Read whole, it would take the checker's memory and minutes before a check could say
anything. The files here are sparse (no disk, no time), and zeros would read as a damaged file of
another message, so each test shows that the size was looked at first.
"""
from pathlib import Path

import pytest

from watchtrain.artifacts import ArtifactError
from watchtrain.artifacts.folders import MAX_READ_BYTES
from watchtrain.artifacts.onnx import read_onnx
from watchtrain.artifacts.tensorboard import read_projector, read_scalars
from watchtrain.artifacts.visdom import read_env_file
from watchtrain.artifacts.wandb import read_run


def oversized(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        file.truncate(MAX_READ_BYTES + 1)
    return path


READERS = {  # what each reader is given, and the file in it that is too large
    "event files": (lambda root: read_scalars(root / "run"), "run/events.out.tfevents.1.host"),
    "W&B run file": (lambda root: read_run(root / "run-abc.wandb"), "run-abc.wandb"),
    "projector config": (read_projector, "projector_config.pbtxt"),
    "saved Visdom env": (lambda root: read_env_file(root / "main.json"), "main.json"),
    "ONNX model": (lambda root: read_onnx(root / "model.onnx"), "model.onnx"),
}


@pytest.mark.parametrize("reader", READERS)
def test_a_file_past_the_limit_is_refused_before_it_is_read(tmp_path, reader):
    read, name = READERS[reader]
    oversized(tmp_path / name)
    with pytest.raises(ArtifactError) as caught:
        read(tmp_path)
    assert f"reached {(MAX_READ_BYTES + 1) / 2**20:,.0f} MB" in caught.value.problem, caught.value.problem
    assert f"({MAX_READ_BYTES >> 20} MB is the limit)" in caught.value.problem
    assert caught.value.path.name in (name, Path(name).parent.name)


def test_the_limit_counts_a_runs_event_files_together(tmp_path):
    """Many event files of a run under the limit each, past it together: one run's reading."""
    for number in range(3):
        with (tmp_path / f"events.out.tfevents.{number}.host").open("wb") as file:
            file.truncate(MAX_READ_BYTES // 2)
    with pytest.raises(ArtifactError, match="The event files of this run reached 96 MB"):
        read_scalars(tmp_path)
