"""NaN, infinities, signed zeros and negatives through dropout: test data and exact comparisons.

PyTorch's dropout multiplies by the mask (``x * mask / keep``, backward ``g * mask / keep``), so at
a dropped position a NaN or an infinity gives NaN (0 * inf), a negative number -0.0 and a positive
one +0.0. The reference here is that product in the NumPy backend's arithmetic (a boolean multiply,
then a division by the divisor), which every backend and kernel must equal bit for bit: values
with ``np.testing.assert_array_equal`` (NaN equals NaN) and sign bits wherever the value is not
NaN (a NaN's sign bit is the hardware's choice: x86 makes 0 * inf negative, CUDA positive).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_drop as td
from tinygrad_drop import Tensor
from tinygrad_drop.backends.generator import Generator

SPECIALS = (np.nan, np.inf, -np.inf, -0.0, 0.0, -2.5, 3.0)


def special_data(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Normal values of ``shape`` with every third element one of ``SPECIALS`` in turn: each
    special value stands at many positions, and in every run of 21 elements."""
    values = np.random.default_rng(seed).standard_normal(int(np.prod(shape)))
    values[::3] = np.resize(np.array(SPECIALS), values[::3].size)
    return values.astype(dtype).reshape(shape)


def reference(x: np.ndarray, mask: np.ndarray, divisor: float) -> np.ndarray:
    """``x * mask / divisor`` as the NumPy backend computes it (``mask`` broadcast to x)."""
    with np.errstate(invalid="ignore"):  # 0 * inf: the NaN is the answer
        out = np.multiply(x, mask)
    return out / x.dtype.type(divisor) if divisor != 1 else out


def assert_bits_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal dtype and values (NaN equal to NaN) and equal sign bits wherever not NaN (so -0.0
    is not 0.0)."""
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)
    numbers = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(actual[numbers]), np.signbit(expected[numbers]),
                                  err_msg="sign bits differ (a -0.0 where 0.0 was due?)")


def assert_multiplied_by_mask(out: np.ndarray, x: np.ndarray, mask: np.ndarray,
                              divisor: float) -> None:
    """PyTorch's rule, spelled out rather than computed: dropped NaN and inf give NaN, dropped
    negatives -0.0, dropped positives and +0.0 give +0.0, kept values x / divisor; and each
    special value was met both kept and dropped (the checks were not vacuous)."""
    mask = np.broadcast_to(mask, x.shape)
    dropped, kept = ~mask, mask
    for value in SPECIALS:
        same_sign = np.signbit(x) == np.signbit(value)
        where = np.isnan(x) if np.isnan(value) else (x == value) & same_sign
        assert (where & kept).any() and (where & dropped).any(), f"{value} not met both ways"
    assert np.isnan(out[dropped & ~np.isfinite(x)]).all()
    negative = dropped & np.signbit(x) & np.isfinite(x)
    assert (out[negative] == 0).all() and np.signbit(out[negative]).all()
    positive = dropped & ~np.signbit(x) & np.isfinite(x)
    assert (out[positive] == 0).all() and not np.signbit(out[positive]).any()
    np.testing.assert_array_equal(out[kept], x[kept] / x.dtype.type(divisor))


def assert_like_torch(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Ours against PyTorch's output under the same mask: the same NaNs, infinities and sign
    bits exactly; finite values within an ulp (PyTorch multiplies by 1/keep, we divide)."""
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    numbers = ~np.isnan(theirs)
    np.testing.assert_array_equal(np.signbit(ours[numbers]), np.signbit(theirs[numbers]))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    ulp = np.finfo(theirs.dtype).eps
    np.testing.assert_allclose(ours[numbers], theirs[numbers], rtol=ulp, atol=0)


class GivenMask(Generator):
    """A generator whose every mask is ``mask`` (host booleans), as an array of ``xp``: dropout
    run under a mask chosen elsewhere (PyTorch's)."""

    def __init__(self, mask: np.ndarray, xp: Any) -> None:
        self.mask, self.xp = mask, xp

    def draw_mask(self, shape: tuple[int, ...], keep: float) -> Any:
        """``mask``, which must have ``shape``."""
        assert tuple(shape) == self.mask.shape, (shape, self.mask.shape)
        return self.xp.asarray(self.mask)


def torch_dropout(function: str, x: np.ndarray, g: np.ndarray, p: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's ``F.<function>`` of ``x`` (training) and its gradient for output gradient
    ``g``, with the keep-mask it drew (for dropout2d shaped (N, C)): the mask read off the same
    seed's draw over ones, which consumes the generator alike."""
    import torch

    call = getattr(torch.nn.functional, function)
    torch.manual_seed(seed)
    ones = call(torch.ones_like(torch.from_numpy(x)), p)
    mask = (ones != 0).numpy()
    if function == "dropout2d":
        mask = mask.reshape(*x.shape[:2], -1)[:, :, 0]
    xt = torch.tensor(x, requires_grad=True)
    torch.manual_seed(seed)
    y = call(xt, p)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy(), mask


def check_multiplied_by_mask(call: Any, read_mask: Any, backend: str, shape: tuple[int, ...],
                             dtype: str, divisor: float) -> None:
    """``call`` (a Tensor to its training-mode dropout) on special data of ``shape``, forward
    and backward: both the reference product bit for bit under the mask ``read_mask`` reads off
    the output (broadcast to the shape), and PyTorch's rule spelled out."""
    x_np, g_np = special_data(shape, dtype), special_data(shape, dtype, seed=1)
    x = Tensor(x_np, backend=backend, requires_grad=True)
    y = call(x)
    mask = read_mask(y)
    y.backward(Tensor(g_np, backend=backend))
    for out, values in ((y.numpy(), x_np), (x.grad.numpy(), g_np)):
        assert_bits_equal(out, reference(values, mask, divisor))
        assert_multiplied_by_mask(out, values, mask, divisor)


def check_like_torch(function: str, read_mask: Any, backend: str, shape: tuple[int, ...],
                     dtype: str, p: float) -> None:
    """``F.<function>`` (dropout or dropout2d, inverted) of special data under PyTorch's own
    mask (given through ``GivenMask``) against PyTorch's output and gradient."""
    import tinygrad_drop.nn.functional as F

    x_np, g_np = special_data(shape, dtype), special_data(shape, dtype, seed=1)
    y_torch, grad_torch, mask = torch_dropout(function, x_np, g_np, p, seed=5)
    x = Tensor(x_np, backend=backend, requires_grad=True)
    y = getattr(F, function)(x, p, generator=GivenMask(mask, td.backends.get(backend).xp))
    np.testing.assert_array_equal(read_mask(y), mask)
    y.backward(Tensor(g_np, backend=backend))
    assert_like_torch(y.numpy(), y_torch)
    assert_like_torch(x.grad.numpy(), grad_torch)


def check_certain_rates(call: Any, backend: str, shape: tuple[int, ...]) -> None:
    """``call(x, p)`` at p = 1 gives +0.0 and zero gradients even for NaN and inf (by design:
    PyTorch gives NaN there), and at p = 0 the input's exact bits."""
    x_np = special_data(shape, "float32")
    x = Tensor(x_np, backend=backend, requires_grad=True)
    y = call(x, 1.0)
    y.backward(Tensor(special_data(shape, "float32", seed=1), backend=backend))
    for zeros in (y.numpy(), x.grad.numpy()):
        assert_bits_equal(zeros, np.zeros(shape, np.float32))
    assert_bits_equal(call(x, 0.0).numpy(), x_np)
