"""Saving and loading state dicts and checkpoints as ``.npz``: written atomically, read without
unpickling.

The archive is NumPy's: one ``<key>.npy`` member per entry of a flat state dict, so
``numpy.load`` reads our files and we read ``numpy.savez``'s. Anything else (a checkpoint
holding an optimizer's and a scheduler's state dicts, say) is saved as its arrays, members
``array0.npy``, ``array1.npy``, ..., and the structure naming them as JSON text in one uint8
member (``serialization_tree.py``). We read it ourselves rather than through ``numpy.load``: its
lookup takes ``"w"`` and ``"w.npy"`` for the same key, and it allocates whatever shape a header
declares before reading any data. A host-side module (files, not tensor math), so it uses NumPy
directly.
"""

from __future__ import annotations

import lzma
import math
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import backends
from . import serialization_tree as tree
from ._files import atomic_write
from .tensor_core import Tensor

SUFFIX = ".npy"
TREE = "__tinygrad_drop_tree__.json"  # the member (plus SUFFIX) holding a structure
MAX_TREE = 1 << 26  # bytes: the largest structure member load reads
MAX_MEMBER_NAME = 0xFFFF  # bytes: the zip format's limit on a member name
CHUNK = 1 << 24
NPY_MAGIC, ZIP_MAGICS, PICKLE_MAGIC = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06"), b"\x80"
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}
COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
# What reading a damaged archive raises (bz2 reports corrupt data as OSError; zipfile raises
# RuntimeError and NotImplementedError for a module or method it lacks).
ZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error,
              lzma.LZMAError, RuntimeError, NotImplementedError)
MAX_RATIO = 100.0  # declared array bytes per byte of file, above RATIO_FREE
RATIO_FREE = 1 << 26  # 64 MiB: smaller archives are read whatever their compression ratio
MAX_DIMS = 64  # NumPy's limit
MAX_BYTES = 2**63 - 1  # the largest array NumPy can describe
TORCH_ADVICE = ("convert it once in PyTorch: sd = torch.load(path, weights_only=True); "
                "td.save({k: v.numpy() for k, v in sd.items()}, 'model.npz')")


def host_array(value: Any) -> np.ndarray:
    """``value`` (a Tensor, any backend's array, a torch tensor, or anything with ``__dlpack__``
    or ``__array__``) as a host NumPy array in native byte order, sharing memory where the
    source allows (a big-endian array, as ``numpy.savez`` may write, is converted)."""
    array = _host_array(value)
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _host_array(value: Any) -> np.ndarray:
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


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` as an .npz archive that ``numpy.load`` can open; given a Module,
    an optimizer or a scheduler (anything with ``state_dict()`` that is not itself a dict), its
    ``state_dict()`` is saved.

    A flat dict of arrays with string keys (a model's state dict) is one ``<key>.npy`` member
    per key, as ``numpy.savez`` writes: keys are any strings (``"w.npy"``, ``"a/b"``, unicode)
    and come back from ``load`` exactly. Anything else is saved as a structure: nested dicts
    (str or int keys), lists and tuples of arrays (Tensors, any backend's arrays) and Python
    scalars (bool, int, float, str, None), e.g. ``{"model": model.state_dict(), "optimizer":
    opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3}``. Its arrays are members
    ``array0.npy``, ``array1.npy``, ... and the structure that names them is JSON text in the
    uint8 member ``__tinygrad_drop_tree__.json.npy``; ``load`` gives back the same types (int
    keys, tuples, floats bit for bit, NaN and -0.0 included, ints of any size; NumPy scalars
    come back as 0-d arrays).

    A value of any other type (a set, an object) is a ``TypeError`` naming its key path, and
    a structure that contains itself or nests deeper than 100 containers a ``ValueError``.
    The data goes to a temporary file beside ``path`` that replaces it only when complete, so
    a failed save leaves any old file intact."""
    if not isinstance(obj, Mapping) and callable(getattr(obj, "state_dict", None)):
        obj = obj.state_dict()
    members: dict[str, np.ndarray] = {}
    if _is_flat(obj):
        for name, value in obj.items():
            members[_member_name(name)] = _numeric(value, repr(name))
    else:

        def add_array(value: Any, path: tuple[Any, ...]) -> str:
            name = f"array{len(members)}"
            members[name + SUFFIX] = _numeric(value, tree.where(path))
            return name

        document = tree.encode(obj, _is_array, add_array)
        members = {TREE + SUFFIX: np.frombuffer(document, dtype=np.uint8), **members}

    def write(temporary: str) -> None:
        with zipfile.ZipFile(temporary, "w") as archive:
            for member, array in members.items():
                with archive.open(member, "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, array, allow_pickle=False)

    atomic_write(path, write)


def _is_array(value: Any) -> bool:
    """Whether ``save`` stores ``value`` as an array: a Tensor, a backend's array, or anything
    NumPy can take (``__array__``, ``__dlpack__``; NumPy scalars included)."""
    return (isinstance(value, (Tensor, np.ndarray, np.generic))
            or backends.owner_of(value) is not None
            or hasattr(value, "__array__") or hasattr(value, "__dlpack__"))


def _is_flat(obj: Any) -> bool:
    """Whether ``obj`` is saved in the flat layout: a dict of arrays whose keys can all be
    member names (and none of which is the structure member's)."""
    return (isinstance(obj, Mapping) and TREE not in obj
            and all(_fits_member_name(key) for key in obj)
            and all(_is_array(value) for value in obj.values()))


def _numeric(value: Any, where: str) -> np.ndarray:
    """``value`` as a host array, refused unless it holds numbers."""
    array = host_array(value)
    if array.dtype.hasobject:
        raise TypeError(f"save: {where} is not a numeric array (dtype {array.dtype}); "
                        "only numbers are saved, never pickled objects")
    return array


def _fits_member_name(key: Any) -> bool:
    """Whether ``key`` can name a member (``_member_name`` accepts it)."""
    try:
        _member_name(key)
    except (TypeError, ValueError):
        return False
    return True


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


def load(path: str | os.PathLike, *, max_ratio: float | None = MAX_RATIO) -> Any:
    """Read an .npz written by ``save`` (or ``numpy.savez``/``savez_compressed``): a flat
    archive as a dict of name -> NumPy array, keys exactly as saved; a structure (nested dicts,
    lists, tuples, scalars) as saved, with the same Python types and its arrays as NumPy
    arrays. Never unpickles, and never allocates more than the file can justify: every .npy
    header is checked (dtype, at most 64 dims, sizes that fit) against the size its zip entry
    declares before anything is set aside, and no member is decompressed past that declared
    size; a structure is checked whole before any array is read. Archives whose members
    together declare more than ``max_ratio`` times the file's size (100 by default: trained
    weights compress about 1.1 times, a zip bomb of zeros 1000 times) are refused once that is
    over 64 MiB; pass ``max_ratio=None`` to read such a file you trust.

    Errors name the file and say what is wrong: ``FileNotFoundError`` (no such file),
    ``IsADirectoryError`` (a directory), ``MemoryError`` (too little memory for a member), and
    ``ValueError`` for everything else (a truncated or corrupt archive, encrypted members,
    unknown compression, a PyTorch checkpoint, a pickle, a single .npy, malformed headers, a
    structure member that is not valid, over 64 MiB, nests too deeply, or names members the
    archive lacks)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head, size = f.read(6), os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such file {path!r}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load: {path!r} is a directory, not an .npz file") from None
    except OSError as exc:
        raise type(exc)(f"load: cannot read {path!r}: {exc.strerror or exc}") from exc
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
            infos = archive.infolist()
            _check_members(infos, path, size, max_ratio)
            if any(info.filename == TREE + SUFFIX for info in infos):
                return _read_tree(archive, infos, path)
            return {info.filename[:-len(SUFFIX)]: _read_member(archive, info, path)
                    for info in infos}
    except ZIP_ERRORS as exc:
        raise ValueError(f"load: {path!r} is not a readable .npz state dict: {exc}") from exc


def _check_members(infos: list[zipfile.ZipInfo], path: str, size: int,
                   max_ratio: float | None) -> None:
    """Refuse, before reading any data, an archive that is not an .npz of arrays or whose
    entries claim more than the file can hold."""
    names = [info.filename for info in infos]
    pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if pickles:
        raise ValueError(f"load: {path!r} was written by torch.save (a zip holding the pickle "
                         f"{pickles[0]!r}), which td.load never unpickles; {TORCH_ADVICE}")
    foreign = [n for n in names if not n.endswith(SUFFIX)]
    if foreign:
        raise ValueError(f"load: {path!r} is not a .npz state dict: member {foreign[0]!r} is "
                         "not a .npy array")
    twice = [n for n, count in Counter(names).items() if count > 1]
    if twice:
        raise ValueError(f"load: {path!r} holds the member {twice[0]!r} twice")
    for info in infos:
        if info.flag_bits & 0x1:
            raise ValueError(f"load: {path!r} has an encrypted member {info.filename!r}; "
                             "td.load reads only unencrypted archives")
        if info.compress_type not in COMPRESSIONS:
            raise ValueError(f"load: {path!r} has a member {info.filename!r} compressed with "
                             f"method {info.compress_type}, which td.load cannot read (it "
                             f"reads {', '.join(COMPRESSIONS.values())})")
    packed = sum(info.compress_size for info in infos)
    if packed > size:
        raise ValueError(f"load: {path!r} is not a readable .npz state dict: its members claim "
                         f"{packed} bytes of data but the file holds {size} (overlapping or "
                         "forged entries)")
    declared = sum(info.file_size for info in infos)
    if max_ratio is not None and declared > RATIO_FREE and declared > max_ratio * size:
        raise ValueError(f"load: {path!r} declares {declared} bytes of arrays in a file of "
                         f"{size} bytes ({declared / max(size, 1):.0f} times larger; the limit "
                         f"is max_ratio={max_ratio:g} above {RATIO_FREE >> 20} MiB), as a zip "
                         "bomb would; if you trust the file, pass max_ratio=None")


def _read_tree(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], path: str) -> Any:
    """A structure saved by ``save``: its document checked entirely, and the members it names
    matched against the archive's, before any array is read."""
    by_name = {info.filename[:-len(SUFFIX)]: info for info in infos}
    info = by_name.pop(TREE)
    where = f"load: {path!r} has a malformed structure member {TREE + SUFFIX!r}"
    if info.file_size > MAX_TREE + CHUNK:  # CHUNK: room for the .npy header
        raise ValueError(f"{where}: it declares {info.file_size} bytes; a structure is read up "
                         f"to {MAX_TREE} bytes")
    document = _read_member(archive, info, path)
    if document.dtype != np.uint8 or document.ndim != 1:
        raise ValueError(f"{where}: it holds {document.dtype} of shape {document.shape}, not "
                         "1-D uint8 text")
    if document.size > MAX_TREE:
        raise ValueError(f"{where}: it holds {document.size} bytes; a structure is read up to "
                         f"{MAX_TREE} bytes")
    try:
        root, names = tree.parse(document.tobytes())
    except tree.MalformedTree as exc:
        raise ValueError(f"{where}: {exc}") from None
    twice = [n for n, count in Counter(names).items() if count > 1]
    named = set(names)
    missing = [n for n in names if n not in by_name]
    unnamed = [n for n in by_name if n not in named]
    if twice or missing or unnamed:
        problem = (f"it names the array member {twice[0]!r} twice" if twice else
                   f"it names the array member {missing[0]!r}, which the archive lacks"
                   if missing else f"the archive's member {unnamed[0] + SUFFIX!r} is not in it")
        raise ValueError(f"{where}: {problem}")
    arrays = {name: _read_member(archive, by_name[name], path) for name in names}
    return tree.build(root, arrays)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> np.ndarray:
    """One .npy member, header first: its dtype and shape must be sound and account for
    exactly the bytes the zip entry declares before any memory is set aside for the data;
    reading stops at that size (zipfile never decompresses past it, and checks the CRC)."""
    key = info.filename[:-len(SUFFIX)]
    where = f"load: {path!r} has an unreadable entry {key!r}"
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version not in HEADER_READERS:
                raise ValueError(f".npy format version {version} is not supported")
            shape, fortran_order, dtype = HEADER_READERS[version](member)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        nbytes = _checked_size(shape, dtype, where)
        present = info.file_size - member.tell()
        if nbytes != present:
            raise ValueError(f"{where}: its header declares shape {shape} of {dtype} "
                             f"({nbytes} bytes) but the member holds {present} bytes of data")
        data = bytearray()
        try:
            while len(data) < nbytes:  # grows with what is actually read
                chunk = member.read(min(CHUNK, nbytes - len(data)))
                if not chunk:
                    raise ValueError(f"{where}: the data ends after {len(data)} of {nbytes} "
                                     "bytes")
                data += chunk
        except MemoryError:
            raise MemoryError(f"load: {path!r}: not enough memory for entry {key!r} "
                              f"({nbytes} bytes of {dtype})") from None
        if member.read(1):  # also reaches the end, where zipfile checks the CRC
            raise ValueError(f"{where}: the member holds more bytes than its header declares")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _checked_size(shape: Any, dtype: np.dtype, where: str) -> int:
    """The data size a header's ``shape`` and ``dtype`` declare, or the error saying why no
    array can have them."""
    if dtype.hasobject:
        raise ValueError(f"{where}: it holds Python objects (dtype {dtype}), which only "
                         "unpickling could read; td.load never unpickles (allow_pickle=False)")
    if dtype.itemsize == 0:
        raise ValueError(f"{where}: its dtype {dtype.str!r} has elements of zero bytes")
    if len(shape) > MAX_DIMS:
        raise ValueError(f"{where}: its header declares {len(shape)} dimensions; arrays have "
                         f"at most {MAX_DIMS}")
    if any(type(n) is not int or n < 0 for n in shape):  # bool is an int to numpy's reader
        raise ValueError(f"{where}: its header declares shape {shape}; dimensions must be "
                         "non-negative integers")
    if math.prod(n for n in shape if n) * dtype.itemsize > MAX_BYTES:
        raise ValueError(f"{where}: its header declares shape {shape} of {dtype}, larger than "
                         "any array can be")
    return math.prod(shape) * dtype.itemsize
