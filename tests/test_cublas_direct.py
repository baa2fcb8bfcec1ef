"""The direct cuBLAS calls (``backends/cublas_direct.py``) on the CPU: a stand-in cuBLAS whose
functions are ctypes callbacks with cuBLAS's C signatures, its gemm column-major over raw memory
in NumPy (checking cuBLAS's rules on leading dimensions), so the row-major to column-major
marshalling (operand order, transposes, leading dimensions, pointers, scalars) is checked
against ``numpy.matmul`` for every layout of both operands. ``cupy_kernels.CupyMatmulKernels``
runs against the stand-in ``cupy`` of ``cuda_host``."""

import ctypes
import types

import numpy as np
import pytest
from cuda_host import HostDeviceArray, host_cupy, load_cupy_kernels

from tinygrad_drop.backends import cublas_direct
from tinygrad_drop.backends.capture import CaptureError
from tinygrad_drop.backends.cublas_direct import (
    GEMMS,
    OP_N,
    OP_T,
    SIGNATURES,
    DirectBlas,
    operand_layout,
)

INVALID_VALUE = 7  # CUBLAS_STATUS_INVALID_VALUE


class StandInCublas:
    """cuBLAS's functions used, as ctypes callbacks; ``calls`` logs (name, arguments)."""

    def __init__(self):
        self.calls = []
        self.stream = self.workspace = None
        for name, argtypes in SIGNATURES.items():
            prototype = ctypes.CFUNCTYPE(ctypes.c_int, *argtypes)
            implementation = getattr(self, "_" + name.removeprefix("cublas").removesuffix("_v2"))
            setattr(self, name, prototype(self._logged(name, implementation)))

    def _logged(self, name, implementation):
        def call(*args):
            self.calls.append((name, args))
            return implementation(*args)
        return call

    def _SetStream(self, handle, stream):
        self.stream, self.workspace = stream, None  # as cuBLAS: the user workspace is dropped
        return 0

    def _SetWorkspace(self, handle, pointer, size):
        self.workspace = (pointer, size)
        return 0

    def _SetPointerMode(self, handle, mode):
        return 0

    def _Sgemm(self, *args):
        return self._gemm(np.float32, ctypes.c_float, *args)

    def _Dgemm(self, *args):
        return self._gemm(np.float64, ctypes.c_double, *args)

    def _gemm(self, dtype, scalar, handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta,
              c, ldc):
        # cuBLAS: op(A) is m x k, op(B) k x n, C m x n, all column-major
        rows_a, rows_b = (m if transa == OP_N else k), (k if transb == OP_N else n)
        if self.workspace is None or min(m, n, k) < 1 or lda < max(1, rows_a) \
                or ldb < max(1, rows_b) or ldc < max(1, m):
            return INVALID_VALUE
        op_a = column_major(a, rows_a, k if transa == OP_N else m, lda, dtype)
        op_b = column_major(b, rows_b, n if transb == OP_N else k, ldb, dtype)
        op_a, op_b = (op_a if transa == OP_N else op_a.T), (op_b if transb == OP_N else op_b.T)
        out = column_major(c, m, n, ldc, dtype)
        value = scalar.from_address(alpha).value * (op_a.astype(np.float64) @ op_b)
        out[...] = value + scalar.from_address(beta).value * 0  # beta = 0: C is not read
        return 0


def column_major(pointer, rows, cols, ld, dtype):
    """The column-major ``rows`` x ``cols`` matrix at ``pointer`` with leading dimension ``ld``."""
    itemsize = np.dtype(dtype).itemsize
    size = ld * (cols - 1) + rows
    flat = np.ctypeslib.as_array((ctypes.c_char * (size * itemsize)).from_address(pointer))
    return np.lib.stride_tricks.as_strided(flat.view(dtype), (rows, cols),
                                           (itemsize, ld * itemsize))


def device(values):
    return np.ascontiguousarray(values).view(HostDeviceArray)


LAYOUTS = {  # how an operand of shape (r, c) is stored
    "c-order": lambda x: device(x),
    "transposed view": lambda x: device(x.T.copy()).T,
    "row pitch": lambda x: device(np.pad(x, ((0, 0), (0, 3))))[:, :x.shape[1]],
    "column pitch": lambda x: device(np.pad(x.T, ((0, 0), (0, 2))))[:, :x.shape[0]].T,
    "every other column": lambda x: device(np.repeat(x, 2, axis=1))[:, ::2],
    "offset into a buffer": lambda x: device(np.concatenate([x.ravel()[:1], x.ravel()]))[1:]
    .reshape(x.shape),
}


@pytest.fixture
def blas():
    lib = StandInCublas()
    return DirectBlas(lib, 1234, device(np.zeros(64, np.uint8)), host_cupy(), lambda: 77), lib


@pytest.mark.parametrize("dtype", sorted(GEMMS))
@pytest.mark.parametrize("layout_a", sorted(LAYOUTS))
@pytest.mark.parametrize("layout_b", sorted(LAYOUTS))
@pytest.mark.parametrize("m, k, n", [(5, 7, 3), (1, 4, 6), (6, 1, 2), (3, 5, 1), (1, 1, 1)])
def test_products_equal_numpy_for_every_layout(blas, dtype, layout_a, layout_b, m, k, n):
    direct, lib = blas
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a_host = rng.standard_normal((m, k)).astype(dtype)
    b_host = rng.standard_normal((k, n)).astype(dtype)
    a, b = LAYOUTS[layout_a](a_host), LAYOUTS[layout_b](b_host)
    np.testing.assert_array_equal(np.asarray(a), a_host)
    out = direct.matmul(a, b)
    assert out.shape == (m, n) and out.dtype == dtype and out.flags.c_contiguous
    tolerance = {"float32": 1e-5, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(out, a_host.astype(np.float64) @ b_host, rtol=tolerance,
                               atol=tolerance)
    names = [name for name, _ in lib.calls]
    assert names == ["cublasSetStream_v2", "cublasSetWorkspace_v2", "cublasSetPointerMode_v2",
                     GEMMS[dtype][0]]
    assert lib.calls[0][1] == (1234, 77)  # CuPy's handle, the current stream


def test_transposed_views_are_passed_transposed_not_copied(blas):
    direct, lib = blas
    w = device(np.arange(12.0).reshape(3, 4))  # (out, in), as linear's weight
    x = device(np.ones((5, 4)))
    direct.matmul(x, w.T)  # linear's forward: x @ W^T
    *_, transa, transb, m, n, k, _, a, lda, b, ldb, _, _, ldc = lib.calls[-1][1]
    assert (transa, transb, m, n, k) == (OP_T, OP_N, 3, 5, 4)
    assert (a, lda, b, ldb, ldc) == (w.ctypes.data, 4, x.ctypes.data, 4, 3)


@pytest.mark.parametrize("shape, strides, expected", [
    ((3, 4), (32, 8), (OP_N, 4)), ((3, 4), (8, 24), (OP_T, 3)), ((3, 4), (56, 8), (OP_N, 7)),
    ((1, 4), (8, 16), (OP_T, 2)), ((4, 1), (16, 8), (OP_N, 2)), ((3, 4), (0, 8), None),
    ((3, 4), (-32, 8), None), ((3, 4), (64, 16), None), ((3, 4), (8, 16), None)])
def test_operand_layouts(shape, strides, expected):
    assert operand_layout(shape, strides, 8) == expected


def test_empty_products_are_zeros_without_calling_cublas(blas):
    direct, lib = blas
    out = direct.matmul(device(np.ones((3, 0))), device(np.ones((0, 2))))
    np.testing.assert_array_equal(out, np.zeros((3, 2)))
    assert direct.matmul(device(np.ones((0, 4))), device(np.ones((4, 2)))).shape == (0, 2)
    assert lib.calls == []


def test_bad_operands_and_failures_are_clear_errors(blas):
    direct, lib = blas
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 3\)"):
        direct.matmul(device(np.ones((2, 3))), device(np.ones((2, 3))))
    with pytest.raises(ValueError, match="float32 and float64"):
        direct.matmul(device(np.ones((2, 3), np.float32)), device(np.ones((3, 2))))
    lib._gemm = lambda *args: INVALID_VALUE
    with pytest.raises(RuntimeError, match="cublasDgemm_v2 failed with cublasStatus_t 7"):
        direct.matmul(device(np.ones((2, 3))), device(np.ones((3, 2))))


def test_the_loaded_library_is_found_by_its_file_name():
    assert cublas_direct.loaded_library("libc.so") is not None  # this process has libc loaded
    assert cublas_direct.loaded_library("libno-such-library.so") is None


# -- the CuPy matmul kernels on the stand-in cupy ------------------------------------------------
@pytest.fixture
def matmul_kernels(blas):
    module = load_cupy_kernels(host_cupy(), "tinygrad_drop.backends._cupy_kernels_blas_host")
    backend = types.SimpleNamespace(name="cupy", xp=module.cupy, capturing=False)
    kernels = module.CupyMatmulKernels(backend)
    kernels._blas = blas[0]
    return kernels, backend, blas[1]


@pytest.mark.parametrize("a_shape, b_shape", [((6, 4), (4, 3)), ((2, 5, 4), (4, 3)),
                                              ((4,), (4, 3))])
def test_cupy_kernels_take_batch_dims_of_the_left_operand_through_cublas(matmul_kernels, a_shape,
                                                                         b_shape):
    kernels, _, lib = matmul_kernels
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = kernels.matmul(device(a), device(b))
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)
    assert [name for name, _ in lib.calls][-1] == "cublasDgemm_v2"


def test_cupy_kernels_send_other_products_to_cupy_matmul_and_refuse_them_while_capturing(
        matmul_kernels):
    kernels, backend, lib = matmul_kernels
    a, b = np.ones((2, 3, 4)), np.ones((2, 4, 5))
    np.testing.assert_array_equal(kernels.matmul(device(a), device(b)), a @ b)
    mixed = kernels.matmul(device(np.ones((2, 3), np.float32)), device(np.ones((3, 2))))
    assert mixed.dtype == np.float64 and lib.calls == []
    backend.capturing = True
    with pytest.raises(CaptureError, match=r"shapes \(2, 3, 4\) and \(2, 4, 5\)"):
        kernels.matmul(device(a), device(b))
