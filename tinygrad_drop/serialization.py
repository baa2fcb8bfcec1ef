"""Saving and loading state dicts as ``.npz``: written atomically, read without unpickling.

A host-side module (files, not tensor math), so it uses NumPy directly.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import backends
from ._files import atomic_write
from .tensor_core import Tensor


def host_array(value: Any) -> np.ndarray:
    """``value`` (a Tensor, any backend's array, or array-like) as a host NumPy array."""
    if isinstance(value, Tensor):
        return value.numpy()
    if not isinstance(value, np.ndarray):
        owner = backends.owner_of(value)
        if owner is not None:
            return owner.to_numpy(value)  # CuPy refuses the implicit np.asarray
    return np.asarray(value)


def save(state_dict: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write ``state_dict`` (name -> Tensor or array) to ``path`` as an .npz archive. The data
    goes to a temporary file beside ``path`` that replaces it only when complete, so a failed
    save leaves any old file intact."""
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save: keys must be non-empty strings, got {name!r}")
        array = host_array(value)
        if array.dtype.hasobject:
            raise TypeError(f"save: {name!r} is not a numeric array (dtype {array.dtype}); "
                            "only numbers are saved, never pickled objects")
        arrays[name] = array

    def write(temporary: str) -> None:
        with zipfile.ZipFile(temporary, "w") as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    atomic_write(path, write)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an .npz written by ``save`` (or ``numpy.savez``) into name -> NumPy array. Never
    unpickles; a missing, truncated or foreign file is an error that says what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"load: {path!r} is not a readable .npz state dict: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path!r} holds a single array, not a state dict (.npz)")
    with archive:
        try:
            return {name: archive[name] for name in archive.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"load: {path!r} has an unreadable entry: {exc}") from exc
