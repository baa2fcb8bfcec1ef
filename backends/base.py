"""The Backend interface, the registry of backends, and selection by ``TINYGRAD_DROP_BACKEND``.

A backend bundles an array namespace (``xp``, Array API style) with the few things the standard
does not cover: conversion to and from host NumPy, a seeded random generator, scatter-add and
device synchronisation. The core reaches array math only through a backend object.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

ENV_VAR = "TINYGRAD_DROP_BACKEND"
DEFAULT_BACKEND = "numpy"
ENTRY_POINT_GROUP = "tinygrad_drop.backends"

# Canonical dtype names a backend must understand in ``Backend.dtype``.
DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
               "uint64", "float32", "float64")


def keep_threshold(keep: float) -> int:
    """Integer threshold t with P(u32 < t) = t / 2**32 within 2**-32 of ``keep`` (2**-33 below
    keep = 1 - 2**-33): dropout keeps an element when its random 32-bit word is below t."""
    return min(int(round(keep * 2 ** 32)), 2 ** 32 - 1)


class BackendUnavailableError(RuntimeError):
    """A known backend that cannot run on this machine (the message says why)."""


class Generator:
    """A seeded random generator living on one backend.

    Subclasses implement the three draws; every array they return is a native array of the
    owning backend.
    """

    def manual_seed(self, seed: int) -> Generator:
        """Reset the generator to the state given by ``seed``."""
        raise NotImplementedError

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Samples from U[0, 1) of ``shape`` and backend ``dtype``."""
        raise NotImplementedError

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Samples from N(0, 1) of ``shape`` and backend ``dtype``."""
        raise NotImplementedError

    def bernoulli_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        """Boolean array, each element True with probability ``keep`` (within 1e-6)."""
        raise NotImplementedError


class Backend:
    """Interface every backend implements. ``xp`` is its Array API namespace."""

    name: str = ""
    xp: Any = None

    def __init__(self) -> None:
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

    def scatter_add(self, target: Any, index: Any, values: Any) -> None:
        """``target[index] += values`` in place, adding repeatedly where ``index`` repeats."""
        raise NotImplementedError

    def apply_mask(self, x: Any, mask: Any, divisor: float = 1.0) -> Any:
        """``x * mask / divisor`` (mask boolean; masked-out elements become 0): dropout's
        forward and backward, relu's backward. Backends override it with a faster version."""
        out = self.xp.where(mask, x, 0)
        return out / divisor if divisor != 1 else out

    def dropout_forward(self, x: Any, keep: float, divisor: float,
                        generator: Generator) -> tuple[Any, Any, Any]:
        """Training-mode dropout of ``x``: ``(x * mask / divisor, saved, kept)`` where the mask
        keeps each element with probability ``keep``, ``saved`` is what ``dropout_backward``
        needs and ``kept`` the number of elements kept (a backend scalar). Backends override it
        with a fused kernel."""
        mask = generator.bernoulli_mask(x.shape, keep)
        if not self.is_array(mask):
            raise TypeError(f"dropout: the generator makes {type(mask).__name__} masks, not "
                            f"{self.name!r} arrays; use a generator of the input's backend")
        return self.apply_mask(x, mask, divisor), mask, self.xp.count_nonzero(mask)

    def dropout_backward(self, g: Any, saved: Any, divisor: float) -> Any:
        """``g * mask / divisor`` from what ``dropout_forward`` saved."""
        return self.apply_mask(g, saved, divisor)

    def dropout_mask(self, saved: Any) -> Any:
        """The boolean keep-mask from what ``dropout_forward`` saved."""
        return saved

    def sum_rows(self, x: Any) -> Any:
        """Sum of a 2-D array over axis 0 (bias gradients, batch statistics)."""
        return self.xp.sum(x, axis=0)

    def owned(self, array: Any) -> Any:
        """``array`` if it is a writable, contiguous array of its own, else such a copy (leaf
        gradients must not be broadcast views). Backends that can tell override this."""
        return self.xp.asarray(array, copy=True)

    def synchronize(self) -> None:
        """Wait for queued device work to finish (a no-op on the CPU)."""

    def __repr__(self) -> str:
        return f"<tinygrad_drop backend {self.name!r}>"


def dtype_name(spec: Any) -> str:
    """Canonical name of a dtype given as a string, a NumPy/CuPy dtype or an Array API dtype."""
    if isinstance(spec, str):
        return spec
    name = getattr(spec, "name", None)  # numpy.dtype and numpy scalar types' dtype
    if isinstance(name, str):
        return name
    if isinstance(spec, type) and hasattr(spec, "__name__"):  # numpy.float32 and friends
        return spec.__name__
    return str(spec).rsplit(".", 1)[-1]  # e.g. array_api_strict.float32


# ---------------------------------------------------------------------------------- registry
_factories: dict[str, Callable[[], Backend]] = {}
_instances: dict[str, Backend] = {}
_failures: dict[str, str] = {}
_entry_points_loaded = False
_seed: int | None = None  # the last manual_seed, applied to backends created later


def register(name: str, factory: Callable[[], Backend], *, replace: bool = False) -> None:
    """Make a backend known under ``name``; ``factory()`` builds it or raises
    ``BackendUnavailableError`` saying why it cannot run here."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"backend name must be a non-empty string, got {name!r}")
    if name in _factories and not replace:
        raise ValueError(f"backend {name!r} is already registered (pass replace=True to override)")
    _factories[name] = factory
    _instances.pop(name, None)
    _failures.pop(name, None)


def _load_entry_points() -> None:
    """Register third-party backends advertised in the ``tinygrad_drop.backends`` group once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _factories:
            _factories[ep.name] = _entry_point_factory(ep)


def _entry_point_factory(ep: metadata.EntryPoint) -> Callable[[], Backend]:
    def build() -> Backend:
        try:
            target = ep.load()
        except Exception as exc:  # a broken plug-in must not break the other backends
            raise BackendUnavailableError(
                f"backend {ep.name!r} from entry point {ep.value!r} failed to load: {exc}") from exc
        return target()
    return build


def known() -> list[str]:
    """Every registered backend name, usable here or not."""
    _load_entry_points()
    return sorted(_factories)


def default_name() -> str:
    """The default backend's name: ``$TINYGRAD_DROP_BACKEND``, or ``numpy`` when unset."""
    return os.environ.get(ENV_VAR) or DEFAULT_BACKEND


def get(name: str | Backend | None = None) -> Backend:
    """The backend object for ``name`` (``None``: the default backend)."""
    if isinstance(name, Backend):
        return name
    if name is None:
        name = default_name()
    backend = _instances.get(name)
    if backend is not None:
        return backend
    _load_entry_points()
    if name not in _factories:
        source = f" (from ${ENV_VAR})" if name == os.environ.get(ENV_VAR) else ""
        raise ValueError(f"unknown backend {name!r}{source}; known backends: "
                         f"{', '.join(sorted(_factories))}")
    if name in _failures:
        raise BackendUnavailableError(_failures[name])
    try:
        backend = _factories[name]()
    except BackendUnavailableError as exc:
        _failures[name] = str(exc)
        raise
    if _seed is not None:
        backend.generator.manual_seed(_seed)
    _instances[name] = backend
    return backend


def available() -> list[str]:
    """Names of the backends that can run on this machine."""
    return [name for name in known() if _usable(name)]


def unavailable() -> dict[str, str]:
    """Backends that are known but cannot run here, each with the reason."""
    return {name: _failures[name] for name in known() if not _usable(name)}


def is_available(name: str) -> tuple[bool, str | None]:
    """Whether backend ``name`` can run here, and if not, why (unknown names raise)."""
    try:
        get(name)
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, None


def owner_of(array: Any) -> Backend | None:
    """The backend in use whose native arrays include ``array`` (None when none does): how
    host-side code (saving, data loading) copies a CuPy array, say, to NumPy."""
    for backend in list(_instances.values()):
        if backend.is_array(array):
            return backend
    return None


def _usable(name: str) -> bool:
    return is_available(name)[0]


def manual_seed(seed: int) -> None:
    """Seed the default generator of every backend, now for those in use and on creation for
    the others (so seeding never imports CuPy just to seed it)."""
    global _seed
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _seed = seed
    for backend in _instances.values():
        backend.generator.manual_seed(seed)
