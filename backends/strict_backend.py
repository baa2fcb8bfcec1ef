"""The ``strict`` backend: array-api-strict, the bare Array API standard on the CPU.

It exists to keep the core honest: anything NumPy-only that slips into the core fails here, so
it stands in for a GPU library in CI. It has no fast paths of its own: every op family runs its
portable kernels. Random numbers come from NumPy's generator and are converted, because the
standard has no random module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendUnavailableError
from .generator import Generator
from .kernels import DropoutKernels
from .numpy_backend import NumpyGenerator, native_byte_order

try:
    import array_api_strict as xp_strict
except ImportError:  # pragma: no cover - depends on the environment
    xp_strict = None
    StrictArray: type = type(None)
else:
    StrictArray = type(xp_strict.asarray(0))  # the class itself is private in array-api-strict


class StrictGenerator(Generator):
    """NumPy's SFC64 stream, delivered as array-api-strict arrays (same numbers as ``numpy``)."""

    xp = xp_strict

    def __init__(self, seed: int) -> None:
        self.host = NumpyGenerator(seed)

    def manual_seed(self, seed: int) -> StrictGenerator:
        self.host.manual_seed(seed)
        return self

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return xp_strict.asarray(self.host.uniform(shape, _numpy_dtype(dtype)))

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return xp_strict.asarray(self.host.normal(shape, _numpy_dtype(dtype)))

    def draw_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        return xp_strict.asarray(self.host.draw_mask(shape, keep))


def _numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


class StrictDropoutKernels(DropoutKernels):
    """The portable dropout kernels, with NumPy's warning about inf * 0 (a dropped inf, NaN as
    in PyTorch, which does not warn) silenced: array-api-strict computes through NumPy."""

    def masked_scale(self, x: Any, mask: Any, divisor: float) -> Any:
        with np.errstate(invalid="ignore"):
            return super().masked_scale(x, mask, divisor)


class StrictBackend(Backend):
    """CPU arrays restricted to the Array API standard (array-api-strict); every kernel is the
    portable one (dropout's only silences a NumPy warning)."""

    name = "strict"
    kernel_families = {"dropout": StrictDropoutKernels}

    def __init__(self) -> None:
        if xp_strict is None:
            raise BackendUnavailableError(
                "backend 'strict' needs the array-api-strict package: pip install array-api-strict "
                "(or the project's 'dev' extra)")
        self.xp = xp_strict
        super().__init__()

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        dtype = None if dtype is None else self.dtype(dtype)
        if isinstance(data, StrictArray):
            return data if dtype is None else xp_strict.astype(data, dtype)
        return xp_strict.asarray(native_byte_order(np.asarray(data)), dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, StrictArray)

    def new_generator(self, seed: int) -> StrictGenerator:
        return StrictGenerator(seed)
