"""PyTorch habits a differential test against torch found giving other answers, each fixed:
casts to integers end the graph, dtype identity, NumPy float64 scalars in lists, float arange,
'cpu'/'cuda' device names, grad-mode switches, ``//`` and ``%``, ``td.sum(t)``-style functions,
bool comparisons, ``abs`` at NaN, and errors with the op's name."""

import numpy as np
import pytest

import tinygrad_drop as td


def test_a_cast_to_an_integer_or_bool_dtype_ends_the_graph(backend):
    a = td.tensor([0.5, 1.7, -2.0], requires_grad=True, backend=backend)
    w = td.tensor([1.0, 1.0, 1.0], requires_grad=True, backend=backend)
    for cast in (lambda t: t.long(), lambda t: t.int(), lambda t: t.bool(),
                 lambda t: t.to(td.int64)):
        assert not cast(a * 3).requires_grad
    ((a * 3).long() * w).sum().backward()
    assert a.grad is None and w.grad.tolist() == [1.0, 5.0, -6.0]
    td.where(a > 0, (a * 3).long(), a).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 1.0]  # as PyTorch: nothing through the cast


def test_dtypes_are_singletons_and_python_types_name_dtypes(backend):
    x = td.tensor([1.0], backend=backend)
    assert x.dtype is td.float32 and x.double().dtype is td.float64
    assert td.tensor([1, 2], dtype=float, backend=backend).dtype is td.float64
    assert td.tensor([1.5], dtype=int, backend=backend).dtype is td.int64
    assert x.to(float).dtype is td.float64


def test_a_list_of_numpy_float64_scalars_makes_float64(backend):
    assert td.tensor([np.float64(1.0)], backend=backend).dtype is td.float64
    assert td.tensor([[np.float64(1)], [2.0]], backend=backend).dtype is td.float64
    assert td.tensor([1.0, 2.5], backend=backend).dtype is td.float32


def test_float_arange_rounds_once_as_pytorch(backend):
    torch = pytest.importorskip("torch")
    for args in ((0, 1.0, 0.3), (0, 1.0, 0.1), (-1.5, 2.25, 0.35)):
        assert td.arange(*args, backend=backend).tolist() == torch.arange(*args).tolist()


def test_pytorch_device_names_and_to_another_tensor(backend):
    x = td.tensor([1.0, 2.0], backend=backend)
    assert x.to("cpu").backend == "numpy" and x.cpu().backend == "numpy"
    like = td.tensor([0], dtype=td.int32, backend="numpy")
    moved = x.to(like)
    assert moved.backend == "numpy" and moved.dtype is td.int32
    assert td.backends.get("cpu") is td.backends.get("numpy")


def test_grad_mode_switches():
    @td.no_grad  # without parentheses, as PyTorch allows
    def bare():
        return td.is_grad_enabled()

    assert bare() is False and td.is_grad_enabled()
    with td.no_grad():
        with td.enable_grad():
            assert td.is_grad_enabled()
        assert not td.is_grad_enabled()
    with td.set_grad_enabled(False):
        assert not td.is_grad_enabled()
    assert td.is_grad_enabled()
    td.set_grad_enabled(False)
    assert not td.is_grad_enabled()
    td.set_grad_enabled(True)
    assert td.is_grad_enabled()

    @td.set_grad_enabled(False)
    def decorated():
        return td.is_grad_enabled()

    assert td.is_grad_enabled() and decorated() is False and td.is_grad_enabled()


@pytest.mark.parametrize(("a", "b"), [([7, -7, 5], [2, 2, -3]),
                                      ([7.5, -7.0, 5.0], [2.0, 2.0, -3.0]),
                                      ([7, -7, 5], 2), (9, [2, -4, 5])])
def test_floor_division_and_remainder_match_torch(a, b, backend):
    torch = pytest.importorskip("torch")

    def make(v, lib):
        if not isinstance(v, list):
            return v
        return td.tensor(v, backend=backend) if lib == "td" else torch.tensor(v)

    for op in (lambda x, y: x // y, lambda x, y: x % y):
        ours, theirs = op(make(a, "td"), make(b, "td")), op(make(a, "torch"), make(b, "torch"))
        assert ours.dtype_name == str(theirs.dtype).split(".")[-1]
        assert ours.tolist() == theirs.tolist()


def test_function_spellings_of_methods(backend):
    x = td.tensor([[1.0, 5.0], [3.0, -2.0]], backend=backend)
    assert td.sum(x, 1).tolist() == [6.0, 1.0] and td.sum(x, dim=0, keepdim=True).shape == (1, 2)
    assert td.max(x, 1).indices.tolist() == [1, 0] and td.abs(x).tolist()[1] == [3.0, 2.0]
    assert td.exp(td.zeros(2, backend=backend)).tolist() == [1.0, 1.0]
    assert td.concat([x, x]).shape == (4, 2) and td.transpose(x, 0, 1).tolist()[0] == [1.0, 3.0]
    with pytest.raises(TypeError, match="sum: expected a Tensor, got list"):
        td.sum([1, 2])


def test_bool_orderings_work_on_every_backend(backend):
    torch = pytest.importorskip("torch")
    m = [True, False, True]
    n = [False, False, True]
    for op in (lambda x, y: x < y, lambda x, y: x >= y, lambda x, y: x > True):
        ours = op(td.tensor(m, backend=backend), td.tensor(n, backend=backend))
        assert ours.tolist() == op(torch.tensor(m), torch.tensor(n)).tolist()


def test_abs_has_a_zero_gradient_at_nan_as_pytorch(backend):
    x = td.tensor([float("nan"), -2.0, 0.0], requires_grad=True, backend=backend)
    x.abs().sum().backward()
    assert x.grad.tolist() == [0.0, -1.0, 0.0]


def test_one_element_rules_and_array_protocol(backend):
    with pytest.raises(IndexError, match="size: dim 0 is out of range"):
        td.tensor(1.0, backend=backend).size(0)
    with pytest.raises(ValueError, match="copy=False cannot be honoured"):
        np.asarray(td.tensor([1.0], backend=backend), copy=False)


def test_an_integer_overflow_names_the_op(backend):
    small = td.tensor([1, 2], dtype=td.uint8, backend=backend)
    with pytest.raises((OverflowError, TypeError, ValueError), match="add"):
        small + 300
