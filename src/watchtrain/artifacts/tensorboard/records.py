"""Integrity of event files: TFRecord framing and checksums, and writers left open.

TensorBoard's own loader stops quietly at the first damaged record, so a half-written file
looks like a short run. These checks turn that into an error that names the file and the fix.
"""
from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from typing import NoReturn

import numpy as np
from tensorboard.backend.event_processing.io_wrapper import IsSummaryEventsFile
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import CRC_TABLE, masked_crc32c
from tensorboard.summary.writer import event_file_writer

from watchtrain.artifacts.errors import ArtifactError

CLOSE_WRITER_FIX = ("re-run the exercise; make sure the writer is closed before your function returns "
                    "(call writer.close(), or use `with SummaryWriter(...) as writer:`)")

# A record is: uint64 length, masked crc32c of those 8 bytes, data, masked crc32c of data.
_LENGTH_BYTES, _CRC_BYTES = 8, 4
_HEADER_BYTES = _LENGTH_BYTES + _CRC_BYTES
_RECORD_LENGTH = struct.Struct("<Q")
_CRC_TABLE = np.array(CRC_TABLE, dtype=np.uint32)
# Below this many records of one length, the per-column numpy loop costs more than
# TensorBoard's byte-at-a-time Python CRC.
_VECTORISE_FROM = 32
# Private to TensorBoard, so a release that renames it must only blind this check, not break the import.
_WRITER_THREAD = getattr(event_file_writer, "_AsyncWriterThread", ())


def is_event_file(path: str | os.PathLike[str]) -> bool:
    """The test TensorBoard itself uses to pick event files out of a directory."""
    return IsSummaryEventsFile(os.fspath(path))


def verify_event_file(path: str | os.PathLike[str]) -> int:
    """Check every record's framing and both checksums; return the number of records.

    Raises ArtifactError naming the file, the byte offset, and whether the file is truncated
    (a writer stopped mid-record) or corrupt (bytes changed after writing).
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ArtifactError(f"Cannot read the event file ({error.strerror}).", path, CLOSE_WRITER_FIX) from None
    starts, lengths, truncated_at = _walk_records(content)
    buffer = np.frombuffer(content, dtype=np.uint8)
    problems = []
    if truncated_at is not None:
        problems.append((truncated_at, "truncated"))
    bad_lengths = starts[_masked_crc32c(buffer, starts, _LENGTH_BYTES) != _stored_crc(buffer, starts + _LENGTH_BYTES)]
    if bad_lengths.size:
        # Every record after a damaged length field was framed from garbage, so stop there.
        first_bad = int(bad_lengths[0])
        problems.append((first_bad, "corrupt"))
        keep = starts < first_bad
        starts, lengths = starts[keep], lengths[keep]
    data_starts = starts + _HEADER_BYTES
    complete = data_starts + lengths + _CRC_BYTES <= buffer.size
    if not complete.all():
        problems.append((int(starts[~complete][0]), "truncated"))
    data_starts, lengths = data_starts[complete], lengths[complete]
    bad_data = data_starts[_masked_crc32c(buffer, data_starts, lengths) != _stored_crc(buffer, data_starts + lengths)]
    if bad_data.size:
        problems.append((int(bad_data[0]) - _HEADER_BYTES, "corrupt"))
    if problems:
        _raise_damaged(path, *min(problems), size=buffer.size)
    return int(starts.size)


def _walk_records(content: bytes) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Record start offsets and data lengths, as the length fields claim them, plus the offset
    of a trailing fragment too short to hold a record header (None when there is none)."""
    starts, lengths = [], []
    offset, size = 0, len(content)
    unpack_length = _RECORD_LENGTH.unpack_from
    while offset + _HEADER_BYTES <= size:
        (length,) = unpack_length(content, offset)
        starts.append(offset)
        lengths.append(length)
        offset += _HEADER_BYTES + length + _CRC_BYTES
    truncated_at = offset if offset < size else None
    # uint64 first: a damaged length field may not fit int64; such records fail their checksum.
    lengths_array = np.array(lengths, dtype=np.uint64).astype(np.int64)
    return np.array(starts, dtype=np.int64), lengths_array, truncated_at


def _stored_crc(buffer: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    offsets = offsets.astype(np.int64)
    crc = np.zeros(offsets.size, dtype=np.uint32)
    for byte in range(_CRC_BYTES):
        crc |= buffer[offsets + byte].astype(np.uint32) << np.uint32(8 * byte)
    return crc


def _masked_crc32c(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
    """TensorBoard's masked CRC-32C of buffer[start:start + length] for every start.

    Records of equal length are checksummed together, one byte column at a time, because
    checking 100,000 scalar records one by one in Python would double the read time.
    """
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.int64), starts.shape)
    result = np.zeros(starts.size, dtype=np.uint32)
    for length in np.unique(lengths):
        same = np.flatnonzero(lengths == length)
        if same.size >= _VECTORISE_FROM:
            result[same] = _masked_crc32c_equal_length(buffer, starts[same], int(length))
        else:
            for index in same:
                start = int(starts[index])
                result[index] = masked_crc32c(buffer[start:start + int(length)].tobytes())
    return result


def _masked_crc32c_equal_length(buffer: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    crc = np.full(starts.size, 0xFFFFFFFF, dtype=np.uint32)
    for column in range(length):
        crc = _CRC_TABLE[(crc ^ buffer[starts + column]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return _masked(crc)


def _masked(crc: np.ndarray) -> np.ndarray:
    crc = crc ^ np.uint32(0xFFFFFFFF)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


def masked_crc32c_of(records: list[bytes], rows: int = 256) -> list[int]:
    """TensorBoard's masked CRC-32C of each of `records`, the same as `masked_crc32c(record)`, but
    computed `rows` records at a time, one byte column at a time: the pure-Python CRC that
    TensorBoard falls back on without TensorFlow costs about a second per megabyte written."""
    order = sorted(range(len(records)), key=lambda index: len(records[index]))
    result = [0] * len(records)
    for first in range(0, len(order), rows):
        group = order[first:first + rows]  # shortest first, so the rows still running are a suffix
        lengths = np.array([len(records[index]) for index in group], dtype=np.int64)
        matrix = np.zeros((len(group), int(lengths[-1])), dtype=np.uint8)
        for row, index in enumerate(group):
            matrix[row, :lengths[row]] = np.frombuffer(records[index], dtype=np.uint8)
        crc = np.full(len(group), 0xFFFFFFFF, dtype=np.uint32)
        for column in range(int(lengths[-1])):
            running = int(np.searchsorted(lengths, column, side="right"))
            part = crc[running:]
            crc[running:] = _CRC_TABLE[(part ^ matrix[running:, column]) & np.uint32(0xFF)] ^ (part >> np.uint32(8))
        for index, value in zip(group, _masked(crc).tolist()):
            result[index] = value
    return result


def _raise_damaged(path: Path, offset: int, kind: str, *, size: int) -> NoReturn:
    if kind == "truncated":
        problem = (f"The event file is truncated: its last record, starting at byte {offset} of {size}, "
                   f"is incomplete, so the events written last are missing.")
        if path.resolve() in event_files_still_open(path.parent):
            problem += " A SummaryWriter in this process still has the file open: it was never closed."
    else:
        problem = (f"The event file is corrupt: the record starting at byte {offset} of {size} "
                   f"fails its checksum, so the file was changed or damaged after it was written.")
    raise ArtifactError(problem, path, CLOSE_WRITER_FIX)


def event_files_still_open(log_dir: str | os.PathLike[str]) -> list[Path]:
    """Event files under log_dir that a writer in this process has not closed, sorted.

    TensorBoard's writer (the one torch's SummaryWriter uses) reopens the file for every append,
    so /proc/self/fd rarely shows it; its background writer thread, alive until close(), does.
    /proc still catches writers that hold the file open (TensorFlow's, tensorboardX's).
    """
    root = Path(log_dir).resolve()
    candidates = [_writer_thread_file(thread) for thread in threading.enumerate()
                  if isinstance(thread, _WRITER_THREAD)]
    candidates += _files_open_in_this_process()
    found = set()
    for candidate in candidates:
        if candidate is None or not is_event_file(candidate):
            continue
        resolved = Path(candidate).resolve()
        if resolved.is_relative_to(root):
            found.add(resolved)
    return sorted(found)


def _writer_thread_file(thread: threading.Thread) -> str | None:
    # The stub GFile names its file `filename` (bytes); TensorFlow's GFile calls it `name`.
    file = getattr(getattr(thread, "_record_writer", None), "_writer", None)
    name = getattr(file, "filename", None) or getattr(file, "name", None)
    return os.fsdecode(name) if name else None


def _files_open_in_this_process() -> list[str]:
    descriptors = Path("/proc/self/fd")
    try:
        entries = list(descriptors.iterdir())
    except OSError:
        return []
    targets = []
    for entry in entries:
        try:
            targets.append(os.readlink(entry))
        except OSError:
            continue  # closed between listing and reading
    return targets
