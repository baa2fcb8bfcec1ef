"""The CuPy backend: arrays on an NVIDIA GPU, with fused Philox dropout (``cupy_kernels.py``,
CUDA source in ``cuda_source.py``).

Import-guarded: without CuPy or a visible GPU it is known but unavailable, and says why.

Dropout masks come from the Philox stream at (seed, offset) defined in ``philox.py``, so a mask
depends on (seed, offset, element index) alone, never on the launch configuration, and
``philox.PhiloxGenerator`` reproduces it on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, BackendUnavailableError
from .capture import host_read_error
from .cuda_conv_source import CONV_KERNEL_NAMES, conv_kernel_source
from .cuda_fused_source import FUSED_KERNEL_NAMES, fused_kernel_source
from .cuda_source import KERNEL_NAMES, kernel_source
from .generator import keep_threshold
from .numpy_backend import native_byte_order
from .philox import PhiloxStreamGenerator

try:
    import cupy
except ImportError:  # pragma: no cover - depends on the environment
    cupy = None

BLOCK = 256  # threads per block; each thread takes 4 elements per step of its grid-stride loop
# The CUDA modules: the kernels each defines, and its source for a dtype name.
SOURCES = ((KERNEL_NAMES, kernel_source), (CONV_KERNEL_NAMES, conv_kernel_source),
           (FUSED_KERNEL_NAMES, fused_kernel_source))


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


class CupyGenerator(PhiloxStreamGenerator):
    """Device generator: dropout masks from the Philox stream at (seed, offset), drawn by the
    backend's dropout kernels; uniform and normal values from CuPy's ``default_rng(seed)``."""

    def __init__(self, seed: int, backend: CupyBackend) -> None:
        self.backend = backend
        self.xp = cupy
        super().__init__(seed)

    def value_generator(self, seed: int) -> Any:
        return cupy.random.default_rng(seed)

    def draw_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        return self.backend.kernels("dropout").drawn_mask(shape, keep_threshold(keep),
                                                          self.take_draw())


class CupyBackend(Backend):
    """GPU arrays through CuPy, with fused dropout. ``regenerate_masks`` (default False): save
    (seed, offset) instead of a 1-byte mask and redraw the mask in backward. ``td.jit`` steps
    are captured into CUDA graphs (``capture``; ``capturing`` is True while one records)."""

    name = "cupy"
    kernel_names = tuple(name for names, _ in SOURCES for name in names)  # what ``launch`` runs

    def __init__(self, regenerate_masks: bool = False) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailableError(f"backend 'cupy' is not available: {reason}")
        from . import cupy_kernels  # it imports CuPy unguarded: only once CuPy is usable

        self.xp = cupy
        self.kernel_families = cupy_kernels.FAMILIES
        self.regenerate_masks = regenerate_masks
        self.capturing = False
        self._recorder: Any = None
        self._functions: dict[tuple[str, str], Any] = {}
        self._max_blocks = 32 * cupy.cuda.Device().attributes["MultiProcessorCount"]
        super().__init__()

    # -- arrays ---------------------------------------------------------------------------
    def asarray(self, data: Any, dtype: Any = None) -> Any:
        if isinstance(data, np.ndarray):
            data = native_byte_order(data)
        try:
            return cupy.asarray(data, dtype=None if dtype is None else self.dtype(dtype))
        except ValueError as exc:  # CuPy says ValueError where NumPy's types say TypeError
            if "dtype" in str(exc):
                raise TypeError(str(exc)) from exc
            raise

    def to_numpy(self, array: Any) -> Any:
        if self.capturing:
            raise host_read_error(self.name)
        return cupy.asnumpy(array)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, cupy.ndarray)

    def owned(self, array: Any) -> Any:
        # CuPy has no read-only arrays; broadcast views (zero strides) are never C-contiguous,
        # and a view (base set) may share memory with another leaf's gradient.
        own = array.flags.c_contiguous and array.base is None
        return array if own else cupy.array(array, copy=True)

    def new_generator(self, seed: int) -> CupyGenerator:
        return CupyGenerator(seed, self)

    def synchronize(self) -> None:
        cupy.cuda.get_current_stream().synchronize()

    def capture(self) -> Any:
        """The CUDA-graph recorder of ``td.jit`` steps (``cupy_graph.CupyRecorder``)."""
        if self._recorder is None:
            from .cupy_graph import CupyRecorder

            self._recorder = CupyRecorder(self)
        return self._recorder

    def describe(self) -> str:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        return f"{super().describe()}, device {cupy.cuda.Device().id}: {props['name'].decode()}"

    # -- kernels --------------------------------------------------------------------------
    def launch(self, dtype_name: str, kernel: str, n: int, args: tuple) -> None:
        """Run ``kernel`` (compiled for ``dtype_name`` on first use) over ``n`` elements."""
        function = self._functions.get((dtype_name, kernel))
        if function is None:
            names, source = next(entry for entry in SOURCES if kernel in entry[0])
            module = cupy.RawModule(code=source(dtype_name), options=("-std=c++17",))
            for name in names:
                self._functions[dtype_name, name] = module.get_function(name)
            function = self._functions[dtype_name, kernel]
        blocks = max(1, min(-(-n // (4 * BLOCK)), self._max_blocks))
        function((blocks,), (BLOCK,), args)
