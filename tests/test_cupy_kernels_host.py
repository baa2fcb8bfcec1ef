"""The CuPy backend's kernel calls (``backends/cupy_kernels.py``) run on the CPU, without CuPy:
a stand-in ``cupy`` module over NumPy and a backend whose launches go to the host-compiled CUDA
source (``cuda_host.py``). That checks what the GPU tests cannot check here: which kernel each
path launches, the argument lists against the kernels' signatures, the saved masks and their
descriptors, and how far the generator's offset moves, all against the NumPy backend drawing the
same Philox stream with ``PhiloxGenerator``. On a GPU, ``test_cupy_parity.py`` runs the real
thing.
"""

import numpy as np
import pytest
from cuda_host import (
    HostLaunchBackend,
    compile_or_skip,
    host_cupy,
    load_cupy_kernels,
)
from special_values import assert_bits_equal, assert_multiplied_by_mask, reference, special_data

import tinygrad_drop as td
from tinygrad_drop.backends import philox
from tinygrad_drop.backends.cuda_source import CTYPES, kernel_source
from tinygrad_drop.backends.generator import keep_threshold

SEED = 2 ** 50 + 7


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    """The kernels of every dtype compiled for the CPU."""
    workdir = str(tmp_path_factory.mktemp("cupy_host"))
    return {dtype: compile_or_skip(kernel_source(dtype), workdir, dtype) for dtype in CTYPES}


@pytest.fixture(scope="module")
def cupy_kernels():
    """``backends/cupy_kernels.py`` loaded against the stand-in ``cupy`` (then forgotten)."""
    fake = host_cupy()
    return load_cupy_kernels(fake, "tinygrad_drop.backends._cupy_kernels_on_host"), fake


class HostDeviceGenerator(philox.PhiloxStreamGenerator):
    """The CuPy backend's generator on the stand-in: masks from the keep-mask kernel."""

    def __init__(self, seed, kernels):
        self.kernels, self.xp = kernels, kernels.xp
        super().__init__(seed)

    def value_generator(self, seed):
        return np.random.default_rng(seed)

    def draw_mask(self, shape, keep):
        return self.kernels.keep_mask(shape, keep_threshold(keep), self.seed, self.take_offset())


@pytest.fixture(params=[False, True], ids=["stored", "regenerated"])
def device(request, cupy_kernels, libraries):
    """(dropout kernels, backend, fake cupy) with masks stored or regenerated."""
    module, fake = cupy_kernels
    backend = HostLaunchBackend(fake, libraries, blocks=3, regenerate_masks=request.param)
    return module.CupyDropoutKernels(backend), backend, fake


def numpy_kernels():
    """The NumPy backend's dropout kernels: the reference."""
    return td.backends.get("numpy").kernels("dropout")


def on_device(fake, values):
    """``values`` as a stand-in device array."""
    return fake.asarray(values)


def host_data(shape, dtype, seed=0):
    """Normal test data (shifted off zero) of ``shape`` and ``dtype``."""
    return (np.random.default_rng(seed).standard_normal(shape) + 0.25).astype(dtype)


# -- spatial dropout ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 6, 5, 5), (3, 5, 1, 1), (2, 7, 24, 24), (5, 3, 7),
                                   (1, 1, 2, 3)])
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_channel_forward_backward_and_mask_equal_the_numpy_backend(device, shape, dtype, mode):
    kernels, backend, fake = device
    keep = 0.55
    divisor = keep if mode == "inverted" else 1.0
    x, g = host_data(shape, dtype), host_data(shape, dtype, seed=1)
    generator = HostDeviceGenerator(SEED, kernels)
    host_generator = philox.PhiloxGenerator(SEED)
    generator.bernoulli_mask((3, 3), keep)  # offset 1 for the call under test
    host_generator.bernoulli_mask((3, 3), keep)
    backend.launches.clear()

    out, saved, kept = kernels.channel_forward(on_device(fake, x), keep, divisor, generator)
    cpu_out, cpu_saved, cpu_kept = numpy_kernels().channel_forward(x, keep, divisor,
                                                                   host_generator)
    assert backend.launches == ["td_dropout2d_forward"]  # one pass
    assert generator.offset == host_generator.offset == 2  # advanced as bernoulli_mask does
    np.testing.assert_array_equal(out, cpu_out)
    assert out.dtype == np.dtype(dtype)
    assert int(kept) == int(cpu_kept) == cpu_saved.sum()
    expected_mask = philox.dropout_mask(SEED, 1, shape[:2], keep)
    np.testing.assert_array_equal(cpu_saved.reshape(shape[:2]), expected_mask)
    if backend.regenerate_masks:
        assert type(saved).__name__ == "RegeneratedChannelMask" and saved.offset == 1
        assert saved.shape == cpu_saved.shape  # (N, C, 1, ...): N*C bits, zero bytes kept
    else:
        assert saved.dtype == np.bool_ and saved.shape == cpu_saved.shape
    np.testing.assert_array_equal(kernels.mask(saved), cpu_saved)

    backend.launches.clear()
    dx = kernels.backward(on_device(fake, g), saved, divisor)
    stored = "td_masked_scale" if cpu_saved.shape == shape else "td_channel_masked_scale"
    assert backend.launches == ["td_dropout2d_backward_regen" if backend.regenerate_masks
                                else stored]  # a (N, C, 1, 1) input's mask is its own shape
    np.testing.assert_array_equal(dx, numpy_kernels().backward(g, cpu_saved, divisor))


def test_channel_forward_of_a_non_contiguous_input_reads_it_in_order(device):
    kernels, backend, fake = device
    x = host_data((6, 5, 4, 3), "float32").transpose(1, 0, 3, 2)  # (5, 6, 3, 4), strided
    out, saved, _ = kernels.channel_forward(on_device(fake, x), 0.5, 0.5,
                                            HostDeviceGenerator(3, kernels))
    mask = philox.dropout_mask(3, 0, (5, 6), 0.5)
    np.testing.assert_array_equal(out, np.where(mask[:, :, None, None], x / np.float32(0.5), 0))


@pytest.mark.parametrize("shape", [(2, 3, 0, 4), (0, 3, 4, 4)])
def test_channel_forward_without_elements_still_draws_the_n_by_c_mask(device, shape):
    kernels, backend, fake = device
    generator = HostDeviceGenerator(9, kernels)
    out, saved, kept = kernels.channel_forward(on_device(fake, np.ones(shape, np.float32)), 0.5,
                                               0.5, generator)
    mask = philox.dropout_mask(9, 0, shape[:2], 0.5)
    assert out.shape == shape and generator.offset == 1
    assert backend.launches == (["td_keep_mask"] if mask.size else [])
    np.testing.assert_array_equal(np.reshape(kernels.mask(saved), shape[:2]), mask)
    assert int(kept) == mask.sum()


def test_a_host_generator_is_refused_naming_dropout2d(device):
    kernels, _, fake = device
    with pytest.raises(TypeError, match="dropout2d: the generator makes ndarray masks, not "
                                        "'cupy' arrays"):
        kernels.channel_forward(on_device(fake, np.ones((2, 3, 4, 4))), 0.5, 0.5,
                                philox.PhiloxGenerator(0))


# -- element-wise dropout through the same launch code ------------------------------------------
@pytest.mark.parametrize("dtype", sorted(CTYPES))
def test_elementwise_forward_and_backward_still_equal_the_numpy_backend(device, dtype):
    kernels, backend, fake = device
    x, g = host_data((33, 17), dtype), host_data((33, 17), dtype, seed=2)
    out, saved, kept = kernels.forward(on_device(fake, x), 0.7, 0.7,
                                       HostDeviceGenerator(SEED, kernels))
    cpu_out, cpu_mask, cpu_kept = numpy_kernels().forward(x, 0.7, 0.7,
                                                          philox.PhiloxGenerator(SEED))
    np.testing.assert_array_equal(out, cpu_out)
    assert int(kept) == int(cpu_kept)
    np.testing.assert_array_equal(kernels.mask(saved), cpu_mask)
    backend.launches.clear()
    np.testing.assert_array_equal(kernels.backward(on_device(fake, g), saved, 0.7),
                                  numpy_kernels().backward(g, cpu_mask, 0.7))
    regen = "td_dropout_backward_regen"
    assert backend.launches == [regen if backend.regenerate_masks else "td_masked_scale"]


# -- NaN, inf and signed zeros: dropout multiplies by the mask, ReLU's backward selects --------
@pytest.mark.parametrize("spatial", [False, True], ids=["dropout", "dropout2d"])
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_nan_inf_and_negatives_through_dropout_equal_the_numpy_backend(device, spatial, dtype,
                                                                       mode):
    # dropped NaN and inf give NaN, dropped negatives -0.0, forward and backward (stored and
    # regenerated masks), bit for bit with the NumPy backend under the same Philox stream
    kernels, backend, fake = device
    keep = 0.5
    divisor = keep if mode == "inverted" else 1.0
    x, g = special_data((6, 8, 5, 4), dtype), special_data((6, 8, 5, 4), dtype, seed=1)
    forward = "channel_forward" if spatial else "forward"
    out, saved, _ = getattr(kernels, forward)(on_device(fake, x), keep, divisor,
                                              HostDeviceGenerator(SEED, kernels))
    cpu_out, cpu_mask, _ = getattr(numpy_kernels(), forward)(x, keep, divisor,
                                                             philox.PhiloxGenerator(SEED))
    assert backend.launches == ["td_dropout2d_forward" if spatial else "td_dropout_forward"]
    assert_bits_equal(np.asarray(out), cpu_out)
    assert_bits_equal(cpu_out, reference(x, cpu_mask, divisor))
    assert_multiplied_by_mask(cpu_out, x, cpu_mask, divisor)
    dx = kernels.backward(on_device(fake, g), saved, divisor)
    assert_bits_equal(np.asarray(dx), reference(g, cpu_mask, divisor))
    assert_multiplied_by_mask(np.asarray(dx), g, cpu_mask, divisor)


@pytest.mark.parametrize("dtype", sorted(CTYPES))
def test_relu_backward_gives_zero_where_the_mask_is_off_even_for_nan_and_inf(cupy_kernels,
                                                                             libraries, dtype):
    # PyTorch's threshold_backward is a where: 0 where the mask is off, whatever the gradient;
    # dropout's stored-mask scale on the same inputs gives NaN there (0 * inf)
    module, fake = cupy_kernels
    backend = HostLaunchBackend(fake, libraries, blocks=3)
    g = special_data((21, 30), dtype)
    positive = np.random.default_rng(3).random((21, 30)) < 0.5
    out = module.CupyActivationKernels(backend).relu_backward(on_device(fake, g),
                                                              on_device(fake, positive))
    assert backend.launches == ["td_masked_select"]
    assert_bits_equal(np.asarray(out), np.where(positive, g, g.dtype.type(0)))
    assert not np.isnan(np.asarray(out)[~positive]).any()
    scaled = module.CupyDropoutKernels(backend).masked_scale(on_device(fake, g),
                                                             on_device(fake, positive), 1.0)
    assert backend.launches[-1] == "td_masked_scale"
    assert np.isnan(np.asarray(scaled)[~positive & ~np.isfinite(g)]).all()
