"""Activations: ReLU, sigmoid, tanh, softmax and log-softmax, each one graph node."""

from __future__ import annotations

from typing import Any

from ..autograd import Op


class ReLU(Op):
    """max(a, 0). The gradient at exactly 0 is 0 (as in PyTorch): only a > 0 passes it. Saves
    one boolean per element."""

    name = "relu"
    kernel_family = "activation"

    def forward(self, a: Any) -> Any:
        if self.parents:  # only a recorded node needs the mask
            self.saved = a > 0
        return self.backend.xp.maximum(a, 0)

    def backward(self, g: Any) -> tuple[Any]:
        return (self.kernels.relu_backward(g, self.saved),)


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


class Softmax(Op):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; dx = s * (g - sum(g * s))."""

    name = "softmax"
    axis: int

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        out = e / xp.sum(e, axis=self.axis, keepdims=True)
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        s = self.saved
        return (s * (g - self.backend.xp.sum(g * s, axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along ``axis`` (finite for any finite x);
    dx = g - softmax * sum(g)."""

    name = "log_softmax"
    axis: int

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        shifted = x - xp.max(x, axis=self.axis, keepdims=True)
        out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))
        self.saved = out
        return out

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        return (g - xp.exp(self.saved) * xp.sum(g, axis=self.axis, keepdims=True),)
