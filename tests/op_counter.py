"""Counting the device work a step asks for, on the CPU: a NumPy backend whose arrays count every
operation that is a kernel (or a memset) on CuPy, used to compare the founding MLP step's work
with the portable kernels and with the fused ones (``test_cupy_fused_host.py``).

Counted, once per call: every ufunc call (arithmetic, comparisons, matmul, and reductions, which
are ufunc reduces), the array functions that are a kernel on CuPy (``where``, ``take_along_axis``,
``stack``, ...: work they do inside is not counted again), ``astype``/``copy``, item
assignment, gathers (advanced indexing), the creations that fill memory (``zeros``, ``full``,
``arange``, ...), and the backend's own kernel launches. Views, reshapes and ``empty`` are
free, as on CuPy. An estimate: CuPy fuses nothing on its own, but some of its reductions take
two kernels.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from cuda_host import HostFusedBackend

from tinygrad_drop.backends.kernels import portable_kernels

KERNEL_FUNCTIONS = {"where", "take_along_axis", "stack", "concatenate", "copy", "clip",
                    "argmax", "argmin", "count_nonzero", "ascontiguousarray", "broadcast_to_copy",
                    "sum", "max", "min", "any", "all", "mean", "prod"}
CREATORS = {"zeros", "ones", "full", "arange", "zeros_like", "ones_like", "full_like",
            "linspace", "eye"}


class Tally:
    """The running count and whether counting is paused (inside a counted operation)."""

    def __init__(self) -> None:
        self.count = 0
        self.depth = 0


TALLY = Tally()


def counted(array: Any) -> Any:
    """``array`` viewed as a ``Counted`` array (scalars and non-arrays as they are)."""
    if isinstance(array, np.ndarray) and not isinstance(array, Counted):
        return array.view(Counted)
    return array


def plain(value: Any) -> Any:
    """``value`` with its ``Counted`` arrays (also inside tuples and lists) as plain NumPy
    arrays, for NumPy to work on without counting again."""
    if isinstance(value, Counted):
        return value.view(np.ndarray)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _tick() -> bool:
    """Count one operation unless inside one; True when this call is the outermost."""
    if TALLY.depth:
        return False
    TALLY.count += 1
    return True


class Counted(np.ndarray):
    """A NumPy array that counts the operations done with it (see the module docstring)."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, out: Any = None,
                        **kwargs: Any) -> Any:
        _tick()
        if out is not None:
            kwargs["out"] = plain(out)
        TALLY.depth += 1
        try:
            result = getattr(ufunc, method)(*plain(inputs), **kwargs)
        finally:
            TALLY.depth -= 1
        if out is not None:
            return out[0] if len(out) == 1 else out
        return tuple(map(counted, result)) if isinstance(result, tuple) else counted(result)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        if func.__name__ in KERNEL_FUNCTIONS:
            _tick()
        TALLY.depth += 1
        try:
            result = func(*plain(args), **plain(kwargs))
        finally:
            TALLY.depth -= 1
        return tuple(map(counted, result)) if isinstance(result, tuple) else counted(result)

    def astype(self, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return counted(self.view(np.ndarray).astype(*args, **kwargs))

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return counted(self.view(np.ndarray).copy(*args, **kwargs))

    def __setitem__(self, key: Any, value: Any) -> None:
        _tick()
        self.view(np.ndarray)[plain(key)] = plain(value)

    def __getitem__(self, key: Any) -> Any:
        basic = all(isinstance(k, int | slice | type(Ellipsis) | type(None))
                    for k in (key if isinstance(key, tuple) else (key,)))
        if not basic:
            _tick()
        result = self.view(np.ndarray)[plain(key)]
        return counted(result) if isinstance(result, np.ndarray) else result

    def sum(self, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _paused(np.ndarray.sum, self, *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _paused(np.ndarray.max, self, *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _paused(np.ndarray.min, self, *args, **kwargs)


def _paused(method: Any, array: Any, *args: Any, **kwargs: Any) -> Any:
    TALLY.depth += 1
    try:
        return counted(method(array.view(np.ndarray), *plain(args), **plain(kwargs)))
    finally:
        TALLY.depth -= 1


def counting_numpy() -> types.ModuleType:
    """NumPy as an ``xp`` module whose creations make ``Counted`` arrays, those that fill
    memory counted."""
    module = types.ModuleType("counting_numpy")
    for name in dir(np):
        if name.startswith("__"):
            continue
        value = getattr(np, name)
        if name in CREATORS or name in {"asarray", "empty", "empty_like", "array"}:
            value = _creator(value, name in CREATORS)
        setattr(module, name, value)
    return module


def _creator(function: Any, fills: bool) -> Any:
    def make(*args: Any, **kwargs: Any) -> Any:
        if fills:
            _tick()
        return counted(function(*plain(args), **plain(kwargs)))

    return make


class CountingBackend(HostFusedBackend):
    """A ``HostFusedBackend`` whose arrays count their operations; each launch counts one. With
    ``fused=False`` its families are the portable ones (what the step asked of CuPy before the
    fused kernels)."""

    name = "counting"

    def __init__(self, module: Any, libraries: dict[str, Any], fused: bool = True) -> None:
        super().__init__(module, libraries, blocks=2, threads=1, host_memory=False)
        self.xp = counting_numpy()
        if not fused:
            self.kernel_families = {family: portable_kernels(family)
                                    for family in self.kernel_families}

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return counted(super().asarray(plain(data), dtype))

    def launch(self, dtype_name: str, kernel: str, n: int, args: tuple) -> None:
        _tick()
        super().launch(dtype_name, kernel, n, tuple(plain(a) for a in args))
