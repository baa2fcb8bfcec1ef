"""Every op, from one table: exact hand-worked values, gradcheck, agreement with PyTorch, and
Chainer's discipline (an op leaves its inputs unchanged and takes non-contiguous inputs).

The table's rows live in one module per op family (``op_cases_<family>.py``); each row drives
every test body below, on every backend; a test checks that the rows together reach every op
class the package defines. Adding an op means adding its rows.
"""

import numpy as np
import op_cases_activation
import op_cases_conv
import op_cases_elementwise
import op_cases_nn
import op_cases_pool
import op_cases_reduce
import op_cases_shape
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import ops
from tinygrad_drop.autograd import Op, topological_order

CASES = {}
for _family in (op_cases_elementwise, op_cases_activation, op_cases_reduce, op_cases_shape,
                op_cases_nn, op_cases_pool, op_cases_conv):
    assert not CASES.keys() & _family.CASES.keys(), "two families name the same row"
    CASES.update(_family.CASES)
WITH_TORCH = sorted(name for name, case in CASES.items() if case.torch is not None)
WITH_EXACT = sorted(name for name, case in CASES.items() if case.exact is not None)


def make_inputs(case, rng):
    arrays = []
    for shape in case.input_shapes():
        if case.domain == "pos":
            arrays.append(rng.uniform(0.5, 2.0, shape))
        elif case.domain == "away":
            arrays.append(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))
        else:
            arrays.append(rng.standard_normal(shape))
    return arrays


def forward_backward(case, inputs, upstream):
    """Output (host array) of ``case`` from a fixed seed, so dropout draws the same mask each
    time, after the backward of ``upstream`` (a host array) through it."""
    td.manual_seed(0)
    out = case.ours(*inputs)
    out.backward(tensor(upstream, out.backend, dtype=out.dtype_name))
    return host(out)


def output_shape(case, inputs):
    with td.no_grad():
        return case.ours(*inputs).shape


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradcheck(name, backend, rng):
    case = CASES[name]
    inputs = [tensor(a, backend, requires_grad=True) for a in make_inputs(case, rng)]
    assert td.gradcheck(case.ours, inputs, **case.check)


@pytest.mark.parametrize("name", WITH_TORCH)
def test_op_matches_torch(name, backend, rng):
    torch = pytest.importorskip("torch")
    case = CASES[name]
    arrays = make_inputs(case, rng)
    ours = [tensor(a, backend, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = case.ours(*ours), case.torch(*theirs)
    assert out.shape == tuple(ref.shape) and out.dtype_name == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(tensor(upstream, backend, dtype=out.dtype_name))
    ref.backward(torch.tensor(upstream, dtype=ref.dtype))
    for x, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def normwise_close(got, want, tolerance):
    """||got - want|| <= tolerance * ||want|| (+ tolerance, for results that are 0)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    error = np.linalg.norm((got - want).ravel())
    assert error <= tolerance * (np.linalg.norm(want.ravel()) + 1), (error, tolerance)


@pytest.mark.parametrize("name", WITH_TORCH)
def test_op_matches_torch_in_float32(name, backend, rng):
    """The same in float32: the output's dtype is PyTorch's, and values and gradients agree
    normwise to a few float32 roundings (2**-24 each)."""
    torch = pytest.importorskip("torch")
    case = CASES[name]
    arrays = [a.astype(np.float32) for a in make_inputs(case, rng)]
    ours = [tensor(a, backend, requires_grad=True, dtype="float32") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = case.ours(*ours), case.torch(*theirs)
    assert out.shape == tuple(ref.shape) and out.dtype_name == str(ref.dtype).split(".")[-1]
    normwise_close(host(out), ref.detach().numpy(), 1e-5)
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(tensor(upstream, backend, dtype=out.dtype_name))
    ref.backward(torch.tensor(upstream, dtype=ref.dtype))
    for x, t in zip(ours, theirs, strict=True):
        assert x.grad.dtype_name == "float32"
        normwise_close(host(x.grad), t.grad.numpy(), 1e-5)


@pytest.mark.parametrize("name", WITH_EXACT)
def test_op_hand_worked_values(name, backend):
    case = CASES[name]
    xs = [tensor(x, backend, requires_grad=True) for x in case.exact.inputs]
    out = case.ours(*xs)
    np.testing.assert_allclose(host(out), case.exact.output, rtol=1e-15, atol=1e-15)
    out.sum().backward()
    for x, g in zip(xs, case.exact.grads, strict=True):
        np.testing.assert_allclose(host(x.grad), g, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_leaves_its_inputs_and_upstream_gradient_unchanged(name, backend, rng):
    case = CASES[name]
    arrays = make_inputs(case, rng)
    inputs = [tensor(a, backend, requires_grad=True) for a in arrays]
    upstream = rng.standard_normal(output_shape(case, inputs))
    kept = upstream.copy()
    forward_backward(case, inputs, upstream)
    for x, original in zip(inputs, arrays, strict=True):
        np.testing.assert_array_equal(host(x), original)
    np.testing.assert_array_equal(upstream, kept)


def strided(array, backend):
    """A leaf holding ``array`` interleaved with junk along the last axis, and the
    non-contiguous view of it that is ``array`` itself."""
    wide = np.full(array.shape[:-1] + (2 * array.shape[-1],), 7.0)
    wide[..., ::2] = array
    leaf = tensor(wide, backend, requires_grad=True)
    return leaf, leaf[..., ::2]


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_takes_non_contiguous_inputs(name, backend, rng):
    case = CASES[name]
    arrays = make_inputs(case, rng)
    dense = [tensor(a, backend, requires_grad=True) for a in arrays]
    leaves, views = zip(*(strided(a, backend) for a in arrays), strict=True)
    upstream = rng.standard_normal(output_shape(case, dense))
    expected = forward_backward(case, dense, upstream)
    got = forward_backward(case, views, upstream)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    for leaf, x in zip(leaves, dense, strict=True):
        grad = host(leaf.grad)
        np.testing.assert_allclose(grad[..., ::2], host(x.grad), rtol=1e-12, atol=1e-12)
        assert not grad[..., 1::2].any()  # the junk in between gets no gradient


def op_classes_reached(case, backend, rng):
    inputs = [tensor(a, backend, requires_grad=True) for a in make_inputs(case, rng)]
    out = case.ours(*inputs)
    return {type(op) for op in topological_order(out.grad_fn)} if out.grad_fn else set()


def defined_ops():
    """Every op class of the package's op families (bases such as _Reduction excluded)."""
    return {cls for family in ops.FAMILIES for cls in vars(family).values()
            if isinstance(cls, type) and issubclass(cls, Op) and cls.__module__ == family.__name__
            and not cls.__name__.startswith("_")}


def test_the_table_reaches_every_op_the_package_defines(rng):
    defined = defined_ops()
    reached = set().union(*(op_classes_reached(case, "numpy", rng) for case in CASES.values()))
    missing = sorted(cls.__name__ for cls in defined - reached)
    assert len(defined) >= 25 and not missing, f"no row of CASES exercises {missing}"
