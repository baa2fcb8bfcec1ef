"""Shape, indexing, joining and selection ops against PyTorch where the op table cannot say it:
index shape rules (many mixed cases, and random ones), dtypes of cat/stack/where/maximum with
mixed inputs, split/chunk lengths, and the errors (type and message)."""

import itertools

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop.functions import pad

torch = pytest.importorskip("torch")

DTYPES = ["bool", "int32", "int64", "float32", "float64"]


def pair(shape, backend, dtype="float64"):
    """The same values as one of our Tensors on ``backend`` (requiring grad where floating)
    and a torch tensor."""
    data = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * 0.5 - 3.0
    grad = dtype.startswith("float")
    ours = td.Tensor(data.astype(dtype), backend=backend, requires_grad=grad)
    theirs = torch.tensor(data.astype(dtype), requires_grad=grad)
    return ours, theirs


def makers(backend):
    """Index-tensor constructors: ours on ``backend``, and torch's."""
    return ((lambda v, dtype="int64": td.Tensor(v, dtype=dtype, backend=backend)),
            (lambda v, dtype="int64": torch.tensor(v, dtype=getattr(torch, dtype))))


def assert_same_selection(x, xt, index, indext):
    """x[index] and xt[indext]: same shape, values, and gradient of a weighted sum."""
    out, ref = x[index], xt[indext]
    assert out.shape == tuple(ref.shape), (index, out.shape, tuple(ref.shape))
    np.testing.assert_array_equal(host(out), ref.detach().numpy())
    weights = np.linspace(-1.0, 2.0, max(out.numel(), 1))[:out.numel()].reshape(out.shape)
    (out * tensor(weights, x.backend)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(host(x.grad), xt.grad.numpy())


INDEXES = {
    "int_slice_list": lambda T: (0, slice(None), [0, 1]),
    "list_slice_int": lambda T: ([0, 1], slice(None), 0),
    "list_int_list": lambda T: ([0, 1], 0, [3, 1]),
    "lists_split_by_slice": lambda T: ([1, 0], slice(None), [0, 3]),
    "lists_split_by_none": lambda T: ([1, 0], None, [0, 2]),
    "slice_list_none": lambda T: (slice(None), [2, 0], None),
    "zero_d_tensor_is_an_int": lambda T: (T(1), slice(None), [0, 1]),
    "bool_true_and_list": lambda T: (True, [1, 0]),
    "list_and_bool_after_slice": lambda T: ([0, 1], slice(None), True),
    "false": lambda T: (False,),
    "zero_d_bool_tensor": lambda T: (T(True, "bool"),),
    "mask_2d_and_list": lambda T: (T([[True, False, True], [False, True, True]], "bool"),
                                   [0, 1, 3, 1]),
    "int_mask_ellipsis": lambda T: (1, T([True, False, True], "bool"), Ellipsis),
    "slice_mask_2d": lambda T: (slice(None), T([[True, False, True, True], [False] * 4,
                                                 [True] * 4], "bool")),
    "ellipsis_list": lambda T: (Ellipsis, [0, 4, -1]),
    "list_ellipsis_list": lambda T: ([0, 1], Ellipsis, [0, 2]),
    "nested_list_is_an_array": lambda T: (T([[0, 1], [1, 0]]),),
    "int_2d_slice_list": lambda T: (1, T([[0, 1], [2, 0]]), slice(None), [2]),
    "list_int_list_short": lambda T: ([0], 1, [2]),
    "slice_int_list_int": lambda T: (slice(None), 1, [0, 2], 0),
    "list_int_slice_int": lambda T: ([1, 0], 1, slice(None), 0),
    "negative_everything": lambda T: (-1, [-1, -3], slice(-3, None), -2),
    "int32_index_tensor": lambda T: (T([1, 0, 1], "int32"), slice(1, 3)),
    "broadcast_lists": lambda T: (T([[0], [1]]), slice(None), T([1, 3, 3])),
    "empty_list": lambda T: ([],),
    "steps_and_none": lambda T: (None, slice(None, None, 2), None, slice(1, None, 2)),
    "repeats": lambda T: ([1, 1, 1], [0, 0, 2]),
}


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_index_follows_pytorch(name, backend):
    x, xt = pair((2, 3, 4, 5), backend)
    ours, theirs = makers(backend)
    assert_same_selection(x, xt, INDEXES[name](ours), INDEXES[name](theirs))


def test_index_with_numpy_arrays_and_numpy_ints(backend):
    x, xt = pair((3, 4), backend)
    assert_same_selection(x, xt, (np.array([2, 0]), np.int64(-1)), (torch.tensor([2, 0]), -1))


def test_integer_array_indexing_works_on_every_backend(backend):
    """Bug 7: on strict, x[idx2d], x[idx, 1:] and x[idx, -1] failed (an Ellipsis beside an
    index array, which the Array API forbids)."""
    x, xt = pair((3, 4), backend)
    idx = td.Tensor([2, 0], backend=backend)
    idx2d = td.Tensor([[0, 1], [2, 2]], backend=backend)
    for ours, theirs in ((idx2d, torch.tensor([[0, 1], [2, 2]])),
                         ((idx, slice(1, None)), (torch.tensor([2, 0]), slice(1, None))),
                         ((idx, -1), (torch.tensor([2, 0]), -1))):
        x.grad, xt.grad = None, None
        assert_same_selection(x, xt, ours, theirs)


def test_int_before_arrays_follows_pytorch_not_numpy(backend):
    """Bug 9: x[0, :, [0, 1]] of a (2, 3, 4) tensor is (3, 2) in PyTorch ((2, 3) in NumPy)."""
    x = td.Tensor(np.arange(24.0).reshape(2, 3, 4), backend=backend)
    out = x[0, :, [0, 1]]
    assert out.shape == (3, 2)
    assert out.tolist() == [[0.0, 1.0], [4.0, 5.0], [8.0, 9.0]]


@pytest.mark.parametrize("seed", range(6))
def test_random_mixed_indexes_follow_pytorch(seed, backend):
    """Random mixes of ints, slices, lists, masks, None, bools and Ellipsis: the same result
    (or an error in both)."""
    rng = np.random.default_rng(seed)
    shape = (2, 3, 4, 5)
    ours_t, theirs_t = makers(backend)
    for _ in range(40):
        parts, dim, length = [], 0, int(rng.integers(1, 3))
        ellipsis = False
        for _ in range(int(rng.integers(1, 5))):
            kind = rng.choice(["int", "slice", "list", "none", "mask", "bool", "ellipsis"])
            if kind == "none":
                parts.append(("none", None))
            elif kind == "bool":
                parts.append(("bool", bool(rng.integers(2))))
            elif kind == "ellipsis" and not ellipsis:
                ellipsis = True
                parts.append(("ellipsis", Ellipsis))
            elif dim < len(shape) and kind != "ellipsis":
                n = shape[dim]
                if kind == "int":
                    parts.append(("int", int(rng.integers(-n, n))))
                elif kind == "slice":
                    lo, hi = sorted(rng.integers(-n - 1, n + 2, 2))
                    parts.append(("slice", slice(int(lo), int(hi), int(rng.integers(1, 3)))))
                elif kind == "list":
                    parts.append(("list", [int(i) for i in rng.integers(-n, n, length)]))
                else:
                    parts.append(("mask", [bool(b) for b in rng.integers(0, 2, n)]))
                dim += 1
        ours = tuple(ours_t(v, "bool") if k == "mask" else v for k, v in parts)
        theirs = tuple(theirs_t(v, "bool") if k == "mask" else v for k, v in parts)
        x, xt = pair(shape, backend)
        try:
            xt[theirs]
        except IndexError:
            with pytest.raises(IndexError):
                x[ours]
            continue
        assert_same_selection(x, xt, ours, theirs)


@pytest.mark.parametrize("index, error, message", [
    ((5,), IndexError, r"index 5 is out of bounds for dimension 0 with size 3"),
    ((slice(None), [1, -5]), IndexError, r"index -5 is out of bounds for dimension 1 with size 4"),
    # several integer arrays are checked together (one device read): the bad one is named
    (([0, 2], [1, 4]), IndexError, r"index 4 is out of bounds for dimension 1 with size 4"),
    (([3, 2], [1, -4]), IndexError, r"index 3 is out of bounds for dimension 0 with size 3"),
    ((0, 0, 0), IndexError, r"too many indices for tensor of dimension 2"),
    ((1.0,), IndexError, r"only integers, slices"),
    # PyTorch truncates a NumPy float array to integers; we refuse it as it refuses a float
    # tensor
    ((np.array([0.5]),), IndexError, r"must be long, int, byte or bool tensors, got dtype "
                                     r"float64"),
    ((np.array([True, False]),), IndexError, r"shape of the mask \[2\] at index 0 does not "
                                             r"match the shape of the indexed tensor \[3, 4\]"),
    ((slice(None, None, -1),), ValueError, r"step must be greater than zero"),
    (([0, 1], [0, 1, 2]), IndexError, r"shape mismatch: indexing tensors could not be "
                                      r"broadcast together with shapes \[2\], \[3\]"),
    ((Ellipsis, 0, Ellipsis), IndexError, r"single ellipsis"),  # PyTorch reads it oddly
])
def test_index_errors(index, error, message, backend):
    x = td.Tensor.zeros(3, 4, backend=backend)
    with pytest.raises(error, match=message):
        x[index]
    if "float64" not in message and "ellipsis" not in message:
        with pytest.raises(error):
            torch.zeros(3, 4)[index]


def test_index_with_another_backends_tensor_is_an_error(backend):
    other = "strict" if backend != "strict" else "numpy"
    with pytest.raises(TypeError, match=f"cannot index a '{backend}' tensor with a '{other}'"):
        td.Tensor.zeros(3, backend=backend)[td.Tensor([0], backend=other)]


# -- transpose, permute, T, mT, view, flatten, squeeze, unsqueeze, expand

def test_transpose_swaps_two_dims_as_pytorch(backend):
    """The silent wrong result: t.transpose(0, 1) on 2-D returned t (NumPy's permutation)."""
    x = td.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], backend=backend)
    assert x.transpose(0, 1).tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    assert x.transpose(1, 0).tolist() == x.transpose(-1, -2).tolist() == x.T.tolist()
    y, yt = pair((2, 3, 4, 5), backend)
    for d0, d1 in itertools.product(range(-4, 4), repeat=2):
        np.testing.assert_array_equal(host(y.transpose(d0, d1)),
                                      yt.transpose(d0, d1).detach().numpy())
    assert td.Tensor(2.0, backend=backend).transpose(0, -1).item() == 2.0


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.transpose(0, 3), IndexError, r"transpose: dimension out of range \(expected "
                                              r"to be in range of \[-3, 2\], but got 3\)"),
    (lambda x: x.permute(0, 0, 1), RuntimeError, r"permute: .*dim 0 appears multiple times"),
    (lambda x: x.permute(1, 0), ValueError, r"does not match the length"),
    (lambda x: x.permute(0, 1, -4), IndexError, r"permute: dimension out of range"),
    (lambda x: x[0, 0].mT, ValueError, r"mT: only supported on matrices"),
    (lambda x: x.flatten(2, 1), ValueError, r"start_dim cannot come after end_dim"),
    (lambda x: x.squeeze(3), IndexError, r"squeeze: dimension out of range"),
    (lambda x: x.squeeze((0, -3)), RuntimeError, r"dim 0 appears multiple times"),
    (lambda x: x.unsqueeze(4), IndexError, r"in range of \[-4, 3\], but got 4"),
    (lambda x: x.view(5, -1), ValueError, r"cannot reshape .*\(2, 3, 4\).* to \(5, -1\)"),
    (lambda x: x.expand(3, 4), ValueError, r"number of sizes provided \(2\) must be greater or "
                                           r"equal to the number of dims in the tensor \(3"),
    (lambda x: x.expand(2, 5, 4), ValueError, r"expanded size of the tensor \(5\) must match "
                                              r"the existing size \(3\) at non-singleton "
                                              r"dimension 1"),
    (lambda x: x.expand(-1, 2, 3, 4), ValueError, r"\(-1\) isn't allowed in a leading, "
                                                  r"non-existing dimension 0"),
    (lambda x: x.expand(2, 3, -2), ValueError, r"expanded size of the tensor \(-2\)"),
])
def test_shape_method_errors_match_pytorch(call, error, message, backend):
    with pytest.raises(error, match=message):
        call(td.Tensor.zeros(2, 3, 4, backend=backend))
    with pytest.raises((IndexError, RuntimeError)):
        call(torch.zeros(2, 3, 4))


@pytest.mark.parametrize("call", [
    lambda x: x.permute(-1, 0, 1), lambda x: x.permute((2, 1, 0)), lambda x: x.T,
    lambda x: x.mT, lambda x: x.view(4, -1), lambda x: x.view((24,)), lambda x: x.flatten(),
    lambda x: x.flatten(-2), lambda x: x.flatten(1, 1), lambda x: x[:, :1].squeeze(),
    lambda x: x[:1, :, :1].squeeze((0, 2)), lambda x: x.squeeze(1), lambda x: x.unsqueeze(0),
    lambda x: x.unsqueeze(-1), lambda x: x[:, :1].expand(3, 2, 5, 4),
    lambda x: x[:, :1].expand(-1, 0, -1), lambda x: x[0, 0, 0].expand(2, 2),
    lambda x: x[0, 0, 0].flatten(), lambda x: x[0, 0, 0].unsqueeze(-1),
    lambda x: x[0, 0, 0].squeeze(0), lambda x: x[0, 0, 0].T,
])
def test_shape_methods_match_pytorch(call, backend):
    x, xt = pair((2, 3, 4), backend)
    out, ref = call(x), call(xt)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(host(out), ref.detach().numpy())
    weights = np.linspace(-1.0, 1.0, out.numel()).reshape(out.shape)
    (out * tensor(weights, backend)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(host(x.grad), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


# -- cat, stack, split, chunk

@pytest.mark.parametrize("first, second", itertools.product(DTYPES, repeat=2))
def test_join_dtypes_match_pytorch(first, second, backend):
    a, at = pair((2, 3), backend, first)
    b, bt = pair((2, 3), backend, second)
    for ours, theirs in ((td.cat([a, b], 1), torch.cat([at, bt], 1)),
                         (td.stack([a, b]), torch.stack([at, bt])),
                         (td.where(a > 0, a, b), torch.where(at > 0, at, bt))):
        assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(host(ours), theirs.detach().numpy())
    # bools included: their max is or, their min and (it failed on strict)
    for ours, theirs in ((td.maximum(a, b), torch.maximum(at, bt)),
                         (td.minimum(b, a[0]), torch.minimum(bt, at[0]))):
        assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(host(ours), theirs.detach().numpy())


WHERE_OPERANDS = ["bool", "int32", "int64", "float32", "float64", "float64_0d", "int64_0d",
                  True, 7, 2.5, np.float64(1.5), np.int64(3), np.float32(0.5)]


@pytest.mark.parametrize("x, y", itertools.product(WHERE_OPERANDS, repeat=2), ids=repr)
def test_where_promotes_numbers_and_tensors_as_pytorch(x, y, backend):
    """Every pair of tensors (dimensioned and 0-d) and numbers (Python and NumPy): PyTorch's
    scalar tiers decide the dtype (td.where goes through tensor_math.promote)."""
    cond = [True, False, True]

    def make(v, lib):
        if not isinstance(v, str):
            return v
        name, zero_d = v.removesuffix("_0d"), v.endswith("_0d")
        data = 1.5 if zero_d and name.startswith("float") else 1 if zero_d else [1, 0, 3]
        return td.Tensor(data, dtype=name, backend=backend) if lib is td else \
            torch.tensor(data, dtype=getattr(torch, name))
    theirs = torch.where(torch.tensor(cond), make(x, torch), make(y, torch))
    ours = td.where(td.Tensor(cond, backend=backend), make(x, td), make(y, td))
    assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(host(ours), theirs.numpy())


def test_cat_and_stack_are_one_node_each(backend):
    a = td.Tensor.ones(2, 3, backend=backend, requires_grad=True)
    b = td.Tensor.ones(2, 3, dtype="float64", backend=backend, requires_grad=True)
    out = td.cat([a, b, a])
    assert out.grad_fn.name == "cat" and out.shape == (6, 3) and out.dtype_name == "float64"
    assert td.stack([a, a, a], -1).grad_fn.name == "stack"
    (out * td.Tensor(np.arange(18.0).reshape(6, 3), backend=backend)).sum().backward()
    assert b.grad.tolist() == [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]
    assert a.grad.dtype_name == "float32" and a.grad.tolist() == [[12.0, 14.0, 16.0],
                                                                  [18.0, 20.0, 22.0]]


def test_cat_skips_legacy_empty_tensors_as_pytorch(backend):
    a = td.Tensor([[1.0, 2.0]], backend=backend, requires_grad=True)
    out = td.cat([a, td.Tensor.zeros(0, backend=backend), a], 0)
    assert out.shape == tuple(torch.cat([torch.ones(1, 2), torch.zeros(0),
                                         torch.ones(1, 2)]).shape) == (2, 2)
    assert out.tolist() == [[1.0, 2.0], [1.0, 2.0]]
    out.sum().backward()
    assert a.grad.tolist() == [[2.0, 2.0]]  # both copies send their gradient back


@pytest.mark.parametrize("call, error, message", [
    (lambda a: td.cat([]), ValueError, r"cat: expected a non-empty list"),
    (lambda a: td.cat(a), TypeError, r"cat: expected a list or tuple of Tensors"),
    (lambda a: td.cat([a[0, 0], a[0, 0]]), ValueError, r"zero-dimensional tensor \(at position "
                                                       r"0\) cannot be concatenated"),
    (lambda a: td.cat([a, a[0]]), ValueError, r"same number of dimensions: got 2 and 1"),
    (lambda a: td.cat([a, a.T], 1), ValueError, r"sizes of tensors must match except in "
                                                r"dimension 1. Expected size 2 but got size 3 "
                                                r"for tensor number 1"),
    (lambda a: td.cat([a, a], 2), IndexError, r"cat: dimension out of range"),
    (lambda a: td.stack([]), ValueError, r"stack: expected a non-empty list"),
    (lambda a: td.stack([a, a.T]), ValueError, r"stack: expects each tensor to be equal size, "
                                               r"but got \[2, 3\] at entry 0 and \[3, 2\] at "
                                               r"entry 1"),
    (lambda a: td.stack([a, a], 3), IndexError, r"in range of \[-3, 2\], but got 3"),
    (lambda a: a.split(0), ValueError, r"split_size must be positive"),
    (lambda a: a.split(-1), ValueError, r"split_size must be positive"),
    (lambda a: a.split([1, 1], 1), ValueError, r"split sizes must sum exactly to 3"),
    (lambda a: a.split([3, -1], 1), ValueError, r"split sizes must be non-negative"),
    (lambda a: a[0, 0].split(1), ValueError, r"split: expects at least a 1-dimensional"),
    (lambda a: a.chunk(0), ValueError, r"chunk: expects `chunks` to be greater than 0"),
    (lambda a: a[0, 0].chunk(1), ValueError, r"chunk: expects at least a 1-dimensional"),
])
def test_join_and_split_errors_match_pytorch(call, error, message, backend):
    with pytest.raises(error, match=message):
        call(td.Tensor.zeros(2, 3, backend=backend))
    with pytest.raises((IndexError, RuntimeError, TypeError, ValueError)):
        call(torch.zeros(2, 3))


def test_cat_refuses_tensors_of_two_backends(backend):
    other = "strict" if backend != "strict" else "numpy"
    with pytest.raises(TypeError, match="cannot mix backends"):
        td.cat([td.Tensor.zeros(2, backend=backend), td.Tensor.zeros(2, backend=other)])


@pytest.mark.parametrize("size", [0, 1, 5, 6, 7])
def test_split_and_chunk_lengths_match_pytorch(size, backend):
    x, xt = pair((2, size), backend)
    args = [1, 2, 3, 4, 7] + ([[size]] if size else [[0]]) + ([[1, size - 1]] if size else [])
    for arg in args:
        for ours, theirs in ((x.split(arg, 1), xt.split(arg, 1)),
                             (td.split(x, arg, -1), torch.split(xt, arg, -1))):
            assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
    for chunks in (1, 2, 3, 4, 6, 8):
        ours, theirs = td.chunk(x, chunks, 1), torch.chunk(xt, chunks, 1)
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
        if size:
            np.testing.assert_array_equal(host(ours[-1]), theirs[-1].detach().numpy())


# -- gather, masked_fill, where, maximum, minimum, pad

@pytest.mark.parametrize("call, error, message", [
    (lambda x, T: x.gather(1, T([[0.0]], "float32")), TypeError, r"expected an integer index"),
    (lambda x, T: x.gather(1, T([[5]])), IndexError, r"index 5 is out of bounds for dimension 1 "
                                                     r"with size 3"),
    (lambda x, T: x.gather(1, T([[-1]])), IndexError, r"index -1 is out of bounds"),
    (lambda x, T: x.gather(1, T([0])), ValueError, r"same number of dimensions"),
    (lambda x, T: x.gather(0, T([[0, 1, 1, 0]])), ValueError, r"expected index \[1, 4\] to be "
                                                              r"no larger than self \[2, 3\] "
                                                              r"apart from dimension 0"),
    (lambda x, T: x.gather(2, T([[0]])), IndexError, r"gather: dimension out of range"),
    (lambda x, T: x.masked_fill(T([1, 0, 1]), 0.5), TypeError, r"only supports boolean masks"),
    (lambda x, T: x.masked_fill(T([True, False, True], "bool"), T([2.5], "float32")),
     ValueError, r"only supports a 0-dimensional value tensor"),
    (lambda x, T: td.where(T([1, 0, 1]), x, 0.0) if isinstance(x, td.Tensor) else
     torch.where(T([1, 0, 1]), x, 0.0), TypeError, r"condition to be a boolean tensor"),
])
def test_selection_errors_match_pytorch(call, error, message, backend):
    ours, theirs = makers(backend)
    with pytest.raises(error, match=message):
        call(td.Tensor.zeros(2, 3, backend=backend), ours)
    with pytest.raises((IndexError, RuntimeError)):
        call(torch.zeros(2, 3), theirs)


def test_maximum_refuses_numbers_as_pytorch(backend):
    with pytest.raises(TypeError, match=r"maximum: argument 'other' must be a Tensor, not float"):
        td.maximum(td.Tensor([1.0], backend=backend), 2.0)
    with pytest.raises(TypeError):
        torch.maximum(torch.tensor([1.0]), 2.0)


def test_gather_of_a_0d_tensor_and_its_gradient(backend):
    x = td.Tensor(3.0, backend=backend, requires_grad=True)
    out = x.gather(0, td.Tensor(0, backend=backend))
    assert out.shape == () and out.item() == 3.0
    out.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("dtype, value", [("int64", 2.7), ("int64", 0.5), ("bool", 2),
                                          ("float32", float("inf")), ("int32", True)])
def test_masked_fill_converts_the_value_as_pytorch(dtype, value, backend):
    x, xt = pair((2, 3), backend, dtype)
    mask = [True, False, True]
    out = x.masked_fill(td.Tensor(mask, backend=backend), value)
    ref = xt.masked_fill(torch.tensor(mask), value)
    assert out.dtype_name == str(ref.dtype).split(".")[-1]
    np.testing.assert_array_equal(host(out), ref.detach().numpy())


@pytest.mark.parametrize("shape", [(2, 3), (1, 3)])
def test_masked_fill_value_tensor_gets_the_gradient_of_the_filled_places(shape, backend,
                                                                         monkeypatch):
    """Against torch and by gradcheck. DESIGN: broadcasting is undone in the engine only:
    the backward hands the 0-d value its gradient in the output's shape and the engine's
    unbroadcast sums it (also where the mask broadcasts the input, shape (1, 3))."""
    from tinygrad_drop import autograd
    from tinygrad_drop.ops.select import MaskedFill

    backward, unbroadcast = MaskedFill.backward, autograd.unbroadcast
    shapes, sums = [], []

    def recorded(self, g):
        grads = backward(self, g)
        shapes.append(tuple(grads[2].shape))
        return grads

    monkeypatch.setattr(MaskedFill, "backward", recorded)
    monkeypatch.setattr(autograd, "unbroadcast", lambda xp, grad, to: sums.append(
        (tuple(grad.shape), tuple(to))) or unbroadcast(xp, grad, to))
    x, xt = pair(shape, backend)
    v = tensor(1.5, backend, requires_grad=True)
    vt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    mask = [[True, False, True], [False, False, True]]
    out = x.masked_fill(td.Tensor(mask, backend=backend), v)
    ref = xt.masked_fill(torch.tensor(mask), vt)
    weights = np.arange(6.0).reshape(2, 3)
    (out * tensor(weights, backend)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    assert shapes == [(2, 3)] and ((2, 3), ()) in sums
    assert v.grad.item() == vt.grad.item() == 7.0
    np.testing.assert_array_equal(host(x.grad), xt.grad.numpy())
    assert td.gradcheck(lambda a, b: a.masked_fill(td.Tensor(mask, backend=backend), b),
                        [tensor(np.ones(shape), backend, requires_grad=True),
                         tensor(0.5, backend, requires_grad=True)])


def test_maximum_and_minimum_of_bools_are_or_and_and(backend):
    """PyTorch: bool results, logical or and and (the Array API's maximum refuses bools, so
    this failed on strict); broadcasting, and no graph (bools have no gradient)."""
    a = [[True, False, True, False]]
    b = [[True], [False]]
    for ours, theirs in ((td.maximum, torch.maximum), (td.minimum, torch.minimum)):
        out = ours(td.Tensor(a, backend=backend), td.Tensor(b, backend=backend))
        ref = theirs(torch.tensor(a), torch.tensor(b))
        assert out.dtype_name == "bool" and out.grad_fn is None
        assert host(out).tolist() == ref.tolist()
    mixed = td.maximum(td.Tensor([True, False], backend=backend),
                       td.Tensor([0.5, -1.0], backend=backend))  # promoted: float32
    assert mixed.dtype_name == "float32" and mixed.tolist() == [1.0, 0.0]  # False is 0


def test_maximum_and_minimum_with_nan_and_ties_match_pytorch(backend):
    a = [1.0, float("nan"), 2.0, 3.0, float("nan")]
    b = [2.0, 0.0, 2.0, float("nan"), float("nan")]
    for ours_fn, theirs_fn in ((td.maximum, torch.maximum), (td.minimum, torch.minimum)):
        x, y = (tensor(v, backend, requires_grad=True) for v in (a, b))
        xt, yt = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a, b))
        out, ref = ours_fn(x, y), theirs_fn(xt, yt)
        np.testing.assert_array_equal(host(out), ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_array_equal(host(x.grad), xt.grad.numpy())
        np.testing.assert_array_equal(host(y.grad), yt.grad.numpy())


@pytest.mark.parametrize("pads, value", [
    ((), 0.0), ((1, 2), 0.0), ((0, 0, 1, 1), -1.0), ((-1, 1), 0.0), ((-4, 0), 0.0),
    ((2, -2, -1, 0, 1, 0), 3.0), ((1, 1, 1, 1, 1, 1), 0.5), ((-2, -2), 0.0),
])
def test_pad_matches_pytorch(pads, value, backend):
    x, xt = pair((2, 3, 4), backend)
    out = pad(x, pads, value)
    ref = torch.nn.functional.pad(xt, pads, value=value)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(host(out), ref.detach().numpy())
    if out.numel():
        weights = np.linspace(-1.0, 1.0, out.numel()).reshape(out.shape)
        (out * tensor(weights, backend)).sum().backward()
        (ref * torch.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(host(x.grad), xt.grad.numpy())


@pytest.mark.parametrize("dtype, value", [("int64", 2.5), ("bool", 1), ("float32", -1.0)])
def test_pad_value_takes_the_input_dtype_as_pytorch(dtype, value, backend):
    x, xt = pair((2, 3), backend, dtype)
    out, ref = pad(x, (1, 1), value), torch.nn.functional.pad(xt, (1, 1), value=value)
    assert out.dtype_name == str(ref.dtype).split(".")[-1]
    np.testing.assert_array_equal(host(out), ref.detach().numpy())


@pytest.mark.parametrize("pads, error, message", [
    ((1,), ValueError, r"padding length must be divisible by 2"),
    ((1, 1, 1, 1, 1, 1, 1, 1), ValueError, r"should be less than or equal to two times the "
                                           r"input dimension"),
    ((1.0, 1), TypeError, r"pad must be a tuple of ints"),
    ((-3, -2), ValueError, r"negative size"),
])
def test_pad_errors_match_pytorch(pads, error, message, backend):
    with pytest.raises(error, match=message):
        pad(td.Tensor.zeros(2, 3, 4, backend=backend), pads)
    with pytest.raises((RuntimeError, TypeError)):
        torch.nn.functional.pad(torch.zeros(2, 3, 4), pads)
