"""FixedTimeWriter writes what SummaryWriter writes, as TensorBoard reads it, with fixed names and
wall times; its batched checksums are TensorBoard's own."""
import random

import torch
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
from torch.utils.tensorboard import SummaryWriter

from watchtrain.artifacts.tensorboard import find_runs, read_histograms, read_scalars_tree, verify_event_file
from watchtrain.artifacts.tensorboard.records import masked_crc32c
from watchtrain.run_writer import FILE_NAME, FixedTimeWriter

VALUES = torch.linspace(-1, 3, 500) ** 3


def log(writer, **walltime) -> None:
    for step in range(3):
        writer.add_scalar("lr", 0.1 / (step + 1), step, **walltime)
        writer.add_scalars("loss", {"train": 2.3 - step, "val": 2.4 - step / 2}, step, **walltime)
        writer.add_histogram("weights/fc1.weight", VALUES * step, step, bins=64, **walltime)


def test_it_writes_what_summary_writer_writes(tmp_path):
    with SummaryWriter(tmp_path / "torch") as writer:
        log(writer)
    with FixedTimeWriter(tmp_path / "fixed", start_time=1e9) as writer:
        log(writer, walltime=1e9)
    assert find_runs(tmp_path / "fixed") == find_runs(tmp_path / "torch") == [".", "loss_train", "loss_val"]
    assert read_scalars_tree(tmp_path / "fixed") == read_scalars_tree(tmp_path / "torch")
    ours, theirs = read_histograms(tmp_path / "fixed"), read_histograms(tmp_path / "torch")
    for mine, torchs in zip(ours["weights/fc1.weight"], theirs["weights/fc1.weight"], strict=True):
        assert (mine.step, mine.min, mine.max, mine.num, mine.sum) == (torchs.step, torchs.min, torchs.max, torchs.num, torchs.sum)
        assert mine.bucket_limits.tolist() == torchs.bucket_limits.tolist()
        assert mine.bucket_counts.tolist() == torchs.bucket_counts.tolist()


def test_the_same_calls_give_the_same_bytes(tmp_path):
    for name in ("first", "second"):
        with FixedTimeWriter(tmp_path / name, start_time=1e9) as writer:
            log(writer, walltime=1e9 + 5)
    for run in ("", "loss_train", "loss_val"):
        first, second = tmp_path / "first" / run / FILE_NAME, tmp_path / "second" / run / FILE_NAME
        verify_event_file(first)
        assert first.read_bytes() == second.read_bytes()


def test_our_checksums_are_tensorboards(monkeypatch):
    # TensorBoard's own pure-Python CRC-32C (a grading worker swaps in the C one: see warm_up).
    monkeypatch.setattr(pywrap_tensorflow, "crc32c", lambda data: pywrap_tensorflow.crc_finalize(
        pywrap_tensorflow.crc_update(pywrap_tensorflow.CRC_INIT, data)))
    generator = random.Random(0)
    records = [bytes(generator.randrange(256) for _ in range(generator.choice([0, 1, 8, 57, 300, 2048])))
               for _ in range(300)]
    assert [masked_crc32c(record) for record in records] == [pywrap_tensorflow.masked_crc32c(record) for record in records]
