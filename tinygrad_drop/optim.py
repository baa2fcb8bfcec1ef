"""Optimizers with PyTorch's exact update formulas."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .autograd import no_grad
from .tensor_core import Tensor


class Optimizer:
    """Holds the parameters and their per-parameter state; ``step()`` updates ``p.data``."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: parameter {i} is not a Tensor that "
                                "requires grad")
        if not lr >= 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr!r}")
        self.lr = lr
        self.state: dict[int, dict[str, Any]] = {}

    def zero_grad(self) -> None:
        """Forget the gradients (``.grad = None``, as PyTorch's default)."""
        for p in self.params:
            p.grad = None

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for p in self.params:
            if p.grad is not None:
                p.data = self._update(p, p.grad.data, self.state.setdefault(id(p), {}))

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any]) -> Any:
        """The parameter's new value from its gradient and state."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: g = grad + weight_decay * p; with momentum
    b = momentum * b + g (b = g on the first step), g = g + momentum * b (nesterov) or b;
    p = p - lr * g."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any]) -> Any:
        value = p.data
        if self.weight_decay:
            grad = grad + self.weight_decay * value
        if self.momentum:
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
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas!r}")
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any]) -> Any:
        b1, b2 = self.betas
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
