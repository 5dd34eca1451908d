"""Unpack a submitted zip without trusting it: every entry must land inside the target folder.

Refused, with a message naming the entry: absolute paths, `..`, drive letters, symbolic links,
encrypted entries, more than MAX_ENTRIES entries, more than MAX_TOTAL_BYTES unpacked (a zip bomb).
The whole zip is refused, so a submission is graded from exactly what the student meant to send.
"""
from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_ENTRIES = 5_000
MAX_TOTAL_BYTES = 200 * 2**20
IGNORED_PARTS = {"__MACOSX", ".DS_Store"}  # what macOS's Finder adds to every zip


class ZipRejected(Exception):
    """The zip cannot be unpacked safely; the message says which entry and why."""


def safe_extract(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = _checked_members(zipped)
            target.mkdir(parents=True, exist_ok=True)
            root = target.resolve()
            for info, relative in members:
                destination = root.joinpath(*relative.parts)
                if not destination.resolve().is_relative_to(root):
                    raise ZipRejected(f"the entry {info.filename!r} would be written outside the submission folder")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
        raise ZipRejected(f"it is not a readable zip file ({err})") from None
    except NotImplementedError as err:  # an unsupported compression method
        raise ZipRejected(f"it uses a compression this grader cannot read ({err}); "
                          f"zip it again with default settings") from None


def _checked_members(zipped: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    infos = zipped.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ZipRejected(f"it holds {len(infos)} entries, more than the {MAX_ENTRIES} a submission may have")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise ZipRejected(f"it unpacks to {total / 2**20:.0f} MiB, more than the {MAX_TOTAL_BYTES // 2**20} MiB allowed")
    members = []
    for info in infos:
        name = info.filename.replace("\\", "/")  # zips made on Windows may use backslashes
        path = PurePosixPath(name)
        if name.startswith("/") or (path.parts and ":" in path.parts[0]):
            raise ZipRejected(f"the entry {info.filename!r} has an absolute path; "
                              f"zip the folder itself, with relative paths")
        if ".." in path.parts:
            raise ZipRejected(f"the entry {info.filename!r} points outside the submission folder ('..' in its path)")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ZipRejected(f"the entry {info.filename!r} is a symbolic link; submit real files")
        if info.flag_bits & 0x1:
            raise ZipRejected(f"the entry {info.filename!r} is encrypted; submit a zip without a password")
        if IGNORED_PARTS.intersection(path.parts) or not path.parts:
            continue
        members.append((info, path))
    return members
