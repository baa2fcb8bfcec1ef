"""Elementwise ops: arithmetic, powers, exp/log and the pointwise activations.

Binary ops broadcast NumPy-style and return gradients in the broadcast shape; the engine sums
them back to each input's shape. Python scalars may stand for either operand.
"""

from __future__ import annotations

from typing import Any

from ..autograd import Op


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
        need_a, need_b = self.needs_input_grad
        return g * b if need_a else None, g * a if need_b else None


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
    """a ** exponent for a Python number ``exponent``; d/da = exponent * a**(exponent - 1)."""

    name = "pow"

    def attributes(self) -> dict[str, Any]:
        return {"exponent": self.exponent}

    def forward(self, a: Any) -> Any:
        self.saved = a
        return a ** self.exponent

    def backward(self, g: Any) -> tuple[Any]:
        a, n = self.saved, self.exponent
        if n == 2:
            return (g * (2 * a),)
        return (g * (n * a ** (n - 1)),)


class Abs(Op):
    """|a|; d/da = sign(a), 0 at a == 0 (as PyTorch)."""

    name = "abs"

    def forward(self, a: Any) -> Any:
        self.saved = a
        return self.backend.xp.abs(a)

    def backward(self, g: Any) -> tuple[Any]:
        return (g * self.backend.xp.sign(self.saved),)


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


class Tanh(Op):
    """tanh(a); d/da = 1 - tanh(a)**2."""

    name = "tanh"

    def forward(self, a: Any) -> Any:
        out = self.backend.xp.tanh(a)
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        out = self.saved
        return (g * (1 - out * out),)


class Sigmoid(Op):
    """1 / (1 + exp(-a)), computed from exp(-|a|) so it never overflows; d/da = s * (1 - s)."""

    name = "sigmoid"

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        out = self.saved
        return (g * (out * (1 - out)),)


class ReLU(Op):
    """max(a, 0). The gradient at exactly 0 is 0 (as in PyTorch): only a > 0 passes it."""

    name = "relu"

    def forward(self, a: Any) -> Any:
        if self.parents:  # only a recorded node needs the mask
            self.saved = a > 0
        return self.backend.xp.maximum(a, 0)

    def backward(self, g: Any) -> tuple[Any]:
        return (self.backend.apply_mask(g, self.saved),)


class Astype(Op):
    """Cast to ``dtype`` (a backend dtype); the engine casts the gradient back."""

    name = "astype"

    def attributes(self) -> dict[str, Any]:
        return {"dtype": self.dtype}

    def forward(self, a: Any) -> Any:
        return self.backend.xp.astype(a, self.dtype)

    def backward(self, g: Any) -> tuple[Any]:
        return (g,)


class ToBackend(Op):
    """Copy to another backend through host memory; the gradient travels back the same way."""

    name = "to"

    def attributes(self) -> dict[str, Any]:
        return {"backend": self.target.name}

    def forward(self, a: Any) -> Any:
        self.source = self.backend
        self.backend = self.target
        return self.target.asarray(self.source.to_numpy(a))

    def backward(self, g: Any) -> tuple[Any]:
        return (self.source.asarray(self.target.to_numpy(g)),)
