"""Activations, each one graph node with its hand-written backward: ReLU, sigmoid, tanh,
softmax and log-softmax, GELU, SiLU, leaky ReLU, ELU, softplus and clamp.

Derivatives at kinks and at NaN follow PyTorch (each op's docstring says which side wins).
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Op
from ..special import erf


def stable_sigmoid(xp: Any, a: Any) -> Any:
    """1 / (1 + exp(-a)) from exp(-|a|), so it never overflows."""
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


class ReLU(Op):
    """max(a, 0). As PyTorch (``result > 0`` passes the gradient): 0 at a == 0, passed through
    where a is NaN (NaN is not <= 0). Saves one boolean per element."""

    name = "relu"
    kernel_family = "activation"

    def forward(self, a: Any) -> Any:
        # only a recorded node needs the mask (out != 0: out is 0, positive or NaN)
        out, mask = self.kernels.relu(a, bool(self.parents))
        if mask is not None:
            self.saved = mask
        return out

    def backward(self, g: Any) -> tuple[Any]:
        return (self.kernels.relu_backward(g, self.saved),)


class Sigmoid(Op):
    """1 / (1 + exp(-a)), computed from exp(-|a|) so it never overflows; d/da = s * (1 - s)."""

    name = "sigmoid"

    def forward(self, a: Any) -> Any:
        out = stable_sigmoid(self.backend.xp, a)
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


class _AlongAxis(Op):
    """A normalisation along ``axis``: a 0-d input is taken as one element, and an empty one
    gives an empty result (the max of an empty axis does not exist)."""

    axis: int

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        scalar = x.ndim == 0
        if scalar:
            x = xp.reshape(x, (1,))
        out = self.compute(xp, x) if x.size else xp.zeros_like(x)
        self.saved = out
        return xp.reshape(out, ()) if scalar else out

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        if g.ndim == 0:
            return (xp.reshape(self.gradient(xp, xp.reshape(g, (1,)), self.saved), ()),)
        return (self.gradient(xp, g, self.saved),)

    def compute(self, xp: Any, x: Any) -> Any:
        raise NotImplementedError

    def gradient(self, xp: Any, g: Any, out: Any) -> Any:
        raise NotImplementedError


class Softmax(_AlongAxis):
    """exp(x - max) / sum(exp(x - max)) along ``axis``; dx = s * (g - sum(g * s))."""

    name = "softmax"

    def compute(self, xp: Any, x: Any) -> Any:
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        return e / xp.sum(e, axis=self.axis, keepdims=True)

    def gradient(self, xp: Any, g: Any, s: Any) -> Any:
        return s * (g - xp.sum(g * s, axis=self.axis, keepdims=True))


class LogSoftmax(_AlongAxis):
    """x - max - log(sum(exp(x - max))) along ``axis`` (finite for any finite x);
    dx = g - softmax * sum(g)."""

    name = "log_softmax"

    def compute(self, xp: Any, x: Any) -> Any:
        shifted = x - xp.max(x, axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))

    def gradient(self, xp: Any, g: Any, out: Any) -> Any:
        return g - xp.exp(out) * xp.sum(g, axis=self.axis, keepdims=True)


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_BETA = math.sqrt(2 / math.pi)
_TANH_KAPPA = 0.044715
GELU_MODES = ("none", "tanh")


class GELU(Op):
    """x * Phi(x), Phi the standard normal CDF: ``approximate='none'`` takes
    Phi = (1 + erf(x / sqrt 2)) / 2 (exact), ``'tanh'`` takes
    (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))) / 2. d/dx = Phi + x * Phi'(x)."""

    name = "gelu"
    approximate: str = "none"

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        if self.approximate == "tanh":
            t = xp.tanh(_TANH_BETA * (x + _TANH_KAPPA * (x * x * x)))
            self.saved = (x, t)
            return (0.5 * x) * (1 + t)
        cdf = 0.5 * (1 + erf(xp, x * _SQRT1_2))
        self.saved = (x, cdf)
        return x * cdf

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        x, saved = self.saved
        if self.approximate == "tanh":
            inner = _TANH_BETA * (1 + (3 * _TANH_KAPPA) * (x * x))
            return (g * (0.5 * (1 + saved) + (0.5 * x) * (1 - saved * saved) * inner),)
        return (g * (saved + x * (_INV_SQRT_2PI * xp.exp(-0.5 * (x * x)))),)


class SiLU(Op):
    """x * sigmoid(x) (swish); d/dx = s * (1 + x * (1 - s))."""

    name = "silu"

    def forward(self, x: Any) -> Any:
        s = stable_sigmoid(self.backend.xp, x)
        self.saved = (x, s)
        return x * s

    def backward(self, g: Any) -> tuple[Any]:
        x, s = self.saved
        return (g * (s * (1 + x * (1 - s))),)


class LeakyReLU(Op):
    """x where x > 0, ``negative_slope`` * x elsewhere; the gradient is 1 where x > 0 and
    ``negative_slope`` elsewhere (at 0 and at NaN too, as PyTorch)."""

    name = "leaky_relu"
    negative_slope: float = 0.01

    def forward(self, x: Any) -> Any:
        positive = x > 0
        self.saved = positive
        return self.backend.xp.where(positive, x, x * self.negative_slope)

    def backward(self, g: Any) -> tuple[Any]:
        return (self.backend.xp.where(self.saved, g, g * self.negative_slope),)


class ELU(Op):
    """x where x > 0, ``alpha`` * (exp(x) - 1) elsewhere (expm1: exact near 0); the gradient
    is ``alpha`` * exp(x) where x <= 0 (``alpha`` at 0, as PyTorch) and 1 elsewhere (NaN too)."""

    name = "elu"
    alpha: float = 1.0

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        negative = x <= 0
        # expm1 of the negative part only: a large positive x must not overflow
        tail = xp.expm1(xp.where(negative, x, 0.0))
        self.saved = (negative, tail)
        return xp.where(negative, self.alpha * tail, x)

    def backward(self, g: Any) -> tuple[Any]:
        negative, tail = self.saved
        return (self.backend.xp.where(negative, g * (self.alpha * (tail + 1)), g),)


class Softplus(Op):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > ``threshold`` (PyTorch's
    linear regime); d/dx = sigmoid(beta x) there, 1 in the linear regime."""

    name = "softplus"
    beta: float = 1.0
    threshold: float = 20.0

    def forward(self, x: Any) -> Any:
        xp = self.backend.xp
        scaled = x * self.beta
        linear = scaled > self.threshold
        # the smooth branch sees 0 where the linear one wins: exp never overflows there
        z = xp.exp(xp.where(linear, 0.0, scaled))
        self.saved = (linear, z)
        return xp.where(linear, x, xp.log1p(z) / self.beta)

    def backward(self, g: Any) -> tuple[Any]:
        linear, z = self.saved
        return (self.backend.xp.where(linear, g, g * (z / (z + 1))),)


def _clamp(xp: Any, x: Any, low: Any, high: Any) -> Any:
    """min(max(x, low), high), either bound None for none (numbers or arrays)."""
    out = x if low is None else xp.maximum(x, low)
    return out if high is None else xp.minimum(out, high)


def _inside(x: Any, low: Any, high: Any) -> Any:
    """Where low <= x <= high, bounds included (a missing bound holds); False at NaN."""
    if low is None:
        return x <= high
    return x >= low if high is None else (x >= low) & (x <= high)


class Clamp(Op):
    """min(max(x, ``min``), ``max``) for Python-number bounds (either may be None; min > max
    gives max everywhere, NaN stays NaN). The gradient passes where min <= x <= max, bounds
    included (PyTorch's subgradient), and is 0 at NaN. Saves one boolean per element."""

    name = "clamp"
    kernel_family = "activation"
    min: float | None = None
    max: float | None = None

    def forward(self, x: Any) -> Any:
        if self.parents:
            self.saved = _inside(x, self.min, self.max)
        return _clamp(self.backend.xp, x, self.min, self.max)

    def backward(self, g: Any) -> tuple[Any]:
        return (self.kernels.relu_backward(g, self.saved),)


class ClampTensor(Op):
    """min(max(x, low), high) with Tensor bounds (either may be None), broadcasting. As
    PyTorch: x's gradient passes where low <= x <= high; low's where x < low < high; high's
    where x > high or high < low (there high is the result)."""

    name = "clamp"

    def forward(self, x: Any, low: Any, high: Any) -> Any:
        self.saved = (x, low, high)
        return _clamp(self.backend.xp, x, low, high)

    def backward(self, g: Any) -> tuple[Any, Any, Any]:
        xp = self.backend.xp
        x, low, high = self.saved
        zero = xp.zeros_like(g)
        need_x, need_low, need_high = self.needs_input_grad
        gx = g_low = g_high = None
        if need_x:
            gx = xp.where(_inside(x, low, high), g, zero)
        if need_low:
            below = x < low if high is None else (x < low) & (low < high)
            g_low = xp.where(below, g, zero)
        if need_high:
            above = x > high if low is None else (x > high) | (high < low)
            g_high = xp.where(above, g, zero)
        return gx, g_low, g_high
