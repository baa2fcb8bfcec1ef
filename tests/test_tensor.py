"""Tensor construction, attributes, conversions and factories."""

import math

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import Tensor


def test_python_floats_default_to_float32(backend):
    t = Tensor([[1.5, 2.0], [3.0, 4.0]], backend=backend)
    assert t.dtype_name == "float32"
    assert t.shape == (2, 2) and t.ndim == 2 and t.backend == backend
    assert Tensor(2.5, backend=backend).dtype_name == "float32"


def test_float64_arrays_keep_float64_and_ints_stay_int(backend):
    assert Tensor(np.zeros(3), backend=backend).dtype_name == "float64"
    assert Tensor([1, 2, 3], backend=backend).dtype_name == "int64"
    assert Tensor(np.arange(3, dtype=np.int32), backend=backend).dtype_name == "int32"
    assert Tensor([True, False], backend=backend).dtype_name == "bool"


def test_dtype_argument_accepts_names_and_numpy_dtypes(backend):
    assert Tensor([1, 2], dtype="float64", backend=backend).dtype_name == "float64"
    assert Tensor([1.0], dtype=np.float64, backend=backend).dtype_name == "float64"
    assert Tensor([1.0], dtype=np.dtype("float32"), backend=backend).dtype_name == "float32"


def test_constructor_copies_its_input(backend):
    source = np.array([1.0, 2.0])
    t = Tensor(source, backend=backend)
    source[0] = 99.0
    assert host(t).tolist() == [1.0, 2.0]
    copy = Tensor(t)
    assert copy.backend == backend and host(copy).tolist() == [1.0, 2.0]


def test_fresh_tensor_attributes(backend):
    t = Tensor([1.0, 2.0], backend=backend, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    y = t * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn.name == "mul"


def test_numpy_item_tolist(backend):
    t = Tensor([[1.0, 2.0]], backend=backend)
    n = t.numpy()
    assert isinstance(n, np.ndarray) and n.tolist() == [[1.0, 2.0]]
    n[0, 0] = 7.0  # a copy: the tensor is unchanged
    assert t.tolist() == [[1.0, 2.0]]
    assert Tensor([[3.5]], backend=backend).item() == 3.5
    with pytest.raises(ValueError, match=r"item: .*shape \(1, 2\)"):
        t.item()


def test_factories_values_and_dtypes(backend):
    z = Tensor.zeros(2, 3, backend=backend)
    o = Tensor.ones((2, 3), backend=backend, dtype="float64", requires_grad=True)
    assert z.shape == (2, 3) and z.dtype_name == "float32" and z.tolist() == [[0.0] * 3] * 2
    assert o.dtype_name == "float64" and o.requires_grad and host(o).sum() == 6
    a = Tensor.arange(5, backend=backend)
    assert a.tolist() == [0, 1, 2, 3, 4] and a.dtype_name == "int64"
    assert Tensor.arange(3, backend=backend, dtype="float32").dtype_name == "float32"


def test_random_factories_statistics(backend):
    # n = 100 000: the sample mean of U[0,1) has sd 0.29/316 ~ 0.0009, of N(0,1) 0.0032;
    # the bounds below are > 5 sd, a false failure has probability < 1e-6.
    u = host(Tensor.rand(100_000, backend=backend))
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.005
    g = host(Tensor.randn(100_000, backend=backend, dtype="float64"))
    assert abs(g.mean()) < 0.02 and abs(g.std() - 1.0) < 0.02
    with pytest.raises(TypeError, match="floating-point"):
        Tensor.rand(3, backend=backend, dtype="int64")


def test_manual_seed_makes_draws_reproducible(backend):
    td.manual_seed(42)
    first = host(Tensor.rand(8, backend=backend))
    second = host(Tensor.rand(8, backend=backend))
    td.manual_seed(42)
    assert np.array_equal(host(Tensor.rand(8, backend=backend)), first)
    assert not np.array_equal(first, second)


def test_comparisons_return_bool_tensors_without_grad(backend):
    x = tensor([1.0, 2.0, 3.0], backend, requires_grad=True)
    for result, expected in [(x < 2, [True, False, False]), (x <= 2, [True, True, False]),
                             (x > 2, [False, False, True]), (x >= 2, [False, True, True]),
                             (x == 2, [False, True, False]), (x != 2, [True, False, True])]:
        assert result.dtype_name == "bool" and not result.requires_grad
        assert result.tolist() == expected
    assert (x == tensor([1.0, 0.0, 3.0], backend)).tolist() == [True, False, True]


def test_astype_casts_and_gradient_comes_back_in_the_leaf_dtype(backend):
    x = Tensor([1.5, -2.0], backend=backend, requires_grad=True)
    y = x.astype("float64")
    assert y.dtype_name == "float64" and x.astype("float32") is x
    (y * y).sum().backward()
    assert x.grad.dtype_name == "float32" and x.grad.tolist() == [3.0, -4.0]


def test_numpy_array_operands_become_tensors(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    y = np.array([10.0, 20.0]) * x + np.array([1.0, 1.0])
    assert isinstance(y, Tensor) and y.tolist() == [11.0, 41.0]
    y.sum().backward()
    assert x.grad.tolist() == [10.0, 20.0]


def test_repr_shows_values_dtype_backend(backend):
    text = repr(Tensor([1.0, 2.0], backend=backend, requires_grad=True))
    assert "1." in text and "float32" in text and repr(backend) in text and "requires_grad" in text


def test_len_and_bool(backend):
    assert len(Tensor([[1.0], [2.0], [3.0]], backend=backend)) == 3
    assert bool(Tensor([1.0], backend=backend)) and not bool(Tensor(0.0, backend=backend))
    with pytest.raises(ValueError):
        bool(Tensor([1.0, 2.0], backend=backend))


def test_to_moves_between_backends_and_backpropagates(backend):
    x = tensor([1.0, 2.0, 3.0], backend, requires_grad=True)
    other = "numpy" if backend != "numpy" else "strict"
    y = x.to(other)
    assert y.backend == other and y.tolist() == [1.0, 2.0, 3.0] and x.to(backend) is x
    (y * y).sum().backward()
    assert x.grad.backend == backend and x.grad.tolist() == [2.0, 4.0, 6.0]


def test_flatten_and_shape_helpers(backend):
    x = Tensor.zeros(2, 3, 4, backend=backend)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.flatten(-1).shape == (2, 3, 4) and x.T.shape == (4, 3, 2)
    assert x.reshape(6, -1).shape == (6, 4) and x.reshape((4, 6)).shape == (4, 6)
    assert math.prod(Tensor(5.0, backend=backend).flatten().shape) == 1
