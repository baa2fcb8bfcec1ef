"""Matrix products through cuBLAS called directly (ctypes), so that they can be captured into a
CUDA graph: CuPy's own matmul refuses to run while a stream captures (CuPy 14 raises
NotImplementedError), though cuBLAS documents capture support. Measured on an H100 (see the GPU
run of 2026-11-23, graph_probe3.py): a ctypes ``cublasSgemm_v2`` on CuPy's handle, with the
handle's stream and a preset workspace, captures and replays correctly.

cuBLAS is column-major; our arrays are row-major. A row-major matrix read column-major is its
transpose, so C = A @ B (m x n) is computed as C^T = B^T A^T: cuBLAS's first operand is B and its
second A, each passed as stored. An operand stored transposed (a ``.T`` view: unit stride along
rows) is passed with CUBLAS_OP_T instead of being copied. ``gemm_arguments`` works this out from
shapes and strides alone (tested on the CPU against NumPy with a stand-in cuBLAS);
``DirectBlas.matmul`` makes the calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Any, NamedTuple

OP_N, OP_T = 0, 1  # cublasOperation_t
POINTER_MODE_HOST = 0  # cublasPointerMode_t: alpha and beta are host values
WORKSPACE_BYTES = 32 << 20  # cuBLAS's recommended workspace on Hopper

_GEMM_ARGTYPES = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                  ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                  ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
# The cuBLAS functions used, with their C argument types (all return cublasStatus_t).
SIGNATURES: dict[str, list[Any]] = {
    "cublasSetStream_v2": [ctypes.c_void_p, ctypes.c_void_p],
    "cublasSetWorkspace_v2": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t],
    "cublasSetPointerMode_v2": [ctypes.c_void_p, ctypes.c_int],
    "cublasSgemm_v2": _GEMM_ARGTYPES,
    "cublasDgemm_v2": _GEMM_ARGTYPES,
}
# dtype name -> (gemm function, C type of alpha and beta)
GEMMS = {"float32": ("cublasSgemm_v2", ctypes.c_float),
         "float64": ("cublasDgemm_v2", ctypes.c_double)}


class GemmArguments(NamedTuple):
    """One column-major ``gemm`` call computing row-major C = A @ B (see the module
    docstring): cuBLAS's (transa, transb, m, n, k, A, lda, B, ldb, ldc), A and B as pointers."""

    transa: int
    transb: int
    m: int
    n: int
    k: int
    a: int
    lda: int
    b: int
    ldb: int
    ldc: int


def operand_layout(shape: tuple[int, int], strides: tuple[int, int],
                   itemsize: int) -> tuple[int, int] | None:
    """(operation, leading dimension) under which cuBLAS reads the row-major matrix of ``shape``
    and byte ``strides`` transposed, as C = B^T A^T needs: OP_N for rows stored one after
    another (C order, any row pitch), OP_T for a transposed view (columns stored one after
    another); None when neither fits (the caller copies it to C order)."""
    rows, cols = shape
    if any(s < 0 or s % itemsize for s in strides):
        return None
    row_step, col_step = (s // itemsize for s in strides)
    if cols <= 1 or col_step == 1:  # C order: column-major view is the transpose, ld = pitch
        ld = row_step if rows > 1 else max(cols, 1)
        if ld >= max(cols, 1):
            return OP_N, ld
    if rows <= 1 or row_step == 1:  # a transposed view: column-major view is the matrix itself
        ld = col_step if cols > 1 else max(rows, 1)
        if ld >= max(rows, 1):
            return OP_T, ld
    return None


def gemm_arguments(a: Any, b: Any) -> GemmArguments:
    """The ``gemm`` call for ``a`` (m, k) @ ``b`` (k, n) into a C-order (m, n) output; ``a`` and
    ``b`` must have layouts ``operand_layout`` accepts."""
    (m, k), n = a.shape, b.shape[1]
    layout_a = operand_layout(tuple(a.shape), tuple(a.strides), a.itemsize)
    layout_b = operand_layout(tuple(b.shape), tuple(b.strides), b.itemsize)
    if layout_a is None or layout_b is None:
        raise ValueError(f"gemm_arguments: strides {a.strides} and {b.strides} are not a matrix "
                         "or a transposed one")
    return GemmArguments(transa=layout_b[0], transb=layout_a[0], m=n, n=m, k=k,
                         a=b.data.ptr, lda=layout_b[1], b=a.data.ptr, ldb=layout_a[1],
                         ldc=max(n, 1))


def bind(lib: Any) -> Any:
    """``lib`` with the argument and result types of the functions in ``SIGNATURES`` set."""
    for name, argtypes in SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, ctypes.c_int
    return lib


def loaded_library(name: str = "libcublas.so") -> str | None:
    """The path of the loaded shared library whose file name starts with ``name`` (the very
    cuBLAS CuPy uses, so that its handle is valid for our calls), from /proc/self/maps."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if path.rsplit("/", 1)[-1].startswith(name):
                    return path
    except OSError:  # not Linux
        return None
    return None


class DirectBlas:
    """2-D products ``a @ b`` by cuBLAS gemm on ``handle`` (``lib``: the bound library) on the
    stream ``stream()`` returns (its pointer), with the preset ``workspace`` (an array of
    ``workspace.nbytes`` bytes: cuBLAS must not allocate during a capture). ``xp`` makes the
    output arrays."""

    def __init__(self, lib: Any, handle: int, workspace: Any, xp: Any,
                 stream: Callable[[], int]) -> None:
        self.lib, self.handle, self.workspace, self.xp = bind(lib), handle, workspace, xp
        self.stream = stream

    def matmul(self, a: Any, b: Any) -> Any:
        """``a`` (m, k) @ ``b`` (k, n) for float32 or float64 ``a`` and ``b`` of one dtype."""
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or a.dtype != b.dtype \
                or a.dtype.name not in GEMMS:
            raise ValueError(f"cuBLAS gemm: takes 2-D float32 or float64 matrices of one dtype "
                             f"that align, got shapes {a.shape} and {b.shape}, dtypes "
                             f"{a.dtype} and {b.dtype}")
        xp, (m, k), n = self.xp, a.shape, b.shape[1]
        if not (m and n and k):  # no products to sum: nothing for cuBLAS to do
            return xp.zeros((m, n), dtype=a.dtype)
        a, b = (x if operand_layout(tuple(x.shape), tuple(x.strides), x.itemsize) else
                xp.ascontiguousarray(x) for x in (a, b))
        out = xp.empty((m, n), dtype=a.dtype)
        call = gemm_arguments(a, b)
        name, scalar = GEMMS[a.dtype.name]
        one, zero = scalar(1.0), scalar(0.0)
        self._check("cublasSetStream_v2", self.handle, self.stream())
        # setting the stream drops a user workspace: set it again after
        self._check("cublasSetWorkspace_v2", self.handle, self.workspace.data.ptr,
                    self.workspace.nbytes)
        self._check("cublasSetPointerMode_v2", self.handle, POINTER_MODE_HOST)
        self._check(name, self.handle, call.transa, call.transb, call.m, call.n, call.k,
                    ctypes.addressof(one), call.a, call.lda, call.b, call.ldb,
                    ctypes.addressof(zero), out.data.ptr, call.ldc)
        return out

    def _check(self, name: str, *args: Any) -> None:
        status = getattr(self.lib, name)(*args)
        if status != 0:
            raise RuntimeError(f"{name} failed with cublasStatus_t {status}")
