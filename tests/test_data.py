import gzip
import shutil

import pytest
import torch

from fmnist_utils import data
from fmnist_utils.data import DataError, load_fashion_mnist, split_indices, to_float


def test_dataset_shapes_labels_and_statistics():
    ds = load_fashion_mnist()
    assert ds.train_images.shape == (60000, 28, 28) and ds.train_images.dtype == torch.uint8
    assert ds.test_images.shape == (10000, 28, 28)
    assert torch.bincount(ds.train_labels).tolist() == [6000] * 10
    assert torch.bincount(ds.test_labels).tolist() == [1000] * 10
    pixels = ds.train_images.float() / 255
    assert pixels.mean().item() == pytest.approx(data.TRAIN_MEAN, abs=5e-4)
    assert pixels.std().item() == pytest.approx(data.TRAIN_STD, abs=5e-4)


def test_split_matches_torch_random_split():
    train, val = split_indices(60000, 0.1, 42)
    reference = torch.utils.data.random_split(range(60000), [54000, 6000], generator=torch.Generator().manual_seed(42))
    assert train.tolist() == list(reference[0].indices)
    assert val.tolist() == list(reference[1].indices)
    assert len(set(train.tolist()) | set(val.tolist())) == 60000


def test_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="val_fraction"):
        split_indices(100, 1.0, 0)


def test_to_float_normalises():
    images = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    x = to_float(images, (0.5, 0.5))
    assert x.shape == (1, 1, 1, 2)
    assert x.flatten().tolist() == [-1.0, 1.0]


def _copy_dataset(target):
    source = load_fashion_mnist().source
    for stem, _ in data.FILES.values():
        shutil.copy(data._file_in(data.Path(source), stem), target)


def test_corrupt_file_names_the_file_and_the_fix(tmp_path):
    _copy_dataset(tmp_path)
    victim = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(victim.read_bytes()))
    raw[100] ^= 0xFF  # one flipped label byte: still a valid gzip, wrong contents
    victim.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError) as error:
        load_fashion_mnist(str(tmp_path))
    message = str(error.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "corrupt" in message
    assert "FMNIST_DATA_DIR" in message and "apt-get install dataset-fashion-mnist" in message


def test_truncated_gzip_is_a_clear_error(tmp_path):
    _copy_dataset(tmp_path)
    victim = tmp_path / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(DataError, match="cannot read .*train-images"):
        load_fashion_mnist(str(tmp_path))


def test_no_data_anywhere_lists_the_three_ways(tmp_path, monkeypatch):
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "REPO_DIR", tmp_path / "repo")
    monkeypatch.setattr(data, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setattr(data, "DOWNLOAD_DIR", tmp_path / "download")

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", offline)
    load_fashion_mnist.cache_clear()
    try:
        with pytest.raises(DataError) as error:
            load_fashion_mnist()
    finally:
        load_fashion_mnist.cache_clear()
    message = str(error.value)
    assert "could not be downloaded" in message and "network unreachable" in message
    for way in ("FMNIST_DATA_DIR", "data/", "dataset-fashion-mnist"):
        assert way in message


def test_environment_variable_takes_precedence(tmp_path, monkeypatch):
    _copy_dataset(tmp_path)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path))
    load_fashion_mnist.cache_clear()
    try:
        assert load_fashion_mnist().source == str(tmp_path)
    finally:
        load_fashion_mnist.cache_clear()


def _load_with_environment(monkeypatch, folder):
    monkeypatch.setenv("FMNIST_DATA_DIR", str(folder))
    load_fashion_mnist.cache_clear()
    try:
        return load_fashion_mnist()
    finally:
        load_fashion_mnist.cache_clear()


def test_environment_variable_naming_a_missing_folder_is_refused(tmp_path, monkeypatch):
    """The other places hold the data (the Debian package here), yet a folder the user named wins or fails."""
    absent = tmp_path / "no-such-folder"
    with pytest.raises(DataError) as error:
        _load_with_environment(monkeypatch, absent)
    message = str(error.value)
    assert f"FMNIST_DATA_DIR points to {absent} (while it is set, the only place looked in): {absent} lacks train-images-idx3-ubyte" in message
    assert "apt-get install dataset-fashion-mnist" in message  # the ways to provide the data


def test_environment_variable_naming_an_incomplete_folder_is_refused(tmp_path, monkeypatch):
    _copy_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as error:
        _load_with_environment(monkeypatch, tmp_path)
    message = str(error.value)
    assert f"FMNIST_DATA_DIR points to {tmp_path} (while it is set, the only place looked in): {tmp_path} lacks t10k-labels-idx1-ubyte" in message


def test_environment_variable_naming_a_corrupt_file_is_refused(tmp_path, monkeypatch):
    _copy_dataset(tmp_path)
    victim = tmp_path / "train-labels-idx1-ubyte.gz"
    victim.write_bytes(gzip.compress(b"not Fashion-MNIST"))
    with pytest.raises(DataError) as error:
        _load_with_environment(monkeypatch, tmp_path)
    message = str(error.value)
    assert f"FMNIST_DATA_DIR points to {tmp_path}" in message
    assert str(victim) in message and "corrupt" in message and "apt-get install dataset-fashion-mnist" in message
