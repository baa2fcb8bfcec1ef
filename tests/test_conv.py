"""Convolution beyond the op table: bad input (a clear error naming the op, the shapes and the
bad value, nothing changed), nn.Conv2d against torch.nn.Conv2d, and the graph drawing."""

import math

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import nn, viz

torch = pytest.importorskip("torch")


def make(backend, rng, x_shape=(2, 4, 5, 5), w_shape=(6, 4, 3, 3)):
    x = tensor(rng.standard_normal(x_shape), backend, requires_grad=True)
    w = tensor(rng.standard_normal(w_shape), backend, requires_grad=True)
    return x, w


@pytest.mark.parametrize(("x_shape", "w_shape", "kw", "error", "pieces"), [
    ((2, 3, 5, 5), (6, 4, 3, 3), {}, ValueError, ["conv2d", "(2, 3, 5, 5)", "3 channels",
                                                   "(6, 4, 3, 3)", "expects 4"]),
    ((3, 5, 5), (6, 4, 3, 3), {}, ValueError, ["conv2d", "3 channels", "expects 4"]),  # unbatched
    ((5, 5), (6, 4, 3, 3), {}, ValueError, ["conv2d", "4-D input", "(5, 5)"]),
    ((1, 2, 4, 5, 5), (6, 4, 3, 3), {}, ValueError, ["conv2d", "4-D input", "(1, 2, 4, 5, 5)"]),
    ((2, 4, 5, 5), (6, 4, 3), {}, ValueError, ["conv2d", "4-D weight", "(6, 4, 3)"]),
    ((2, 4, 2, 5), (6, 4, 3, 3), {}, ValueError, ["conv2d", "kernel (3, 3)", "larger",
                                                   "padded input (2, 5)", "(2, 4, 2, 5)"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"dilation": 3}, ValueError, ["conv2d", "spanning 7",
                                                                "(5, 5)"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"stride": 0}, ValueError, ["conv2d", "stride", "0"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"stride": (1, 0)}, ValueError, ["conv2d", "(1, 0)"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"padding": -1}, ValueError, ["conv2d", "padding",
                                                                "non-negative", "-1"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"dilation": 0}, ValueError, ["conv2d", "dilation", "0"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"padding": "full"}, ValueError, ["conv2d", "'full'"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"padding": "same", "stride": 2}, ValueError,
     ["conv2d", "same", "stride=2"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"stride": 1.5}, TypeError, ["conv2d", "stride", "1.5"]),
    ((2, 4, 5, 5), (6, 4, 3, 3), {"stride": (1, 2, 3)}, ValueError, ["conv2d", "(1, 2, 3)"]),
    ((2, 6, 5, 5), (6, 2, 3, 3), {"groups": 4}, ValueError, ["conv2d", "groups=4", "divide",
                                                              "(2, 6, 5, 5)"]),
    ((2, 6, 5, 5), (6, 2, 3, 3), {"groups": 0}, ValueError, ["conv2d", "groups", "0"]),
    ((2, 6, 5, 5), (6, 2, 3, 3), {"groups": 2}, ValueError, ["conv2d", "6 channels",
                                                              "expects 4"]),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(x_shape, w_shape, kw, error, pieces,
                                                        backend, rng):
    x, w = make(backend, rng, x_shape, w_shape)
    before = host(x).copy(), host(w).copy()
    with pytest.raises(error) as info:
        F.conv2d(x, w, **kw)
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))
    np.testing.assert_array_equal(host(x), before[0])
    np.testing.assert_array_equal(host(w), before[1])
    assert x.grad is None and w.grad is None
    # PyTorch refuses the same calls
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        torch.nn.functional.conv2d(torch.zeros(x_shape, dtype=torch.float64),
                                   torch.zeros(w_shape, dtype=torch.float64), **kw)


def test_bias_dtype_and_integer_errors(backend, rng):
    x, w = make(backend, rng)
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(5,\).*\(6,\)"):
        F.conv2d(x, w, tensor(np.zeros(5), backend))
    with pytest.raises(TypeError, match="conv2d: .*same dtype"):
        F.conv2d(x, w.float())
    with pytest.raises(TypeError, match="conv2d"):
        F.conv2d(td.zeros(2, 4, 5, 5, dtype="int64", backend=backend), w)


@pytest.mark.parametrize("kw", [
    {},
    {"stride": 2, "padding": 1, "bias": False},
    {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2},
    {"padding": "same", "dilation": 2},
])
def test_conv2d_module_loads_torchs_state_dict_and_matches_it(kw, backend, rng):
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(4, 6, (3, 2), **kw).double()
    ours = nn.Conv2d(4, 6, (3, 2), **kw, backend=backend).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    x_np = rng.standard_normal((2, 4, 7, 6))
    x, xt = tensor(x_np, backend, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, ref = ours(x), theirs(xt)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(ref.shape)
    out.backward(tensor(g, backend))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        np.testing.assert_allclose(host(p.grad), q.grad.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize(("args", "kw"), [((3, 8, 3), {}), ((4, 6, (5, 2)), {"groups": 2})])
def test_conv2d_module_initialises_as_pytorch(args, kw, backend):
    td.manual_seed(0)
    layer = nn.Conv2d(*args, **kw, backend=backend)
    theirs = torch.nn.Conv2d(*args, **kw)
    assert layer.weight.shape == tuple(theirs.weight.shape)
    assert layer.bias.shape == tuple(theirs.bias.shape) and layer.weight.dtype == "float32"
    fan_in = math.prod(layer.weight.shape[1:])
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) gives the bias's bound too
    for p in (layer.weight, layer.bias):
        values = host(p)
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.5 * bound
        assert p.requires_grad
    assert nn.Conv2d(2, 3, 1, bias=False, backend=backend).bias is None
    assert "bias" not in nn.Conv2d(2, 3, 1, bias=False, backend=backend).state_dict()


@pytest.mark.parametrize(("args", "kw", "match"), [
    ((4, 6, 3), {"groups": 4}, "groups=4 must divide"),
    ((4, 6, 0), {}, "kernel_size must be at least 1"),
    ((4, 6, 3), {"stride": 0}, "stride must be at least 1"),
    ((4, 6, 3), {"padding": -1}, "padding must be non-negative"),
    ((4, 6, 3), {"padding": "same", "stride": 2}, "not supported for strided"),
    ((4, 6, 3), {"padding": "full"}, "'full'"),
])
def test_conv2d_module_refuses_bad_arguments(args, kw, match):
    with pytest.raises(ValueError, match=f"Conv2d: .*{match}"):
        nn.Conv2d(*args, **kw)


def test_graph_node_shows_kernel_stride_padding_dilation_groups(backend, rng):
    x, w = make(backend, rng, (1, 4, 6, 6), (2, 2, 3, 2))
    y = F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    node = y.grad_fn
    assert node.describe() == ["conv2d", "kernel 3x2, 4 -> 2 channels",
                               "stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2"]
    assert node.attributes()["kernel_size"] == (3, 2)
    dot = viz.to_dot(viz.graph_spec(y))
    assert "kernel 3x2" in dot and "groups=2" in dot


def test_first_layer_input_needs_no_gradient_and_float32_stays_float32(backend, rng):
    x = tensor(rng.standard_normal((2, 1, 6, 6)), backend, dtype="float32")
    layer = nn.Conv2d(1, 3, 3, backend=backend)
    out = layer(x)
    assert out.dtype == "float32" and out.shape == (2, 3, 4, 4)
    out.sum().backward()
    assert x.grad is None and layer.weight.grad.dtype == "float32"
    # d(sum of out)/d(bias) is the number of outputs per channel: 2 samples x 4 x 4
    assert host(layer.bias.grad).tolist() == [32.0, 32.0, 32.0]


@pytest.mark.parametrize("kw", [
    {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2},
    {"padding": (1, 2), "dilation": (2, 1), "groups": 2},  # stride 1: the flat col2im
])
@pytest.mark.parametrize("block_bytes", [1, 3000])
def test_numpy_blocks_of_samples_give_the_whole_batch_result(block_bytes, kw, monkeypatch,
                                                             rng):
    """NumPy builds the columns a few samples at a time: blocks of one sample and of uneven
    size (the last one shorter) agree with PyTorch, gradients too."""
    from tinygrad_drop.backends.numpy_kernels import NumpyConvKernels
    monkeypatch.setattr(NumpyConvKernels, "BLOCK_BYTES", block_bytes)
    calls = []
    columns = NumpyConvKernels.columns
    monkeypatch.setattr(NumpyConvKernels, "columns",
                        lambda self, x, *a: calls.append(x.shape[0]) or columns(self, x, *a))
    x_np, w_np, b_np = (rng.standard_normal(s) for s in ((5, 4, 7, 6), (6, 2, 3, 2), (6,)))
    ours = [tensor(a, "numpy", requires_grad=True) for a in (x_np, w_np, b_np)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np)]
    out, ref = F.conv2d(*ours, **kw), torch.nn.functional.conv2d(*theirs, **kw)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(ref.shape)
    out.backward(tensor(g, "numpy"))
    ref.backward(torch.tensor(g))
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(a.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert len(calls) > 2 and sum(calls) == 2 * 5  # blocks in forward, again in backward


@pytest.mark.parametrize("where", ["input", "weight"])
def test_inf_in_the_input_or_weight_gives_pytorchs_gradients(where, backend, rng):
    """An inf on the input's left edge meets only the first kernel column's taps: every other
    weight-gradient entry stays finite, as in PyTorch (the NumPy fast path's wrap-around columns
    must not turn 0 * inf into NaN). An inf weight likewise spreads inf, not NaN, into exactly
    the input gradients PyTorch gives."""
    x_np, w_np = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3))
    if where == "input":
        x_np[1, 2, 3, 0] = np.inf
    else:
        w_np[2, 1, 0, 2] = -np.inf
    ours = [tensor(a, backend, requires_grad=True) for a in (x_np, w_np)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x_np, w_np)]
    g = rng.standard_normal((2, 4, 4, 5))
    F.conv2d(*ours).backward(tensor(g, backend))
    torch.nn.functional.conv2d(*theirs).backward(torch.tensor(g))
    touched = theirs[1 if where == "input" else 0].grad.numpy()  # the other one's gradient
    assert np.isfinite(touched).any() and not np.isfinite(touched).all()
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(a.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)
