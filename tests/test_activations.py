"""Activations beyond the op table: erf's accuracy against math.erf, GELU against PyTorch
over a wide range, zero-size and 0-d softmax (bug 6), ReLU at NaN (bug 10) on every backend,
dims, dtypes and errors."""

import math
import warnings

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop.special import erf

SPOTS = [0.0, 1e-300, 5e-324, 1e-20, 1e-8, 0.1, 0.46875, 0.4687500000000001, 0.5, 0.75, 1.0,
         1.5, 2.0, 2.5, 3.0, 3.9999999999999996, 4.0, 4.5, 5.0, 5.9, 6.0, 8.0, 26.0, 27.0,
         1e10, 1e300]


def ulps(got, want):
    """|got - want| in units of the last place of ``want``."""
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_erf_is_within_a_few_ulps_of_math_erf_everywhere():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-8.0, 8.0, 40001), rng.standard_normal(20000) * 3,
                        10.0 ** rng.uniform(-300, 2, 5000), SPOTS, np.negative(SPOTS)])
    want = np.array([math.erf(v) for v in x])
    got = erf(np, x)
    assert got.dtype == np.float64
    assert ulps(got, want).max() <= 4
    # tiny arguments: erf(x) = 2x/sqrt(pi) to full precision, subnormals included
    tiny = np.array([1e-300, 5e-324, 1e-20])
    np.testing.assert_array_equal(erf(np, tiny), [math.erf(v) for v in tiny])


def test_erf_special_values_and_sign():
    out = erf(np, np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0]))
    np.testing.assert_array_equal(out[:4], [0.0, -0.0, 1.0, -1.0])
    assert not np.signbit(out[0]) and np.signbit(out[1])  # odd, down to the sign of zero
    assert np.isnan(out[4]) and out[5] == 1.0 and out[6] == -1.0


def test_erf_on_the_bare_array_api_and_in_float32():
    xp = pytest.importorskip("array_api_strict")
    x = np.linspace(-6.0, 6.0, 1201)
    want = np.array([math.erf(v) for v in x])
    got = np.asarray(erf(xp, xp.asarray(x)))
    assert ulps(got, want).max() <= 4
    single = erf(np, x.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, want, rtol=0, atol=4 * 2.0 ** -24)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch_to_1e_12_across_the_range(backend, approximate):
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(-12.0, 12.0, 2401), [0.0, -0.0, 1e-300, -1e-300, 40.0,
                                                          -40.0]])
    ours = tensor(x, backend, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.gelu(ours, approximate=approximate)
    ref = torch.nn.functional.gelu(theirs, approximate=approximate)
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(host(ours.grad), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_relu_passes_the_gradient_through_nan_as_pytorch(backend):
    """Bug 10: NaN is not <= 0, so PyTorch's gradient there is the upstream gradient."""
    x = tensor([math.nan, -1.0, 0.0, 2.0], backend, requires_grad=True)
    out = F.relu(x)
    out.backward(tensor([3.0, 3.0, 3.0, 3.0], backend))
    assert np.isnan(host(out)[0]) and host(out)[1:].tolist() == [0.0, 0.0, 2.0]
    assert host(x.grad).tolist() == [3.0, 0.0, 0.0, 3.0]


@pytest.mark.parametrize("op", ["relu", "clamp"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_inf_gradients_stop_where_the_mask_is_off_as_pytorch(op, dtype, backend, rng):
    """A NaN or inf output gradient reaches the input only where ReLU (clamp) passes the
    gradient; elsewhere the input's gradient is 0, as PyTorch's (a boolean multiply would give
    NaN = 0 * inf there). Also for a gradient whose squares overflow float32 but are finite."""
    torch = pytest.importorskip("torch")
    a = rng.standard_normal(64)
    g = rng.standard_normal(64)
    g[:8] = [np.nan, np.inf, -np.inf, np.nan, 3e38, -3e38, np.inf, np.nan]
    a[:8] = [-1.0, -2.0, 0.5, 1.5, -1.0, 2.0, 3.0, -4.0]
    ours = tensor(a, backend, dtype=dtype, requires_grad=True)
    theirs = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
    call = (lambda t: t.relu()) if op == "relu" else (lambda t: t.clamp(-1.5, 1.0))
    call(ours).backward(tensor(g, backend, dtype=dtype))
    call(theirs).backward(torch.tensor(g, dtype=getattr(torch, dtype)))
    expected = theirs.grad.numpy()
    assert np.isnan(expected).any() and (expected[:8] == 0).sum() >= 3
    np.testing.assert_array_equal(host(ours.grad), expected)


@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_softmax_of_an_empty_axis_is_empty_as_pytorch(backend, method):
    """Bug 6: the max over an empty axis does not exist; PyTorch returns an empty result."""
    for shape, dim in (((3, 0), -1), ((0, 3), -1), ((0, 3), 0), ((2, 0, 4), 1)):
        x = td.Tensor.zeros(*shape, backend=backend, requires_grad=True)
        out = getattr(x, method)(dim)
        assert out.shape == shape and out.dtype_name == "float32"
        out.sum().backward()
        assert x.grad.shape == shape
        assert getattr(F, method)(x, dim).shape == shape


def test_softmax_of_a_0d_tensor_is_one_and_log_softmax_zero(backend):
    x = tensor(3.5, backend, requires_grad=True)
    s, ls = x.softmax(0), F.log_softmax(x, -1)
    assert s.shape == () and s.item() == 1.0 and ls.item() == 0.0
    (s + ls).backward()
    assert x.grad.item() == 0.0


def test_softmax_dims_axis_and_dtype(backend):
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(3).standard_normal((2, 3, 4))
    x = tensor(data, backend)
    want = torch.softmax(torch.tensor(data), 1).numpy()
    for out in (F.softmax(x, 1), F.softmax(x, dim=1), F.softmax(x, axis=1), x.softmax(-2),
                x.softmax(dim=1)):
        np.testing.assert_allclose(host(out), want, rtol=1e-12, atol=1e-15)
    assert F.log_softmax(x, 2, dtype=td.float32).dtype_name == "float32"
    ints = td.Tensor([[1, 2], [3, 4]], backend=backend)
    assert ints.softmax(1).dtype_name == "float32"  # integers become the default float
    with pytest.raises(TypeError, match="give dim or axis, not both"):
        F.softmax(x, 1, axis=1)
    with pytest.raises(IndexError, match=r"softmax: dimension out of range \(expected to be in "
                                         r"range of \[-3, 2\], but got 3\)"):
        F.softmax(x, 3)


def test_softmax_without_a_dim_takes_pytorchs_implicit_one_with_its_warning(backend):
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(4).standard_normal((3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = F.softmax(tensor(data, backend))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.functional.softmax(torch.tensor(data))  # its implicit dim, warned
    np.testing.assert_allclose(host(ours), theirs.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["gelu", "silu", "leaky_relu", "elu", "softplus"])
def test_activations_refuse_integer_tensors_as_pytorch(backend, name):
    with pytest.raises(TypeError, match=f"{name}: expected a floating-point tensor, got dtype "
                                        "int64"):
        getattr(F, name)(td.Tensor([1, 2], backend=backend))


def test_activation_errors_name_the_problem(backend):
    x = tensor([1.0], backend)
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(x, approximate="erf")
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a number"):
        F.leaky_relu(x, "0.1")
    with pytest.raises(TypeError, match="relu: expected a Tensor, got list"):
        F.relu([1.0])


def test_activations_keep_float32_and_dtypes_of_their_input(backend):
    x = td.Tensor([-1.0, 0.5], backend=backend)
    for out in (F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), F.leaky_relu(x),
                F.elu(x), F.softplus(x), F.tanh(x), x.clamp(0, 1)):
        assert out.dtype_name == "float32"
    assert F.tanh(td.Tensor([1, 2], backend=backend)).dtype_name == "float32"


def test_clamp_dtypes_follow_pytorchs_promotion(backend):
    torch = pytest.importorskip("torch")
    ints = td.Tensor([1, 2, 3], backend=backend)
    for args in ((0, 2), (0.5, 2.5), (None, 2), (1.5, None)):
        ours = ints.clamp(*args)
        theirs = torch.tensor([1, 2, 3]).clamp(*args)
        assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
        assert host(ours).tolist() == theirs.tolist()
    low = td.Tensor([0.5], backend=backend, dtype="float64")
    assert td.Tensor([1.0, 2.0], backend=backend).clamp(low).dtype_name == "float64"


def test_clamp_errors(backend):
    x = tensor([1.0, 2.0], backend)
    with pytest.raises(TypeError, match="clamp: at least one of min and max"):
        x.clamp()
    with pytest.raises(TypeError, match="clamp: min and max must both be numbers or both "
                                        "Tensors"):
        x.clamp(tensor([0.0], backend), 1.0)
    assert x.clamp_min(1.5).tolist() == [1.5, 2.0] and x.clamp_max(1.5).tolist() == [1.0, 1.5]


def test_clamp_records_one_node_and_saves_a_boolean_mask(backend):
    x = tensor([-1.0, 0.5, 2.0], backend, requires_grad=True)
    out = x.clamp(0.0, 1.0)
    assert out.grad_fn.name == "clamp" and out.grad_fn.attributes() == {"min": 0.0, "max": 1.0}
    assert out.grad_fn.saved.dtype == td.backends.get(backend).xp.bool


@pytest.mark.parametrize("name, args", [("relu", ()), ("silu", ()), ("elu", (0.7,)),
                                        ("leaky_relu", (0.2,))])
def test_the_functions_accept_inplace_as_the_modules_do_and_return_a_new_tensor(backend, name,
                                                                               args):
    """F.relu(x, inplace=True) raised ValueError while nn.ReLU(inplace=True) was accepted:
    both now accept it, giving PyTorch's values in a new tensor and leaving x unchanged."""
    torch = pytest.importorskip("torch")
    values = [-1.5, 0.0, 2.0]
    x = tensor(values, backend, requires_grad=True)
    out = getattr(F, name)(x, *args, inplace=True)
    theirs = torch.tensor(values, dtype=torch.float64)
    getattr(torch.nn.functional, name)(theirs, *args, inplace=True)
    np.testing.assert_allclose(host(out), theirs.numpy(), rtol=1e-15)
    assert out is not x and host(x).tolist() == values
    out.sum().backward()  # still differentiable: nothing was overwritten
    ref = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    getattr(torch.nn.functional, name)(ref, *args).sum().backward()
    np.testing.assert_allclose(host(x.grad), ref.grad.numpy(), rtol=1e-15)
