"""The CuPy backend on a real GPU: its fused kernels bit for bit against the Philox stream's
NumPy definition, and NumPy/CuPy parity of a whole model (outputs, gradients, running
statistics) to float32 tolerance, with dropout off and with the same masks on both sides.

Everything here skips, with the reason, where CuPy cannot run (CI has no GPU). The rest of the
suite also runs on CuPy through the ``backend`` fixture and ``TINYGRAD_DROP_BACKEND=cupy``.
"""

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn
from tinygrad_drop.backends import philox
from tinygrad_drop.models import mlp

SIZES = [(1,), (5,), (64, 33), (256, 4096), (3, 5, 7)]


@pytest.fixture
def gpu():
    """The CuPy backend object (skips, saying why, where it cannot run)."""
    ok, reason = td.backends.is_available("cupy")
    if not ok:
        pytest.skip(reason)
    backend = td.backends.get("cupy")
    backend.regenerate_masks = False
    yield backend
    backend.regenerate_masks = False


def on_gpu(values, dtype="float32", **kw):
    return Tensor(np.asarray(values, dtype=dtype), backend="cupy", **kw)


def host_data(shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# -- the fused kernels on the device -----------------------------------------------------------
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_dropout_is_the_philox_stream_bit_for_bit(gpu, shape, dtype):
    x_host = host_data(shape, dtype)
    generator = td.generator(31, backend="cupy")
    F.dropout(on_gpu(x_host, dtype), 0.3, generator=generator)  # offset 0
    y = F.dropout(on_gpu(x_host, dtype, requires_grad=True), 0.3, generator=generator)
    mask = philox.dropout_mask(31, 1, shape, 0.7)
    np.testing.assert_array_equal(gpu.to_numpy(y.grad_fn.mask()), mask)
    np.testing.assert_array_equal(y.numpy(), np.where(mask, x_host / x_host.dtype.type(0.7), 0))
    assert y.grad_fn.attributes()["dropped"] == pytest.approx(1 - mask.mean())


def test_non_contiguous_and_misaligned_inputs_take_the_safe_paths(gpu):
    x_host = host_data((65, 40))
    for view in (lambda t: t.T, lambda t: t.reshape(-1)[1:]):
        td.manual_seed(2)
        x = view(on_gpu(x_host))
        y = F.dropout(x, 0.5)
        mask = philox.dropout_mask(2, 0, x.shape, 0.5)
        np.testing.assert_array_equal(y.numpy(), np.where(mask, x.numpy() / np.float32(0.5), 0))


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_backward_from_a_regenerated_mask_equals_backward_from_the_stored_mask(gpu, mode):
    x_host, g_host = host_data((300, 77)), host_data((300, 77), seed=1)
    grads = []
    for regenerate in (False, True):
        gpu.regenerate_masks = regenerate
        td.manual_seed(5)
        x = on_gpu(x_host, requires_grad=True)
        y = F.dropout(x, 0.4, mode=mode)
        saved = y.grad_fn.saved
        if regenerate:
            assert not gpu.is_array(saved)  # (seed, offset): zero bytes per element
        else:
            assert saved.dtype == np.bool_ and saved.nbytes == x.numel()
        np.testing.assert_array_equal(gpu.to_numpy(y.grad_fn.mask()),
                                      philox.dropout_mask(5, 0, (300, 77), 0.6))
        y.backward(on_gpu(g_host))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    divisor = np.float32(0.6) if mode == "inverted" else np.float32(1)
    expected = np.where(philox.dropout_mask(5, 0, (300, 77), 0.6), g_host / divisor, 0)
    np.testing.assert_array_equal(grads[0], expected)


@pytest.mark.parametrize("shape", [(8, 6, 24, 24), (4, 7, 5, 3), (5, 3, 1, 1), (3, 5, 7),
                                   (2, 3, 0, 4)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
@pytest.mark.parametrize("regenerate", [False, True], ids=["stored", "regenerated"])
def test_dropout2d_is_the_host_streams_channel_mask_and_the_numpy_backends_values(
        gpu, shape, dtype, mode, regenerate):
    # The fused spatial kernels: the (N, C) mask is the Philox stream's, drawn at the offset an
    # (N, C) bernoulli_mask would use and advancing it as far; forward and backward equal the
    # NumPy backend's with the host PhiloxGenerator, bit for bit.
    gpu.regenerate_masks = regenerate
    x_host, g_host = host_data(shape, dtype), host_data(shape, dtype, seed=1)
    device_generator, host_generator = td.generator(41, backend="cupy"), philox.PhiloxGenerator(41)
    for generator in (device_generator, host_generator):
        generator.bernoulli_mask((10,), 0.5)  # the call under test draws at offset 1
    x = on_gpu(x_host, dtype, requires_grad=True)
    y = F.dropout2d(x, 0.35, mode=mode, generator=device_generator)
    x_cpu = Tensor(x_host, backend="numpy", requires_grad=True)
    y_cpu = F.dropout2d(x_cpu, 0.35, mode=mode, generator=host_generator)
    mask = philox.dropout_mask(41, 1, shape[:2], 0.65)
    np.testing.assert_array_equal(gpu.to_numpy(y.grad_fn.mask()), mask)
    np.testing.assert_array_equal(y_cpu.grad_fn.mask(), mask)
    assert device_generator.offset == host_generator.offset == 2
    fused = x_host.size > 0  # without elements the (N, C) mask is drawn and kept on its own
    assert (regenerate and fused) != gpu.is_array(y.grad_fn.saved)  # else (seed, offset) only
    np.testing.assert_array_equal(y.numpy(), y_cpu.numpy())
    assert y.grad_fn.attributes()["dropped"] == y_cpu.grad_fn.attributes()["dropped"]
    y.backward(on_gpu(g_host, dtype))
    y_cpu.backward(Tensor(g_host, backend="numpy"))
    np.testing.assert_array_equal(x.grad.numpy(), x_cpu.grad.numpy())


def test_generator_masks_follow_the_stream_and_manual_seed_restarts_it(gpu):
    td.manual_seed(8)
    first = gpu.generator.bernoulli_mask((1000,), 0.25)
    second = gpu.generator.bernoulli_mask((1000,), 0.25)
    np.testing.assert_array_equal(gpu.to_numpy(first), philox.dropout_mask(8, 0, (1000,), 0.25))
    np.testing.assert_array_equal(gpu.to_numpy(second), philox.dropout_mask(8, 1, (1000,), 0.25))
    td.manual_seed(8)
    np.testing.assert_array_equal(gpu.to_numpy(gpu.generator.bernoulli_mask((1000,), 0.25)),
                                  gpu.to_numpy(first))


def test_masked_scale_kernel_is_relus_backward_on_the_device(gpu):
    x_host = host_data((128, 96))
    x = on_gpu(x_host, requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (x_host > 0).astype(np.float32))


def test_a_host_generator_is_refused_for_device_tensors(gpu):
    with pytest.raises(TypeError, match="not 'cupy' arrays"):
        F.dropout(on_gpu(np.ones((4, 4))), 0.5, generator=philox.PhiloxGenerator(0))


# -- convolution and pooling (cuda_conv_source.py) ---------------------------------------------
@pytest.fixture
def fused_conv(gpu):
    """The CuPy backend, which launches the conv and pool kernels of cuda_conv_source."""
    assert gpu.kernels("conv").fused and gpu.kernels("pool").fused
    return gpu


def conv_grads(backend, x, w, b, g, **kwargs):
    """F.conv2d's output and input, weight and bias gradients on ``backend`` (host arrays)."""
    tensors = [Tensor(v, backend=backend, requires_grad=True) for v in (x, w, b)]
    y = F.conv2d(*tensors, **kwargs)
    y.backward(Tensor(g, backend=backend))
    return [y.numpy()] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((128, 1, 28, 28), (32, 1, 3, 3), {}),  # the seed CNN's layers
    ((16, 32, 26, 26), (64, 32, 3, 3), {}),
    ((3, 4, 11, 10), (6, 2, 3, 3), {"stride": (1, 2), "dilation": 2, "padding": (2, 1),
                                    "groups": 2}),
    ((2, 3, 9, 8), (5, 3, 2, 3), {"stride": 2, "padding": 1}),
    ((2, 6, 5, 5), (3, 6, 1, 1), {}),
], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_forward_and_backward_equal_the_numpy_backend(gpu, x_shape, w_shape, kwargs,
                                                              dtype):
    x, w = host_data(x_shape, dtype), host_data(w_shape, dtype, seed=1) * 0.3
    b = host_data((w_shape[0],), dtype, seed=2)
    g = host_data(F.conv2d(Tensor(x), Tensor(w), **kwargs).shape, dtype, seed=3)
    got = conv_grads("cupy", x, w, b, g, **kwargs)
    expected = conv_grads("numpy", x, w, b, g, **kwargs)
    for what, actual, wanted in zip(["output", "input grad", "weight grad", "bias grad"], got,
                                    expected, strict=True):
        assert actual.shape == wanted.shape and actual.dtype == wanted.dtype, what
        if dtype == "float64":  # the products sum in other orders
            np.testing.assert_allclose(actual, wanted, rtol=1e-10, atol=1e-10, err_msg=what)
        else:
            assert_close(wanted, actual, what)


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((128, 64, 24, 24), 2, None, 0), ((2, 3, 7, 9), 3, 2, 1),
    ((2, 2, 9, 8), (3, 2), (2, 1), (1, 0)), ((1, 2, 10, 11), 2, 3, 1)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pools_equal_the_numpy_backend_bit_for_bit(gpu, shape, kernel, stride, padding, dtype,
                                                    pool):
    function = F.max_pool2d if pool == "max" else F.avg_pool2d
    x_host = host_data(shape, dtype)
    if pool == "max":
        x_host.flat[::97] = np.nan  # NaN wins its window
    x_host.flat[5::89] = -np.inf
    results = []
    for backend in ("cupy", "numpy"):
        x = Tensor(x_host, backend=backend, requires_grad=True)
        y = function(x, kernel, stride, padding)
        y.backward(Tensor(host_data(y.shape, dtype, seed=1), backend=backend))
        results.append((y.numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_conv_and_pool_kernels_run_on_the_device_in_few_launches(fused_conv, monkeypatch):
    launched = []
    launch = fused_conv.launch
    monkeypatch.setattr(fused_conv, "launch", lambda dtype, kernel, n, args: (
        launched.append(kernel), launch(dtype, kernel, n, args)))
    x_host, w_host = host_data((4, 32, 26, 26)), host_data((64, 32, 3, 3)) * 0.05
    grads = []
    for backend in ("cupy", "numpy"):
        x = Tensor(x_host, backend=backend, requires_grad=True)
        w = Tensor(w_host, backend=backend, requires_grad=True)
        launched.clear()
        y = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
        if backend == "cupy":
            assert launched == ["td_pad", "td_im2col", "td_swap01", "td_max_pool_forward"]
            launched.clear()
        y.sum().backward()
        if backend == "cupy":
            assert launched == ["td_max_pool_backward", "td_swap01", "td_im2col", "td_col2im"]
        grads.append((x.grad.numpy(), w.grad.numpy()))
    assert_close(grads[1][0], grads[0][0], "input gradient")
    assert_close(grads[1][1], grads[0][1], "weight gradient")


# -- NumPy/CuPy parity of a whole model --------------------------------------------------------
def twin_models(batchnorm, rates):
    """The founding MLP on NumPy and on CuPy with the same weights (training mode)."""
    td.manual_seed(0)
    cpu = mlp(dropout=rates, batchnorm=batchnorm, init_std=None, backend="numpy")
    gpu = mlp(dropout=rates, batchnorm=batchnorm, init_std=None, backend="cupy")
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu


def step(model, backend, images, labels):
    logits = model(Tensor(images, backend=backend))
    loss = F.cross_entropy(logits, Tensor(labels, backend=backend))
    loss.backward()
    return logits.numpy(), {name: p.grad.numpy() for name, p in model.named_parameters()}


def assert_close(cpu, gpu, what, like=None):
    """Float32 agreement: cuBLAS and OpenBLAS sum in different orders, and a pre-activation
    within rounding of 0 may fall on either side of a ReLU (one sample's share of one unit), so
    the bound is normwise (1e-4) with a loose elementwise check beside it. ``like`` (an array of
    the same layer, e.g. its weight gradient) sets the scale where ``cpu`` itself is 0 in exact
    arithmetic (a Linear's bias before batchnorm): rounding noise is not compared with noise."""
    cpu, gpu = np.asarray(cpu, dtype=np.float64), np.asarray(gpu, dtype=np.float64)
    like = cpu if like is None else np.asarray(like, dtype=np.float64)
    scale = max(np.abs(cpu).max(initial=0), np.abs(like).max(initial=0), 1e-30)
    error = np.linalg.norm(gpu - cpu) / max(np.linalg.norm(cpu), np.linalg.norm(like), 1e-30)
    assert error <= 1e-4, f"{what}: relative error {error:.2e}"
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-3 * scale, err_msg=what)


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("dropout", ["off", "same masks"])  # batchnorm in training mode
def test_numpy_and_cupy_give_the_same_outputs_and_gradients(gpu, batchnorm, dropout,
                                                            monkeypatch):
    cpu_model, gpu_model = twin_models(batchnorm, (0, 0) if dropout == "off" else (0.2, 0.5))
    images = np.random.default_rng(3).random((256, 784), dtype=np.float32)
    labels = np.random.default_rng(4).integers(0, 10, 256)
    if dropout == "same masks":  # the NumPy side draws the GPU's Philox masks on the host
        monkeypatch.setattr(td.backends.get("numpy"), "generator", philox.PhiloxGenerator(0))
        td.manual_seed(77)
    cpu_out, cpu_grads = step(cpu_model, "numpy", images, labels)
    gpu_out, gpu_grads = step(gpu_model, "cupy", images, labels)
    assert_close(cpu_out, gpu_out, "logits")
    layers = list(cpu_model)
    zero_in_exact_arithmetic = {  # batchnorm subtracts the batch mean: the bias before it cancels
        f"{i}.bias" for i, (layer, following) in enumerate(zip(layers, layers[1:], strict=False))
        if isinstance(layer, nn.Linear) and isinstance(following, nn.BatchNorm1d)}
    for name in cpu_grads:
        weight = cpu_grads[name.rsplit(".", 1)[0] + ".weight"]
        assert_close(cpu_grads[name], gpu_grads[name], f"gradient of {name}",
                     like=weight if name in zero_in_exact_arithmetic else None)
    for name, value in cpu_model.state_dict().items():
        assert_close(value, gpu_model.state_dict()[name], f"state {name}")
