"""Numerical gradient check: autograd against float64 central differences, on any backend.

Small problems compare the full Jacobian element by element. Large ones compare directional
derivatives along random directions (v . J . u for a random output cotangent v and random input
directions u) and, on a mismatch, search that input element by element to name the culprit.
The generator is re-seeded before every evaluation, so stochastic ops such as dropout replay
the same randomness each time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from . import backends as _backends
from .autograd import no_grad
from .tensor_core import Tensor

FULL_JACOBIAN_MAX = 256  # inputs and outputs up to this many elements get the full Jacobian
RANDOM_DIRECTIONS = 3


class GradcheckError(RuntimeError):
    """Autograd disagrees with finite differences; names the input, element and both values."""

    def __init__(self, input_index: int, element: tuple[int, ...] | None,
                 output_element: tuple[int, ...] | None, analytical: float, numerical: float,
                 atol: float, rtol: float) -> None:
        self.input_index, self.element, self.output_element = input_index, element, output_element
        self.analytical, self.numerical = analytical, numerical
        where = f"element {element}" if element is not None else "a random direction"
        of = f" of output element {output_element}" if output_element is not None else ""
        super().__init__(
            f"gradcheck: gradient{of} with respect to input {input_index} at {where}: "
            f"analytical {analytical:.10g} vs numerical {numerical:.10g} (|difference| "
            f"{abs(analytical - numerical):.3g} > atol {atol:g} + rtol {rtol:g} * |numerical|)")


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any] | Tensor, *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad against central
    differences in float64. Returns True, or raises ``GradcheckError`` (returns False when
    ``raise_exception`` is False)."""
    checker = _Checker(fn, inputs, eps, atol, rtol, seed)
    try:
        checker.run()
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _as_float64(x: Any) -> Any:
    if not isinstance(x, Tensor):
        return x
    be = x._backend
    data = x.data
    if be.xp.isdtype(data.dtype, "real floating"):
        data = be.xp.astype(data, be.dtype("float64"))
    return Tensor._wrap(be.xp.asarray(data, copy=True), be, x.requires_grad, None)


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for n in reversed(shape):
        index.append(flat % n)
        flat //= n
    return tuple(reversed(index))


class _Checker:
    def __init__(self, fn: Callable[..., Tensor], inputs: Any, eps: float, atol: float,
                 rtol: float, seed: int) -> None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        self.fn, self.eps, self.atol, self.rtol, self.seed = fn, eps, atol, rtol, seed
        self.inputs = [_as_float64(x) for x in inputs]
        self.checked = [k for k, x in enumerate(self.inputs)
                        if isinstance(x, Tensor) and x.requires_grad]
        if not self.checked:
            raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
        self.be = self.inputs[self.checked[0]]._backend
        self.xp = self.be.xp
        self.f64 = self.be.dtype("float64")

    # -- evaluations ------------------------------------------------------------------
    def _call(self) -> Tensor:
        _backends.manual_seed(self.seed)
        out = self.fn(*self.inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
        return out

    def _values(self) -> Any:
        """fn's output as a flat float64 array, without recording a graph."""
        with no_grad():
            out = self._call()
        return self.xp.reshape(self.xp.astype(out.data, self.f64), (-1,))

    def _perturbed(self, k: int, direction: Any) -> Any:
        """(f(x + eps*d) - f(x - eps*d)) / (2 eps) for input k along ``direction`` (flat)."""
        x = self.inputs[k]
        base = x.data
        step = self.xp.reshape(direction * self.eps, base.shape)
        try:
            x.data = base + step
            plus = self._values()
            x.data = base - step
            minus = self._values()
        finally:
            x.data = base
        return (plus - minus) / (2 * self.eps)

    def _basis(self, n: int, j: int) -> Any:
        e = self.xp.zeros((n,), dtype=self.f64)
        e[j] = 1.0
        return e

    def _analytical(self, out: Tensor, cotangent: Any, retain: bool) -> list[Any]:
        """Flat gradients of sum(cotangent * out) for each checked input."""
        for x in self.inputs:
            if isinstance(x, Tensor):
                x.grad = None
        if out.requires_grad:
            out.backward(self.xp.reshape(cotangent, out.data.shape), retain_graph=retain)
        grads = []
        for k in self.checked:
            x = self.inputs[k]
            g = x.grad.data if x.grad is not None else self.xp.zeros(x.data.shape, dtype=self.f64)
            grads.append(self.xp.reshape(self.xp.astype(g, self.f64), (-1,)))
        return grads

    def _size(self, k: int) -> int:
        return math.prod(self.inputs[k].data.shape)

    def _mismatch(self, analytical: Any, numerical: Any) -> int | None:
        """Flat index of the first element outside tolerance, or None."""
        bad = self.xp.abs(analytical - numerical) > self.atol + self.rtol * self.xp.abs(numerical)
        where = self.xp.nonzero(self.xp.reshape(bad, (-1,)))[0]
        return int(where[0]) if where.shape[0] else None

    # -- the two strategies -----------------------------------------------------------
    def run(self) -> None:
        out = self._call()
        m = math.prod(out.data.shape)
        small = m <= FULL_JACOBIAN_MAX and all(
            self._size(k) <= FULL_JACOBIAN_MAX for k in self.checked)
        if small:
            self._full_jacobian(out, m)
        else:
            self._random_directions(out, m)

    def _full_jacobian(self, out: Tensor, m: int) -> None:
        rows = [self._analytical(out, self._basis(m, i), retain=True) for i in range(m)]
        out_shape = tuple(out.data.shape)
        for slot, k in enumerate(self.checked):
            n = self._size(k)
            if m == 0 or n == 0:
                continue  # an empty Jacobian has nothing to disagree about
            shape = tuple(self.inputs[k].data.shape)
            analytical = self.xp.stack([row[slot] for row in rows])
            numerical = self.xp.stack(
                [self._perturbed(k, self._basis(n, j)) for j in range(n)], axis=1)
            flat = self._mismatch(analytical, numerical)
            if flat is not None:
                i, j = divmod(flat, n)
                raise GradcheckError(k, _unravel(j, shape), _unravel(i, out_shape),
                                     float(analytical[i, j]), float(numerical[i, j]),
                                     self.atol, self.rtol)

    def _random_directions(self, out: Tensor, m: int) -> None:
        rng = self.be.new_generator(self.seed + 1)
        v = rng.normal((m,), self.f64)
        grads = self._analytical(out, v, retain=False)
        for slot, k in enumerate(self.checked):
            n = self._size(k)
            for _ in range(RANDOM_DIRECTIONS):
                u = rng.normal((n,), self.f64)
                analytical = self.xp.sum(grads[slot] * u)
                numerical = self.xp.sum(v * self._perturbed(k, u))
                if self._mismatch(analytical, numerical) is not None:
                    self._localise(k, v, grads[slot], float(analytical), float(numerical))

    def _localise(self, k: int, v: Any, grad: Any, analytical: float, numerical: float) -> None:
        """A direction failed: find the first element of input k whose partial disagrees."""
        shape = tuple(self.inputs[k].data.shape)
        n = self._size(k)
        for j in range(n):
            partial = self.xp.sum(v * self._perturbed(k, self._basis(n, j)))
            if self._mismatch(grad[j], partial) is not None:
                raise GradcheckError(k, _unravel(j, shape), None, float(grad[j]),
                                     float(partial), self.atol, self.rtol)
        raise GradcheckError(k, None, None, analytical, numerical, self.atol, self.rtol)
