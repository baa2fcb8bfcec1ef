"""Fixtures' helpers for the fused layer kernels run on the CPU (``test_cuda_fused_kernels.py``,
``test_cupy_fused_host.py``): the CUDA source compiled for the host once per test module, and
``cupy_fused_kernels`` loaded against the stand-in cupy, serving a NumPy backend."""

import numpy as np
from cuda_host import (
    FUSED_HOST_LAUNCHERS,
    HostFusedBackend,
    compile_or_skip,
    host_cupy,
    load_cupy_kernels,
)

from tinygrad_drop.backends.cuda_fused_source import fused_kernel_source
from tinygrad_drop.backends.cuda_source import CTYPES


def compiled(workdir):
    """``(module, libraries)``: ``cupy_fused_kernels`` on the stand-in cupy (over plain NumPy
    arrays) and the fused source compiled for the CPU, per dtype."""
    libraries = {dtype: compile_or_skip(fused_kernel_source(dtype), workdir, dtype,
                                        FUSED_HOST_LAUNCHERS) for dtype in CTYPES}
    module = load_cupy_kernels(host_cupy(np.ndarray), "tinygrad_drop.backends._fused_on_host",
                               "cupy_fused_kernels")
    return module, libraries


def device(module_and_libraries, blocks=3, threads=1, host_memory=True):
    """A fresh NumPy backend whose fused families launch on the host."""
    return HostFusedBackend(*module_and_libraries, blocks=blocks, threads=threads,
                            host_memory=host_memory)
