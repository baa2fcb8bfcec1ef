"""Elementwise ops: arithmetic, powers, exp/log, casts and moves between backends.

Binary ops broadcast NumPy-style and return gradients in the broadcast shape; the engine sums
them back to each input's shape. Python scalars may stand for either operand.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op
from ..backends import dtype_name


class Add(Op):
    """a + b."""

    name = "add"

    def forward(self, a: Any, b: Any) -> Any:
        return a + b

    def backward(self, g: Any) -> tuple[Any, Any]:
        return g, g


class Sub(Op):
    """a - b."""

    name = "sub"

    def forward(self, a: Any, b: Any) -> Any:
        return a - b

    def backward(self, g: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        return g if need_a else None, -g if need_b else None


class Mul(Op):
    """a * b."""

    name = "mul"

    def forward(self, a: Any, b: Any) -> Any:
        self.saved = (a, b)
        return a * b

    def backward(self, g: Any) -> tuple[Any, Any]:
        a, b = self.saved
        to_a, to_b = self.parents  # needs_input_grad, without building the tuple
        return g * b if to_a is not None else None, g * a if to_b is not None else None


class Div(Op):
    """a / b; d/db = -a / b**2 = -out / b."""

    name = "div"

    def forward(self, a: Any, b: Any) -> Any:
        out = a / b
        self.saved = (b, out)
        return out

    def backward(self, g: Any) -> tuple[Any, Any]:
        b, out = self.saved
        need_a, need_b = self.needs_input_grad
        ga = g / b
        return ga if need_a else None, -ga * out if need_b else None


class Neg(Op):
    """-a."""

    name = "neg"

    def forward(self, a: Any) -> Any:
        return -a

    def backward(self, g: Any) -> tuple[Any]:
        return (-g,)


class Pow(Op):
    """a ** exponent for a Python number ``exponent``; d/da = exponent * a**(exponent - 1), and 0
    for exponent 0 (PyTorch's value, where the formula would give 0 * 0**-1 = NaN at a = 0)."""

    name = "pow"
    exponent: float

    def forward(self, a: Any) -> Any:
        self.saved = a
        return a ** self.exponent

    def backward(self, g: Any) -> tuple[Any]:
        a, n = self.saved, self.exponent
        if n == 0:
            return (self.backend.xp.zeros_like(g),)
        if n == 2:
            return (g * (2 * a),)
        return (g * (n * a ** (n - 1)),)


class PowTensor(Op):
    """a ** b with a Tensor exponent (``a`` may be a Python number: ``2 ** t``). As PyTorch:
    d/da = b * a**(b - 1), 0 where b == 0; d/db = a**b * log(a), 0 where a == 0 and b >= 0."""

    name = "pow"

    def forward(self, a: Any, b: Any) -> Any:
        out = a ** b
        self.saved = (a, b, out)
        return out

    def backward(self, g: Any) -> tuple[Any, Any]:
        xp = self.backend.xp
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            # b == 0 gives 0 * a**1 = 0, never 0 * 0**-1 = NaN
            ga = g * (b * a ** xp.where(b == 0, xp.ones_like(b), b - 1))
        if need_b:
            if isinstance(a, (int, float)):  # a Python base: its log is a number
                log_a = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
                gb = g * (out * log_a)
                if a == 0:
                    gb = xp.where(b >= 0, xp.zeros_like(gb), gb)
            else:
                zero = a == 0  # log(0) is never used there: log(1) instead, and no warning
                log_a = xp.log(xp.where(zero, xp.ones_like(a), a))
                gb = g * xp.where(zero & (b >= 0), xp.zeros_like(out),
                                  xp.where(zero, xp.full_like(out, -math.inf), out * log_a))
        return ga, gb


class Remainder(Op):
    """a % b with the sign of b (Python's and PyTorch's ``remainder``); d/da = 1,
    d/db = -floor(a / b)."""

    name = "remainder"

    def forward(self, a: Any, b: Any) -> Any:
        xp = self.backend.xp
        needs = self.needs_input_grad
        if needs and needs[1]:  # only b's gradient uses the quotient
            self.saved = xp.floor_divide(a, b)
        return xp.remainder(a, b)

    def backward(self, g: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        return g if need_a else None, -g * self.saved if need_b else None


class Clone(Op):
    """A copy with its own memory; the gradient passes through."""

    name = "clone"

    def forward(self, a: Any) -> Any:
        return self.backend.xp.asarray(a, copy=True)

    def backward(self, g: Any) -> tuple[Any]:
        return (g,)


class Abs(Op):
    """|a|; d/da = sign(a), 0 at a == 0 and at NaN (as PyTorch)."""

    name = "abs"

    def forward(self, a: Any) -> Any:
        self.saved = a
        return self.backend.xp.abs(a)

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        sign = xp.sign(self.saved)
        return (g * xp.where(sign == sign, sign, xp.zeros_like(sign)),)  # NaN: 0, as PyTorch


class Sqrt(Op):
    """sqrt(a); d/da = 1 / (2 sqrt(a)), from the saved output."""

    name = "sqrt"

    def forward(self, a: Any) -> Any:
        out = self.backend.xp.sqrt(a)
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        return (g / (2 * self.saved),)


class Exp(Op):
    """exp(a); its derivative is its output."""

    name = "exp"

    def forward(self, a: Any) -> Any:
        out = self.backend.xp.exp(a)
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        return (g * self.saved,)


class Log(Op):
    """Natural log; d/da = 1 / a."""

    name = "log"

    def forward(self, a: Any) -> Any:
        self.saved = a
        return self.backend.xp.log(a)

    def backward(self, g: Any) -> tuple[Any]:
        return (g / self.saved,)


class Astype(Op):
    """Cast to ``dtype`` (a backend dtype); the engine casts the gradient back."""

    name = "astype"
    dtype: Any  # the backend's native dtype

    def attributes(self) -> dict[str, Any]:
        return {"dtype": dtype_name(self.dtype)}

    def forward(self, a: Any) -> Any:
        return self.backend.xp.astype(a, self.dtype)

    def backward(self, g: Any) -> tuple[Any]:
        return (g,)


class ToBackend(Op):
    """Copy to another backend through host memory; the gradient travels back the same way."""

    name = "to"
    target: Any  # the Backend object to copy to

    def attributes(self) -> dict[str, Any]:
        return {"backend": self.target.name}

    def forward(self, a: Any) -> Any:
        self.source = self.backend
        self.backend = self.target
        return self.target.asarray(self.source.to_numpy(a))

    def backward(self, g: Any) -> tuple[Any]:
        return (self.source.asarray(self.target.to_numpy(g)),)
