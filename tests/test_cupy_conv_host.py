"""The CuPy backend's convolution and pooling kernel calls (``CupyConvKernels``,
``CupyPoolKernels`` in ``backends/cupy_kernels.py``) run on the CPU, without CuPy: that module is
loaded against a stand-in ``cupy`` over NumPy and serves the conv and pool families of a NumPy
backend whose launches go to the host-compiled CUDA source (``cuda_host.HostCupyBackend``). So
``F.conv2d``, ``F.max_pool2d`` and ``F.avg_pool2d`` run through the real ops and autograd with
the CuPy code paths: the argument lists against the kernels' signatures, the layouts between
launches and products, and the launches each layer makes, all checked against the NumPy
backend. On a GPU, ``test_cupy_parity.py`` runs the real thing.
"""

import numpy as np
import pytest
from cuda_host import (
    CONV_HOST_LAUNCHERS,
    HostCupyBackend,
    compile_or_skip,
    host_cupy,
    load_cupy_kernels,
)

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor
from tinygrad_drop.backends.cuda_conv_source import conv_kernel_source
from tinygrad_drop.backends.cuda_source import CTYPES
from tinygrad_drop.backends.kernels import ConvKernels

# float64 products summed in another order (one GEMM over N*OH*OW instead of per sample)
TOLERANCE = {"float64": {"rtol": 1e-12, "atol": 1e-12}, "float32": {"rtol": 2e-5, "atol": 2e-5}}


@pytest.fixture(scope="module")
def module_and_libraries(tmp_path_factory):
    """``cupy_kernels`` on the stand-in cupy and the conv kernels compiled for the CPU."""
    workdir = str(tmp_path_factory.mktemp("cupy_conv_host"))
    libraries = {dtype: compile_or_skip(conv_kernel_source(dtype), workdir, dtype,
                                        CONV_HOST_LAUNCHERS) for dtype in CTYPES}
    module = load_cupy_kernels(host_cupy(np.ndarray), "tinygrad_drop.backends._cupy_conv_on_host")
    return module, libraries


@pytest.fixture
def device(module_and_libraries):
    """A fresh NumPy backend with the CuPy conv and pool kernels, launching on the host."""
    return HostCupyBackend(*module_and_libraries)


def data(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def conv_run(backend, x, w, b, g, **kwargs):
    """Output and gradients (input, weight, bias) of ``F.conv2d`` on ``backend``, the output's
    gradient being ``g``; and the kernels launched by forward and by backward."""
    xt = Tensor(x, backend=backend, requires_grad=True)
    wt = Tensor(w, backend=backend, requires_grad=True)
    bt = None if b is None else Tensor(b, backend=backend, requires_grad=True)
    launches = getattr(backend, "launches", [])
    launches.clear()
    y = F.conv2d(xt, wt, bt, **kwargs)
    forward = list(launches)
    launches.clear()
    y.backward(Tensor(g, backend=backend))
    grads = [None if t is None else t.grad.numpy() for t in (xt, wt, bt)]
    return [y.numpy(), *grads], forward, list(launches)


# (input shape, weight shape, keyword arguments)
CONV_CASES = [
    ((2, 3, 9, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 8), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((1, 4, 11, 10), (6, 2, 3, 3), {"stride": (1, 2), "dilation": 2, "padding": (2, 1),
                                    "groups": 2}),
    ((3, 2, 7, 9), (5, 2, 2, 3), {"stride": (2, 1), "padding": (1, 0)}),
    ((2, 6, 5, 5), (3, 6, 1, 1), {}),
    ((2, 4, 6, 7), (4, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise
    ((1, 1, 4, 4), (1, 1, 4, 4), {}),  # one output element
    ((2, 3, 6, 6), (4, 3, 2, 2), {"padding": "same"}),  # even kernel: F.pad then conv
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_forward_and_backward_equal_the_numpy_backend(device, x_shape, w_shape, kwargs,
                                                              dtype, with_bias):
    x, w = data(x_shape, dtype), data(w_shape, dtype, seed=1)
    b = data((w_shape[0],), dtype, seed=2) if with_bias else None
    out_shape = F.conv2d(Tensor(x), Tensor(w), **kwargs).shape
    g = data(out_shape, dtype, seed=3)
    got, forward, backward = conv_run(device, x, w, b, g, **kwargs)
    expected, _, _ = conv_run(td.backends.get("numpy"), x, w, b, g, **kwargs)
    for name, actual, wanted in zip(["output", "input grad", "weight grad", "bias grad"], got,
                                    expected, strict=True):
        if wanted is None:
            continue
        assert actual.dtype == wanted.dtype and actual.shape == wanted.shape, name
        np.testing.assert_allclose(actual, wanted, **TOLERANCE[dtype], err_msg=name)
    padded = kwargs.get("padding", 0) not in (0, "same")
    assert forward == ["td_pad"] * padded + ["td_im2col", "td_swap01"]
    assert backward == ["td_swap01", "td_im2col", "td_col2im"]


def test_conv2d_launches_only_for_the_gradients_needed(device):
    x, w, b = data((2, 3, 8, 8), "float64"), data((4, 3, 3, 3), "float64", 1), np.zeros(4)
    g = data((2, 4, 6, 6), "float64", 2)
    reference = td.backends.get("numpy")
    for needs, launched in (((False, True), ["td_swap01", "td_im2col"]),  # a first layer
                            ((True, False), ["td_swap01", "td_col2im"])):
        grads = []
        for backend in (device, reference):
            xt = Tensor(x, backend=backend, requires_grad=needs[0])
            wt = Tensor(w, backend=backend, requires_grad=needs[1])
            y = F.conv2d(xt, wt, Tensor(b, backend=backend))
            device.launches.clear()
            y.backward(Tensor(g, backend=backend))
            grads.append((xt if needs[0] else wt).grad.numpy())
            if backend is device:
                assert device.launches == launched
        np.testing.assert_allclose(grads[0], grads[1], **TOLERANCE["float64"])


def test_conv2d_of_an_empty_batch_launches_nothing_and_matches(device):
    x, w, b = np.zeros((0, 3, 5, 5)), data((4, 3, 3, 3), "float64"), data((4,), "float64", 1)
    got, forward, backward = conv_run(device, x, w, b, np.zeros((0, 4, 5, 5)), padding=1)
    assert forward == backward == []
    assert got[0].shape == (0, 4, 5, 5) and got[1].shape == x.shape
    np.testing.assert_array_equal(got[2], np.zeros_like(w))
    np.testing.assert_array_equal(got[3], np.zeros(4))


def test_conv2d_of_a_non_contiguous_input_reads_it_in_order(device):
    x = data((5, 2, 9, 7), "float64").transpose(1, 0, 3, 2)  # (2, 5, 7, 9), strided
    w = data((3, 5, 3, 3), "float64", 1)
    got = F.conv2d(Tensor(x, backend=device), Tensor(w, backend=device), stride=2).numpy()
    expected = F.conv2d(Tensor(np.ascontiguousarray(x)), Tensor(w), stride=2).numpy()
    np.testing.assert_allclose(got, expected, **TOLERANCE["float64"])


def test_a_backend_that_does_not_launch_the_conv_kernels_takes_the_portable_paths(device):
    device.kernel_names = ()  # e.g. a third party's CuPy-based backend with its own launch
    x, w = data((2, 3, 7, 7), "float64"), data((4, 3, 3, 3), "float64", 1)
    g = data((2, 4, 5, 5), "float64", 2)
    got, forward, backward = conv_run(device, x, w, None, g)
    expected, _, _ = conv_run(td.backends.get("numpy"), x, w, None, g)
    assert forward == backward == []
    for actual, wanted in zip(got[:3], expected[:3], strict=True):
        np.testing.assert_allclose(actual, wanted, **TOLERANCE["float64"])
    y = F.max_pool2d(Tensor(x, backend=device), 2)
    assert device.launches == []
    np.testing.assert_array_equal(y.numpy(), F.max_pool2d(Tensor(x), 2).numpy())


@pytest.mark.parametrize("dtype", sorted(CTYPES))
def test_columns_and_col2im_keep_their_portable_layouts_and_sums(device, dtype):
    kernels, portable = device.kernels("conv"), ConvKernels(td.backends.get("numpy"))
    x = data((2, 3, 9, 8), dtype)
    geometry = ((3, 2), (2, 1), (1, 2), (4, 5))  # kernel, stride, dilation, out_hw
    device.launches.clear()
    np.testing.assert_array_equal(kernels.columns(x, *geometry), portable.columns(x, *geometry))
    cols = data((2, 3, 3, 2, 4, 5), dtype, seed=1)
    out, expected = data(x.shape, dtype, seed=2), None
    expected = out.copy()
    portable.col2im(cols, expected, (2, 1), (1, 2))
    assert kernels.col2im(cols, out, (2, 1), (1, 2)) is None  # in place, as the portable one
    np.testing.assert_array_equal(out, expected)
    assert device.launches == ["td_im2col", "td_col2im"]


# -- pooling -----------------------------------------------------------------------------------
# (input shape, kernel_size, stride, padding)
POOL_CASES = [
    ((2, 3, 8, 8), 2, None, 0),  # the seed CNN's pool
    ((2, 2, 7, 9), 2, None, 0),  # odd sizes
    ((1, 3, 7, 7), 3, 1, 1),  # overlapping, padded
    ((2, 2, 9, 8), (3, 2), (2, 1), (1, 0)),
    ((1, 2, 10, 11), 2, 3, 1),  # gaps between windows
    ((3, 5, 5), 3, 2, 1),  # unbatched (C, H, W)
]


def pool_run(backend, pool, x, g, *args):
    xt = Tensor(x, backend=backend, requires_grad=True)
    launches = getattr(backend, "launches", [])
    launches.clear()
    y = pool(xt, *args)
    forward = list(launches)
    launches.clear()
    y.backward(Tensor(g, backend=backend))
    return y.numpy(), xt.grad.numpy(), forward, list(launches)


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES, ids=str)
@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pools_forward_and_backward_equal_the_numpy_backend_exactly(device, shape, kernel, stride,
                                                                    padding, dtype, pool):
    function = F.max_pool2d if pool == "max" else F.avg_pool2d
    x = data(shape, dtype)
    x.flat[::11] = np.nan if pool == "max" else x.flat[::11]  # NaN wins its window
    x.flat[5::13] = np.inf
    x.flat[3::17] = x.flat[2::17][:x.flat[3::17].size]  # ties
    args = (kernel, stride, padding)
    g = data(function(Tensor(x), *args).shape, dtype, seed=1)
    y, dx, forward, backward = pool_run(device, function, x, g, *args)
    y_ref, dx_ref, _, _ = pool_run(td.backends.get("numpy"), function, x, g, *args)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(dx, dx_ref)
    assert y.dtype == y_ref.dtype and dx.dtype == dx_ref.dtype
    assert forward == [f"td_{pool}_pool_forward"]
    assert backward == [f"td_{pool}_pool_backward"]


def test_max_pool_saves_one_byte_positions_and_sends_the_gradient_there(device):
    x = np.array([[[[1.0, 9.0, 2.0, 2.0], [3.0, 4.0, 2.0, 0.0]]]])
    xt = Tensor(x, backend=device, requires_grad=True)
    y = F.max_pool2d(xt, 2)
    assert y.grad_fn.saved.dtype == np.uint8
    np.testing.assert_array_equal(y.grad_fn.saved, [[[[1, 0]]]])  # ties: the first
    y.backward(Tensor(np.array([[[[5.0, 7.0]]]]), backend=device))
    np.testing.assert_array_equal(xt.grad.numpy(), [[[[0, 5.0, 7.0, 0], [0, 0, 0, 0]]]])


def test_seed_cnn_layers_in_eleven_conv_and_pool_launches(device):
    """The seed CNN's feature layers (conv 1->32, relu, conv 32->64, relu, 2x2 max pool) on a
    batch of 2: 5 launches forward and 6 backward for the convolutions and the pool, where the
    portable kernels make dozens; outputs and every gradient as on NumPy."""
    params = {"w1": data((32, 1, 3, 3), "float32", 1) * 0.3, "b1": data((32,), "float32", 2),
              "w2": data((64, 32, 3, 3), "float32", 3) * 0.06, "b2": data((64,), "float32", 4)}
    x = data((2, 1, 28, 28), "float32")
    g = data((2, 64, 12, 12), "float32", 5)
    results = []
    for backend in (device, td.backends.get("numpy")):
        p = {k: Tensor(v, backend=backend, requires_grad=True) for k, v in params.items()}
        device.launches.clear()
        h = F.relu(F.conv2d(Tensor(x, backend=backend), p["w1"], p["b1"]))
        y = F.max_pool2d(F.relu(F.conv2d(h, p["w2"], p["b2"])), 2)
        if backend is device:
            assert device.launches == ["td_im2col", "td_swap01"] * 2 + ["td_max_pool_forward"]
            device.launches.clear()
        y.backward(Tensor(g, backend=backend))
        if backend is device:
            assert device.launches == ["td_max_pool_backward", "td_swap01", "td_im2col",
                                       "td_col2im", "td_swap01", "td_im2col"]
        results.append([y.numpy()] + [p[k].grad.numpy() for k in sorted(p)])
    for actual, wanted in zip(*results, strict=True):
        np.testing.assert_allclose(actual, wanted, rtol=1e-4, atol=1e-4)


def test_max_pool_over_more_than_256_positions_takes_the_portable_path(device):
    """A 17x17 window has 289 positions: max pooling records them in int16 on the portable
    path; average pooling records nothing and still runs its kernel."""
    x = data((2, 2, 18, 17), "float64")
    g = data((2, 2, 2, 1), "float64", seed=1)
    for pool, launched in ((F.max_pool2d, []), (F.avg_pool2d, ["td_avg_pool_forward"])):
        y, dx, forward, _ = pool_run(device, pool, x, g, 17, 1)
        y_ref, dx_ref, _, _ = pool_run(td.backends.get("numpy"), pool, x, g, 17, 1)
        assert forward == launched
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(dx, dx_ref)
