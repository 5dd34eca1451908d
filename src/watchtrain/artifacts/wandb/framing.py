"""The framing of a W&B run file (`run-<id>.wandb`): its header, blocks and chunks, checksums checked.

The layout (wandb 0.31, written by wandb-core):
- a 7-byte header, `struct.pack("<4sHB", b":W&B", 0xBEE1, 0)`;
- then the LevelDB log format, in 32 KiB blocks counted from the start of the file. Each chunk
  has a 7-byte header `<IHB` (CRC-32 of the type byte and the payload, payload length, type)
  and a payload. A record that does not fit in what is left of a block is split into a FIRST
  chunk, MIDDLE chunks and a LAST chunk; one that fits is a FULL chunk. A block tail shorter
  than a chunk header is zero padding.

wandb-core writes whole blocks while a run is open, so a run that is still open, or whose
process was killed, ends at a block boundary, often in the middle of a record.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from watchtrain.artifacts.errors import ArtifactError
from watchtrain.artifacts.folders import refuse_oversized

FILE_HEADER = struct.Struct("<4sHB")
MAGIC, IDENT, VERSION = b":W&B", 0xBEE1, 0
BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4

RERUN_FIX = "run the code that writes this run again, and let it finish (call run.finish(), or use `with wandb.init(...)`)"


@dataclass(frozen=True)
class Frames:
    """The complete records of a run file, in order, and why reading stopped early (if it did)."""

    records: tuple[tuple[int, bytes], ...]  # (byte offset of the record's first chunk, payload)
    truncated: str | None  # None when the file ends cleanly after its last record


def read_frames(path: Path) -> Frames:
    """Split a run file into record payloads, checking the header and every chunk's CRC.

    A file that ends in the middle of a chunk or of a split record is cut short: the records
    before the cut are returned and `truncated` says where the file ends. A checksum that does
    not match, or chunks out of order, mean the bytes were changed after wandb wrote them: that
    raises ArtifactError, since nothing after such a point can be trusted.
    """
    try:
        refuse_oversized([path], "The W&B run file", path,
                         "log only what the exercise asks for, as often as it asks, and run it again")
        content = path.read_bytes()
    except OSError as error:
        raise ArtifactError(f"Cannot read the W&B run file ({error.strerror}).", path, RERUN_FIX) from None
    _check_header(content, path)
    records: list[tuple[int, bytes]] = []
    pending: list[bytes] = []
    pending_start = 0
    position = FILE_HEADER.size
    while position < len(content):
        left_in_block = BLOCK_SIZE - position % BLOCK_SIZE
        if left_in_block < CHUNK_HEADER.size:
            position += left_in_block  # zero padding at the end of a block
            continue
        if position + CHUNK_HEADER.size > len(content):
            return Frames(tuple(records), _cut(path, position, "a chunk header", len(records)))
        crc, length, kind = CHUNK_HEADER.unpack_from(content, position)
        start = position + CHUNK_HEADER.size
        if CHUNK_HEADER.size + length > left_in_block:
            raise _corrupt(path, position, f"its chunk claims {length} bytes, more than the "
                                           f"{left_in_block - CHUNK_HEADER.size} left in its 32 KiB block")
        if start + length > len(content):
            return Frames(tuple(records), _cut(path, position, "a chunk", len(records)))
        payload = content[start:start + length]
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            raise _corrupt(path, position, "its checksum (CRC-32) does not match its bytes")
        if kind == FULL:
            if pending:
                raise _corrupt(path, position, "a whole record starts inside a split one")
            records.append((position, payload))
        elif kind == FIRST:
            if pending:
                raise _corrupt(path, position, "a split record starts inside another")
            pending, pending_start = [payload], position
        elif kind in (MIDDLE, LAST):
            if not pending:
                raise _corrupt(path, position, "a record continues that never started")
            pending.append(payload)
            if kind == LAST:
                records.append((pending_start, b"".join(pending)))
                pending = []
        else:
            raise _corrupt(path, position, f"its chunk type is {kind}, not one of 1 to 4")
        position = start + length
    if pending:
        return Frames(tuple(records), _cut(path, pending_start, "a record split across blocks", len(records)))
    return Frames(tuple(records), None)


def _check_header(content: bytes, path: Path) -> None:
    if len(content) < FILE_HEADER.size:
        raise ArtifactError(f"The W&B run file is {len(content)} bytes long, shorter than its 7-byte header: "
                            f"wandb was stopped before it wrote anything.", path, RERUN_FIX)
    magic, ident, version = FILE_HEADER.unpack_from(content)
    if (magic, ident) != (MAGIC, IDENT):
        raise ArtifactError(f"This is not a W&B run file: it starts with {content[:7]!r}, not with "
                            f"{FILE_HEADER.pack(MAGIC, IDENT, VERSION)!r}.", path,
                            "point at the run-<id>.wandb file inside wandb/offline-run-*/")
    if version != VERSION:
        raise ArtifactError(f"This W&B run file has format version {version}; this reader knows version "
                            f"{VERSION} (wandb 0.31).", path, "write the run with the wandb version in constraints.txt")


def _cut(path: Path, offset: int, what: str, complete: int) -> str:
    return (f"{path} is cut short: it ends inside {what} at byte {offset}, so only the {complete} complete "
            f"records before it were read. The run was still open, or its process was killed or ran out "
            f"of disk, before wandb finished writing.")


def _corrupt(path: Path, offset: int, problem: str) -> ArtifactError:
    return ArtifactError(f"The W&B run file is damaged at byte {offset}: {problem}. The file was changed "
                         f"after wandb wrote it.", path, RERUN_FIX)
