"""Dropout in a captured step (``td.jit``), checked on the CPU: the ``_at`` Philox kernels (seed
and offset read from device memory plus a per-draw delta) and ``td_advance_offset`` run in the
host emulation of the CUDA source, and ``backends/cupy_kernels.py`` runs against a stand-in
``cupy`` whose backend records launches as a CUDA graph does (``HostGraphBackend``:
kernels and arguments kept at capture, run again on replay, on the same arrays). Reference:
``philox.PhiloxGenerator``, the host definition of the stream: k replays must draw what k eager
steps draw, and eager draws after replays continue the same stream."""

import ctypes

import numpy as np
import pytest
from cuda_host import HostDeviceArray, compile_or_skip, host_cupy, load_cupy_kernels
from cuda_host_capture import POSITION_HOST_LAUNCHERS, HostGraphBackend
from test_cupy_kernels_host import HostDeviceGenerator

from tinygrad_drop.backends import philox
from tinygrad_drop.backends.capture import CaptureError
from tinygrad_drop.backends.cuda_source import CTYPES, POSITIONED, kernel_source
from tinygrad_drop.backends.generator import keep_threshold

SEED = 2 ** 40 + 123
u32, u64 = ctypes.c_uint32, ctypes.c_uint64


def ptr(a):
    return ctypes.c_void_p(a.ctypes.data)


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    """The kernels of every dtype, with the positioned launchers, compiled for the CPU."""
    workdir = str(tmp_path_factory.mktemp("jit_philox"))
    return {dtype: compile_or_skip(kernel_source(dtype), workdir, dtype, POSITION_HOST_LAUNCHERS)
            for dtype in CTYPES}


@pytest.fixture(scope="module")
def module():
    """``backends/cupy_kernels.py`` against the stand-in ``cupy``."""
    return load_cupy_kernels(host_cupy(), "tinygrad_drop.backends._cupy_kernels_jit_host")


class StandInGenerator(HostDeviceGenerator):
    """The CuPy generator on the stand-in, masks drawn as ``CupyGenerator.draw_mask`` draws
    them (from the device position while capturing)."""

    def draw_mask(self, shape, keep):
        return self.kernels.drawn_mask(shape, keep_threshold(keep), self.take_draw())


def make(module, libraries, regenerate=False, blocks=3):
    backend = HostGraphBackend(module.cupy, libraries, blocks=blocks,
                               regenerate_masks=regenerate)
    kernels = module.CupyDropoutKernels(backend)
    return backend, kernels, StandInGenerator(SEED, kernels)


# -- the kernels themselves ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("base, delta", [(0, 0), (5, 3), (2 ** 32 - 2, 7), (2 ** 63, 1)])
def test_positioned_kernels_draw_at_the_device_offset_plus_delta(libraries, dtype, base, delta):
    lib, n, threshold, divisor = libraries[dtype], 1003, keep_threshold(0.6), 0.6
    x = np.random.default_rng(1).standard_normal(n).astype(dtype)
    position = np.array([SEED, base], dtype=np.uint64)
    offset = (base + delta) % 2 ** 64
    expected = philox.dropout_mask(SEED, offset, (n,), 0.6)
    c_divisor = ctypes.c_float(divisor) if dtype == "float32" else ctypes.c_double(divisor)

    y, mask, kept = np.empty_like(x), np.empty(n, np.uint8), np.zeros(1, np.uint64)
    lib.host_dropout_forward_at(u32(7), ptr(x), ptr(y), ptr(mask), u64(n), u32(threshold),
                                c_divisor, ptr(position), u64(delta), ptr(kept), 0)
    np.testing.assert_array_equal(mask.astype(bool), expected)
    assert kept[0] == expected.sum()
    y_value, mask_value = np.empty_like(x), np.empty(n, np.uint8)
    kept_value = np.zeros(1, np.uint64)
    lib.host_dropout_forward(u32(7), ptr(x), ptr(y_value), ptr(mask_value), u64(n),
                             u32(threshold), c_divisor, u64(SEED), u64(offset), ptr(kept_value), 0)
    assert y.tobytes() == y_value.tobytes()

    dx, dx_value = np.empty_like(x), np.empty_like(x)
    lib.host_dropout_backward_regen_at(u32(5), ptr(x), ptr(dx), u64(n), u32(threshold), c_divisor,
                                       ptr(position), u64(delta), 0)
    lib.host_dropout_backward_regen(u32(5), ptr(x), ptr(dx_value), u64(n), u32(threshold),
                                    c_divisor, u64(SEED), u64(offset), 0)
    assert dx.tobytes() == dx_value.tobytes()

    keep = np.empty(n, np.uint8)
    lib.host_keep_mask_at(u32(3), ptr(keep), u64(n), u32(threshold), ptr(position), u64(delta))
    np.testing.assert_array_equal(keep.astype(bool), expected)

    # spatial: (N, C) = (6, 5) channels of 7 elements; channel bits are the (N, C) stream's
    plane, channels = 7, 30
    x2 = np.random.default_rng(2).standard_normal(channels * plane).astype(dtype)
    y2, y2_value = np.empty_like(x2), np.empty_like(x2)
    m2, m2_value = np.empty(channels, np.uint8), np.empty(channels, np.uint8)
    k2, k2_value = np.zeros(1, np.uint64), np.zeros(1, np.uint64)
    lib.host_dropout2d_forward_at(u32(4), ptr(x2), ptr(y2), ptr(m2), u64(x2.size), u64(plane),
                                  u32(threshold), c_divisor, ptr(position), u64(delta), ptr(k2), 0)
    lib.host_dropout2d_forward(u32(4), ptr(x2), ptr(y2_value), ptr(m2_value), u64(x2.size),
                               u64(plane), u32(threshold), c_divisor, u64(SEED), u64(offset),
                               ptr(k2_value), 0)
    np.testing.assert_array_equal(m2.astype(bool), philox.dropout_mask(SEED, offset, (6, 5),
                                                                       0.6).reshape(-1))
    assert y2.tobytes() == y2_value.tobytes() and k2[0] == k2_value[0]
    d2, d2_value = np.empty_like(x2), np.empty_like(x2)
    lib.host_dropout2d_backward_regen_at(u32(4), ptr(x2), ptr(d2), u64(x2.size), u64(plane),
                                         u32(threshold), c_divisor, ptr(position), u64(delta), 0)
    lib.host_dropout2d_backward_regen(u32(4), ptr(x2), ptr(d2_value), u64(x2.size), u64(plane),
                                      u32(threshold), c_divisor, u64(SEED), u64(offset), 0)
    assert d2.tobytes() == d2_value.tobytes()
    assert position.tolist() == [SEED, base]  # the drawing kernels only read it


@pytest.mark.parametrize("blocks", [1, 4])
def test_advance_offset_adds_the_draws_once_whatever_the_grid(libraries, blocks):
    position = np.array([SEED, 2 ** 64 - 2], dtype=np.uint64)
    libraries["float32"].host_advance_offset(u32(blocks), ptr(position), u64(5))
    assert position.tolist() == [SEED, 3]  # wraps as the 64-bit offset does


def test_every_drawing_kernel_has_a_positioned_twin():
    source = kernel_source("float32")
    for name in POSITIONED:
        assert f"void {name}(" in source and f"void {name}_at(" in source


# -- replays through cupy_kernels and the generator ------------------------------------------------
SHAPES = [((33, 10), 0.8), ((64,), 0.5), ((4, 3, 5, 5), 0.7)]  # the last one spatially


def eager_reference(offsets):
    """The masks ``PhiloxGenerator`` draws for SHAPES at each step's offsets."""
    return [philox.dropout_mask(SEED, offset, shape[:2] if len(shape) == 4 else shape, keep)
            for offset, (shape, keep) in zip(offsets, SHAPES * (len(offsets) // len(SHAPES)),
                                             strict=True)]


def step(kernels, generator, data, backward=False):
    """One 'training step': a dropout call per SHAPES entry; its outputs (and gradients)."""
    outs = []
    for x, (shape, keep) in zip(data, SHAPES, strict=True):
        if len(shape) == 4:
            out, saved, _ = kernels.channel_forward(x, keep, keep, generator)
        else:
            out, saved, _ = kernels.forward(x, keep, keep, generator)
        outs.append((out, kernels.backward(x, saved, keep) if backward else None))
    return outs


def masks_of(outs, data):
    """The masks each output shows (x is nonzero everywhere: kept where out != 0)."""
    masks = []
    for (out, _), x in zip(outs, data, strict=True):
        kept = np.asarray(out) != 0
        masks.append(kept[:, :, 0, 0] if x.ndim == 4 else kept)
    return masks


@pytest.mark.parametrize("regenerate", [False, True], ids=["stored", "regenerated"])
def test_replays_draw_the_masks_of_eager_steps_and_eager_draws_continue(module, libraries,
                                                                        regenerate):
    backend, kernels, generator = make(module, libraries, regenerate)
    rng = np.random.default_rng(3)
    data = [HostDeviceArray.__new__(HostDeviceArray, shape, np.float32) for shape, _ in SHAPES]
    for x in data:
        x[...] = rng.uniform(0.5, 1.5, x.shape)
    d = len(SHAPES)
    masks = masks_of(step(kernels, generator, data), data)  # warm-up, eager: offsets 0..d-1

    position = generator.begin_capture()
    backend.begin_capture()
    outs = step(kernels, generator, data, backward=True)
    draws = generator.offset - generator.capture_start
    kernels.advance_position(position, draws)
    recording = backend.end_capture()
    assert generator.end_capture() == d and generator.offset == d
    assert [launch[1] for launch in recording] == (
        ["td_dropout_forward_at", "td_dropout_backward_regen_at"] * 2
        + ["td_dropout2d_forward_at", "td_dropout2d_backward_regen_at"] + ["td_advance_offset"]
        if regenerate else
        ["td_dropout_forward_at", "td_masked_scale"] * 2
        + ["td_dropout2d_forward_at", "td_channel_masked_scale"] + ["td_advance_offset"])

    replays = 3
    for _ in range(replays):
        generator.device_position()
        backend.replay(recording)
        generator.replayed(draws)
        replayed = masks_of(outs, data)
        masks += replayed
        for out, grad in outs:  # backward redrew (or read) the forward's mask
            assert np.array_equal(np.asarray(grad) != 0, np.asarray(out) != 0)
    assert generator.offset == d * (1 + replays) and position.tolist() == [SEED, generator.offset]
    np.testing.assert_equal(masks, eager_reference(range(d * (1 + replays))))

    # an eager step between replays moves the host on; the next replay starts after it
    masks += masks_of(step(kernels, generator, data), data)
    generator.device_position()
    backend.replay(recording)
    generator.replayed(draws)
    masks += masks_of(outs, data)
    np.testing.assert_equal(masks, eager_reference(range(d * (3 + replays))))


def test_manual_seed_between_replays_restarts_the_stream(module, libraries):
    backend, kernels, generator = make(module, libraries)
    x = HostDeviceArray.__new__(HostDeviceArray, (40,), np.float64)
    x[...] = 1.0
    position = generator.begin_capture()
    backend.begin_capture()
    out, _, _ = kernels.forward(x, 0.5, 0.5, generator)
    kernels.advance_position(position, 1)
    recording = backend.end_capture()
    generator.end_capture()
    generator.manual_seed(99)
    generator.device_position()
    backend.replay(recording)
    generator.replayed(1)
    np.testing.assert_array_equal(np.asarray(out) != 0, philox.dropout_mask(99, 0, (40,), 0.5))
    assert generator.offset == 1


def test_a_replay_from_a_stale_position_is_refused(module, libraries):
    _, _, generator = make(module, libraries)
    generator.begin_capture()
    generator.take_draw()
    assert generator.end_capture() == 1
    generator.take_draw()  # an eager draw, and no device_position() before the "replay"
    with pytest.raises(RuntimeError, match="stale device position"):
        generator.replayed(1)


def test_masks_drawn_by_the_generator_under_capture_read_the_position(module, libraries):
    backend, kernels, generator = make(module, libraries)
    generator.begin_capture()
    generator.take_draw()
    backend.begin_capture()
    mask = generator.bernoulli_mask((9, 7), 0.3)
    recording = backend.end_capture()
    assert generator.end_capture() == 2
    assert [launch[1] for launch in recording] == ["td_keep_mask_at"]
    generator.offset = 4  # as if replays had moved it on: the recorded kernel reads the device
    generator.device_position()
    backend.replay(recording)
    np.testing.assert_array_equal(mask, philox.dropout_mask(SEED, 5, (9, 7), 0.3))


def test_a_generator_outside_the_capture_is_an_error_while_capturing(module, libraries):
    backend, kernels, _ = make(module, libraries)
    other = StandInGenerator(5, kernels)  # never told about the capture
    x = HostDeviceArray.__new__(HostDeviceArray, (8,), np.float32)
    x[...] = 1.0
    backend.begin_capture()
    with pytest.raises(CaptureError, match="not the backend's"):
        kernels.forward(x, 0.5, 0.5, other)
    backend.end_capture()
    kernels.forward(x, 0.5, 0.5, other)  # eagerly it is fine
