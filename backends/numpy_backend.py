"""The NumPy backend (the default): CPU arrays, NumPy's SFC64 generator; its fast paths are in
``numpy_kernels.py``."""

from __future__ import annotations

import ctypes
import math
import os
from typing import Any

import numpy as np

from . import numpy_kernels
from .base import Backend
from .generator import Generator, keep_threshold

MALLOC_TUNING_ENV_VAR = "TINYGRAD_DROP_MALLOC_TUNING"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def tune_allocator() -> bool:
    """Keep freed activation-sized arrays in glibc's heap instead of returning them to the OS.

    By default glibc maps every allocation over 128 KiB afresh and unmaps it on free, so each
    new 256x256 float32 array costs 64 page faults: measured here, a batchnorm forward took
    300 us instead of 119 us. Raising the mmap threshold to 32 MiB and the trim threshold to
    256 MiB lets a training step reuse the same memory. Process-wide; skipped where glibc is
    absent and when $TINYGRAD_DROP_MALLOC_TUNING is 0. Returns whether it was applied."""
    if os.environ.get(MALLOC_TUNING_ENV_VAR, "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20) and mallopt(_M_TRIM_THRESHOLD, 256 << 20))


class NumpyGenerator(Generator):
    """Seeded SFC64 stream (the fastest of NumPy's bit generators here).

    Dropout masks never draw floats. A random byte b keeps an element when b < floor(256 keep);
    the elements whose byte equals floor(256 keep) (one in 256) are settled by 32 more random
    bits against the fractional part, so the realised keep probability is exact to 2**-40 while
    costing one random byte per element. keep = 0.5 uses one random bit per element.
    """

    xp = np

    def __init__(self, seed: int) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> NumpyGenerator:
        self.rng = np.random.Generator(np.random.SFC64(seed))
        return self

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.rng.random(shape, dtype=dtype)

    def normal(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.rng.standard_normal(shape, dtype=dtype)

    def random_bytes(self, count: int) -> np.ndarray:
        """``count`` uniform uint8 values, straight from the bit generator's 64-bit words."""
        return self.rng.bit_generator.random_raw(-(-count // 8)).view(np.uint8)[:count]

    def random_uint32(self, count: int) -> np.ndarray:
        """``count`` uniform uint32 values."""
        return self.rng.bit_generator.random_raw(-(-count // 2)).view(np.uint32)[:count]

    def draw_mask(self, shape: tuple[int, ...], keep: float) -> np.ndarray:
        count = math.prod(shape)
        if keep == 0.5:
            bits = self.random_bytes(-(-count // 8))
            return np.unpackbits(bits, count=count).view(bool).reshape(shape)
        level = keep * 256
        whole = int(level)
        draws = self.random_bytes(count)
        mask = np.less(draws, whole)
        if level != whole:
            tied = np.equal(draws, whole, out=draws.view(bool))  # reuse the bytes' memory
            ties = np.flatnonzero(tied)
            if ties.size:
                mask[ties] = self.random_uint32(ties.size) < keep_threshold(level - whole)
        return mask.reshape(shape)


class NumpyBackend(Backend):
    """CPU arrays through NumPy (>= 2, whose main namespace follows the Array API)."""

    name = "numpy"
    xp = np
    kernel_families = numpy_kernels.FAMILIES
    host_memory = True

    def __init__(self) -> None:
        super().__init__()
        self.allocator_tuned = tune_allocator()

    def asarray(self, data: Any, dtype: Any = None) -> np.ndarray:
        return native_byte_order(np.asarray(data, dtype=None if dtype is None
                                            else self.dtype(dtype)))

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def owned(self, array: Any) -> Any:
        # A view (base set) may share memory with another leaf's gradient or the caller's array.
        flags = array.flags
        own = flags.writeable and flags.c_contiguous and array.base is None
        return array if own else np.array(array, copy=True)

    def new_generator(self, seed: int) -> NumpyGenerator:
        return NumpyGenerator(seed)


def native_byte_order(array: np.ndarray) -> np.ndarray:
    """``array`` in the machine's byte order (a big-endian file's arrays are converted once, so
    no tensor ever holds ``>f4`` data)."""
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))
