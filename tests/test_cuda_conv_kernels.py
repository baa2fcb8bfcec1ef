"""The CuPy backend's convolution and pooling kernels (``backends/cuda_conv_source.py``),
checked without a GPU.

The source is compiled with the host C++ compiler under the sequential emulation of CUDA's
built-ins (``cuda_host.py``) and every kernel is compared bit for bit (signed zeros and NaN
payloads included) with the portable kernels it replaces, ``ConvKernels`` and ``PoolKernels``
over NumPy: strides 1 to 3, dilation, padding, kernels 1x1 to 5x5 and 2x3, odd sizes, empty
batches, NaN and infinities, sums whose order shows in their rounding, and grid sizes that make
the grid-stride loops wrap. NVRTC then compiles the exact source for real GPU architectures.
"""

import ctypes

import numpy as np
import pytest
from cuda_host import (
    CONV_HOST_LAUNCHERS,
    compile_or_skip,
    find_nvrtc,
    nvrtc_entries,
    nvrtc_missing_reason,
)

import tinygrad_drop as td
from tinygrad_drop.backends.cuda_conv_source import CONV_KERNEL_NAMES, conv_kernel_source
from tinygrad_drop.backends.cuda_source import CTYPES, KERNEL_NAMES, kernel_source
from tinygrad_drop.backends.kernels import ConvKernels, PoolKernels, tap_slice
from tinygrad_drop.ops.conv import out_size

# the portable references add inf and -inf on purpose
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
u64, u32, c_int = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int
GRIDS = [1, 3, 64]  # one block loops over everything; 3 wraps unevenly; 64 leaves blocks idle
PORTABLE_CONV = ConvKernels(td.backends.get("numpy"))
PORTABLE_POOL = PoolKernels(td.backends.get("numpy"))

# (N, C, H, W), kernel, stride, dilation, padding
CONV_GEOMETRIES = [
    ((2, 3, 7, 6), (3, 3), (1, 1), (1, 1), (0, 0)),
    ((2, 2, 9, 8), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((1, 4, 11, 10), (3, 3), (1, 2), (2, 2), (2, 1)),
    ((3, 2, 5, 7), (2, 3), (2, 1), (1, 1), (1, 0)),
    ((2, 5, 4, 5), (1, 1), (1, 1), (1, 1), (0, 0)),
    ((1, 3, 6, 6), (1, 1), (2, 2), (1, 1), (1, 1)),
    ((1, 1, 3, 3), (3, 3), (1, 1), (1, 1), (0, 0)),  # one output
    ((0, 3, 5, 5), (3, 3), (1, 1), (1, 1), (1, 1)),  # no samples
    ((4, 1, 28, 28), (3, 3), (1, 1), (1, 1), (0, 0)),  # the seed CNN's first layer, 4 samples
]

# (N, C, H, W), kernel, stride, padding
POOL_GEOMETRIES = [
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0)),  # the seed CNN's pool: disjoint windows
    ((2, 2, 7, 9), (2, 2), (2, 2), (0, 0)),  # odd sizes: a row and a column in no window
    ((1, 3, 7, 7), (3, 3), (1, 1), (1, 1)),  # overlapping, padded
    ((2, 2, 9, 8), (3, 2), (2, 1), (1, 0)),
    ((1, 2, 10, 11), (2, 2), (3, 3), (1, 1)),  # gaps between windows
    ((1, 1, 11, 11), (5, 5), (2, 2), (2, 2)),
    ((3, 2, 4, 5), (1, 1), (1, 1), (0, 0)),
    ((1, 1, 3, 3), (3, 3), (3, 3), (1, 1)),  # one window of mostly padding
    ((0, 2, 4, 4), (2, 2), (2, 2), (0, 0)),  # no samples
]


def ptr(array):
    return ctypes.c_void_p(array.ctypes.data)


class HostConvKernels:
    """The kernels of one dtype, compiled for the CPU, called as the CuPy backend calls them."""

    def __init__(self, lib, dtype):
        self.lib, self.dtype = lib, np.dtype(dtype)
        self.scalar = ctypes.c_float if dtype == "float32" else ctypes.c_double

    def im2col(self, x, kernel, stride, dilation, out_hw, rows_outer, grid):
        n, c, hp, wp = x.shape
        rows, positions = c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
        shape = (rows, n, positions) if rows_outer else (n, rows, positions)
        cols = np.full(shape, np.nan, self.dtype)
        self.lib.host_im2col(u32(grid), ptr(x), ptr(cols), u64(n), u32(c), u32(hp), u32(wp),
                             *map(u32, (*kernel, *stride, *dilation, *out_hw)),
                             c_int(rows_outer))
        return cols

    def col2im(self, cols, out, kernel, stride, dilation, out_hw, strides, accumulate, grid):
        """``out`` (N, C, Hp, Wp) updated from ``cols`` (of any layout, ``strides``: the
        (sample, row) strides in elements)."""
        n, c, hp, wp = out.shape
        self.lib.host_col2im(u32(grid), ptr(cols), ptr(out), u64(n), u32(c), u32(hp), u32(wp),
                             *map(u32, (*kernel, *stride, *dilation, *out_hw)),
                             u64(strides[0]), u64(strides[1]), c_int(accumulate))

    def swap01(self, src, bias, grid):
        a, b, length = src.shape
        dst = np.full((b, a, length), np.nan, self.dtype)
        self.lib.host_swap01(u32(grid), ptr(src), None if bias is None else ptr(bias),
                             ptr(dst), u64(a), u64(b), u64(length))
        return dst

    def pad(self, x, padding, grid):
        n, c, h, w = x.shape
        out = np.full((n, c, h + 2 * padding[0], w + 2 * padding[1]), np.nan, self.dtype)
        self.lib.host_pad(u32(grid), ptr(x), ptr(out), u64(n * c), u32(h), u32(w),
                          u32(padding[0]), u32(padding[1]))
        return out

    def _pool_args(self, shape, kernel, stride, padding, out_hw):
        n, c, h, w = shape
        return (u64(n * c), u32(h), u32(w),
                *map(u32, (*kernel, *stride, *padding, *out_hw)))

    def max_forward(self, x, kernel, stride, padding, out_hw, grid):
        out = np.full((*x.shape[:2], *out_hw), np.nan, self.dtype)
        where = np.full(out.shape, 77, np.uint8)
        self.lib.host_max_pool_forward(u32(grid), ptr(x), ptr(out), ptr(where),
                                       *self._pool_args(x.shape, kernel, stride, padding,
                                                        out_hw), self.scalar(-np.inf))
        return out, where

    def max_backward(self, g, where, in_shape, kernel, stride, padding, grid):
        dx = np.full(in_shape, np.nan, self.dtype)
        self.lib.host_max_pool_backward(u32(grid), ptr(g), ptr(where), ptr(dx),
                                        *self._pool_args(in_shape, kernel, stride, padding,
                                                         g.shape[2:]),
                                        c_int(PoolKernels.disjoint(kernel, stride)))
        return dx

    def avg_forward(self, x, kernel, stride, padding, out_hw, grid):
        out = np.full((*x.shape[:2], *out_hw), np.nan, self.dtype)
        self.lib.host_avg_pool_forward(u32(grid), ptr(x), ptr(out),
                                       *self._pool_args(x.shape, kernel, stride, padding,
                                                        out_hw))
        return out

    def avg_backward(self, g, in_shape, kernel, stride, padding, grid):
        dx = np.full(in_shape, np.nan, self.dtype)
        self.lib.host_avg_pool_backward(u32(grid), ptr(g), ptr(dx),
                                        *self._pool_args(in_shape, kernel, stride, padding,
                                                         g.shape[2:]),
                                        c_int(PoolKernels.disjoint(kernel, stride)))
        return dx


@pytest.fixture(scope="module", params=sorted(CTYPES))
def kernels(request, tmp_path_factory):
    lib = compile_or_skip(conv_kernel_source(request.param),
                          str(tmp_path_factory.mktemp("cuda_conv_host")), request.param,
                          CONV_HOST_LAUNCHERS)
    return HostConvKernels(lib, request.param)


def assert_bits_equal(actual, expected):
    """Equal shapes, dtypes and bits: -0.0 is not 0.0, NaNs must be the same NaN."""
    actual, expected = np.asarray(actual), np.ascontiguousarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    bits = np.dtype(f"u{actual.itemsize}")
    np.testing.assert_array_equal(actual.view(bits), expected.view(bits))


def spread(shape, dtype, seed=0):
    """Values of many magnitudes and both signs (so that a sum in another order would round
    differently), with some signed zeros."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)
    values.flat[::7] = -0.0
    return values.astype(dtype)


def special(shape, dtype, seed=0):
    """``spread`` values with NaN, +-inf, ties and signed zeros mixed in."""
    values = spread(shape, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    picks = rng.integers(0, 12, shape)
    values[picks == 0] = np.nan
    values[picks == 1] = np.inf
    values[picks == 2] = -np.inf
    values[picks == 3] = 1.5  # ties between window elements
    values[picks == 4] = 0.0
    return values


# -- im2col and col2im -------------------------------------------------------------------------
def conv_case(case, dtype):
    shape, kernel, stride, dilation, padding = case
    x = PORTABLE_CONV.pad(spread(shape, dtype), padding)
    out_hw = tuple(out_size(shape[2 + a], kernel[a], stride[a], padding[a], dilation[a])
                   for a in (0, 1))
    return x, kernel, stride, dilation, out_hw


@pytest.mark.parametrize("case", CONV_GEOMETRIES, ids=str)
@pytest.mark.parametrize("grid", GRIDS)
def test_im2col_is_the_portable_columns_in_either_layout(kernels, case, grid):
    x, kernel, stride, dilation, out_hw = conv_case(case, kernels.dtype)
    expected = PORTABLE_CONV.columns(x, kernel, stride, dilation, out_hw)  # (N, R, L)
    assert_bits_equal(kernels.im2col(x, kernel, stride, dilation, out_hw, 0, grid), expected)
    assert_bits_equal(kernels.im2col(x, kernel, stride, dilation, out_hw, 1, grid),
                      np.swapaxes(expected, 0, 1))


@pytest.mark.parametrize("case", CONV_GEOMETRIES, ids=str)
@pytest.mark.parametrize("grid", GRIDS)
def test_col2im_sums_the_portable_taps_in_their_order(kernels, case, grid):
    x, kernel, stride, dilation, out_hw = conv_case(case, kernels.dtype)
    n, c = x.shape[:2]
    cols = spread((n, c, *kernel, *out_hw), kernels.dtype, seed=3)
    start = spread(x.shape, kernels.dtype, seed=4)
    for accumulate, initial in ((1, start), (0, np.zeros_like(start))):
        expected = initial.copy()
        PORTABLE_CONV.col2im(cols, expected, stride, dilation)
        rows, positions = c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
        out = start.copy()  # col2im without accumulate must not read it
        kernels.col2im(cols, out, kernel, stride, dilation, out_hw,
                       (rows * positions, positions), accumulate, grid)
        assert_bits_equal(out, expected)
        by_rows = np.ascontiguousarray(np.swapaxes(np.reshape(cols, (n, rows, positions)), 0, 1))
        out = start.copy()
        kernels.col2im(by_rows, out, kernel, stride, dilation, out_hw,
                       (positions, n * positions), accumulate, grid)
        assert_bits_equal(out, expected)


def test_col2im_order_matters_so_the_test_above_can_tell(kernels):
    """The same terms summed in reverse tap order round differently for these values: the
    bit-for-bit test above does check the order."""
    x, kernel, stride, dilation, out_hw = conv_case(CONV_GEOMETRIES[0], kernels.dtype)
    cols = spread((*x.shape[:2], *kernel, *out_hw), kernels.dtype, seed=3)
    in_order, reversed_order = np.zeros_like(x), np.zeros_like(x)
    PORTABLE_CONV.col2im(cols, in_order, stride, dilation)
    for i in reversed(range(kernel[0])):
        for j in reversed(range(kernel[1])):
            reversed_order[:, :, tap_slice(i, dilation[0], stride[0], out_hw[0]),
                           tap_slice(j, dilation[1], stride[1], out_hw[1])] += cols[:, :, i, j]
    assert not np.array_equal(in_order, reversed_order)
    np.testing.assert_allclose(in_order, reversed_order, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("grid", GRIDS)
def test_swap01_moves_the_leading_axes_and_adds_the_bias_of_the_first(kernels, grid):
    src = spread((5, 3, 7), kernels.dtype)
    bias = spread((5,), kernels.dtype, seed=1)
    assert_bits_equal(kernels.swap01(src, None, grid), np.swapaxes(src, 0, 1))
    assert_bits_equal(kernels.swap01(src, bias, grid),
                      np.swapaxes(src, 0, 1) + bias[None, :, None])


@pytest.mark.parametrize("padding", [(0, 0), (1, 2), (3, 0)])
@pytest.mark.parametrize("grid", GRIDS)
def test_pad_is_the_portable_zero_padding(kernels, padding, grid):
    x = spread((2, 3, 4, 5), kernels.dtype)
    assert_bits_equal(kernels.pad(x, padding, grid), PORTABLE_CONV.pad(x, padding))


# -- pooling -----------------------------------------------------------------------------------
def pool_case(case, dtype, seed=0):
    shape, kernel, stride, padding = case
    out_hw = tuple(out_size(shape[2 + a], kernel[a], stride[a], padding[a], 1) for a in (0, 1))
    return special(shape, dtype, seed), kernel, stride, padding, out_hw


@pytest.mark.parametrize("case", POOL_GEOMETRIES, ids=str)
@pytest.mark.parametrize("grid", GRIDS)
def test_max_pool_forward_is_the_portable_maxima_and_first_positions(kernels, case, grid):
    x, kernel, stride, padding, out_hw = pool_case(case, kernels.dtype)
    out, where = kernels.max_forward(x, kernel, stride, padding, out_hw, grid)
    expected_out, expected_where = PORTABLE_POOL.max_forward(x, kernel, stride, padding, out_hw)
    assert_bits_equal(out, expected_out)
    assert_bits_equal(where, expected_where)


def test_max_pool_forward_follows_the_portable_rules_on_hand_worked_windows(kernels):
    nan, inf = np.nan, np.inf
    # 1x4 windows of a (1, 1, 1, 16) input: a tie keeps the first; NaN wins, the last NaN
    # is recorded; all -inf keeps position 0
    x = np.array([[[[1, 3, 3, 2, 5, nan, 7, nan, -inf, -inf, -inf, -inf,
                     -0.0, 0.0, inf, 1]]]], kernels.dtype)
    out, where = kernels.max_forward(x, (1, 4), (1, 4), (0, 0), (1, 4), 3)
    assert_bits_equal(out, np.array([[[[3, nan, -inf, inf]]]], kernels.dtype))
    np.testing.assert_array_equal(where, [[[[1, 3, 0, 2]]]])
    # padding is -inf: an all -inf window with padding first records the padding (position 0)
    x = np.full((1, 1, 2, 2), -inf, kernels.dtype)
    out, where = kernels.max_forward(x, (2, 2), (2, 2), (1, 1), (2, 2), 1)
    np.testing.assert_array_equal(where, np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("case", POOL_GEOMETRIES, ids=str)
@pytest.mark.parametrize("grid", GRIDS)
def test_max_pool_backward_gathers_the_portable_sums(kernels, case, grid):
    x, kernel, stride, padding, out_hw = pool_case(case, kernels.dtype)
    _, where = PORTABLE_POOL.max_forward(x, kernel, stride, padding, out_hw)
    for g in (spread(where.shape, kernels.dtype, seed=5),
              special(where.shape, kernels.dtype, seed=6)):  # NaN and inf go where chosen only
        expected = PORTABLE_POOL.max_backward(g, where, x.shape, kernel, stride, padding)
        assert_bits_equal(kernels.max_backward(g, where, x.shape, kernel, stride, padding, grid),
                          expected)


def test_max_pool_backward_of_overlapping_windows_on_a_hand_worked_case(kernels):
    # 3 windows of width 2, stride 1 over [1, 5, 2, 0]: maxima at 1, 1, 2
    x = np.array([[[[1, 5, 2, 0]]]], kernels.dtype)
    out, where = kernels.max_forward(x, (1, 2), (1, 1), (0, 0), (1, 3), 2)
    g = np.array([[[[0.5, 0.25, 4.0]]]], kernels.dtype)
    dx = kernels.max_backward(g, where, x.shape, (1, 2), (1, 1), (0, 0), 2)
    np.testing.assert_array_equal(dx, [[[[0, 0.75, 4.0, 0]]]])


@pytest.mark.parametrize("case", POOL_GEOMETRIES, ids=str)
@pytest.mark.parametrize("grid", GRIDS)
def test_avg_pool_is_the_portable_means_and_spread_gradient(kernels, case, grid):
    x, kernel, stride, padding, out_hw = pool_case(case, kernels.dtype)
    x = spread(x.shape, kernels.dtype)
    assert_bits_equal(kernels.avg_forward(x, kernel, stride, padding, out_hw, grid),
                      PORTABLE_POOL.avg_forward(x, kernel, stride, padding, out_hw))
    special_x = pool_case(case, kernels.dtype, seed=2)[0]
    assert_bits_equal(kernels.avg_forward(special_x, kernel, stride, padding, out_hw, grid),
                      PORTABLE_POOL.avg_forward(special_x, kernel, stride, padding, out_hw))
    for g in (spread((*x.shape[:2], *out_hw), kernels.dtype, seed=7),
              special((*x.shape[:2], *out_hw), kernels.dtype, seed=8)):
        assert_bits_equal(kernels.avg_backward(g, x.shape, kernel, stride, padding, grid),
                          PORTABLE_POOL.avg_backward(g, x.shape, kernel, stride, padding))


def test_avg_pool_counts_the_padding_zeros_on_a_hand_worked_case(kernels):
    x = np.array([[[[4.0, 8.0], [12.0, 16.0]]]], kernels.dtype)
    out = kernels.avg_forward(x, (2, 2), (2, 2), (1, 1), (2, 2), 1)
    np.testing.assert_array_equal(out, [[[[1.0, 2.0], [3.0, 4.0]]]])  # one element of four
    dx = kernels.avg_backward(np.ones((1, 1, 2, 2), kernels.dtype), x.shape, (2, 2), (2, 2),
                              (1, 1), 1)
    np.testing.assert_array_equal(dx, np.full((1, 1, 2, 2), 0.25))


# -- NVRTC -------------------------------------------------------------------------------------
NVRTC = find_nvrtc()


@pytest.mark.skipif(NVRTC is None, reason=nvrtc_missing_reason())
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("arch", ["compute_75", "compute_90"])
def test_conv_kernels_compile_with_nvrtc_without_local_memory_or_atomics(dtype, arch):
    entries = nvrtc_entries(NVRTC, conv_kernel_source(dtype), arch)
    assert sorted(entries) == sorted(CONV_KERNEL_NAMES)
    for name, body in entries.items():
        assert ".local" not in body, f"{name} spills to local memory"
        assert "atom." not in body, f"{name}: the gathers need no atomics"


@pytest.mark.skipif(NVRTC is None, reason=nvrtc_missing_reason())
def test_conv_source_compiles_in_one_module_with_the_dropout_source():
    """The two sources share no names: a backend may compile them as one module."""
    entries = nvrtc_entries(NVRTC, kernel_source("float64") + conv_kernel_source("float64"),
                            "compute_90")
    assert sorted(entries) == sorted(KERNEL_NAMES + CONV_KERNEL_NAMES)


def test_conv_kernel_source_exists_only_for_float_types():
    with pytest.raises(TypeError, match="float32, float64, not int32"):
        conv_kernel_source("int32")


def test_the_cupy_backend_compiles_each_kernel_from_the_source_that_defines_it():
    """CupyBackend.launch finds a kernel's module through SOURCES: every listed name is defined
    (as an extern "C" __global__ function) in its source, for both dtypes, and the backend
    lists the conv kernels, so CupyConvKernels and CupyPoolKernels take the fused paths."""
    from tinygrad_drop.backends import cupy_backend
    from tinygrad_drop.backends.cuda_conv_source import CONV_KERNEL_NAMES

    listed = [name for names, _ in cupy_backend.SOURCES for name in names]
    assert sorted(listed) == sorted(cupy_backend.CupyBackend.kernel_names)
    assert set(CONV_KERNEL_NAMES) <= set(listed) and len(set(listed)) == len(listed)
    for names, source in cupy_backend.SOURCES:
        for dtype in ("float32", "float64"):
            code = source(dtype)
            for name in names:
                assert f"__global__ void {name}(" in code, (name, dtype)
