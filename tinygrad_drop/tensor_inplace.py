"""In-place updates as PyTorch users write them: ``p -= lr * p.grad`` under ``no_grad``,
``t += 1``, ``x[mask] = 0``.

The tensor keeps its identity (a model's parameter stays the model's parameter) and gets new
data: the old array is replaced, never written into, so an array a graph saved for backward is
never corrupted. (Unlike PyTorch, views and ``detach()``-ed aliases of the tensor keep the old
values.) Where PyTorch refuses, so do we: a tensor that requires grad may be changed in place
only under ``no_grad``, and the result must fit the tensor's shape and dtype.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from . import dtypes
from .autograd import TensorBase, is_grad_enabled, no_grad
from .ops.index import as_index_part


def _check_allowed(t: Any, what: str, operands: tuple[Any, ...] = ()) -> None:
    if not is_grad_enabled():
        return
    if t.requires_grad:
        where = ("a leaf tensor that requires grad" if t.grad_fn is None
                 else "a tensor that is part of a graph")
        raise RuntimeError(f"{what}: {where} cannot be changed in place while gradients are "
                           "recorded; update parameters under `with td.no_grad():`, or write "
                           "x = x + y to make a new tensor")
    if any(isinstance(x, TensorBase) and x.requires_grad for x in operands):
        raise RuntimeError(f"{what}: an in-place update with an operand that requires grad is "
                           "not recorded here; write x = x + y instead")


def _store(t: Any, result: Any, what: str) -> Any:
    """Give ``t`` the values of ``result`` (a Tensor) in ``t``'s own dtype and shape."""
    if tuple(result.shape) != t.shape:
        raise ValueError(f"{what}: the result's shape {tuple(result.shape)} does not match the "
                         f"tensor's shape {t.shape} (an in-place result cannot broadcast it)")
    if dtypes.category(result.dtype_name) > dtypes.category(t.dtype_name):
        raise TypeError(f"{what}: result type {result.dtype_name} cannot be cast to the "
                        f"tensor's dtype {t.dtype_name} in place")
    data = result.data
    if result.dtype_name != t.dtype_name:
        data = t._backend.xp.astype(data, t.data.dtype)
    t.data = data
    return t


def _inplace(fn: Callable[[Any, Any], Any], symbol: str) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        what = f"{symbol}="
        _check_allowed(self, what, (other,))
        with no_grad():
            result = fn(self, other)
        return _store(self, result, what)
    method.__doc__ = (f"``self {symbol}= other`` in place (the same Tensor object, new data); "
                      "under no_grad for tensors that require grad, as in PyTorch.")
    return method


class InplaceMethods:
    """``+= -= *= /=`` and item assignment (mixed into ``Tensor``)."""

    __slots__ = ()

    __iadd__ = _inplace(operator.add, "+")
    __isub__ = _inplace(operator.sub, "-")
    __imul__ = _inplace(operator.mul, "*")
    __itruediv__ = _inplace(operator.truediv, "/")

    def __setitem__(self, index: Any, value: Any) -> None:
        """``self[index] = value``: a number or a Tensor broadcast to the selection, cast to
        this tensor's dtype (basic indexing, a bool mask, integer arrays where the backend's
        arrays allow assignment with them)."""
        _check_allowed(self, "setitem", (value,))
        be = self._backend
        parts = tuple(as_index_part(self, p) for p in (index if isinstance(index, tuple)
                                                        else (index,)))
        if isinstance(value, TensorBase):
            if value._backend is not be:
                raise TypeError(f"setitem: cannot assign a {value.backend!r} tensor into a "
                                f"{self.backend!r} tensor")
            value = be.xp.astype(value.data, self.data.dtype)
        elif dtypes.is_scalar(value):
            value = dtypes.scalar_as(value, self.dtype_name)
        else:
            value = be.asarray(value, self.dtype_name)
        if (not any(p is Ellipsis or be.is_array(p) for p in parts)
                and sum(p is not None for p in parts) < self.ndim):
            parts += (Ellipsis,)  # the Array API wants every axis accounted for
        data = be.xp.asarray(self.data, copy=True)
        try:
            data[parts if len(parts) > 1 else parts[0]] = value
        except (IndexError, ValueError, TypeError) as exc:
            raise type(exc)(f"setitem: {exc} (tensor of shape {self.shape})") from exc
        self.data = data
