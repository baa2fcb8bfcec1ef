"""The CuPy backend: arrays on an NVIDIA GPU. Import-guarded: without CuPy or a visible GPU it is
known but unavailable, and says why."""

from __future__ import annotations

import math
from typing import Any

from .base import Backend, BackendUnavailableError, Generator
from .numpy_backend import keep_threshold

try:
    import cupy
except ImportError:  # pragma: no cover - depends on the environment
    cupy = None


def unavailable_reason() -> str | None:
    """Why CuPy cannot run here, or None when it can."""
    if cupy is None:
        return "CuPy is not installed (pip install 'tinygrad_drop[cuda]' on a machine with CUDA)"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        return f"CuPy is installed but CUDA is not usable: {exc}"
    if count == 0:
        return "CuPy is installed but no CUDA GPU is visible"
    return None


class CupyGenerator(Generator):
    """CuPy's device-side generator; masks compare raw uint32 words with an integer threshold."""

    def __init__(self, seed: int) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> CupyGenerator:
        self.rng = cupy.random.default_rng(seed)
        return self

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.rng.random(shape, dtype=dtype)

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.rng.standard_normal(shape, dtype=dtype)

    def bernoulli_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        if keep >= 1.0:
            return cupy.ones(shape, dtype=bool)
        if keep <= 0.0:
            return cupy.zeros(shape, dtype=bool)
        words = self.rng.integers(0, 2 ** 32, size=math.prod(shape), dtype=cupy.uint64)
        return (words < keep_threshold(keep)).reshape(shape)


class CupyBackend(Backend):
    """GPU arrays through CuPy."""

    name = "cupy"

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(f"backend 'cupy' is not available: {reason}")
        self.xp = cupy
        super().__init__()

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return cupy.asarray(data, dtype=None if dtype is None else self.dtype(dtype))

    def to_numpy(self, array: Any) -> Any:
        return cupy.asnumpy(array)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, cupy.ndarray)

    def owned(self, array: Any) -> Any:
        flags = array.flags
        return array if flags.writeable and flags.c_contiguous else cupy.array(array, copy=True)

    def new_generator(self, seed: int) -> CupyGenerator:
        return CupyGenerator(seed)

    def scatter_add(self, target: Any, index: Any, values: Any) -> Any:
        import cupyx

        cupyx.scatter_add(target, index, values)
        return target

    def synchronize(self) -> None:
        cupy.cuda.get_current_stream().synchronize()
