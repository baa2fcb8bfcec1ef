"""td.gradcheck itself: it passes correct gradients and catches wrong ones, naming the spot."""

import numpy as np
import pytest
from conftest import host, tensor

import tinygrad_drop as td
from tinygrad_drop import Tensor
from tinygrad_drop.autograd import Op


class WrongSquare(Op):
    """x**2 with a backward that forgot the factor 2."""

    name = "wrong_square"

    def forward(self, a):
        self.saved = a
        return a * a

    def backward(self, g):
        return (g * self.saved,)


class SquareWrongAtOneElement(WrongSquare):
    """x**2 whose gradient is off by +1 at flat element ``bad`` only."""

    name = "square_wrong_at_one"
    bad: int

    def backward(self, g):
        xp = self.backend.xp
        flat = xp.reshape(g * (2 * self.saved), (-1,))
        flat = xp.asarray(flat, copy=True)
        flat[self.bad] = flat[self.bad] + 1.0
        return (xp.reshape(flat, self.saved.shape),)


class Noise(Op):
    """x * u with u ~ U[0.5, 1.5) freshly drawn from the backend generator at every call."""

    name = "noise"

    def forward(self, a):
        noise = self.backend.generator.uniform(a.shape, a.dtype) + 0.5
        self.saved = noise
        return a * noise

    def backward(self, g):
        return (g * self.saved,)


def test_accepts_correct_gradients_with_the_full_jacobian(backend, rng):
    x = tensor(rng.standard_normal((3, 4)), backend, requires_grad=True)
    w = tensor(rng.standard_normal((4, 2)), backend, requires_grad=True)
    assert td.gradcheck(lambda a, b: (a @ b).tanh(), [x, w]) is True


def test_rejects_a_wrong_backward_naming_input_element_and_values(backend):
    x = tensor([1.0, 2.0, -3.0], backend, requires_grad=True)
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda a: WrongSquare.apply(a), [x])
    err = info.value
    assert (err.input_index, err.element, err.output_element) == (0, (0,), (0,))
    assert err.analytical == pytest.approx(1.0) and err.numerical == pytest.approx(2.0)
    message = str(err)
    assert "input 0" in message and "element (0,)" in message
    assert "analytical 1" in message and "numerical 2" in message


def test_raise_exception_false_returns_false(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    assert td.gradcheck(lambda a: WrongSquare.apply(a), [x], raise_exception=False) is False


def test_large_inputs_use_random_directions_and_still_find_the_element(backend, rng):
    x = tensor(rng.standard_normal((30, 20)), backend, requires_grad=True)  # 600 > 256
    assert td.gradcheck(lambda a: (a * a).sum(axis=1), [x])
    with pytest.raises(td.GradcheckError) as info:
        td.gradcheck(lambda a: SquareWrongAtOneElement.apply(a, bad=137).sum(axis=1), [x])
    assert info.value.input_index == 0 and info.value.element == (6, 17)


def test_stochastic_ops_replay_the_same_randomness(backend):
    x = tensor([[0.3, -1.2], [2.0, 0.7]], backend, requires_grad=True)
    first, second = host(Noise.apply(x)), host(Noise.apply(x))
    assert not np.array_equal(first, second)  # the noise really is random between calls
    assert td.gradcheck(lambda a: Noise.apply(a), [x], seed=5)
    assert td.gradcheck(lambda a: Noise.apply(a * a).sum(), [x], seed=6)


def test_float32_inputs_are_checked_in_float64(backend):
    x = Tensor([0.5, -1.0, 2.0], backend=backend, requires_grad=True)
    assert td.gradcheck(lambda a: a.exp() * a, [x], atol=1e-9, rtol=1e-7)
    assert x.dtype_name == "float32" and x.grad is None  # the caller's tensor is untouched


def test_only_inputs_that_require_grad_are_checked(backend):
    x = tensor([1.0, 2.0], backend, requires_grad=True)
    frozen = tensor([3.0, 4.0], backend)
    assert td.gradcheck(lambda a, b: a * b, [x, frozen])
    with pytest.raises(ValueError, match="no input has requires_grad"):
        td.gradcheck(lambda a: a * 2, [frozen])


def test_fn_must_return_a_tensor(backend):
    x = tensor([1.0], backend, requires_grad=True)
    with pytest.raises(TypeError, match="must return a Tensor"):
        td.gradcheck(lambda a: 3.0, [x])
