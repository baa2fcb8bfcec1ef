"""Fixtures' helpers for the fused layer kernels run on the CPU (``test_cuda_fused_kernels.py``,
``test_cupy_fused_host.py``): the CUDA source compiled for the host once per test module, and
``cupy_fused_kernels`` loaded against the stand-in cupy, serving a NumPy backend.

The optimizer kernels' host launchers are here (``OPTIM_HOST_LAUNCHERS``): they replace those
``cuda_host.FUSED_HOST_LAUNCHERS`` ends with while those still pass the options by value."""

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

OPTIM_HOST_LAUNCHERS = r"""
void host_sgd_multi(unsigned int blocks, tdf_slots slots, unsigned int count,
                    unsigned int first, const double* options, int nesterov) {
    TD_BLOCKS(blocks, td_sgd_multi(slots, count, first, options, nesterov));
}
void host_adam_multi(unsigned int blocks, tdf_slots slots, unsigned int count,
                     const double* options, int decoupled, unsigned int* ticket) {
    TD_BLOCKS(blocks, td_adam_multi(slots, count, options, decoupled, ticket));
}
void host_adadelta_multi(unsigned int blocks, tdf_slots slots, unsigned int count,
                         const double* options) {
    TD_BLOCKS(blocks, td_adadelta_multi(slots, count, options));
}
}
"""


def fused_launchers():
    """``FUSED_HOST_LAUNCHERS`` with its optimizer launchers replaced by ours (as it is once
    it has ours)."""
    if OPTIM_HOST_LAUNCHERS.strip().removesuffix("}").strip() in FUSED_HOST_LAUNCHERS:
        return FUSED_HOST_LAUNCHERS
    head, found, _ = FUSED_HOST_LAUNCHERS.partition("void host_sgd_multi(")
    assert found, "cuda_host.FUSED_HOST_LAUNCHERS has no optimizer launchers"
    return head + OPTIM_HOST_LAUNCHERS


def compiled(workdir):
    """``(module, libraries)``: ``cupy_fused_kernels`` on the stand-in cupy (over plain NumPy
    arrays) and the fused source compiled for the CPU, per dtype."""
    libraries = {dtype: compile_or_skip(fused_kernel_source(dtype), workdir, dtype,
                                        fused_launchers()) for dtype in CTYPES}
    module = load_cupy_kernels(host_cupy(np.ndarray), "tinygrad_drop.backends._fused_on_host",
                               "cupy_fused_kernels")
    return module, libraries


def device(module_and_libraries, blocks=3, threads=1, host_memory=True):
    """A fresh NumPy backend whose fused families launch on the host."""
    return HostFusedBackend(*module_and_libraries, blocks=blocks, threads=threads,
                            host_memory=host_memory)
