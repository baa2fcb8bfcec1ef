"""Bad input gets a clear error naming the op, the shapes, dtypes or backends involved."""

import pytest
from conftest import tensor

from tinygrad_drop import Tensor


def test_broadcast_mismatch_names_the_op_and_both_shapes(backend):
    a, b = Tensor.zeros(2, 3, backend=backend), Tensor.zeros(4, backend=backend)
    for op, fn in [("add", lambda: a + b), ("sub", lambda: a - b), ("mul", lambda: a * b),
                   ("div", lambda: a / b)]:
        with pytest.raises(ValueError) as info:
            fn()
        message = str(info.value)
        assert message.startswith(f"{op}:") and "(2, 3)" in message and "(4,)" in message
        assert "float32" in message and backend in message


def test_matmul_mismatch_names_both_shapes(backend):
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        Tensor.zeros(2, 3, backend=backend) @ Tensor.zeros(4, 5, backend=backend)
    with pytest.raises(ValueError, match="matmul: operands must have at least 1 dim"):
        Tensor.zeros(2, backend=backend) @ Tensor(1.0, backend=backend)


def test_reshape_and_transpose_errors_name_shapes(backend):
    x = Tensor.zeros(2, 3, backend=backend)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape .*\(2, 3\).*to \(4,\)"):
        x.reshape(4)
    with pytest.raises(IndexError, match=r"transpose: dimension out of range \(expected to be "
                                         r"in range of \[-2, 1\], but got 2\)"):
        x.transpose(0, 2)
    assert x.transpose(0, 0).shape == (2, 3)  # PyTorch: swapping a dim with itself is a no-op
    with pytest.raises(IndexError, match=r"flatten: dimension out of range .* but got 5"):
        x.flatten(5)


def test_reduction_axis_out_of_range(backend):
    with pytest.raises(IndexError, match=r"sum: dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 2\)"):
        Tensor.zeros(2, 3, backend=backend).sum(axis=2)
    with pytest.raises(ValueError, match="mean: repeated axis"):
        Tensor.zeros(2, 3, backend=backend).mean(axis=(0, 0))


def test_index_out_of_range_names_the_shape(backend):
    with pytest.raises(IndexError, match=r"index: .*\(2, 3\)"):
        Tensor.zeros(2, 3, backend=backend)[5]


def test_backward_on_non_scalar_without_grad_says_what_to_do(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-scalar tensor of shape \(2,\).*\.sum\(\)"
                                           r"\.backward\(\).*grad="):
        (x * 2).backward()


def test_backward_grad_of_wrong_shape(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the tensor has shape \(2,\)"):
        (x * 2).backward(tensor([1.0, 1.0, 1.0], backend))


def test_backward_on_a_tensor_that_does_not_require_grad(backend):
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tensor([1.0], backend) * 2).backward()


def test_integer_to_a_negative_integer_power_is_refused(backend):
    x = Tensor([2, 3], dtype="int32", backend=backend)
    with pytest.raises(ValueError, match="pow: integers to negative integer powers are not "
                                         "allowed .dtype int32, exponent -1"):
        x ** -1


def test_bad_constructor_data(backend):
    with pytest.raises(ValueError, match="Tensor: cannot make a .* array from list data"):
        Tensor([[1.0, 2.0], [3.0]], backend=backend)
    with pytest.raises(TypeError, match=r"^Tensor: .*dtype"):
        Tensor(["a", "b"], backend=backend)
    with pytest.raises(TypeError, match="unsupported dtype 'complex64'"):
        Tensor([1.0], dtype="complex64", backend=backend)
