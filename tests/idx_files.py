"""Write small IDX datasets for tests (the format of MNIST and Fashion-MNIST)."""

import gzip
import hashlib
import struct

import numpy as np

CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype(">i2"): 0x0B,
         np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array):
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, CODES[big.dtype], array.ndim]) + struct.pack(f">{array.ndim}I",
                                                                       *array.shape)
    return header + big.tobytes()


def write_idx(path, array, compress=True):
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_dataset(folder, n_train=300, n_test=100, seed=0):
    """A learnable 10-class dataset of 28x28 images: each class lights its own pixel band."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, label * 2:label * 2 + 3, :] = 250
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            path = write_idx(folder / f"{prefix}-{kind}-ubyte.gz", array)
            md5[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5
