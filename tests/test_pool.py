"""Pooling (F.max_pool2d, F.avg_pool2d, nn.MaxPool2d, nn.AvgPool2d) and nn.BatchNorm2d against
PyTorch, on every backend: values, gradients (ties included), errors, modules and state."""

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import Tensor, nn

torch = pytest.importorskip("torch")

GEOMETRIES = [  # (input shape, kernel_size, stride, padding)
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 3, 7, 9), 3, 2, 1),
    ((1, 2, 6, 5), (3, 2), (1, 2), (1, 1)),
    ((3, 7, 7), 3, 1, 1),
    ((2, 2, 5, 5), 5, 1, 2),
    ((2, 1, 4, 6), (1, 3), (3, 1), 0),
]


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
def test_matches_pytorch_with_many_ties(name, geometry, backend, rng):
    # Small integers make ties in most windows: the gradient must go where PyTorch sends it.
    shape, kernel, stride, padding = geometry
    a = rng.integers(-2, 3, shape).astype(np.float64)
    x, t = tensor(a, backend, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = getattr(F, name)(x, kernel, stride, padding)
    ref = getattr(torch.nn.functional, name)(t, kernel, stride, padding)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(tensor(upstream, backend))
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_seed_cnn_pool_in_float32_matches_pytorch(backend, rng):
    a = rng.standard_normal((4, 8, 24, 24)).astype(np.float32)
    x = Tensor(a, backend=backend, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    out, ref = nn.MaxPool2d(2)(x), torch.nn.MaxPool2d(2)(t)
    assert out.dtype_name == "float32" and out.shape == (4, 8, 12, 12)
    np.testing.assert_array_equal(host(out), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(host(x.grad), t.grad.numpy())


def test_one_node_showing_kernel_stride_padding_and_a_byte_per_output(backend, rng):
    x = tensor(rng.standard_normal((2, 3, 6, 6)), backend, requires_grad=True)
    y = F.max_pool2d(x, 3, 2, 1)
    node = y.grad_fn
    assert node.parents == (x,) and node.name == "max_pool2d"
    assert node.describe() == ["max_pool2d", "kernel=3x3, stride=(2, 2), padding=(1, 1)"]
    where = td.backends.get(backend).to_numpy(node.saved)
    assert where.dtype == np.uint8 and where.shape == y.shape
    avg = F.avg_pool2d(x, 2).grad_fn
    assert avg.describe() == ["avg_pool2d", "kernel=2x2, stride=(2, 2), padding=(0, 0)"]


def test_nan_in_a_window_wins_as_in_pytorch(backend):
    a = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    x, t = tensor(a, backend, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, ref = F.max_pool2d(x, 2), torch.nn.functional.max_pool2d(t, 2)
    assert np.isnan(host(out)).all() and np.isnan(ref.detach().numpy()).all()
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(host(x.grad), t.grad.numpy())


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1)])  # disjoint and overlapping
def test_nan_and_inf_gradients_reach_only_the_maxima_as_in_pytorch(kernel, stride, backend,
                                                                  rng):
    """Backward routes each output's gradient to its window's maximum alone: a NaN or inf
    gradient must leave 0, not NaN (0 * inf), at every other input position."""
    a = rng.standard_normal((2, 3, 6, 6))
    x, t = tensor(a, backend, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = F.max_pool2d(x, kernel, stride)
    ref = torch.nn.functional.max_pool2d(t, kernel, stride)
    g = rng.standard_normal(ref.shape)
    g[0, 1, 0, 0], g[1, 2, 1, 1], g[1, 0, 2, 0] = np.nan, np.inf, -np.inf
    out.backward(tensor(g, backend))
    ref.backward(torch.tensor(g))
    expected = t.grad.numpy()
    assert np.isnan(expected).sum() >= 1 and (expected == 0).sum() > a.size // 3
    ours = host(x.grad)
    np.testing.assert_array_equal(ours == 0, expected == 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0)  # overlaps: sum order


# -- errors: op, shapes and value named; nothing changed ----------------------------------------
@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape, args, error, match", [
    ((4, 4), (2,), ValueError, r"expected 3-D \(C, H, W\) or 4-D .* got 2-D input of shape "
                               r"\(4, 4\)"),
    ((1, 1, 1, 4, 4), (2,), ValueError, r"got 5-D input of shape \(1, 1, 1, 4, 4\)"),
    ((1, 1, 4, 4), (5,), ValueError, r"kernel_size \(5, 5\) is larger than the padded input "
                                     r"\(4, 4\)"),
    ((1, 1, 4, 4), (2, 0), ValueError, "stride must be positive .*got 0"),
    ((1, 1, 4, 4), (2, None, -1), ValueError, "padding must be non-negative, got -1"),
    ((1, 1, 4, 4), (2, None, 2), ValueError, "padding should be at most half of the kernel "
                                             "size, got padding=2, kernel_size=2"),
    ((1, 1, 4, 4), (0,), ValueError, "kernel_size must be positive, got 0"),
    ((1, 1, 4, 4), (2.5,), TypeError, "kernel_size must be an int or a pair of ints, got 2.5"),
])
def test_bad_input_is_a_clear_error_naming_op_shape_and_value(name, shape, args, error, match,
                                                              backend):
    x = Tensor.ones(*shape, backend=backend, requires_grad=True)
    before = host(x).copy()
    with pytest.raises(error, match=rf"^{name}: .*{match}"):
        getattr(F, name)(x, *args)
    np.testing.assert_array_equal(host(x), before)


def test_errors_name_the_input_shape(backend):
    with pytest.raises(ValueError, match=r"max_pool2d: .*larger.*; inputs: .*\(2, 3, 2, 2\)"):
        F.max_pool2d(Tensor.ones(2, 3, 2, 2, backend=backend), 3)


def test_integer_input_is_a_type_error(backend):
    with pytest.raises(TypeError, match="max_pool2d: expected a floating-point tensor"):
        F.max_pool2d(Tensor.ones(1, 1, 4, 4, backend=backend, dtype="int64"), 2)


def test_modules_refuse_bad_arguments_when_made():
    with pytest.raises(ValueError, match="MaxPool2d: stride must be positive"):
        nn.MaxPool2d(2, stride=0)
    with pytest.raises(ValueError, match="AvgPool2d: padding should be at most half"):
        nn.AvgPool2d(2, padding=3)


# -- modules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(2,), (3, 1, 1), ((2, 3), (2, 1), (1, 0))])
def test_pool_modules_repr_and_values_as_pytorch(args, backend, rng):
    a = rng.standard_normal((2, 3, 7, 7))
    for ours, theirs in ((nn.MaxPool2d(*args), torch.nn.MaxPool2d(*args)),
                         (nn.AvgPool2d(*args), torch.nn.AvgPool2d(*args))):
        assert repr(ours) == repr(theirs)
        assert ours.state_dict() == {} and list(ours.parameters()) == []
        np.testing.assert_allclose(host(ours(tensor(a, backend))),
                                   theirs(torch.tensor(a)).numpy(), rtol=1e-12, atol=1e-12)


def batchnorm_pair(backend, rng, **kw):
    """Our BatchNorm2d and PyTorch's with the same (random) loaded weights and statistics."""
    theirs = torch.nn.BatchNorm2d(3, **kw).double()
    state = {k: v.numpy().copy() for k, v in theirs.state_dict().items()}
    if "weight" in state:
        state["weight"], state["bias"] = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    if "running_mean" in state:
        state["running_mean"], state["running_var"] = rng.standard_normal(3), rng.uniform(1, 2, 3)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours = nn.BatchNorm2d(3, dtype="float64", backend=backend, **kw)
    ours.load_state_dict(state)
    return ours, theirs


@pytest.mark.parametrize("kw", [{}, dict(momentum=None), dict(affine=False),
                                dict(track_running_stats=False), dict(momentum=0.3, eps=1e-3)])
def test_batchnorm2d_matches_pytorch_in_train_and_eval(kw, backend, rng):
    ours, theirs = batchnorm_pair(backend, rng, **kw)
    if "bias=" in repr(theirs):  # PyTorch prints bias= from 2.13 on (the GPU image has 2.11)
        assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for training in (True, True, False):
        ours.train(training)
        theirs.train(training)
        a = rng.standard_normal((4, 3, 5, 6)) * 2 + 1
        x, t = tensor(a, backend, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, ref = ours(x), theirs(t)
        np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-10, atol=1e-10)
        upstream = rng.standard_normal(a.shape)
        out.backward(tensor(upstream, backend))
        ref.backward(torch.tensor(upstream))
        np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=1e-10, atol=1e-10)
        for name, param in ours.named_parameters():
            np.testing.assert_allclose(host(param.grad),
                                       dict(theirs.named_parameters())[name].grad.numpy(),
                                       rtol=1e-10, atol=1e-10)
        want = theirs.state_dict()
        for name, value in ours.state_dict().items():
            np.testing.assert_allclose(value, want[name].numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(8, 3), (8, 3, 5), (2, 3, 2, 2, 2)])
def test_batchnorm2d_refuses_other_ranks_and_changes_nothing(shape, backend):
    layer = nn.BatchNorm2d(3, backend=backend)
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    with pytest.raises(ValueError, match=rf"BatchNorm2d: expected input of shape \(N, C, H, W\), "
                                         rf"got .*\({len(shape)}-D input\)"):
        layer(Tensor.ones(*shape, backend=backend))
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_seed_cnn_block_trains_with_pooling_dropout2d_and_batchnorm2d(backend, rng):
    model = nn.Sequential(nn.BatchNorm2d(2, backend=backend), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Dropout2d(0.25), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(2, 3, backend=backend))
    x = tensor(rng.standard_normal((4, 2, 4, 4)), backend).float()
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
