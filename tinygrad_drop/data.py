"""Datasets: an IDX reader, Fashion-MNIST and MNIST lookup/download, and a DataLoader.

A host-side module (files and host arrays), so it uses NumPy directly; batches become Tensors
on the chosen backend only in the DataLoader.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from ._files import atomic_write
from .serialization import host_array
from .tensor_core import Tensor

DATA_ENV_VAR = "TINYGRAD_DROP_DATA"
DEBIAN_ROOT = Path("/usr/share/datasets")

# IDX type codes -> big-endian NumPy dtypes
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset comes from: its folder name, download mirror and each file's md5 (of the
    canonical .gz, as published by the dataset's authors)."""

    name: str
    url: str
    md5: dict[str, str]
    debian_package: str | None = None


FASHION_MNIST = DatasetInfo(
    "fashion-mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
     "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
     "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
     "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    debian_package="dataset-fashion-mnist")
MNIST = DatasetInfo(
    "mnist", "https://ossci-datasets.s3.amazonaws.com/mnist/",
    {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
     "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
     "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
     "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"})
_SPLITS = {"train": "train", "test": "t10k"}


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is in none of the places looked and could not be downloaded."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw): validates the magic number, the type code and
    that the data is exactly as long as the header says."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"read_idx: {path} is a damaged gzip file: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (magic {raw[:4].hex() or 'none'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        state = "truncated" if len(raw) - header < expected else "longer than its header says"
        raise ValueError(f"read_idx: {path} is {state}: header {shape} needs {expected} bytes "
                         f"of data, found {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def cache_dir() -> Path:
    """The user cache for downloaded datasets ($XDG_CACHE_HOME or ~/.cache)/tinygrad_drop."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinygrad_drop"


def search_path(info: DatasetInfo) -> list[Path]:
    """The folders looked in, in order: $TINYGRAD_DROP_DATA, the user cache, Debian's."""
    folders = []
    if os.environ.get(DATA_ENV_VAR):
        folders.append(Path(os.environ[DATA_ENV_VAR]) / info.name)
    return folders + [cache_dir() / info.name, DEBIAN_ROOT / info.name]


def _find(info: DatasetInfo, filename: str) -> Path | None:
    for folder in search_path(info):
        for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
            if candidate.is_file():
                return candidate
    return None


def _md5(path: str | os.PathLike) -> str:
    return hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest()


def _download(info: DatasetInfo, filename: str, timeout: float = 30.0) -> Path:
    target = cache_dir() / info.name / filename
    target.parent.mkdir(parents=True, exist_ok=True)

    def fetch(temporary: str) -> None:
        with urllib.request.urlopen(info.url + filename, timeout=timeout) as response, \
                open(temporary, "wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
        if _md5(temporary) != info.md5[filename]:
            raise ValueError(f"{filename} from {info.url} failed its checksum (expected md5 "
                             f"{info.md5[filename]}, got {_md5(temporary)}); nothing was kept")

    atomic_write(target, fetch)
    return target


def _locate(info: DatasetInfo, filename: str, download: bool) -> Path:
    found = _find(info, filename)
    if found is not None:
        return found
    problem = "downloading was not allowed"
    if download:
        try:
            return _download(info, filename)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problem = f"downloading from {info.url} failed: {exc}"
    places = "\n".join(f"  {folder}" for folder in search_path(info))
    get = (f"  apt-get install {info.debian_package}   (Debian/Ubuntu)\n  or download "
           if info.debian_package else "  download ")  # MNIST has no Debian package
    raise DatasetNotFoundError(
        f"{info.name}: {filename} was not found and {problem}.\nLooked in:\n{places}\n"
        f"To get it:\n{get}{info.url}{filename} (and the other files) into "
        f"${DATA_ENV_VAR}/{info.name}/")


def load_dataset(info: DatasetInfo, split: str = "train", *,
                 download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 (N, 784) in [0, 1] and labels as int64 (N,) of an MNIST-format
    dataset's ``split`` ('train' or 'test')."""
    if split not in _SPLITS:
        raise ValueError(f"{info.name}: split must be 'train' or 'test', got {split!r}")
    prefix = _SPLITS[split]
    images = read_idx(_locate(info, f"{prefix}-images-idx3-ubyte.gz", download))
    labels = read_idx(_locate(info, f"{prefix}-labels-idx1-ubyte.gz", download))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{info.name} {split}: images {images.shape} and labels "
                         f"{labels.shape} do not match")
    flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return flat, labels.astype(np.int64)


def fashion_mnist(split: str = "train", *, download: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Zalando): 60 000 train / 10 000 test 28x28 clothing images, 10 classes."""
    return load_dataset(FASHION_MNIST, split, download=download)


def mnist(split: str = "train", *, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits: 60 000 train / 10 000 test 28x28 images, 10 classes."""
    return load_dataset(MNIST, split, download=download)


def placed(array: Any, backend: Any) -> Any:
    """``array`` (a Tensor, any backend's array, a host array) as a native array of
    ``backend`` (a backend object): as it is where it already lives there (no copy, host arrays
    on NumPy included), else moved there once."""
    if isinstance(array, Tensor) and array._backend is backend:
        return array.data
    if backend.is_array(array):
        return array
    return backend.asarray(host_array(array))


class DataLoader:
    """Mini-batches ``(x, y)`` as Tensors: ``DataLoader(x, y, batch_size)`` with arrays (host
    arrays, any backend's, or Tensors), or ``DataLoader(dataset, batch_size=...)`` with a
    dataset (anything with ``__len__`` and ``__getitem__`` returning ``(input, target)``;
    items are stacked per batch). With ``shuffle`` a new order every epoch drawn from a
    generator seeded with ``seed`` (reproducible); ``drop_last`` leaves out a final batch
    smaller than ``batch_size`` (batchnorm cannot train on a batch of one).

    Array data is placed on ``backend`` (default: the default backend) once, here: on a device,
    each epoch then costs one copy of its order to the device and every batch is cut there,
    so that training copies no batch from the host. Batches hold their rows in increasing
    order within the batch (gathers run faster); which rows form each batch follows the
    shuffled order."""

    def __init__(self, x: Any, y: Any = None, batch_size: int = 1, shuffle: bool = True,
                 seed: int | None = None, drop_last: bool = False, *,
                 backend: str | None = None) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        for flag, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, bool):
                raise TypeError(f"DataLoader: {flag} must be True or False, got {value!r}")
        self.be = backends.get(backend)
        self.backend = self.be.name
        self.dataset = None
        if y is None:
            if hasattr(x, "shape") or not (hasattr(x, "__len__") and hasattr(x, "__getitem__")):
                raise TypeError(f"DataLoader: give (x, y) arrays or a dataset (with __len__ and "
                                f"__getitem__ returning (input, target)); got "
                                f"{type(x).__name__} and no y")
            self.dataset, self.rows = x, len(x)
        else:
            self.x, self.y = placed(x, self.be), placed(y, self.be)
            if self.x.shape[0] != self.y.shape[0]:
                raise ValueError(f"DataLoader: {self.x.shape[0]} inputs but "
                                 f"{self.y.shape[0]} targets")
            self.rows = self.x.shape[0]
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        whole, rest = divmod(self.rows, self.batch_size)
        return whole + (1 if rest and not self.drop_last else 0)

    def _batches(self) -> Iterator[Any]:
        """Each batch's rows, in increasing order within the batch: host index arrays."""
        order = self.rng.permutation(self.rows) if self.shuffle else np.arange(self.rows)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            rows = order[start:start + self.batch_size]
            yield np.sort(rows) if self.shuffle else rows

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.dataset is not None:
            yield from self._dataset_batches()
            return
        be, xp = self.be, self.be.xp
        wrap = Tensor._wrap
        if not self.shuffle:
            for start in range(0, len(self) * self.batch_size, self.batch_size):
                part = (slice(start, min(start + self.batch_size, self.rows)), ...)
                yield (wrap(xp.asarray(self.x[part], copy=True), be, False, None),
                       wrap(xp.asarray(self.y[part], copy=True), be, False, None))
            return
        batches = list(self._batches())
        if not batches:
            return
        # the epoch's whole order goes to the device at once; each batch takes a slice of it
        order = be.asarray(np.concatenate(batches))
        start = 0
        for rows in batches:
            index = order[start:start + len(rows)]
            start += len(rows)
            yield (wrap(xp.take(self.x, index, axis=0), be, False, None),
                   wrap(xp.take(self.y, index, axis=0), be, False, None))

    def _dataset_batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        for rows in self._batches():
            items = [self.dataset[int(i)] for i in rows]
            inputs = np.stack([host_array(item[0]) for item in items])
            targets = np.stack([host_array(item[1]) for item in items])
            yield (Tensor(inputs, backend=self.backend), Tensor(targets, backend=self.backend))
