"""Saving and loading state dicts as ``.npz``: written atomically, read without unpickling.

The archive is NumPy's: one ``<key>.npy`` member per entry, so ``numpy.load`` reads our files
and we read ``numpy.savez``'s. We read it ourselves rather than through ``numpy.load``: its
lookup takes ``"w"`` and ``"w.npy"`` for the same key, and it allocates whatever shape a header
declares before reading any data. A host-side module (files, not tensor math), so it uses NumPy
directly.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from . import backends
from ._files import atomic_write
from .tensor_core import Tensor

SUFFIX = ".npy"
MAX_MEMBER_NAME = 0xFFFF  # bytes: the zip format's limit on a member name
CHUNK = 1 << 24
NPY_MAGIC, ZIP_MAGICS, PICKLE_MAGIC = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06"), b"\x80"
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}
TORCH_ADVICE = ("convert it once in PyTorch: sd = torch.load(path, weights_only=True); "
                "td.save({k: v.numpy() for k, v in sd.items()}, 'model.npz')")


def host_array(value: Any) -> np.ndarray:
    """``value`` (a Tensor, any backend's array, a torch tensor, or anything with ``__dlpack__``
    or ``__array__``) as a host NumPy array, sharing memory where the source allows."""
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    owner = backends.owner_of(value)
    if owner is not None:
        return owner.to_numpy(value)  # CuPy refuses the implicit np.asarray
    if type(value).__module__.split(".")[0] == "torch":
        value = value.detach().cpu()  # a parameter refuses __array__ while it requires grad
    if hasattr(value, "__dlpack__"):
        try:
            return np.from_dlpack(value)
        except (TypeError, ValueError, BufferError, RuntimeError):
            pass  # another device or dtype: __array__ may still manage
    return np.asarray(value)


def save(state_dict: Any, path: str | os.PathLike) -> None:
    """Write ``state_dict`` (name -> Tensor or array) to ``path`` as an .npz archive; given a
    Module (anything with ``state_dict()``), its ``state_dict()`` is saved. Keys are any
    strings (``"w.npy"``, ``"a/b"``, unicode) and come back from ``load`` exactly; NUL is
    refused (zip names cannot hold it). The data goes to a temporary file beside ``path`` that
    replaces it only when complete, so a failed save leaves any old file intact."""
    if not isinstance(state_dict, Mapping) and callable(getattr(state_dict, "state_dict", None)):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a state dict (a mapping of names to arrays) or a "
                        f"Module, got {type(state_dict).__name__}")
    arrays = {}
    for name, value in state_dict.items():
        arrays[_member_name(name)] = array = host_array(value)
        if array.dtype.hasobject:
            raise TypeError(f"save: {name!r} is not a numeric array (dtype {array.dtype}); "
                            "only numbers are saved, never pickled objects")

    def write(temporary: str) -> None:
        with zipfile.ZipFile(temporary, "w") as archive:
            for member, array in arrays.items():
                with archive.open(member, "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, array, allow_pickle=False)

    atomic_write(path, write)


def _member_name(key: Any) -> str:
    """The archive member for ``key``: the key plus ``.npy``, always (``load`` strips exactly
    one), as ``numpy.savez`` names them."""
    if not isinstance(key, str):
        raise TypeError(f"save: keys must be strings, got {key!r}")
    if "\x00" in key:
        raise ValueError(f"save: key {key!r} contains a NUL character, which a zip member name "
                         "cannot hold")
    try:
        size = len(key.encode("utf-8")) + len(SUFFIX)
    except UnicodeEncodeError as exc:
        raise ValueError(f"save: key {key!r} is not valid text (UTF-8): {exc}") from exc
    if size > MAX_MEMBER_NAME:
        raise ValueError(f"save: key of {size} bytes is longer than a zip member name can be "
                         f"({MAX_MEMBER_NAME} bytes): {key[:40]!r}...")
    return key + SUFFIX


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an .npz written by ``save`` (or ``numpy.savez``) into name -> NumPy array, keys
    exactly as saved. Never unpickles; every header is checked against the bytes present
    before anything is allocated. A missing, truncated or foreign file (a PyTorch checkpoint,
    a pickle, a single .npy) is an error that names the file and says what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(NPY_MAGIC):
        raise ValueError(f"load: {path!r} holds a single array, not a state dict (.npz): it "
                         "is a .npy file")
    if head.startswith(PICKLE_MAGIC):
        raise ValueError(f"load: {path!r} is a Python pickle (torch.save's legacy format or "
                         f"pickle.dump), which td.load never unpickles; if it is a PyTorch "
                         f"state dict, {TORCH_ADVICE}")
    if not head.startswith(ZIP_MAGICS):
        raise ValueError(f"load: {path!r} is not a readable .npz state dict (not a zip "
                         f"archive; it starts with {head!r})")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_members(archive, path)
    except (OSError, zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise ValueError(f"load: {path!r} is not a readable .npz state dict: {exc}") from exc


def _read_members(archive: zipfile.ZipFile, path: str) -> dict[str, np.ndarray]:
    infos = archive.infolist()
    names = [info.filename for info in infos]
    pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if pickles:
        raise ValueError(f"load: {path!r} was written by torch.save (a zip holding the pickle "
                         f"{pickles[0]!r}), which td.load never unpickles; {TORCH_ADVICE}")
    foreign = [n for n in names if not n.endswith(SUFFIX)]
    if foreign:
        raise ValueError(f"load: {path!r} is not a .npz state dict: member {foreign[0]!r} is "
                         "not a .npy array")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"load: {path!r} holds the member {twice!r} twice")
    state = {}
    for info in infos:
        key = info.filename[:-len(SUFFIX)]
        with archive.open(info) as member:
            state[key] = _read_array(member, info.file_size, key, path)
    return state


def _read_array(member: BinaryIO, size: int, key: str, path: str) -> np.ndarray:
    """One .npy member, header first: its shape and dtype must account for exactly the bytes
    the member holds before any memory is set aside for the data."""
    where = f"load: {path!r} has an unreadable entry {key!r}"
    try:
        version = np.lib.format.read_magic(member)
        if version not in HEADER_READERS:
            raise ValueError(f".npy format version {version} is not supported")
        shape, fortran_order, dtype = HEADER_READERS[version](member)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    if dtype.hasobject:
        raise ValueError(f"{where}: it holds Python objects (dtype {dtype}), which only "
                         "unpickling could read; td.load never unpickles (allow_pickle=False)")
    nbytes = math.prod(shape) * dtype.itemsize
    present = size - member.tell()
    if nbytes != present:
        raise ValueError(f"{where}: its header declares shape {shape} of {dtype} "
                         f"({nbytes} bytes) but the member holds {present} bytes of data")
    data = bytearray()
    while len(data) < nbytes:  # grows with what is actually read, never to a claimed size
        chunk = member.read(min(CHUNK, nbytes - len(data)))
        if not chunk:
            raise ValueError(f"{where}: the data ends after {len(data)} of {nbytes} bytes")
        data += chunk
    if member.read(1):  # also reaches the end, where zipfile checks the CRC
        raise ValueError(f"{where}: the member holds more bytes than its header declares")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")
