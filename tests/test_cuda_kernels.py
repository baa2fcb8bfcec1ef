"""The CuPy backend's CUDA kernels, checked without a GPU.

The source is compiled with the host C++ compiler under a sequential emulation of CUDA's
built-ins (``cuda_host.py``) and every kernel is compared, bit for bit, with the Philox stream's
NumPy definition (``backends/philox.py``) — over sizes with partial groups, grid sizes that make
the grid-stride loop wrap, and the vector and scalar paths. NVRTC then compiles the exact
source for real GPU architectures. On a GPU, ``test_cupy_parity.py`` runs the kernels
themselves.
"""

import ctypes
import math
import re

import numpy as np
import pytest
from cuda_host import (
    compile_or_skip,
    find_nvrtc,
    nvrtc_compile,
    nvrtc_entries,
    nvrtc_missing_reason,
)
from special_values import (
    assert_bits_equal,
    assert_multiplied_by_mask,
    reference,
    special_data,
)

import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor
from tinygrad_drop.backends import philox
from tinygrad_drop.backends.cuda_source import CTYPES, KERNEL_NAMES, kernel_source
from tinygrad_drop.backends.generator import keep_threshold

u64, u32 = ctypes.c_uint64, ctypes.c_uint32
SIZES = [1, 3, 4, 5, 64, 1001, 4099]
GRIDS = [1, 3, 64]  # one block loops over everything; 3 wraps unevenly; 64 leaves blocks idle


def aligned(values: np.ndarray, alignment: int = 64) -> np.ndarray:
    """A copy of ``values`` whose data starts on an ``alignment``-byte boundary."""
    raw = np.empty(values.nbytes + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    out = raw[start:start + values.nbytes].view(values.dtype).reshape(values.shape)
    out[...] = values
    return out


def ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)


class HostKernels:
    """The kernels of one dtype, compiled for the CPU, called like the CuPy backend calls them."""

    def __init__(self, lib: ctypes.CDLL, dtype: str) -> None:
        self.lib, self.dtype = lib, np.dtype(dtype)
        self.scalar = ctypes.c_float if dtype == "float32" else ctypes.c_double

    def forward(self, x, keep, divisor, seed, offset, grid, vector, with_mask=True):
        y = aligned(np.full_like(x, np.nan))
        mask = aligned(np.full(x.shape, 7, dtype=np.uint8)) if with_mask else None
        kept = np.zeros(1, dtype=np.uint64)
        self.lib.host_dropout_forward(
            u32(grid), ptr(x), ptr(y), None if mask is None else ptr(mask), u64(x.size),
            u32(keep_threshold(keep)), self.scalar(divisor), u64(seed), u64(offset), ptr(kept),
            ctypes.c_int(vector))
        return y, mask, int(kept[0])

    def backward_regen(self, g, keep, divisor, seed, offset, grid, vector):
        dx = aligned(np.full_like(g, np.nan))
        self.lib.host_dropout_backward_regen(
            u32(grid), ptr(g), ptr(dx), u64(g.size), u32(keep_threshold(keep)),
            self.scalar(divisor), u64(seed), u64(offset), ctypes.c_int(vector))
        return dx

    def masked_scale(self, x, mask, divisor, grid, vector):
        y = aligned(np.full_like(x, np.nan))
        self.lib.host_masked_scale(u32(grid), ptr(x), ptr(mask), ptr(y), u64(x.size),
                                   self.scalar(divisor), ctypes.c_int(vector))
        return y

    def masked_select(self, x, mask, grid, vector):
        y = aligned(np.full_like(x, np.nan))
        self.lib.host_masked_select(u32(grid), ptr(x), ptr(mask), ptr(y), u64(x.size),
                                    ctypes.c_int(vector))
        return y

    def keep_mask(self, n, keep, seed, offset, grid):
        mask = aligned(np.full(n, 7, dtype=np.uint8))
        self.lib.host_keep_mask(u32(grid), ptr(mask), u64(n), u32(keep_threshold(keep)),
                                u64(seed), u64(offset))
        return mask

    def forward2d(self, x, plane, keep, divisor, seed, offset, grid, vector, with_mask=True):
        """Spatial dropout of ``x`` (N*C planes of ``plane`` elements, flat): (y, channel mask
        or None, channels kept)."""
        y = aligned(np.full_like(x, np.nan))
        channels = x.size // plane
        mask = aligned(np.full(channels, 7, dtype=np.uint8)) if with_mask else None
        kept = np.zeros(1, dtype=np.uint64)
        self.lib.host_dropout2d_forward(
            u32(grid), ptr(x), ptr(y), None if mask is None else ptr(mask), u64(x.size),
            u64(plane), u32(keep_threshold(keep)), self.scalar(divisor), u64(seed), u64(offset),
            ptr(kept), ctypes.c_int(vector))
        return y, mask, int(kept[0])

    def backward2d_regen(self, g, plane, keep, divisor, seed, offset, grid, vector):
        dx = aligned(np.full_like(g, np.nan))
        self.lib.host_dropout2d_backward_regen(
            u32(grid), ptr(g), ptr(dx), u64(g.size), u64(plane), u32(keep_threshold(keep)),
            self.scalar(divisor), u64(seed), u64(offset), ctypes.c_int(vector))
        return dx

    def channel_masked_scale(self, x, mask, plane, divisor, grid, vector):
        y = aligned(np.full_like(x, np.nan))
        self.lib.host_channel_masked_scale(u32(grid), ptr(x), ptr(mask), ptr(y), u64(x.size),
                                           u64(plane), self.scalar(divisor), ctypes.c_int(vector))
        return y

    def words(self, seed, offset, group):
        out = np.zeros(4, dtype=np.uint32)
        self.lib.host_dropout_words(u64(seed), u64(offset), u64(group), ptr(out))
        return out


@pytest.fixture(scope="module", params=sorted(CTYPES))
def kernels(request, tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("cuda_host"))
    return HostKernels(compile_or_skip(kernel_source(request.param), workdir, request.param),
                       request.param)


def data(kernels, n, seed=0):
    return aligned(np.random.default_rng(seed).standard_normal(n).astype(kernels.dtype) + 0.5)


def expected_scaled(values, mask, divisor):
    return np.where(mask, values / values.dtype.type(divisor), values.dtype.type(0))


# -- Philox ------------------------------------------------------------------------------------
def test_device_philox_words_equal_the_host_definition(kernels):
    rng = np.random.default_rng(5)
    edges = [(0, 0, 0), (2 ** 64 - 1, 2 ** 64 - 1, 2 ** 64 - 1), (2 ** 32, 2 ** 32 - 1, 2 ** 32)]
    draws = [tuple(int(v) for v in rng.integers(0, 2 ** 64, 3, dtype=np.uint64))
             for _ in range(300)]
    for seed, offset, group in edges + draws:
        np.testing.assert_array_equal(kernels.words(seed, offset, group),
                                      philox.group_words(seed, offset, [group])[0],
                                      err_msg=f"seed={seed} offset={offset} group={group}")


# -- forward -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("vector", [0, 1])
def test_forward_is_the_streams_mask_applied_with_mask_and_count(kernels, n, grid, vector):
    keep, seed, offset = 0.7, 123456789012345, 77
    x = data(kernels, n)
    y, mask, kept = kernels.forward(x, keep, keep, seed, offset, grid, vector)
    reference = philox.dropout_mask(seed, offset, (n,), keep)
    np.testing.assert_array_equal(mask, reference.astype(np.uint8))
    np.testing.assert_array_equal(y, expected_scaled(x, reference, keep))
    assert kept == reference.sum()


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.2, 1e-4])
def test_forward_follows_the_threshold_at_every_rate(kernels, keep):
    n = 50_000
    x = data(kernels, n, seed=1)
    y, mask, kept = kernels.forward(x, keep, keep, 3, 0, 64, 1)
    reference = philox.dropout_mask(3, 0, (n,), keep)
    np.testing.assert_array_equal(mask.view(bool), reference)
    np.testing.assert_array_equal(y, expected_scaled(x, reference, keep))
    assert kept == reference.sum()


def test_vanilla_forward_divides_by_one_so_kept_values_are_unchanged(kernels):
    x = data(kernels, 1001)
    y, mask, _ = kernels.forward(x, 0.6, 1.0, 8, 2, 3, 1)
    np.testing.assert_array_equal(y, np.where(mask.view(bool), x, 0))


def test_forward_without_a_mask_buffer_gives_the_same_output_and_count(kernels):
    x = data(kernels, 4099)
    with_mask = kernels.forward(x, 0.8, 0.8, 5, 1, 3, 1)
    y, mask, kept = kernels.forward(x, 0.8, 0.8, 5, 1, 3, 1, with_mask=False)
    assert mask is None and kept == with_mask[2]
    np.testing.assert_array_equal(y, with_mask[0])


def test_forward_matches_the_numpy_backend_with_a_philox_generator_bit_for_bit(kernels):
    x_np = data(kernels, 64 * 33).reshape(64, 33)
    generator = philox.PhiloxGenerator(2024)
    F.dropout(Tensor(x_np, backend="numpy"), 0.25, generator=generator)  # offset 0
    cpu = F.dropout(Tensor(x_np, backend="numpy"), 0.25, generator=generator)  # offset 1
    gpu_kernel, _, _ = kernels.forward(x_np.reshape(-1), 0.75, 0.75, 2024, 1, 7, 1)
    np.testing.assert_array_equal(cpu.numpy().reshape(-1), gpu_kernel)


# -- backward and the mask alone ---------------------------------------------------------------
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("vector", [0, 1])
def test_regenerated_backward_redraws_the_forward_mask(kernels, n, vector):
    keep, seed, offset = 0.6, 99, 2 ** 40 + 3
    x, g = data(kernels, n, seed=2), data(kernels, n, seed=3)
    _, mask, _ = kernels.forward(x, keep, keep, seed, offset, 3, vector)
    dx = kernels.backward_regen(g, keep, keep, seed, offset, 3, vector)
    np.testing.assert_array_equal(dx, expected_scaled(g, mask.view(bool), keep))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("vector", [0, 1])
def test_masked_scale_applies_a_stored_mask(kernels, n, vector):
    g = data(kernels, n, seed=4)
    mask = aligned(np.random.default_rng(n).random(n) < 0.5)
    for divisor in (0.3, 1.0):
        np.testing.assert_array_equal(kernels.masked_scale(g, mask, divisor, 3, vector),
                                      expected_scaled(g, mask, divisor))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("grid", GRIDS)
def test_keep_mask_alone_is_the_forward_mask(kernels, n, grid):
    mask = kernels.keep_mask(n, 0.35, 17, 4, grid)
    np.testing.assert_array_equal(mask.view(bool), philox.dropout_mask(17, 4, (n,), 0.35))


def test_zero_elements_touch_nothing(kernels):
    x = aligned(np.zeros(0, dtype=kernels.dtype))
    y, mask, kept = kernels.forward(x, 0.5, 0.5, 0, 0, 1, 1)
    assert y.size == 0 and kept == 0


# -- spatial dropout (Dropout2d) -----------------------------------------------------------------
# (channels N*C, plane H*W): planes of 1 to 576 elements (576 = 24 x 24, the seed CNN's), channel
# counts that leave the last quad partial, groups that hold several channel starts (plane < 4)
CHANNEL_SHAPES = [(1, 1), (6, 1), (15, 3), (7, 4), (13, 5), (16, 5), (9, 576), (64, 2), (3, 1001)]
CHANNEL_GRIDS = [1, 3, 7, 64, 2000]  # 2000: more threads than groups for most shapes


def expected_channel_scaled(values, channel_mask, divisor):
    """The reference: each plane (row of ``values``) scaled or zeroed by its channel's bit."""
    planes = values.reshape(channel_mask.size, -1)
    return expected_scaled(planes, channel_mask[:, None], divisor).reshape(-1)


@pytest.mark.parametrize("channels, plane", CHANNEL_SHAPES)
@pytest.mark.parametrize("grid", CHANNEL_GRIDS)
@pytest.mark.parametrize("vector", [0, 1])
def test_dropout2d_forward_is_the_streams_channel_mask_applied(kernels, channels, plane, grid,
                                                               vector):
    keep, seed, offset = 0.6, 2 ** 63 + 12345, 2 ** 33 + 9
    x = data(kernels, channels * plane, seed=channels + plane)
    for divisor in (keep, 1.0):  # inverted and vanilla
        y, mask, kept = kernels.forward2d(x, plane, keep, divisor, seed, offset, grid, vector)
        reference = philox.dropout_mask(seed, offset, (channels,), keep)
        np.testing.assert_array_equal(mask, reference.astype(np.uint8))
        np.testing.assert_array_equal(y, expected_channel_scaled(x, reference, divisor))
        assert kept == reference.sum()  # each channel counted once, whatever the grid


@pytest.mark.parametrize("grid", CHANNEL_GRIDS)
def test_dropout2d_channel_bits_are_the_host_generators_n_by_c_mask(kernels, grid):
    # The generator's third (N, C) draw: offset 2, exactly as bernoulli_mask advances it.
    n, c, plane, keep = 10, 7, 9, 0.5
    generator = philox.PhiloxGenerator(77)
    for _ in range(2):
        generator.bernoulli_mask((n, c), keep)
    host_mask = generator.bernoulli_mask((n, c), keep)
    assert generator.offset == 3
    x = data(kernels, n * c * plane, seed=4)
    y, mask, kept = kernels.forward2d(x, plane, keep, keep, 77, 2, grid, 1)
    np.testing.assert_array_equal(mask.view(bool).reshape(n, c), host_mask)
    assert kept == host_mask.sum() and 0 < kept < n * c


@pytest.mark.parametrize("keep", [0.999, 0.3, 1e-3])
def test_dropout2d_forward_follows_the_threshold_at_every_rate(kernels, keep):
    channels, plane = 20_000, 3
    x = data(kernels, channels * plane, seed=5)
    y, mask, kept = kernels.forward2d(x, plane, keep, keep, 11, 4, 64, 1)
    reference = philox.dropout_mask(11, 4, (channels,), keep)
    np.testing.assert_array_equal(mask.view(bool), reference)
    np.testing.assert_array_equal(y, expected_channel_scaled(x, reference, keep))
    assert kept == reference.sum()


def test_dropout2d_forward_without_a_mask_buffer_gives_the_same_output_and_count(kernels):
    x = data(kernels, 13 * 5)
    y_mask, _, kept_mask = kernels.forward2d(x, 5, 0.5, 0.5, 3, 0, 3, 1)
    y, mask, kept = kernels.forward2d(x, 5, 0.5, 0.5, 3, 0, 3, 1, with_mask=False)
    assert mask is None and kept == kept_mask
    np.testing.assert_array_equal(y, y_mask)


def test_dropout2d_forward_adds_to_the_count_it_is_given(kernels):
    # kept is a running total (atomicAdd): the CuPy side zeroes it before each launch
    x = data(kernels, 15 * 3)
    _, mask, kept = kernels.forward2d(x, 3, 0.5, 0.5, 1, 1, 3, 1)
    total = np.full(1, 1000, dtype=np.uint64)
    kernels.lib.host_dropout2d_forward(
        u32(3), ptr(x), ptr(aligned(np.empty_like(x))), None, u64(x.size), u64(3),
        u32(keep_threshold(0.5)), kernels.scalar(0.5), u64(1), u64(1), ptr(total),
        ctypes.c_int(1))
    assert int(total[0]) == 1000 + kept == 1000 + mask.sum()


@pytest.mark.parametrize("channels, plane", CHANNEL_SHAPES)
@pytest.mark.parametrize("vector", [0, 1])
def test_dropout2d_regenerated_backward_redraws_the_forward_channels(kernels, channels, plane,
                                                                     vector):
    keep, seed, offset = 0.45, 5, 6
    x, g = data(kernels, channels * plane, seed=1), data(kernels, channels * plane, seed=2)
    for grid in (1, 7, 2000):
        _, mask, _ = kernels.forward2d(x, plane, keep, keep, seed, offset, grid, vector)
        for divisor in (keep, 1.0):
            dx = kernels.backward2d_regen(g, plane, keep, divisor, seed, offset, grid, vector)
            np.testing.assert_array_equal(dx, expected_channel_scaled(g, mask.view(bool),
                                                                      divisor))


@pytest.mark.parametrize("channels, plane", CHANNEL_SHAPES)
@pytest.mark.parametrize("grid", [1, 3, 64])
@pytest.mark.parametrize("vector", [0, 1])
def test_channel_masked_scale_applies_a_stored_channel_mask(kernels, channels, plane, grid,
                                                            vector):
    g = data(kernels, channels * plane, seed=3)
    stored = np.random.default_rng(channels * plane).random(channels) < 0.5
    mask = aligned(stored.astype(np.uint8) * np.uint8(3))  # any nonzero byte keeps
    for divisor in (0.3, 1.0):
        np.testing.assert_array_equal(
            kernels.channel_masked_scale(g, mask, plane, divisor, grid, vector),
            expected_channel_scaled(g, stored, divisor))


def test_dropout2d_kernels_match_the_numpy_backend_with_a_philox_generator(kernels):
    # F.dropout2d on NumPy with the host generator: forward, mask and backward bit for bit.
    shape, keep = (6, 5, 3, 7), 0.65
    x_np = data(kernels, math.prod(shape)).reshape(shape)
    g_np = data(kernels, math.prod(shape), seed=9).reshape(shape)
    generator = philox.PhiloxGenerator(2 ** 40 + 1)
    F.dropout(Tensor(x_np, backend="numpy"), 0.5, generator=generator)  # offset 0
    x = Tensor(x_np, backend="numpy", requires_grad=True)
    y = F.dropout2d(x, 1 - keep, generator=generator)  # offset 1
    channel_mask = y.grad_fn.mask()
    y.backward(Tensor(g_np, backend="numpy"))
    plane = shape[2] * shape[3]
    out, mask, kept = kernels.forward2d(x_np.reshape(-1), plane, keep, keep, 2 ** 40 + 1, 1, 7, 1)
    np.testing.assert_array_equal(mask.view(bool).reshape(6, 5), channel_mask)
    np.testing.assert_array_equal(out.reshape(shape), y.numpy())
    assert kept == channel_mask.sum()
    stored = kernels.channel_masked_scale(g_np.reshape(-1), mask, plane, keep, 3, 1)
    regen = kernels.backward2d_regen(g_np.reshape(-1), plane, keep, keep, 2 ** 40 + 1, 1, 3, 1)
    np.testing.assert_array_equal(stored.reshape(shape), x.grad.numpy())
    np.testing.assert_array_equal(regen.reshape(shape), x.grad.numpy())


def test_dropout2d_with_no_channels_touches_nothing(kernels):
    x = aligned(np.zeros(0, dtype=kernels.dtype))
    y, mask, kept = kernels.forward2d(x, 3, 0.5, 0.5, 0, 0, 1, 1)
    assert y.size == 0 and mask.size == 0 and kept == 0


# -- NaN, inf and signed zeros ------------------------------------------------------------------
# Dropout multiplies by the mask (PyTorch's rule): every dropout kernel equals NumPy's
# x * mask / divisor bit for bit, a dropped NaN or inf being NaN and a dropped negative -0.0;
# ReLU's select (td_masked_select) gives 0 where the mask is off, whatever the value there.
@pytest.mark.parametrize("n", [5, 1001])
@pytest.mark.parametrize("grid", [1, 3])
@pytest.mark.parametrize("vector", [0, 1])
def test_elementwise_kernels_multiply_nan_inf_and_negatives_by_the_mask(kernels, n, grid,
                                                                        vector):
    keep, seed, offset = 0.5, 31, 4
    x = aligned(special_data((n,), kernels.dtype.name))
    for divisor in (keep, 1.0):  # inverted and vanilla
        y, mask, _ = kernels.forward(x, keep, divisor, seed, offset, grid, vector)
        mask = mask.view(bool)
        np.testing.assert_array_equal(mask, philox.dropout_mask(seed, offset, (n,), keep))
        assert_bits_equal(y, reference(x, mask, divisor))
        assert_bits_equal(kernels.backward_regen(x, keep, divisor, seed, offset, grid, vector),
                          reference(x, mask, divisor))
        assert_bits_equal(kernels.masked_scale(x, aligned(mask), divisor, grid, vector),
                          reference(x, mask, divisor))
        if n > 100:  # enough elements to meet every special value both kept and dropped
            assert_multiplied_by_mask(y, x, mask, divisor)


@pytest.mark.parametrize("channels, plane", [(13, 5), (16, 7), (9, 64), (6, 1)])
@pytest.mark.parametrize("grid", [1, 7, 2000])
@pytest.mark.parametrize("vector", [0, 1])
def test_spatial_kernels_multiply_nan_inf_and_negatives_by_the_channel_mask(kernels, channels,
                                                                            plane, grid, vector):
    keep, seed, offset = 0.5, 2 ** 40 + 3, 2
    x = aligned(special_data((channels * plane,), kernels.dtype.name, seed=plane))
    for divisor in (keep, 1.0):
        y, mask, _ = kernels.forward2d(x, plane, keep, divisor, seed, offset, grid, vector)
        mask = mask.view(bool)
        expected = reference(x.reshape(channels, plane), mask[:, None], divisor).reshape(-1)
        assert_bits_equal(y, expected)
        assert_bits_equal(kernels.backward2d_regen(x, plane, keep, divisor, seed, offset, grid,
                                                   vector), expected)
        assert_bits_equal(kernels.channel_masked_scale(x, aligned(mask), plane, divisor, grid,
                                                       vector), expected)
        if channels * plane > 500:
            assert_multiplied_by_mask(y.reshape(channels, plane), x.reshape(channels, plane),
                                      mask[:, None], divisor)


@pytest.mark.parametrize("n", [5, 1001])
@pytest.mark.parametrize("vector", [0, 1])
def test_masked_select_gives_zero_where_the_mask_is_off_even_for_nan_and_inf(kernels, n,
                                                                             vector):
    # ReLU's and clamp's backward: PyTorch's threshold_backward is a where, not a product
    g = aligned(special_data((n,), kernels.dtype.name))
    mask = aligned(np.random.default_rng(n).random(n) < 0.5)
    out = kernels.masked_select(g, mask, 3, vector)
    assert_bits_equal(out, np.where(mask, g, kernels.dtype.type(0)))
    assert not np.isnan(out[~mask]).any() and not np.signbit(out[~mask]).any()
    assert np.isnan(out[mask & np.isnan(g)]).all()


# -- NVRTC -------------------------------------------------------------------------------------
NVRTC = find_nvrtc()


@pytest.mark.skipif(NVRTC is None, reason=nvrtc_missing_reason())
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("arch", ["compute_75", "compute_90"])
def test_kernels_compile_with_nvrtc_without_warnings(dtype, arch):
    code, log, ptx = nvrtc_compile(NVRTC, kernel_source(dtype),
                                   [f"--gpu-architecture={arch}", "-std=c++17"])
    assert code == 0, f"NVRTC failed for {dtype} on {arch}:\n{log}"
    assert "warning" not in log.lower(), log
    for name in KERNEL_NAMES:
        assert f".entry {name}(" in ptx.decode(), f"{name} missing from the PTX"
    if dtype == "float32":  # the vector path really is 128-bit loads and stores
        assert b"ld.global.nc.v4.f32" in ptx and b"st.global.v4.f32" in ptx


@pytest.mark.skipif(NVRTC is None, reason=nvrtc_missing_reason())
@pytest.mark.parametrize("dtype, width", [("float32", "v4.f32"), ("float64", "v2.f64")])
def test_spatial_kernels_load_vectors_keep_their_bits_in_registers_and_divide_once(dtype,
                                                                                  width):
    entries = nvrtc_entries(NVRTC, kernel_source(dtype), "compute_90")
    for name in ("td_dropout2d_forward", "td_dropout2d_backward_regen",
                 "td_channel_masked_scale"):
        body = entries[name]
        assert f"ld.global.nc.{width}" in body and f"st.global.{width}" in body, name
        assert ".local" not in body, f"{name} spills to local memory"
        # the walk divides by plane before its loop (quad, stride / plane; channels for the
        # stored mask): a fixed count, never one per element group
        assert len(re.findall(r"\b(?:div|rem)\.u64", body)) <= 4, name
    philox_rounds = entries["td_dropout2d_forward"].count("mul.hi.u32")
    assert philox_rounds == 20, "one Philox call (10 rounds, 2 high products each) in forward"


def test_kernel_source_exists_only_for_float_types():
    with pytest.raises(TypeError, match="float32, float64, not int32"):
        kernel_source("int32")
