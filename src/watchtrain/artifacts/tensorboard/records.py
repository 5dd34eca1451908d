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

import google_crc32c
from tensorboard.backend.event_processing.io_wrapper import IsSummaryEventsFile
from tensorboard.summary.writer import event_file_writer

from watchtrain.artifacts.errors import ArtifactError

CLOSE_WRITER_FIX = ("re-run the exercise; make sure the writer is closed before your function returns "
                    "(call writer.close(), or use `with SummaryWriter(...) as writer:`)")

# A record is: uint64 length, masked crc32c of those 8 bytes, data, masked crc32c of data.
_LENGTH_BYTES, _CRC_BYTES = 8, 4
_HEADER_BYTES = _LENGTH_BYTES + _CRC_BYTES
_RECORD_LENGTH, _STORED_CRC = struct.Struct("<Q"), struct.Struct("<I")
# Private to TensorBoard, so a release that renames it must only blind this check, not break the import.
_WRITER_THREAD = getattr(event_file_writer, "_AsyncWriterThread", ())


def is_event_file(path: str | os.PathLike[str]) -> bool:
    """The test TensorBoard itself uses to pick event files out of a directory."""
    return IsSummaryEventsFile(os.fspath(path))


def verify_event_file(path: str | os.PathLike[str]) -> int:
    """Check every record's framing and both checksums; return the number of records.

    Raises ArtifactError naming the file, the byte offset, and whether the file is truncated
    (a writer stopped mid-record) or corrupt (bytes changed after writing). The first damaged
    record is the one named: every record after a damaged length field was framed from garbage.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ArtifactError(f"Cannot read the event file ({error.strerror}).", path, CLOSE_WRITER_FIX) from None
    offset, size, records = 0, len(content), 0
    while offset < size:
        data_start = offset + _HEADER_BYTES
        if data_start > size:
            _raise_damaged(path, offset, "truncated", size=size)
        if masked_crc32c(content[offset:offset + _LENGTH_BYTES]) != _stored_crc(content, offset + _LENGTH_BYTES):
            _raise_damaged(path, offset, "corrupt", size=size)
        (length,) = _RECORD_LENGTH.unpack_from(content, offset)
        data_end = data_start + length
        if data_end + _CRC_BYTES > size:
            _raise_damaged(path, offset, "truncated", size=size)
        if masked_crc32c(content[data_start:data_end]) != _stored_crc(content, data_end):
            _raise_damaged(path, offset, "corrupt", size=size)
        offset, records = data_end + _CRC_BYTES, records + 1
    return records


def masked_crc32c(data: bytes) -> int:
    """TensorBoard's masked CRC-32C of `data`, from google-crc32c's C code: TensorBoard without
    TensorFlow computes it in pure Python, about a second per megabyte."""
    crc = google_crc32c.value(data)
    return ((crc >> 15 | crc << 17) + 0xA282EAD8) & 0xFFFFFFFF


def _stored_crc(content: bytes, offset: int) -> int:
    return _STORED_CRC.unpack_from(content, offset)[0]


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
