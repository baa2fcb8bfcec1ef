"""Optimizers with PyTorch's exact update formulas. A step updates every parameter and its state
in place (the same arrays from one step to the next, as a replayed CUDA graph needs), through the
backend's ``optim`` kernels (``backends/kernels.py``: all of a backend's parameters at once)."""

from __future__ import annotations

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
        """Update every parameter that has a gradient, in place: the parameters of each backend
        together, through its ``optim`` kernels (on CuPy one launch for all of them)."""
        groups: dict[int, tuple[Any, list[Tensor], list[Any]]] = {}
        for p in self.params:
            grad = p.grad
            if grad is not None:
                group = groups.setdefault(id(p._backend), (p._backend, [], []))
                group[1].append(p)
                group[2].append(grad.data)
        for backend, params, grads in groups.values():
            self._step_all(backend.kernels("optim"), params, grads)

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

    def _step_all(self, kernels: Any, params: list[Tensor], grads: list[Any]) -> None:
        """Update ``params`` (of one backend, whose optim ``kernels`` these are) in place from
        their gradient arrays ``grads``."""
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

    def _step_all(self, kernels: Any, params: list[Tensor], grads: list[Any]) -> None:
        # plain SGD keeps no state: nothing made per parameter
        states = ([self._state_of(p) for p in params] if self.momentum
                  else [None] * len(params))
        kernels.sgd([p.data for p in params], grads, states, self.lr, self.momentum,
                    self.weight_decay, self.nesterov)


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

    def _step_all(self, kernels: Any, params: list[Tensor], grads: list[Any]) -> None:
        kernels.adam([p.data for p in params], grads, [self._state_of(p) for p in params],
                     self.lr, self.betas, self.eps, self.weight_decay)


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

    def _step_all(self, kernels: Any, params: list[Tensor], grads: list[Any]) -> None:
        kernels.adadelta([p.data for p in params], grads, [self._state_of(p) for p in params],
                         self.lr, self.rho, self.eps, self.weight_decay)
