"""Fashion-MNIST for the course, offline.

`fashion_mnist()` returns a real `torchvision.datasets.FashionMNIST`. By default it reads the small
set committed under `data/fashion-mnist-mini/` (6,000 training and 1,000 test images); with
`full=True` it reads the 70,000-image set that `watchtrain data fetch` puts in
`data/fashion-mnist-full/`. See data/README.md for where the images come from and how they are split.
`first_images()` gives the first pictures of the bundled set as one normalised batch, for graders and demos.

A set folder holds four gzipped IDX files and a `SHA256SUMS` listing them and their uncompressed
forms. torchvision wants the uncompressed files in `<root>/FashionMNIST/raw/`, so each load checks
every checksum and decompresses (once, atomically) into `<set>/FashionMNIST/raw/`, or into a cache
folder when the set folder is read-only.
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from watchtrain.atomic import write_atomically
from watchtrain.course import ManifestError, find_course_root

if TYPE_CHECKING:
    import torch
    import torchvision

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

DATA_DIR_ENV = "WATCHTRAIN_DATA_DIR"
MINI_SET = "fashion-mnist-mini"
FULL_SET = "fashion-mnist-full"
CHECKSUMS = "SHA256SUMS"
RAW_SUBDIR = "FashionMNIST/raw"  # where torchvision looks, relative to the root it is given
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_SIDE = 28
_IDX_IMAGES_MAGIC = 0x0803  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 0x0801  # unsigned bytes, 1 dimension


class DataError(Exception):
    """A data file is missing or damaged; the message names the file and the command that fixes it."""


def data_dir() -> Path:
    """The course's `data/` folder: $WATCHTRAIN_DATA_DIR, else `data/` next to course.toml."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser().resolve()
    # The working directory first (a learner's own copy of the course), then this file's checkout.
    for start in (Path.cwd(), Path(__file__).parent):
        try:
            return find_course_root(start) / "data"
        except ManifestError:
            continue
    raise DataError(
        f"cannot find the course's data folder: no course.toml in {Path.cwd()} or any folder above it; "
        f"run this from inside the course folder, or set {DATA_DIR_ENV} to the folder holding {MINI_SET}/"
    )


def fix_command(full: bool, dest: Path | None = None) -> str:
    """The command that restores a set, for error messages; `dest` is a set folder chosen by hand."""
    if full:
        return f"`watchtrain data fetch --dest {dest}`" if dest else "`watchtrain data fetch`"
    return f"`git checkout -- data/{MINI_SET}` (or rebuild it with `watchtrain data build-mini`)"


PIXEL_MEAN, PIXEL_STD = 0.5, 0.5  # the tutorial's normalisation: [0, 1] -> [-1, 1]


def normalize_transform():
    """The tutorial's transform: a tensor in [0, 1], then (x - 0.5) / 0.5, so pixels lie in [-1, 1]."""
    from torchvision import transforms  # imported here so that `watchtrain --help` stays fast

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((PIXEL_MEAN,), (PIXEL_STD,))])


def fashion_mnist(
    train: bool = True, transform=None, *, full: bool = False, root: str | os.PathLike | None = None
) -> "torchvision.datasets.FashionMNIST":
    """Fashion-MNIST as a torchvision dataset: the committed mini set, or the fetched full set.

    `root` is a set folder (the one holding SHA256SUMS); by default `data/fashion-mnist-mini`, or
    `data/fashion-mnist-full` when `full` is true. Raises DataError when a file is missing or damaged.
    """
    from torchvision.datasets import FashionMNIST

    if root is None:
        set_dir, fix = data_dir() / (FULL_SET if full else MINI_SET), fix_command(full)
    else:
        set_dir = Path(root).expanduser().resolve()
        fix = fix_command(full, set_dir)
    torchvision_root = prepare(set_dir, fix, full=full)
    try:
        return FashionMNIST(str(torchvision_root), train=train, transform=transform, download=False)
    except (RuntimeError, ValueError, TypeError, OSError) as err:
        raise DataError(f"torchvision could not read {torchvision_root / RAW_SUBDIR}: {err}; fix it with {fix}") from None


def first_images(train: bool, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` pictures of the bundled set as one (count, 1, 28, 28) batch, each exactly
    what normalize_transform() makes of it, and their labels. Made in one step rather than picture by
    picture through PIL, which costs a tenth of a second for a thousand pictures."""
    import torch

    dataset = fashion_mnist(train=train)
    pixels = dataset.data[:count].unsqueeze(1).to(torch.get_default_dtype()).div(255)  # ToTensor()
    return pixels.sub_(PIXEL_MEAN).div_(PIXEL_STD), dataset.targets[:count].clone()  # as Normalize does it


def prepare(set_dir: Path, fix: str, *, full: bool = False) -> Path:
    """Check a set folder and make sure its decompressed copy exists; returns the root for torchvision."""
    expected = read_checksums(set_dir, fix, full=full)
    for name in IDX_FILES:
        check_file(set_dir / f"{name}.gz", expected[f"{name}.gz"], fix)
    for candidate in (set_dir, _cache_root(expected)):
        if all(_raw_is_current(candidate, name, expected) for name in IDX_FILES):
            return candidate
    for candidate in (set_dir, _cache_root(expected)):
        try:
            for name in IDX_FILES:
                _decompress(set_dir / f"{name}.gz", candidate, name, expected, fix)
            return candidate
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise DataError(f"cannot write the decompressed files under {candidate}: {err}") from None
            # A read-only course checkout: try the cache folder next.
    raise DataError(f"cannot write the decompressed files under {set_dir} nor {_cache_root(expected)}")


def read_checksums(set_dir: Path, fix: str, *, full: bool = False) -> dict[str, str]:
    """SHA256SUMS as {relative path: hex digest}; it must list every .gz file and its raw form."""
    path = set_dir / CHECKSUMS
    if not path.is_file():
        if full and not set_dir.exists():
            raise DataError(f"the full Fashion-MNIST set is not there ({set_dir} does not exist); get it with {fix}")
        raise DataError(f"{path} is missing; restore it with {fix}")
    expected = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or len(fields[0]) != 64 or any(c not in "0123456789abcdef" for c in fields[0]):
            raise DataError(f"{path} line {number} is not '<sha256>  <file>'; restore it with {fix}")
        expected[fields[1].lstrip("*")] = fields[0]  # sha256sum writes '*name' in binary mode
    needed = [f"{n}.gz" for n in IDX_FILES] + [f"{RAW_SUBDIR}/{n}" for n in IDX_FILES]
    missing = [n for n in needed if n not in expected]
    if missing:
        raise DataError(f"{path} does not list {', '.join(missing)}; restore it with {fix}")
    return expected


def check_file(path: Path, expected_sha256: str, fix: str) -> None:
    if not path.is_file():
        raise DataError(f"{path} is missing; restore it with {fix}")
    found = sha256_of(path)
    if found != expected_sha256:
        raise DataError(
            f"{path} is corrupt: its SHA-256 is {found[:12]}..., {CHECKSUMS} expects {expected_sha256[:12]}...; "
            f"restore it with {fix}"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_idx(payload: bytes, name: str) -> str | None:
    """What is wrong with an IDX file's header and size, or None when it is well formed."""
    images = "images" in name
    header = 16 if images else 8
    if len(payload) < header:
        return f"it is {len(payload)} bytes, too short for an IDX header"
    magic, count = struct.unpack(">II", payload[:8])
    if magic != (_IDX_IMAGES_MAGIC if images else _IDX_LABELS_MAGIC):
        return f"its IDX magic number is {magic:#010x}"
    if images:
        rows, cols = struct.unpack(">II", payload[8:16])
        if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
            return f"its images are {rows}x{cols}, not {IMAGE_SIDE}x{IMAGE_SIDE}"
    size = header + count * (IMAGE_SIDE * IMAGE_SIDE if images else 1)
    if len(payload) != size:
        return f"its header promises {count} items ({size} bytes) but it holds {len(payload)} bytes"
    if not images and payload[header:] and max(payload[header:]) >= len(CLASS_NAMES):
        return f"it holds a label above {len(CLASS_NAMES) - 1}"
    return None


def _raw_is_current(torchvision_root: Path, name: str, expected: dict[str, str]) -> bool:
    raw = torchvision_root / RAW_SUBDIR / name
    return raw.is_file() and sha256_of(raw) == expected[f"{RAW_SUBDIR}/{name}"]


def _decompress(gz_path: Path, torchvision_root: Path, name: str, expected: dict[str, str], fix: str) -> None:
    try:
        payload = gzip.decompress(gz_path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{gz_path} is not a valid gzip file ({err}); restore it with {fix}") from None
    problem = check_idx(payload, name)
    if problem:
        raise DataError(f"{gz_path} is not a Fashion-MNIST IDX file: {problem}; restore it with {fix}")
    if hashlib.sha256(payload).hexdigest() != expected[f"{RAW_SUBDIR}/{name}"]:
        raise DataError(f"{gz_path} decompresses to content that {CHECKSUMS} does not list; restore it with {fix}")
    raw_dir = torchvision_root / RAW_SUBDIR
    raw_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(raw_dir / name, payload)


def _cache_root(expected: dict[str, str]) -> Path:
    # Keyed by the checksums, so that two different sets never share a cache folder.
    key = hashlib.sha256("".join(sorted(expected.values())).encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "watchtrain" / f"fashion-mnist-{key}"
