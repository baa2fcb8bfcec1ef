"""Reductions: sum, mean, prod, var, std, logsumexp, amax/amin (values) and max/min over one dim
(values and indices). Each backward reshapes the gradient to the kept-dims shape and broadcasts
it back over the reduced axes; the ops see floating-point input (the Tensor methods cast ints
as PyTorch does) except amax/amin and max/min, which keep integer dtypes and record no graph."""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

from ..autograd import Op
from .shape import normalize_dims


def normalize_axes(axis: Any, ndim: int, op: str, empty_means_all: bool = True) -> tuple[int, ...]:
    """``axis`` (None, a dim, or a tuple or list of dims: ``normalize_dims``) as a sorted
    tuple of non-negative axes. None, and ``()`` where ``empty_means_all`` (PyTorch's
    sum/amax/var), mean every axis; a 0-d tensor takes dim 0 and -1 (reducing it keeps it)."""
    if axis is None or (empty_means_all and isinstance(axis, (tuple, list)) and not axis):
        return tuple(range(ndim))
    axes = normalize_dims(axis, ndim, op)
    return tuple(sorted(axes)) if ndim else ()


class _Reduction(Op):
    """Shared bookkeeping: resolved axes, the shape with reduced axes kept as 1, and the number
    of elements each output reduces."""

    axis: Any = None  # None, an int or a tuple of ints
    keepdims: bool = False

    def _setup(self, a: Any) -> tuple[int, ...] | None:
        """The ``axis`` argument for the backend's reduction (None: all)."""
        self.in_shape = a.shape
        if self.axis is None:  # the common loss.sum() / .mean(): axes, kept_shape and count
            return None        # are worked out from in_shape if asked (properties below)
        self.axes = normalize_axes(self.axis, a.ndim, self.name)
        self.kept_shape = tuple(1 if i in self.axes else n for i, n in enumerate(a.shape))
        self.count = math.prod(a.shape[i] for i in self.axes)
        return self.axes if a.ndim else None

    # With axis None, _setup leaves these to be worked out on first use; they are non-data
    # descriptors, so the values _setup stores for a given axis take precedence.
    @functools.cached_property
    def axes(self) -> tuple[int, ...]:
        """The reduced axes, sorted and non-negative."""
        return tuple(range(len(self.in_shape)))

    @functools.cached_property
    def kept_shape(self) -> tuple[int, ...]:
        """The output's shape with the reduced axes kept as 1."""
        return (1,) * len(self.in_shape)

    @functools.cached_property
    def count(self) -> int:
        """How many input elements each output element reduces."""
        return math.prod(self.in_shape)

    def _out_shape(self) -> tuple[int, ...]:
        return self.kept_shape if self.keepdims else tuple(
            n for i, n in enumerate(self.in_shape) if i not in self.axes)

    def _drop(self, kept: Any) -> Any:
        """A kept-dims result in the output's shape."""
        return kept if self.keepdims else self.backend.xp.reshape(kept, self._out_shape())

    def _filled(self, value: float, dtype: Any) -> Any:
        """The output, every element ``value``: what reducing zero elements gives."""
        return self.backend.xp.full(self._out_shape(), value, dtype=dtype)

    def _spread(self, g: Any) -> Any:
        # A fresh array rather than a broadcast view: one C-level copy, and a leaf can own it.
        xp = self.backend.xp
        out = xp.empty(self.in_shape, dtype=g.dtype)
        # g broadcasts as it is when it kept the reduced axes or is one number
        out[...] = g if self.keepdims or self.axis is None else xp.reshape(g, self.kept_shape)
        return out


class Sum(_Reduction):
    """Sum over ``axis`` (None: all); the gradient is g broadcast back."""

    name = "sum"
    kernel_family = "reduce"

    def forward(self, a: Any) -> Any:
        if self.axis is None and not self.keepdims:  # loss.sum(): _setup's first case, and
            self.in_shape = a.shape                  # no keywords
            return self.kernels.sum(a)
        return self.kernels.sum(a, self._setup(a), self.keepdims)

    def backward(self, g: Any) -> tuple[Any]:
        return (self._spread(g),)


class Mean(_Reduction):
    """Mean over ``axis`` (None: all): sum / n; the gradient is g / n broadcast back. Over zero
    elements the mean is NaN (as PyTorch)."""

    name = "mean"

    def forward(self, a: Any) -> Any:
        axes = self._setup(a)
        if self.count == 0:
            return self._filled(math.nan, a.dtype)
        return self.backend.xp.mean(a, axis=axes, keepdims=self.keepdims)

    def backward(self, g: Any) -> tuple[Any]:
        if self.count == 0:  # the input has no elements: nothing to spread
            return (self.backend.xp.zeros(self.in_shape, dtype=g.dtype),)
        return (self._spread(g / self.count),)


class Prod(_Reduction):
    """Product over ``axis`` (None: all). d(prod)/dx_i is the product of the others: prod / x_i
    with no zero, the product of the non-zeros at a lone zero (0 elsewhere), 0 with two zeros."""

    name = "prod"

    def forward(self, a: Any) -> Any:
        self.saved = a
        return self.backend.xp.prod(a, axis=self._setup(a), keepdims=self.keepdims)

    def backward(self, g: Any) -> tuple[Any]:
        xp, a = self.backend.xp, self.saved
        axes = self.axes if a.ndim else None
        nonzero = a != 0
        safe = xp.where(nonzero, a, xp.ones_like(a))
        zeros = xp.sum(xp.astype(~nonzero, xp.int64), axis=axes, keepdims=True)
        others = xp.prod(safe, axis=axes, keepdims=True) * xp.reshape(g, self.kept_shape)
        lone_zero = (zeros == 1) & ~nonzero
        return (xp.where(zeros == 0, others / safe,
                         xp.where(lone_zero, others, xp.zeros_like(others))),)


class Var(_Reduction):
    """Variance over ``axis``: sum((x - mean)**2) / (n - correction); gradient
    2 (x - mean) g / (n - correction). With n - correction <= 0 the value is inf (NaN where
    every deviation is 0), and the gradient follows PyTorch's two formulas: over all elements
    (axis None) inf, NaN at zero deviations; over given dims 2 / (n - correction) as it is
    (negative, or an infinity carrying the sign of the deviation)."""

    name = "var"
    correction: float = 1.0

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        axes = self._setup(a)
        if self.count == 0:
            self.saved = None
            return self._filled(math.nan, a.dtype)
        dev = a - xp.mean(a, axis=axes, keepdims=True)
        squares = xp.sum(dev * dev, axis=axes, keepdims=self.keepdims)
        self.dof = float(self.count - self.correction)
        self.saved = dev
        if self.dof > 0:
            return squares / self.dof
        return xp.where(squares == 0, xp.full_like(squares, math.nan), math.inf)

    def _var_backward(self, g: Any, dev: Any) -> Any:
        xp = self.backend.xp
        if dev is None:
            return xp.zeros(self.in_shape, dtype=g.dtype)
        g = xp.reshape(g, self.kept_shape)
        if self.dof > 0 or (self.dof < 0 and self.axis is not None):
            return dev * (g * (2.0 / self.dof))
        if self.axis is None:
            return g * xp.where(dev == 0, xp.full_like(dev, math.nan), math.inf)
        signed = g * dev  # times 2 / 0: an infinity of its sign, NaN where it is 0 or NaN
        return xp.where((signed == 0) | xp.isnan(signed), xp.full_like(signed, math.nan),
                        xp.copysign(xp.full_like(signed, math.inf), signed))

    def backward(self, g: Any) -> tuple[Any]:
        return (self._var_backward(g, self.saved),)


class Std(Var):
    """Standard deviation over ``axis``: sqrt(var); gradient var's gradient of g / (2 std),
    taken as 0 where std is 0 (as PyTorch)."""

    name = "std"

    def forward(self, a: Any) -> Any:
        out = self.backend.xp.sqrt(super().forward(a))
        self.saved = (self.saved, out)
        return out

    def backward(self, g: Any) -> tuple[Any]:
        xp, (dev, out) = self.backend.xp, self.saved
        zero = out == 0
        g = xp.where(zero, xp.zeros_like(g), g / xp.where(zero, xp.ones_like(out), 2 * out))
        return (self._var_backward(g, dev),)


class LogSumExp(_Reduction):
    """log(sum(exp(x))) over ``axis``, from x - max(x) so large inputs do not overflow;
    gradient g softmax(x) = g exp(x - out). Over zero elements it is -inf, as PyTorch."""

    name = "logsumexp"

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        axes = self._setup(a)
        if self.count == 0:
            self.saved = None
            return self._filled(-math.inf, a.dtype)
        top = xp.max(a, axis=axes, keepdims=True)
        top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))  # all -inf, or an inf
        shifted = xp.exp(a - top)
        total = xp.sum(shifted, axis=axes, keepdims=True)
        self.saved = (shifted, total)
        empty = total == 0  # every input -inf: log(0) is -inf, without NumPy's warning
        logs = xp.where(empty, -math.inf, xp.log(xp.where(empty, 1.0, total)))
        return self._drop(logs + top)

    def backward(self, g: Any) -> tuple[Any]:
        # softmax = shifted / total: exact where exp(x - out) would lose out's rounding
        xp = self.backend.xp
        if self.saved is None:
            return (xp.zeros(self.in_shape, dtype=g.dtype),)
        shifted, total = self.saved
        return (shifted * (xp.reshape(g, self.kept_shape) / total),)


class _Extreme(_Reduction):
    """amax/amin: the extreme value over ``axis``. Where several elements tie for it the
    gradient is shared equally among them, as ``torch.amax`` and the full ``torch.max()`` do.
    A NaN extreme: with ``nan_ties`` (``torch.max()``) the NaNs share the gradient; without
    (``torch.amax``) no element equals it, and the gradient of that output is NaN."""

    nan_ties: bool = False
    reduce: ClassVar[str]

    def forward(self, a: Any) -> Any:
        xp = self.backend.xp
        axes = self._setup(a)
        out = getattr(xp, self.reduce)(a, axis=axes, keepdims=True)
        self.saved = (a, out)
        return self._drop(out)

    def backward(self, g: Any) -> tuple[Any]:
        xp = self.backend.xp
        a, out = self.saved
        winners = (a == out) | (xp.isnan(a) & xp.isnan(out)) if self.nan_ties else a == out
        winners = xp.astype(winners, g.dtype)
        count = xp.sum(winners, axis=self.axes if a.ndim else None, keepdims=True)
        none = count == 0  # a NaN extreme without nan_ties: g / 0 * 0, NaN, as PyTorch
        share = xp.where(none, xp.full_like(count, math.nan),
                         xp.reshape(g, self.kept_shape) / xp.where(none, 1.0, count))
        return (winners * share,)


class Amax(_Extreme):
    """Maximum over ``axis`` (None: all); tied maxima share the gradient equally."""

    name = "amax"
    reduce = "max"


class Amin(_Extreme):
    """Minimum over ``axis`` (None: all); tied minima share the gradient equally."""

    name = "amin"
    reduce = "min"


class _ExtremeDim(Op):
    """max/min over one dim: (values, int64 indices of the first extreme, NaN counting as the
    extreme); the gradient goes to the element at the index alone, as ``torch.max(dim)``."""

    axis: int
    keepdims: bool = False
    extra_outputs = ("indices",)
    find: ClassVar[str]

    def forward(self, a: Any) -> tuple[Any, Any]:
        xp = self.backend.xp
        self.in_shape = a.shape
        axes = normalize_axes(self.axis, a.ndim, self.name, empty_means_all=False)
        if a.ndim == 0:  # dim 0 or -1 of a 0-d tensor: the element is its own extreme
            self.saved = None
            return xp.asarray(a, copy=True), xp.zeros((), dtype=xp.int64)
        (axis,) = axes
        self.resolved = axis
        index = xp.astype(getattr(xp, self.find)(a, axis=axis, keepdims=True), xp.int64)
        values = xp.take_along_axis(a, index, axis=axis)
        self.saved = index
        if self.keepdims:
            return values, index
        return xp.squeeze(values, axis=axis), xp.squeeze(index, axis=axis)

    def backward(self, g: Any) -> tuple[Any]:
        xp, index = self.backend.xp, self.saved
        if index is None:
            return (g,)
        axis, where = self.resolved, [1] * len(self.in_shape)
        where[axis] = self.in_shape[axis]
        positions = xp.reshape(xp.arange(self.in_shape[axis], dtype=xp.int64), tuple(where))
        if not self.keepdims:
            g = xp.expand_dims(g, axis=axis)
        return (xp.astype(positions == index, g.dtype) * g,)


class MaxDim(_ExtremeDim):
    """``max(dim)``: the largest value along ``axis`` and its index."""

    name = "max"
    find = "argmax"


class MinDim(_ExtremeDim):
    """``min(dim)``: the smallest value along ``axis`` and its index."""

    name = "min"
    find = "argmin"
