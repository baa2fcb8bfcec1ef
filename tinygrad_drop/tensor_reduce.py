"""Tensor methods for reductions (sum, mean, max...), with PyTorch's ``dim``/``keepdim``
spellings beside NumPy's ``axis``/``keepdims``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .autograd import Op
from .ops.reduce import Max, Mean, Sum
from .tensor_math import dim_arg


def keep_arg(keepdim: Any, keepdims: Any, where: str) -> bool:
    """PyTorch's ``keepdim=`` or NumPy's ``keepdims=`` (not both); False when neither."""
    if keepdim is not None and keepdims is not None:
        raise TypeError(f"{where}: give keepdim or keepdims, not both")
    return bool(keepdim if keepdims is None else keepdims)


def _reduction(op: type[Op], doc: str) -> Callable[..., Any]:
    def method(self: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
               keepdims: Any = None) -> Any:
        return op.apply(self, axis=dim_arg(dim, axis, None, op.name),
                        keepdims=keep_arg(keepdim, keepdims, op.name))
    method.__doc__ = doc
    return method


class ReduceMethods:
    """Reductions over a dimension, several, or all (mixed into ``Tensor``)."""

    __slots__ = ()

    sum = _reduction(Sum, "Sum over ``dim`` (None: all elements).")
    mean = _reduction(Mean, "Mean over ``dim`` (None: all elements).")
    max = _reduction(Max, "Maximum over ``dim``; tied maxima share the gradient equally.")
