"""Reductions against PyTorch on every backend where the op table cannot reach: index outputs
(max/min over a dim, argmax/argmin), any/all, results of integer and bool tensors, zero-size and
0-d tensors, NaN/inf edge cases and their gradients, and PyTorch's errors."""

import numpy as np
import pytest
from conftest import host

import tinygrad_drop as td

torch = pytest.importorskip("torch")

TIED = np.array([[1, 3, 3, 0], [2, 2, 0, 2], [0, 1, 0, 1]])  # ties for every extreme
DTYPES = ["float64", "float32", "int32", "int64", "bool"]


def pair(data, backend, dtype, requires_grad=False):
    """The same values as our Tensor and as a torch tensor."""
    data = np.asarray(data).astype(dtype)
    return (td.Tensor(data, dtype=dtype, backend=backend, requires_grad=requires_grad),
            torch.tensor(data, requires_grad=requires_grad))


def torch_dtype_name(t):
    return str(t.dtype).removeprefix("torch.")


def assert_same(ours, theirs):
    """Shape, dtype and values (NaN where PyTorch has NaN) agree; named tuples field by
    field."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and ours._fields == ("values", "indices")
        assert_same(ours.values, theirs.values)
        assert_same(ours.indices, theirs.indices)
        return
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype_name == torch_dtype_name(theirs)
    rtol = 1e-6 if ours.dtype_name == "float32" else 1e-12
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=rtol, atol=0,
                               equal_nan=True)


def agree(fn, ours, theirs):
    """``fn`` gives the same result on both, or raises the same kind of exception."""
    try:
        expected = fn(theirs)
    except Exception as exc:  # PyTorch refuses: so must we, with its exception type
        with pytest.raises(type(exc)):
            fn(ours)
        return
    assert_same(fn(ours), expected)


# One spelling, valid in both libraries; applied to every dtype in DTYPES.
FORMS = {
    "max_dim_values": lambda t: t.max(1).values,
    "max_dim_indices": lambda t: t.max(1).indices,
    "max_dim_keepdim_indices": lambda t: t.max(-1, keepdim=True).indices,
    "max_dim_keyword_item": lambda t: t.max(dim=0)[1],
    "min_dim_values": lambda t: t.min(0).values,
    "min_dim_indices": lambda t: t.min(-2).indices,
    "min_positional_keepdim": lambda t: t.min(1, True)[1],
    "argmax_all": lambda t: t.argmax(),
    "argmax_all_keepdim": lambda t: t.argmax(keepdim=True),
    "argmax_dim": lambda t: t.argmax(1),
    "argmin_all": lambda t: t.argmin(),
    "argmin_dim_keepdim": lambda t: t.argmin(-2, keepdim=True),
    "any": lambda t: t.any(),
    "all": lambda t: t.all(),
    "any_dim": lambda t: t.any(1),
    "all_dim_keepdim": lambda t: t.all(-1, keepdim=True),
    "any_dims": lambda t: t.any((0, 1)),
    "all_dims_keyword": lambda t: t.all(dim=(-1, 0)),
    "sum": lambda t: t.sum(),
    "sum_dim": lambda t: t.sum(1),
    "sum_dims_keepdim": lambda t: t.sum((0, 1), keepdim=True),
    "prod": lambda t: t.prod(),
    "prod_dim": lambda t: t.prod(0),
    "mean": lambda t: t.mean(),
    "var": lambda t: t.var(1),
    "std": lambda t: t.std(),
    "logsumexp": lambda t: t.logsumexp(1),
    "amax": lambda t: t.amax(),
    "amax_dim": lambda t: t.amax(1),
    "amin_dims": lambda t: t.amin((0, 1)),
    "max": lambda t: t.max(),
    "min": lambda t: t.min(),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_reductions_agree_with_torch_on_every_dtype(form, dtype, backend):
    """Values, dtypes (int64 sums of ints and bools, int64 indices, bool any/all) and shapes,
    or PyTorch's exception where it refuses (mean of ints, argmax of bools)."""
    agree(FORMS[form], *pair(TIED, backend, dtype))


def test_max_over_a_dim_is_a_named_tuple(backend):
    x = td.Tensor(TIED.astype("float64"), backend=backend, requires_grad=True)
    result = x.max(1)
    values, indices = result
    assert isinstance(result, tuple) and result._fields == ("values", "indices")
    assert result.values is values and result.indices is indices
    assert values.requires_grad and not indices.requires_grad and indices.grad_fn is None
    assert indices.tolist() == [1, 0, 1]  # the first of tied maxima
    assert x.min(dim=1).indices.tolist() == [3, 2, 0]
    assert type(x.min(0)).__name__ == "MinResult" and type(result).__name__ == "MaxResult"


def test_index_and_boolean_results_carry_no_gradient(backend):
    x = td.Tensor(TIED.astype("float64"), backend=backend, requires_grad=True)
    for out in (x.argmax(), x.argmin(1), x.any(), x.all(0), x.max(0).indices):
        assert not out.requires_grad and out.grad_fn is None
    with td.no_grad():
        assert not x.max(1).values.requires_grad


@pytest.mark.parametrize("ours, theirs", [
    (lambda t: t.max(axis=1), lambda t: t.amax(1)),
    (lambda t: t.min(axis=(0, 1), keepdims=True), lambda t: t.amin((0, 1), keepdim=True)),
    (lambda t: t.max(axis=-1, keepdim=True), lambda t: t.amax(-1, keepdim=True)),
    (lambda t: t.argmax(axis=0, keepdims=True), lambda t: t.argmax(0, keepdim=True)),
    (lambda t: t.any(axis=1), lambda t: t.any(1)),
    (lambda t: t.sum(axis=-1, keepdims=True), lambda t: t.sum(-1, keepdim=True)),
    (lambda t: t.var(axis=0, keepdims=True, correction=0),
     lambda t: t.var(0, keepdim=True, correction=0)),
    (lambda t: t.std(False), lambda t: t.std(False)),
    (lambda t: t.std(0, True, True), lambda t: t.std(0, True, True)),
    (lambda t: t.logsumexp(axis=(0, 1)), lambda t: t.logsumexp((0, 1))),
    (lambda t: t.sum(dtype=td.float64), lambda t: t.sum(dtype=torch.float64)),
], ids=["max_axis", "min_axes_keepdims", "max_axis_keepdim", "argmax_axis", "any_axis",
        "sum_axis", "var_axis", "std_unbiased_positional", "std_dim_unbiased_keepdim",
        "logsumexp_axes", "sum_dtype"])
def test_numpy_spellings_and_positional_forms_give_torch_results(ours, theirs, backend):
    """``axis=``/``keepdims=`` give values (never a tuple); var/std read a bool first
    argument, and (dim, unbiased, keepdim) positionally, as PyTorch does."""
    x, t = pair(TIED, backend, "float64")
    assert_same(ours(x), theirs(t))


def test_mean_of_integers_takes_dtype(backend):
    x, t = pair(TIED, backend, "int32")
    assert_same(x.mean(dtype=td.float32), t.mean(dtype=torch.float32))
    assert_same(x.logsumexp(0), t.logsumexp(0))  # integers give the default float


# Reductions of tensors with no elements: PyTorch's shapes and values, or its error.
EMPTY_FORMS = {
    "max_dim_of_length_0": lambda t: t.max(0),
    "max_other_dim": lambda t: t.max(1).values,
    "max_other_dim_indices": lambda t: t.max(1).indices,
    "max_all": lambda t: t.max(),
    "amax_other_dim": lambda t: t.amax(1),
    "amin_dim_of_length_0": lambda t: t.amin(0),
    "amax_dims": lambda t: t.amax((0, 1)),
    "argmax_all": lambda t: t.argmax(),
    "argmin_dim_of_length_0": lambda t: t.argmin(0),
    "argmax_other_dim": lambda t: t.argmax(1),
    "sum_0": lambda t: t.sum(0),
    "sum_1": lambda t: t.sum(1),
    "sum_all": lambda t: t.sum(),
    "mean_all": lambda t: t.mean(),
    "mean_0": lambda t: t.mean(0),
    "var_0": lambda t: t.var(0),
    "std_1": lambda t: t.std(1),
    "logsumexp_0": lambda t: t.logsumexp(0),
    "logsumexp_1": lambda t: t.logsumexp(1),
    "prod_0": lambda t: t.prod(0),
    "prod_all": lambda t: t.prod(),
    "any_all": lambda t: t.any(),
    "all_all": lambda t: t.all(),
    "any_0": lambda t: t.any(0),
    "all_1_keepdim": lambda t: t.all(1, keepdim=True),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch warns of var's zero dof
@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
@pytest.mark.parametrize("form", sorted(EMPTY_FORMS))
def test_zero_size_reductions_follow_torch(form, shape, backend):
    x, t = pair(np.zeros(shape), backend, "float32")
    agree(EMPTY_FORMS[form], x, t)


def test_zero_size_max_errors_name_the_dim_and_shape(backend):
    x = td.Tensor.zeros(0, 3, backend=backend)
    with pytest.raises(IndexError, match=r"max: .*reduction dim 0 .*non-zero size.*\(0, 3\)"):
        x.max(0)
    with pytest.raises(RuntimeError, match=r"max: cannot reduce an empty tensor of shape"):
        x.max()
    with pytest.raises(IndexError, match=r"argmin: .*reduction dim 0"):
        x.argmin(0)
    assert x.max(axis=1).shape == (0,)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("form", ["sum", "mean", "var", "logsumexp", "amax_1", "max_1",
                                  "prod"])
def test_zero_size_reductions_backward_give_empty_gradients(form, backend):
    fn = {"sum": lambda t: t.sum(0), "mean": lambda t: t.mean(1), "var": lambda t: t.var(0),
          "logsumexp": lambda t: t.logsumexp(0), "amax_1": lambda t: t.amax(1),
          "max_1": lambda t: t.max(1).values, "prod": lambda t: t.prod(0)}[form]
    x, t = pair(np.zeros((0, 3)), backend, "float64", requires_grad=True)
    out, ref = fn(x), fn(t)
    out.backward(td.Tensor(np.ones(out.shape), backend=backend, dtype="float64"))
    ref.backward(torch.ones(ref.shape, dtype=torch.float64))
    assert_same(x.grad, t.grad)


ZERO_D_FORMS = {
    "sum_0": lambda t: t.sum(0), "sum_-1": lambda t: t.sum(-1), "sum_1": lambda t: t.sum(1),
    "mean_0": lambda t: t.mean(0), "prod_0": lambda t: t.prod(0),
    "max_0_values": lambda t: t.max(0).values, "max_-1_indices": lambda t: t.max(-1).indices,
    "max_1": lambda t: t.max(1), "amax_0": lambda t: t.amax(0), "min": lambda t: t.min(),
    "argmax_0": lambda t: t.argmax(0), "argmin": lambda t: t.argmin(),
    "var": lambda t: t.var(), "std_0_biased": lambda t: t.std(0, correction=0),
    "logsumexp_0": lambda t: t.logsumexp(0), "any_0": lambda t: t.any(0),
    "all_keepdim": lambda t: t.all(0, keepdim=True),
    "argmax_keepdim": lambda t: t.argmax(0, keepdim=True),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("form", sorted(ZERO_D_FORMS))
def test_zero_d_reductions_take_dim_0_and_minus_1(form, backend):
    agree(ZERO_D_FORMS[form], *pair(2.5, backend, "float64"))


# Gradients at the edges: ties and NaN for the extremes, zero dof for var, infinities for
# logsumexp, zeros for prod; each against PyTorch with a random upstream gradient.
NAN, INF = float("nan"), float("inf")
EDGES = {
    "max_dim_ties_nan": ([[1, 3, 3], [NAN, 2, NAN], [2, 2, 0]], lambda t: t.max(1).values),
    "min_dim_ties_nan": ([[1, 3, 3], [NAN, 2, NAN], [2, 2, 0]], lambda t: t.min(0).values),
    "amax_ties_nan": ([[1, 3, 3], [NAN, 2, NAN], [2, 2, 0]], lambda t: t.amax(1)),
    "amin_ties": ([[1, 3, 1], [0, 2, 0]], lambda t: t.amin(-1, keepdim=True)),
    "max_all_nans": ([[1, NAN], [NAN, 2]], lambda t: t.max()),
    "min_all_nan": ([[1, NAN], [0, 2]], lambda t: t.min()),
    "amax_all_nans": ([[1, NAN], [NAN, 2]], lambda t: t.amax()),
    "min_all_ties": ([[1, 1], [1, 2]], lambda t: t.min()),
    "var_dof_0": ([[1, 2], [3, 3]], lambda t: t.var(1, correction=2)),
    "var_dof_negative": ([[1, 2], [3, 3]], lambda t: t.var(correction=7)),
    "var_dim_dof_negative": ([[1, 2], [3, 3]], lambda t: t.var(-1, correction=3)),
    "var_all_dof_0": ([[1, 2], [3, 3]], lambda t: t.var(correction=4)),
    "var_one_element": ([[1, 2]], lambda t: t.var(0)),
    "std_zero_spread": ([[1, 1, 1], [0, 1, 2]], lambda t: t.std(1)),
    "std_dof_0": ([[1, 2], [3, 3]], lambda t: t.std(-1, correction=2)),
    "logsumexp_minus_inf": ([[-INF, -INF], [-INF, 0]], lambda t: t.logsumexp(1)),
    "logsumexp_plus_inf": ([[INF, 1], [INF, INF]], lambda t: t.logsumexp(-1)),
    "logsumexp_large": ([[1000, 1000, -INF], [-1000, -1001, -1002]],
                        lambda t: t.logsumexp(1)),
    "prod_zeros": ([[0, 2, 3], [0, 0, 4], [1, 2, 3]], lambda t: t.prod(1)),
    "prod_zeros_dim0": ([[0, 2, 3], [0, 0, 4], [1, 2, 3]], lambda t: t.prod(0, keepdim=True)),
    "prod_all_one_zero": ([[1.5, 2, 3], [0, 2, 4]], lambda t: t.prod()),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy: 0/0, inf/inf at infinities
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_values_and_gradients_follow_torch(name, dtype, backend, rng):
    """NaN and inf where PyTorch has them. Float32 is held to PyTorch's float64 answer (to
    float32's precision): PyTorch's own float32 logsumexp gradient, exp(x - out), loses out's
    rounding (3e-5 at 1000); ours, the softmax from the shifted exponentials, does not."""
    data, fn = EDGES[name]
    x, _ = pair(data, backend, dtype, requires_grad=True)
    _, t = pair(data, backend, "float64", requires_grad=True)
    out, ref = fn(x), fn(t)
    assert out.shape == tuple(ref.shape) and out.dtype_name == dtype
    rtol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(host(out), ref.detach().numpy(), rtol=rtol, equal_nan=True)
    upstream = rng.uniform(0.5, 2.0, out.shape)
    out.backward(td.Tensor(upstream, backend=backend, dtype=dtype))
    ref.backward(torch.tensor(upstream))
    assert x.grad.dtype_name == dtype
    np.testing.assert_allclose(host(x.grad), t.grad.numpy(), rtol=rtol, equal_nan=True)


def test_logsumexp_is_stable_where_the_naive_formula_overflows(backend):
    x = td.Tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], backend=backend)
    np.testing.assert_allclose(host(x.logsumexp(1)), [1000 + np.log(2), -1000 + np.log(2)],
                               rtol=1e-7)


@pytest.mark.parametrize("call, kind, message", [
    (lambda x: x.max(x), TypeError, r"max: .*td\.maximum\(a, b\)"),
    (lambda x: x.min(x), TypeError, r"min: .*td\.minimum\(a, b\)"),
    (lambda x: x.max((0, 1)), TypeError, r"max: dim must be an int.*amax"),
    (lambda x: x.argmax((0, 1)), TypeError, r"argmax: dim must be an int"),
    (lambda x: x.prod((0, 1)), TypeError, r"prod: dim must be an int"),
    (lambda x: x.sum(2), IndexError, r"sum: dimension out of range \(expected to be in range "
                                     r"of \[-2, 1\], but got 2\)"),
    (lambda x: x.max(-3), IndexError, r"max: dimension out of range .* but got -3"),
    (lambda x: x.amax(2), IndexError, r"amax: dimension out of range .* but got 2"),
    (lambda x: x.argmin(2), IndexError, r"argmin: dimension out of range .* but got 2"),
    (lambda x: x.any(5), IndexError, r"any: dimension out of range .* but got 5"),
    (lambda x: x.sum((0, 0)), RuntimeError, r"sum: repeated axis: dim 0 appears multiple "
                                            r"times in the list of dims \[0, 0\]"),
    (lambda x: x.var((1, -1)), RuntimeError, r"var: repeated axis: dim 1 appears multiple"),
    (lambda x: x.sum(0, axis=0), TypeError, r"sum: give dim or axis, not both"),
    (lambda x: x.max(0, axis=0), TypeError, r"max: give dim or axis, not both"),
    (lambda x: x.mean(0, keepdim=True, keepdims=True), TypeError, r"keepdim or keepdims"),
    (lambda x: x.var(0, True, correction=0), TypeError, r"correction or unbiased"),
    (lambda x: x.long().mean(), RuntimeError, r"mean: .*floating.*int64"),
    (lambda x: x.int().var(), RuntimeError, r"var: .*floating.*int32"),
    (lambda x: x.bool().std(0), RuntimeError, r"std: .*floating.*bool"),
    (lambda x: x.bool().argmax(), RuntimeError, r"argmax: does not support bool"),
    (lambda x: x.sum(0.5), TypeError, r"sum: dim must be an int, got float 0.5"),
    (lambda x: x.amax((0, True)), TypeError, r"amax: dim must be an int, got bool True"),
])
def test_errors_are_pytorchs_and_name_the_problem(call, kind, message, backend):
    with pytest.raises(kind, match=message):
        call(td.Tensor.zeros(2, 3, backend=backend))


def test_dim_errors_are_also_value_errors(backend):
    """Out-of-range and repeated dims raise PyTorch's types, which also derive from ValueError
    (what this package raised before), so existing handlers keep working."""
    x = td.Tensor.zeros(2, 3, backend=backend)
    with pytest.raises(ValueError):
        x.sum(axis=2)
    with pytest.raises(ValueError):
        x.mean(axis=(0, 0))


def test_max_gradient_goes_to_the_index_while_amax_shares_it(backend):
    """Hand-worked: row [1, 3, 3]; max(dim) sends all to the first 3, amax halves it."""
    x = td.Tensor([[1.0, 3.0, 3.0]], dtype="float64", backend=backend, requires_grad=True)
    x.max(1).values.sum().backward()
    assert host(x.grad).tolist() == [[0.0, 1.0, 0.0]]
    x.grad = None
    x.amax(1).sum().backward()
    assert host(x.grad).tolist() == [[0.0, 0.5, 0.5]]
    x.grad = None
    x.max(1, keepdim=True).values.sum().backward()
    assert host(x.grad).tolist() == [[0.0, 1.0, 0.0]]


def test_reductions_keep_integer_dtypes_where_torch_does(backend):
    x = td.Tensor(TIED, dtype="int32", backend=backend)
    assert x.amax(0).dtype_name == "int32" and x.max(1).values.dtype_name == "int32"
    assert x.sum().dtype_name == "int64" and x.prod(1).dtype_name == "int64"
    assert x.bool().sum().dtype_name == "int64" and x.bool().amax().dtype_name == "bool"
    assert x.argmax().dtype_name == "int64" and x.any().dtype_name == "bool"
    assert x.sum().item() == int(TIED.sum())
