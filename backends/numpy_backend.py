"""The NumPy backend (the default): CPU arrays, NumPy's PCG64 generator."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Backend, Generator

_UINT32_RANGE = 2 ** 32


def keep_threshold(keep: float) -> int:
    """Integer threshold t with P(u32 < t) = t / 2**32 within 2**-33 of ``keep``."""
    return min(int(round(keep * _UINT32_RANGE)), _UINT32_RANGE - 1)


class NumpyGenerator(Generator):
    """Seeded PCG64 stream; masks compare raw uint32 words with an integer threshold, which is
    an order of magnitude cheaper than drawing floats and exact to 2**-33 in probability."""

    def __init__(self, seed: int) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> NumpyGenerator:
        self.rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.rng.random(shape, dtype=dtype)

    def normal(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.rng.standard_normal(shape, dtype=dtype)

    def random_uint32(self, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform uint32 words of ``shape`` (raw generator bytes, no float conversion)."""
        count = math.prod(shape)
        return np.frombuffer(self.rng.bytes(4 * count), dtype=np.uint32).reshape(shape)

    def bernoulli_mask(self, shape: tuple[int, ...], keep: float) -> np.ndarray:
        if keep >= 1.0:
            return np.ones(shape, dtype=bool)
        if keep <= 0.0:
            return np.zeros(shape, dtype=bool)
        return np.less(self.random_uint32(shape), np.uint32(keep_threshold(keep)))


class NumpyBackend(Backend):
    """CPU arrays through NumPy (>= 2, whose main namespace follows the Array API)."""

    name = "numpy"
    xp = np

    def asarray(self, data: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(data, dtype=None if dtype is None else self.dtype(dtype))

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def owned(self, array: Any) -> Any:
        flags = array.flags
        return array if flags.writeable and flags.c_contiguous else np.array(array, copy=True)

    def new_generator(self, seed: int) -> NumpyGenerator:
        return NumpyGenerator(seed)

    def scatter_add(self, target: np.ndarray, index: Any, values: Any) -> np.ndarray:
        np.add.at(target, index, values)
        return target
