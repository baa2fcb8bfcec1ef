"""Optimizers with PyTorch's exact update formulas."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from . import backends
from ._grads import zero_grads
from .autograd import no_grad
from .tensor_core import Tensor


def nonnegative(optimizer: Optimizer, **options: float) -> None:
    """Refuse a negative (or NaN) option as PyTorch does, naming it and its value."""
    for option, value in options.items():
        if not value >= 0:
            raise ValueError(f"{type(optimizer).__name__}: {option} must be >= 0, got {value!r}")


class Optimizer:
    """Holds the parameters and their per-parameter state; ``step()`` updates ``p.data``."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors (e.g. "
                            "model.parameters() or [w, b]), got a single Tensor")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        first: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} is not a leaf tensor (it was computed "
                                 "by an op); optimize the tensors it was computed from")
            if id(p) in first:
                raise ValueError(f"{name}: parameter {i} is the same tensor as parameter "
                                 f"{first[id(p)]}; each parameter must be given once (it "
                                 "would be stepped twice per step)")
            first[id(p)] = i
        nonnegative(self, lr=lr)
        self.lr = lr
        self.state: dict[int, dict[str, Any]] = {}
        self._placement: dict[int, tuple[Any, Any]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``.grad = None`` (PyTorch's default), or zeros in place with
        ``set_to_none=False``."""
        zero_grads(self.params, set_to_none)

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for p in self.params:
            grad = p.grad
            if grad is not None:
                p.data = self._update(p, grad.data)

    def _state_of(self, p: Tensor) -> dict[str, Any]:
        """``p``'s state (made empty on first use), its arrays moved and cast to where ``p``
        is now (after ``model.to`` or ``model.double()``, which change parameters in place).
        Only updates that keep state call it, so plain SGD pays nothing per parameter."""
        key = id(p)
        state = self.state.get(key)
        if state is None:
            state = self.state[key] = {}
            self._placement[key] = (p._backend, p.data.dtype)
            return state
        be, dtype = self._placement[key]
        if be is not p._backend or dtype != p.data.dtype:
            be, dtype = self._placement[key] = (p._backend, p.data.dtype)
            for name, value in state.items():
                owner = backends.owner_of(value)
                if owner is not None:
                    if owner is not be:  # moved: through the host; only cast: on the device
                        value = be.asarray(owner.to_numpy(value))
                    state[name] = be.xp.astype(value, dtype)
        return state

    def _update(self, p: Tensor, grad: Any) -> Any:
        """The parameter's new value from its gradient (and ``self._state_of(p)``)."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: g = grad + weight_decay * p; with momentum
    b = momentum * b + g (b = g on the first step), g = g + momentum * b (nesterov) or b;
    p = p - lr * g."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        nonnegative(self, momentum=momentum, weight_decay=weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    def _update(self, p: Tensor, grad: Any) -> Any:
        value = p.data
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        if self.momentum:
            state = self._state_of(p)
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = p._backend.xp.asarray(grad, copy=True)  # never alias p.grad
            else:
                buf = self.momentum * buf + grad
            state["momentum_buffer"] = buf
            grad = grad + self.momentum * buf if self.nesterov else buf
        value -= self.lr * grad  # in place: no new parameter array per step
        return value


class Adam(Optimizer):
    """Adam (Kingma & Ba) as torch.optim.Adam: g = grad + weight_decay * p (L2, not AdamW);
    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        nonnegative(self, eps=eps, weight_decay=weight_decay)
        if len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: betas[{i}] must be in [0, 1), got {beta!r}")
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def _update(self, p: Tensor, grad: Any) -> Any:
        b1, b2 = self.betas
        state = self._state_of(p)
        value = p.data
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        step = state["step"] = state.get("step", 0) + 1
        m = state.get("exp_avg", 0.0)
        m = state["exp_avg"] = m + (1 - b1) * (grad - m)  # PyTorch's lerp form
        v = state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", 0.0) + (1 - b2) * grad * grad
        denom = p._backend.xp.sqrt(v) / math.sqrt(1 - b2 ** step) + self.eps
        value -= (self.lr / (1 - b1 ** step)) * (m / denom)
        return value


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012) as torch.optim.Adadelta: g = grad + weight_decay * p;
    s = rho s + (1 - rho) g^2; delta = sqrt(a + eps) / sqrt(s + eps) * g;
    a = rho a + (1 - rho) delta^2; p = p - lr * delta (s and a start at zero, kept per
    parameter as ``square_avg`` and ``acc_delta``, with the ``step`` count).

    The defaults are PyTorch's (lr=1.0, rho=0.9, eps=1e-6), which are not Keras's: the seed's
    Keras MNIST CNN used ``Adadelta()`` with rho=0.95, eps=1e-7, lr=1.0 (Keras 2.3 and later
    changed the default lr to 0.001, a thousand times slower). To reproduce that program write
    ``Adadelta(params, lr=1.0, rho=0.95, eps=1e-7)``."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        nonnegative(self, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho!r}")
        self.rho, self.eps, self.weight_decay = rho, eps, weight_decay

    def _update(self, p: Tensor, grad: Any) -> Any:
        xp, rho, eps = p._backend.xp, self.rho, self.eps
        state = self._state_of(p)
        value = p.data
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        square_avg = state.get("square_avg")
        if square_avg is None:
            square_avg = state["square_avg"] = xp.zeros_like(value)
            state["acc_delta"] = xp.zeros_like(value)
        acc_delta = state["acc_delta"]
        state["step"] = state.get("step", 0) + 1
        # The state arrays are the optimizer's own, so they are updated in place, and each
        # temporary is made once and then worked on in place: a 9216x128 layer has no array
        # to spare (grad may be p.grad's array and is never written). Products in PyTorch's
        # order, (1 - rho) * g * g, so that float64 agrees to the last bits.
        scaled = grad * (1 - rho)
        scaled *= grad
        square_avg *= rho
        square_avg += scaled
        delta = xp.sqrt(acc_delta + eps)
        delta /= xp.sqrt(square_avg + eps)
        delta *= grad
        scaled = delta * (1 - rho)
        scaled *= delta
        acc_delta *= rho
        acc_delta += scaled
        if self.lr != 1.0:  # the seed's lr is 1: no multiply
            delta *= self.lr
        value -= delta
        return value
