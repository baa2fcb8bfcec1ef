"""The Backend interface: what a backend must provide for the core to run on it.

A backend bundles an array namespace (``xp``, Array API style) with the few things the standard
does not cover: conversion to and from host NumPy, a seeded random generator, device
synchronisation, a description of itself, and its kernels: per op family, the fast paths it has
(``kernels(family)``; the portable Array-API version where it has none). The core reaches array
math only through a backend object.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, ClassVar

from .deferred_checks import DeferredChecks
from .generator import Generator
from .kernels import Kernels, portable_kernels

# Methods backends had before kernels were grouped by op family: the core no longer calls them.
RETIRED_METHODS = {"scatter_add": "shape", "apply_mask": "activation and dropout",
                   "sum_rows": "linear and norm", "dropout_forward": "dropout",
                   "dropout_backward": "dropout", "dropout_mask": "dropout"}

# Canonical dtype names a backend must understand in ``Backend.dtype``.
DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
               "uint64", "float32", "float64")


class BackendUnavailableError(RuntimeError):
    """A known backend that cannot run on this machine (the message says why)."""


class Backend:
    """Interface every backend implements. ``xp`` is its Array API namespace;
    ``kernel_families`` maps an op family to the class of this backend's fast paths for it."""

    name: str = ""
    xp: Any = None
    kernel_families: ClassVar[dict[str, type[Kernels]]] = {}
    # True where the arrays live in host memory, so reading a value back costs nothing: ops
    # then check values (class targets) at once. Elsewhere they check on the device and
    # report at the next host read (``checks``), so that a step never waits for the device.
    host_memory: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method in RETIRED_METHODS.keys() & vars(cls).keys():
            warnings.warn(
                f"backend class {cls.__name__} defines {method}(), which tinygrad_drop no longer "
                f"calls: move it into a Kernels subclass for the {RETIRED_METHODS[method]} "
                "family, listed in the class's kernel_families (see backends/kernels.py)",
                DeprecationWarning, stacklevel=2)

    def __init__(self) -> None:
        self._kernels: dict[str, Kernels] = {}
        self.generator = self.new_generator(0)

    def dtype(self, spec: Any) -> Any:
        """The native dtype for ``spec``: a canonical name, a NumPy dtype or a native dtype."""
        name = dtype_name(spec)
        if name not in DTYPE_NAMES:
            raise TypeError(f"backend {self.name!r}: unsupported dtype {spec!r} "
                            f"(supported: {', '.join(DTYPE_NAMES)})")
        return getattr(self.xp, name)

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """A native array holding ``data`` (scalar, nested list, NumPy or native array)."""
        raise NotImplementedError

    def to_numpy(self, array: Any) -> Any:
        """A host NumPy copy of a native array."""
        raise NotImplementedError

    def is_array(self, obj: Any) -> bool:
        """Whether ``obj`` is a native array of this backend."""
        raise NotImplementedError

    def new_generator(self, seed: int) -> Generator:
        """A fresh generator on this backend seeded with ``seed``."""
        raise NotImplementedError

    def kernels(self, family: str) -> Kernels:
        """This backend's kernels for an op family ('dropout', 'norm', ...): its own fast paths
        where it has them, the portable Array-API version otherwise. Made once per backend."""
        try:
            return self._kernels[family]
        except (AttributeError, KeyError):  # first use (or a subclass that skipped __init__)
            make = self.kernel_families.get(family) or portable_kernels(family)
            found = make(self)
            self.__dict__.setdefault("_kernels", {})[family] = found
            return found

    @property
    def checks(self) -> DeferredChecks:
        """The value checks ops made on the device and not yet reported (see
        ``deferred_checks``)."""
        try:
            return self.__dict__["_checks"]
        except KeyError:
            return self.__dict__.setdefault("_checks", DeferredChecks(self))

    def owned(self, array: Any) -> Any:
        """``array`` if it is a writable, contiguous array owning its memory (not a view), else
        such a copy: a leaf's gradient must share memory with nothing. Backends that can tell
        override this."""
        return self.xp.asarray(array, copy=True)

    def synchronize(self) -> None:
        """Wait for queued device work to finish (a no-op on the CPU)."""

    def capture(self) -> Any:
        """This backend's recorder of device work for ``td.jit`` (see ``tinygrad_drop/jit.py``
        for what it provides), or None where the backend cannot capture, the default: ``jit``
        then simply calls the function."""
        return None

    def describe(self) -> str:
        """One line for ``tinygrad-drop info``: the array library and its version (and, on
        devices, which device)."""
        module = self.xp.__name__.split(".")[0]
        return f"{module} {getattr(sys.modules.get(module), '__version__', '?')}"

    def __repr__(self) -> str:
        return f"<tinygrad_drop backend {self.name!r}>"

    # A backend is a per-process singleton that tensors compare by identity (mixing two is an
    # error), so copies of a model must share it: deepcopy keeps it and pickling stores its
    # name, looked up again with ``backends.get`` when loaded.
    def __deepcopy__(self, memo: dict[int, Any]) -> Backend:
        return self

    def __copy__(self) -> Backend:
        return self

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        from .registry import get
        return get, (self.name,)


def dtype_name(spec: Any) -> str:
    """Canonical name of a dtype given as a string, a NumPy/CuPy dtype or an Array API dtype."""
    if isinstance(spec, str):
        return spec
    if spec is float or spec is int or spec is bool:  # as PyTorch and NumPy read them
        return {float: "float64", int: "int64", bool: "bool"}[spec]
    name = getattr(spec, "name", None)  # numpy.dtype and numpy scalar types' dtype
    if isinstance(name, str):
        return name
    if isinstance(spec, type) and hasattr(spec, "__name__"):  # numpy.float32 and friends
        return spec.__name__
    return str(spec).rsplit(".", 1)[-1]  # e.g. array_api_strict.float32
