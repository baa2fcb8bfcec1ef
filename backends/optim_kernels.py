"""The portable kernels of the optimizers (the ``optim`` family): SGD, Adam (and AdamW) and
Adadelta steps over a list of parameters, one after another, every state array updated in place;
the CuPy backend steps all parameters in one launch (``cupy_fused_kernels``), its options read
from a device array (``DEVICE_OPTIONS`` gives their order) so that a captured step sees a changed
learning rate."""

from __future__ import annotations

import math
from typing import Any

from .kernel_family import Kernels

# The float options each method reads from a device array (float64, in this order) where the
# family's ``reads_device_options`` is True; written by the optimizer whenever one changes.
DEVICE_OPTIONS = {"sgd": ("lr", "momentum", "weight_decay"),
                  "adam": ("lr", "beta1", "beta2", "eps", "weight_decay"),
                  "adadelta": ("lr", "rho", "eps", "weight_decay")}


class OptimKernels(Kernels):
    """Optimizer steps over a list of parameters (``values``, updated in place), their
    gradients and their state dicts (made and then updated in place: every state array is the
    same array from one step to the next, as a replayed CUDA graph needs), PyTorch's formulas
    and operation order (tinygrad_drop/optim.py documents them). The portable versions update
    one parameter after another; a backend may update all at once.

    ``device_options`` (every method): where ``reads_device_options`` is True, a float64 device
    array of the method's ``DEVICE_OPTIONS``, which the kernels read instead of the Python
    floats (those are what the portable versions use)."""

    family = "optim"
    reads_device_options = False

    def sgd(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
            lr: float, momentum: float, weight_decay: float, nesterov: bool,
            device_options: Any = None) -> None:
        """SGD with momentum (``momentum_buffer``, a copy of the first gradient), nesterov and
        weight decay; ``states`` is only read with momentum."""
        xp = self.xp
        for value, grad, state in zip(values, grads, states, strict=True):
            if weight_decay:
                grad = grad + weight_decay * value
            if momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = xp.asarray(grad, copy=True)  # not p.grad
                else:
                    buf *= momentum  # = momentum * buf + grad, rounded the same
                    buf += grad
                grad = grad + momentum * buf if nesterov else buf
            value -= lr * grad

    def adam(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
             lr: float, betas: tuple[float, float], eps: float, weight_decay: float,
             decoupled: bool = False, device_options: Any = None) -> None:
        """Adam: ``exp_avg``, ``exp_avg_sq`` and the ``step`` count. Weight decay is L2 (added
        to the gradient), or with ``decoupled`` AdamW's: p = p * (1 - lr * weight_decay)
        before the update, as PyTorch orders it."""
        xp = self.xp
        b1, b2 = betas
        for value, grad, state in zip(values, grads, states, strict=True):
            if weight_decay:
                if decoupled:
                    value *= 1 - lr * weight_decay
                else:
                    grad = grad + weight_decay * value
            step = state["step"] = int(state.get("step", 0)) + 1
            m, v = state.get("exp_avg"), state.get("exp_avg_sq")
            if m is None:
                m = state["exp_avg"] = xp.zeros_like(value)
                v = state["exp_avg_sq"] = xp.zeros_like(value)
            change = grad - m  # m + (1 - b1) * (grad - m): PyTorch's lerp form
            change *= 1 - b1
            m += change
            square = grad * (1 - b2)  # b2 * v + (1 - b2) * grad * grad
            square *= grad
            v *= b2
            v += square
            denom = xp.sqrt(v) / math.sqrt(1 - b2 ** step) + eps
            value -= (lr / (1 - b1 ** step)) * (m / denom)

    def adadelta(self, values: list[Any], grads: list[Any], states: list[dict[str, Any]],
                 lr: float, rho: float, eps: float, weight_decay: float,
                 device_options: Any = None) -> None:
        """Adadelta: ``square_avg``, ``acc_delta`` and the ``step`` count."""
        xp = self.xp
        for value, grad, state in zip(values, grads, states, strict=True):
            if weight_decay:
                grad = grad + weight_decay * value
            square_avg = state.get("square_avg")
            if square_avg is None:
                square_avg = state["square_avg"] = xp.zeros_like(value)
                state["acc_delta"] = xp.zeros_like(value)
            acc_delta = state["acc_delta"]
            state["step"] = state.get("step", 0) + 1
            # Each temporary is made once and then worked on in place: a 9216x128 layer has no
            # array to spare (grad may be p.grad's array and is never written). Products in
            # PyTorch's order, (1 - rho) * g * g, so that float64 agrees to the last bits.
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
            if lr != 1.0:  # the seed's lr is 1: no multiply
                delta *= lr
            value -= delta
