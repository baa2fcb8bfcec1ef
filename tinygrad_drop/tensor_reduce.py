"""Tensor methods for reductions (sum, mean, var, max, argmax, any...), with PyTorch's
``dim``/``keepdim`` spellings beside NumPy's ``axis``/``keepdims``, and PyTorch's dtypes: sums
and products of bool and integer tensors are int64, mean/var/std refuse them, logsumexp gives
the default float, amax/max keep the input's dtype, argmax is int64, any/all bool."""

from __future__ import annotations

from typing import Any, NamedTuple

from .autograd import TensorBase
from .dtypes import native_category
from .ops.reduce import (
    Amax,
    Amin,
    LogSumExp,
    MaxDim,
    Mean,
    MinDim,
    Prod,
    Std,
    Sum,
    Var,
    normalize_axes,
)
from .ops.shape import normalize_dim
from .tensor_math import as_floating, dim_arg


class MaxResult(NamedTuple):
    """``t.max(dim)``: the maxima and their int64 indices (PyTorch's ``return_types.max``)."""

    values: Any
    indices: Any


class MinResult(NamedTuple):
    """``t.min(dim)``: the minima and their int64 indices (PyTorch's ``return_types.min``)."""

    values: Any
    indices: Any


def keep_arg(keepdim: Any, keepdims: Any, where: str) -> bool:
    """PyTorch's ``keepdim=`` or NumPy's ``keepdims=`` (not both); False when neither."""
    if keepdim is not None and keepdims is not None:
        raise TypeError(f"{where}: give keepdim or keepdims, not both")
    return bool(keepdim if keepdims is None else keepdims)


def _single_dim(dim: Any, ndim: int, where: str, hint: str = "") -> int:
    """One dim by ``normalize_dim``; several (a tuple or list) are a TypeError with ``hint``."""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{where}: dim must be an int, got {dim!r}{hint}")
    return normalize_dim(dim, ndim, where)


def _nonempty(x: Any, dims: Any, where: str) -> None:
    """PyTorch's errors for max/min/argmax over nothing: a full reduction of an empty tensor
    (RuntimeError; IndexError for argmax), or a reduced dim of length 0 (IndexError)."""
    if 0 not in x.data.shape or not x.data.ndim:  # the common case, asked cheaply
        return
    if dims is None:
        kind = IndexError if where.startswith("arg") else RuntimeError
        raise kind(f"{where}: cannot reduce an empty tensor of shape {x.shape} over all its "
                   "elements (there is no identity); give a dim whose length is not 0")
    for d in normalize_axes(dims, x.ndim, where):
        if x.shape[d] == 0:
            raise IndexError(f"{where}: expected reduction dim {d} to have non-zero size, but "
                             f"the tensor has shape {x.shape}")


def _floating_only(x: Any, where: str) -> None:
    if native_category(x.data.dtype) != 2:
        raise RuntimeError(f"{where}: the input must be a floating-point tensor, got dtype "
                           f"{x.dtype_name}; cast it first (.float() or .double())")


def _extreme(x: Any, op: Any, axis: Any, keep: bool, where: str, nan_ties: bool = False
             ) -> Any:
    """amax/amin of ``x``; bool tensors go through int8, which the Array API can reduce."""
    _nonempty(x, axis, where)
    if native_category(x.data.dtype) == 0:
        return op.apply(x.astype("int8"), axis=axis, keepdims=keep).astype("bool")
    return op.apply(x, axis=axis, keepdims=keep, nan_ties=nan_ties)


def _extreme_dim(x: Any, op: Any, result: Any, dim: int, keep: bool) -> Any:
    """(values, indices) of max/min over ``dim``."""
    dim = _single_dim(dim, x.ndim, op.name,
                      f"; for several dims use amax/amin, e.g. t.a{op.name}((0, 1))")
    _nonempty(x, dim, op.name)
    if native_category(x.data.dtype) == 0:
        values, indices = op.apply(x.astype("int8"), axis=dim, keepdims=keep)
        return result(values.astype("bool"), indices)
    return result(*op.apply(x, axis=dim, keepdims=keep))


def _max_or_min(self: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any, largest: bool
                ) -> Any:
    name = "max" if largest else "min"
    if isinstance(dim, TensorBase) or isinstance(axis, TensorBase):
        raise TypeError(f"{name}: the elementwise {name} of two tensors is "
                        f"td.{name}imum(a, b); t.{name}(dim) reduces over a dimension")
    keep = keep_arg(keepdim, keepdims, name)
    if dim is not None:
        dim_arg(dim, axis, None, name)  # refuses dim and axis together
        return _extreme_dim(self, MaxDim if largest else MinDim,
                            MaxResult if largest else MinResult, dim, keep)
    return _extreme(self, Amax if largest else Amin, axis, keep, name, nan_ties=axis is None)


def _arg_extreme(self: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any, find: str
                 ) -> Any:
    where = f"arg{find}"
    dim, keep = dim_arg(dim, axis, None, where), keep_arg(keepdim, keepdims, where)
    if dim is not None:
        dim = _single_dim(dim, self.ndim, where)
    if native_category(self.data.dtype) == 0:
        raise RuntimeError(f"{where}: does not support bool input; cast it first (.int())")
    _nonempty(self, dim, where)
    xp = self._backend.xp
    if self.ndim == 0:
        out = xp.zeros((), dtype=xp.int64)
    else:
        out = xp.astype(getattr(xp, where)(self.data, axis=dim, keepdims=keep), xp.int64)
    return self._wrap(out, self._backend, False, None)


def _any_or_all(self: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any, name: str) -> Any:
    dim, keep = dim_arg(dim, axis, None, name), keep_arg(keepdim, keepdims, name)
    axes = None if dim is None else normalize_axes(dim, self.ndim, name, empty_means_all=False)
    out = getattr(self._backend.xp, name)(self.data, axis=axes if self.ndim else None,
                                          keepdims=keep)
    return self._wrap(out, self._backend, False, None)


def _var_args(dim: Any, unbiased: Any, correction: Any, where: str) -> tuple[Any, float]:
    """The dims and the correction from PyTorch's spellings: ``var(dim, unbiased, keepdim)``,
    ``var(unbiased)`` (a bool first), ``var(dim, correction=c)``."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{where}: unbiased given twice ({dim!r} and {unbiased!r})")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{where}: give correction or unbiased, not both")
    if correction is None:
        return dim, 1.0 if unbiased is None or unbiased else 0.0
    return dim, float(correction)


class ReduceMethods:
    """Reductions over a dimension, several, or all (mixed into ``Tensor``)."""

    __slots__ = ()

    def sum(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None, dtype: Any = None) -> Any:
        """Sum over ``dim`` (None or (): all elements); bool and integer tensors sum to int64
        unless ``dtype`` says otherwise."""
        if (dim is None and axis is None and keepdim is None and keepdims is None
                and dtype is None and native_category(self.data.dtype) == 2):
            return Sum.apply_one(self)  # loss.sum(): the defaults, no argument parsing
        x = self._reduce_input(dtype, int_as="int64")
        return Sum.apply(x, axis=dim_arg(dim, axis, None, "sum"),
                         keepdims=keep_arg(keepdim, keepdims, "sum"))

    def mean(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
             keepdims: Any = None, dtype: Any = None) -> Any:
        """Mean over ``dim`` (None or (): all elements); floating point only (or give
        ``dtype``); NaN over zero elements."""
        x = self._reduce_input(dtype)
        _floating_only(x, "mean")
        return Mean.apply(x, axis=dim_arg(dim, axis, None, "mean"),
                          keepdims=keep_arg(keepdim, keepdims, "mean"))

    def prod(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
             keepdims: Any = None, dtype: Any = None) -> Any:
        """Product over ``dim`` (one dim, or None: all elements); bool and integer tensors give
        int64. The gradient is exact with zeros (the product of the other elements)."""
        dim = dim_arg(dim, axis, None, "prod")
        if dim is not None:
            dim = _single_dim(dim, self.ndim, "prod")
        x = self._reduce_input(dtype, int_as="int64")
        return Prod.apply(x, axis=dim, keepdims=keep_arg(keepdim, keepdims, "prod"))

    def var(self, dim: Any = None, unbiased: Any = None, keepdim: Any = None, *,
            correction: Any = None, axis: Any = None, keepdims: Any = None) -> Any:
        """Variance over ``dim`` (None: all): sum((x - mean)**2) / (n - correction), correction
        1 by default (``unbiased=False`` is correction 0)."""
        return self._spread_stat(Var, dim, unbiased, keepdim, correction, axis, keepdims)

    def std(self, dim: Any = None, unbiased: Any = None, keepdim: Any = None, *,
            correction: Any = None, axis: Any = None, keepdims: Any = None) -> Any:
        """Standard deviation over ``dim`` (None: all): sqrt of ``var`` with the same
        arguments; its gradient is 0 where the deviation is 0."""
        return self._spread_stat(Std, dim, unbiased, keepdim, correction, axis, keepdims)

    def _spread_stat(self, op: Any, dim: Any, unbiased: Any, keepdim: Any, correction: Any,
                     axis: Any, keepdims: Any) -> Any:
        dim, correction = _var_args(dim, unbiased, correction, op.name)
        _floating_only(self, op.name)
        return op.apply(self, axis=dim_arg(dim, axis, None, op.name), correction=correction,
                        keepdims=keep_arg(keepdim, keepdims, op.name))

    def logsumexp(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
                  keepdims: Any = None) -> Any:
        """log(sum(exp(x))) over ``dim`` (None: all), computed stably; its gradient is the
        softmax. Integer tensors give the default float."""
        x = as_floating(self)
        return LogSumExp.apply(x, axis=dim_arg(dim, axis, None, "logsumexp"),
                               keepdims=keep_arg(keepdim, keepdims, "logsumexp"))

    def amax(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
             keepdims: Any = None) -> Any:
        """Maximum values over ``dim`` (None or (): all; a tuple of dims too); tied maxima
        share the gradient equally."""
        return _extreme(self, Amax, dim_arg(dim, axis, None, "amax"),
                        keep_arg(keepdim, keepdims, "amax"), "amax")

    def amin(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
             keepdims: Any = None) -> Any:
        """Minimum values over ``dim`` (None or (): all; a tuple of dims too); tied minima
        share the gradient equally."""
        return _extreme(self, Amin, dim_arg(dim, axis, None, "amin"),
                        keep_arg(keepdim, keepdims, "amin"), "amin")

    def max(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        """``t.max()`` or ``t.max(axis=...)``: the maximum values (ties share the gradient);
        ``t.max(dim)``: the named tuple ``(values, indices)``, the gradient to the first
        maximum's index alone (as PyTorch)."""
        return _max_or_min(self, dim, keepdim, axis, keepdims, largest=True)

    def min(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        """``t.min()`` or ``t.min(axis=...)``: the minimum values (ties share the gradient);
        ``t.min(dim)``: the named tuple ``(values, indices)`` (as PyTorch)."""
        return _max_or_min(self, dim, keepdim, axis, keepdims, largest=False)

    def argmax(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
               keepdims: Any = None) -> Any:
        """int64 index of the first maximum along ``dim`` (None: in the flattened tensor); no
        gradient."""
        return _arg_extreme(self, dim, keepdim, axis, keepdims, "max")

    def argmin(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
               keepdims: Any = None) -> Any:
        """int64 index of the first minimum along ``dim`` (None: in the flattened tensor); no
        gradient."""
        return _arg_extreme(self, dim, keepdim, axis, keepdims, "min")

    def any(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        """Whether any element along ``dim`` (None: all) is non-zero, as a bool tensor."""
        return _any_or_all(self, dim, keepdim, axis, keepdims, "any")

    def all(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> Any:
        """Whether every element along ``dim`` (None: all) is non-zero, as a bool tensor."""
        return _any_or_all(self, dim, keepdim, axis, keepdims, "all")

    def _reduce_input(self, dtype: Any, int_as: str | None = None) -> Any:
        """Self cast to ``dtype`` if given, else bool and integer tensors to ``int_as``."""
        if dtype is not None:
            return self.astype(dtype)
        if int_as is not None and native_category(self.data.dtype) != 2:
            return self.astype(int_as)
        return self
