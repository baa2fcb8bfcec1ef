"""PyTorch's function spellings of Tensor methods: ``td.sum(t, dim)`` is ``t.sum(dim)``,
``td.exp(t)`` is ``t.exp()``, and so on, so ``torch.X(t, ...)`` habits carry over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

METHODS = ("sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax",
           "argmin", "any", "all", "logsumexp", "softmax", "log_softmax", "exp", "log", "sqrt",
           "abs", "sigmoid", "tanh", "relu", "clamp", "clip", "gather", "flatten", "transpose",
           "permute", "reshape", "squeeze", "unsqueeze", "masked_fill", "numel", "matmul", "add",
           "sub", "mul", "div", "pow", "neg", "remainder", "floor_divide", "square",
           "reciprocal", "logical_not")


def _form(name: str) -> Callable[..., Any]:
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        method = getattr(input, name, None)
        if method is None or not callable(method):
            raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
        return method(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``td.{name}(t, ...)``: the same as ``t.{name}(...)``."
    return function


globals().update({name: _form(name) for name in METHODS})
__all__ = list(METHODS)
